"""The fast MIME path builds the stdlib parser's tree exactly, or declines.

Extraction goes through `fastmime.parse` first and through the stdlib's feedparser only
when the fast path declines; these tests hold the two to the same output, on the sample
mailbox and on generated hostile MIME.
"""

from __future__ import annotations

import email
import email.base64mime
import tracemalloc
from email.message import Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.policy import compat32

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from tui_recepcion.demo.samples import (
    DEFAULT_RECEIVER,
    FAILING_REASONS,
    Attachment,
    SampleFactory,
    build_zip,
)
from tui_recepcion.dian import fastmime, mime
from tui_recepcion.dian.archive import LimitExceeded
from tui_recepcion.dian.extract import extract_message
from tui_recepcion.dian.limits import DEFAULT_LIMITS, Limits
from tui_recepcion.dian.model import Extraction
from tui_recepcion.dian.reasons import REASONS, Reason

MiB = 1024 * 1024


def tree(message: Message) -> list[tuple]:
    """Everything the stdlib parser decides about a message, node by node."""
    return [
        (
            node.items(),
            node.get_unixfrom(),
            node.is_multipart(),
            None if node.is_multipart() else node._payload,
            node.preamble,
            node.epilogue,
            node.get_default_type(),
            [type(defect) for defect in node.defects],
        )
        for node in message.walk()
    ]


def stdlib(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=compat32)


def assert_same_as_stdlib(raw: bytes) -> Message | None:
    """The fast tree, which must equal the stdlib's whenever the fast path accepts."""
    fast = fastmime.parse(raw, Message)
    if fast is not None:
        assert tree(fast) == tree(stdlib(raw))
    return fast


def extract_both_ways(raw: bytes, monkeypatch: pytest.MonkeyPatch, **options) -> tuple[Extraction, Extraction]:
    fast = extract_message(raw, **options)
    with monkeypatch.context() as patch:
        patch.setattr(fastmime, "parse", lambda raw, new_node: None)
        full = extract_message(raw, **options)
    return fast, full


def sample_mails() -> list[tuple[str, bytes]]:
    factory = SampleFactory(seed=31, pdf_size=3_000)
    mails = [(mail.name, mail.raw) for mail in factory.mailbox(good=27, failing_each=1)]
    mails += [(f"asunto-{style}", factory.document_email(subject_style=style).raw)
              for style in ("standard", "spaces", "no_separator", "encoded")]
    mails += [(f"tipo-{ct}", factory.document_email(content_type=ct).raw)
              for ct in ("application/zip", "application/x-zip-compressed", "application/octet-stream")]
    mails.append(("sin-adjuntos", factory.email("Factura", [])))
    mails.append(("dos-documentos", factory.email("varios", [
        Attachment("uno.zip", build_zip([("uno.xml", factory.container(factory.document()))])),
        Attachment("dos.xml", factory.container(factory.document()), "text/xml", encode_name=True),
    ])))
    return mails + [(f"{name}-crlf", raw.replace(b"\n", b"\r\n")) for name, raw in mails]


SAMPLES = sample_mails()


@pytest.mark.parametrize(("name", "raw"), SAMPLES, ids=[name for name, _ in SAMPLES])
def test_sample_mail_takes_the_fast_path_with_the_stdlib_tree(name: str, raw: bytes) -> None:
    assert assert_same_as_stdlib(raw) is not None


@pytest.mark.parametrize(("name", "raw"), SAMPLES, ids=[name for name, _ in SAMPLES])
def test_sample_mail_extracts_alike_on_both_paths(name: str, raw: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, full = extract_both_ways(raw, monkeypatch, receiver_nit=DEFAULT_RECEIVER.nit)
    assert fast == full
    assert fast.failure is None or fast.failure.code != Reason.ERROR_INTERNO


def test_every_failure_kind_is_in_the_samples() -> None:
    assert {f"fallido-{code}" for code in FAILING_REASONS} <= {name for name, _ in SAMPLES}


def test_forwarded_message_is_left_to_the_stdlib(monkeypatch: pytest.MonkeyPatch) -> None:
    inner = SampleFactory(seed=3, pdf_size=1_000).document_email()
    wrapper = MIMEMultipart()
    wrapper["Subject"] = "Reenviado"
    wrapper.attach(MIMEMessage(stdlib(inner.raw)))
    raw = wrapper.as_bytes()
    assert fastmime.parse(raw, Message) is None
    fast, full = extract_both_ways(raw, monkeypatch)
    assert fast == full and fast.cufes == inner.cufes


# ---- hand-written shapes -----------------------------------------------------------------

WELL_FORMED = {
    "preamble_and_epilogue": b"Content-Type: multipart/mixed; boundary=b\n\nThis is a preamble\n\n--b\n"
                             b"Content-Type: text/plain\n\nhola\n--b--\nepilogue\nlines\n",
    "no_epilogue_newline": b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--",
    "blanks_after_boundary": b"Content-Type: multipart/mixed; boundary=b\n\n--b \t\nA: 1\n\nx\n--b--  \n",
    "nested": b"Content-Type: multipart/mixed; boundary=out\n\n--out\nContent-Type: multipart/alternative;"
              b" boundary=in\n\npre\n--in\n\nuno\n--in\nContent-Type: text/html\n\n<p>dos</p>\n--in--\n"
              b"inner epilogue\n\n--out\nContent-Type: application/zip\nContent-Transfer-Encoding: base64\n\n"
              b"UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==\n--out--\n",
    "nested_empty_epilogue": b"Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/mixed;"
                             b" boundary=b\n\n--b\n\nx\n--b--\n--a--\n",
    "boundary_prefix_of_outer": b"Content-Type: multipart/mixed; boundary=ab\n\n--ab\nContent-Type: multipart/mixed;"
                                b" boundary=a\n\n--a\n\nx\n--ab-x\n--a--\n--ab--\n",
    "part_without_headers": b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nsin cabeceras\n--b--\n",
    "part_headers_without_body": b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/xml\n--b--\n",
    "folded_headers": b"Subject: uno\n dos\n\ttres\nContent-Type: multipart/mixed;\n boundary=\"b\"\n\n--b\n"
                      b"Content-Disposition: attachment;\n filename*=utf-8''factura%C3%B1.zip\n\nx\n--b--\n",
    "eight_bit_headers": "Subject: Facturación año\nFrom: José <j@x.co>\n\ncuerpo\n".encode(),
    "quoted_printable": b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/xml\n"
                        b"Content-Transfer-Encoding: quoted-printable\n\n<a>=C3=B1=\n</a>\n--b--\n",
    "headers_only": b"Subject: nada\nFrom: a@b.co",
    "empty": b"",
    "body_only": b"\ncuerpo sin cabeceras\n",
    "empty_boundary": b"Content-Type: multipart/mixed; boundary=\"\"\n\n--\n\nx\n----\n",
    "near_boundaries_are_text": b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--b\x0c\n--bx\n --b\n"
                                b"--b-\n--b --\n--b--\n",
    "mixed_line_ends": b"Content-Type: multipart/mixed; boundary=b\r\n\n--b\r\n\r\nx\n--b--\r\n",
}

DECLINED = {
    "bare_cr": b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\ry\n--b--\n",
    "no_close_boundary": b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n",
    "no_start_boundary": b"Content-Type: multipart/mixed; boundary=b\n\nsolo texto\n",
    "close_before_start": b"Content-Type: multipart/mixed; boundary=b\n\n--b--\n",
    "repeated_boundaries": b"Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\nx\n--b--\n",
    "no_boundary_parameter": b"Content-Type: multipart/mixed\n\n--b\n\nx\n--b--\n",
    "encoded_multipart": b"Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: base64\n\n"
                         b"--b\n\nx\n--b--\n",
    "digest": b"Content-Type: multipart/digest; boundary=b\n\n--b\n\nSubject: x\n\ny\n--b--\n",
    "rfc822": b"Content-Type: message/rfc822\n\nSubject: dentro\n\nx\n",
    "mbox_from_line": b"From someone Mon Jan  1 00:00:00 2024\nSubject: x\n\ny\n",
    "continuation_first": b" Subject: x\n\ny\n",
    "colon_first": b": x\nSubject: y\n\nz\n",
    "body_without_blank_line": b"Subject: x\nesto no es cabecera\n",
    "folded_boundary": b"Content-Type: multipart/mixed; boundary=\"a\n b\"\n\n--a\n b\n\nx\n--a\n b--\n",
}


@pytest.mark.parametrize("raw", WELL_FORMED.values(), ids=WELL_FORMED.keys())
def test_well_formed_shapes_are_accepted_and_match(raw: bytes) -> None:
    assert assert_same_as_stdlib(raw) is not None
    if b"\r" not in raw:
        assert assert_same_as_stdlib(raw.replace(b"\n", b"\r\n")) is not None


@pytest.mark.parametrize("raw", DECLINED.values(), ids=DECLINED.keys())
def test_odd_shapes_are_declined(raw: bytes) -> None:
    assert fastmime.parse(raw, Message) is None
    assert tree(mime.parse_message(raw, DEFAULT_LIMITS)) == tree(stdlib(raw))


def test_deep_nesting_is_declined() -> None:
    depth = 40
    raw = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(depth))
    raw += b"\nx\n" + b"".join(b"--b%d--\n" % i for i in reversed(range(depth)))
    assert fastmime.parse(raw, Message) is None
    assert tree(mime.parse_message(raw, DEFAULT_LIMITS)) == tree(stdlib(raw))


# ---- the node budget ---------------------------------------------------------------------


def many_parts(count: int, line_end: bytes = b"\n") -> bytes:
    raw = b"Subject: muchas partes\nMessage-ID: <p@x>\nContent-Type: multipart/mixed; boundary=b\n\n"
    raw += b"--b\n\nx\n" * count + b"--b--\n"
    return raw.replace(b"\n", line_end)


@pytest.mark.parametrize("line_end", [b"\n", b"\r"], ids=["fast", "stdlib"])
def test_too_many_parts_stop_the_parse_early(line_end: bytes) -> None:
    assert (fastmime.parse(many_parts(3, line_end), Message) is None) == (line_end == b"\r")
    raw = many_parts(200_000, line_end)
    tracemalloc.start()
    try:
        result = extract_message(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.failure is not None and result.failure.code == Reason.ZIP_EXCEDE_LIMITES
    assert "256 partes" in result.failure.detail
    assert result.subject == "muchas partes"  # headers survive the failure
    assert peak < 16 * MiB  # 200 000 parsed parts would take hundreds of MiB


def test_part_budget_counts_multiparts_and_is_exact() -> None:
    raw = many_parts(3)  # the root and three parts: four nodes
    assert len(tree(mime.parse_message(raw, Limits(max_mime_parts=4)))) == 4
    for parse in (mime.parse_message, mime.parse_message_stdlib):
        with pytest.raises(LimitExceeded):
            parse(raw, Limits(max_mime_parts=3))


# ---- fast base64 -------------------------------------------------------------------------

_base64ish = st.text(alphabet="ABCDEFGHabcdefgh0123456789+/=\n\r \t-*ñ", max_size=120)


@given(_base64ish, st.sampled_from(["base64", "BASE64", "base64 ", "quoted-printable", "7bit", None]))
def test_decoded_payload_equals_the_stdlib_decoding(payload: str, encoding: str | None) -> None:
    part = Message()
    if encoding is not None:
        part["Content-Transfer-Encoding"] = encoding
    part.set_payload(payload.encode("utf-8").decode("ascii", "surrogateescape"))
    assert mime.decoded_payload(part) == part.get_payload(decode=True)


_parameter_text = st.text(alphabet="nameNAMfilt*=;\"' %C3Aa.zip\n\t", max_size=40)
_content_types = st.one_of(st.none(), _parameter_text, st.sampled_from(
    ["application/zip", "application/zip; name=f.zip", "application/zip; NAME=\"f.zip\"", "text/plain; charset=utf-8",
     "application/zip; name*=utf-8''f%C3%A1.zip", "application/zip; name*0=f; name*1=.zip", "text/xml; xname=y",
     "application/pdf; name=\"=?utf-8?q?f=C3=A1.pdf?=\""]))
_dispositions = st.one_of(st.none(), _parameter_text, st.sampled_from(
    ["attachment", "inline", "attachment; filename=a.zip", "attachment; FILENAME=\"b.zip\"",
     "attachment; filename*=utf-8''%C3%A1.zip"]))


@given(_content_types, _dispositions)
def test_filename_shortcut_matches_get_filename(content_type: str | None, disposition: str | None) -> None:
    part = Message()
    if content_type is not None:
        part["Content-Type"] = content_type
    if disposition is not None:
        part["Content-Disposition"] = disposition
    try:
        expected = mime.decode_header_value(part.get_filename(), 255) or ""
    except Exception:
        expected = ""
    assert mime._filename(part) == expected


# ---- generated MIME ----------------------------------------------------------------------

settings.register_profile("fastpath", deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(parent=settings.get_profile("fastpath"), max_examples=400)

FACTORY = SampleFactory(seed=8, pdf_size=300)
GOOD_ZIP = build_zip([("f.xml", FACTORY.container(FACTORY.document()))])


def _mostly(usual: list, odd: list) -> st.SearchStrategy:
    """A well-formed choice nine times in ten, else an odd one: most odd choices make the
    fast path decline, and a generator that always declines would prove nothing."""
    return st.sampled_from(usual * 9 * len(odd) + odd * len(usual))


_boundaries = _mostly(["b", "bb", "=_x", "a b"], ["b-", "b--", "", "ÿ", "b\n c"])
_bodies = st.one_of(
    _mostly(["", "hola\n", "UEsDBA==\n", "\n\n", "=C3=B1=\nx", " \n", "ñandú\n"],
            ["--b\n", "--b--\n", "--bb\n", "--b x\n", "--b--x\n", "\r"]),
    st.just(email.base64mime.body_encode(GOOD_ZIP)),
    st.text(alphabet="ab-= :\n\tñ", max_size=40),
)
_header_values = _mostly(
    ["text/plain", "application/zip", "text/xml; charset=utf-8", "application/octet-stream; name=\"=?utf-8?q?f=C3=A1ctura.zip?=\"",
     "attachment; filename*=utf-8''f%C3%A1.zip", "attachment;\n filename=\"f.zip\"", "base64", "quoted-printable",
     "8bit", "Facturación"],
    ["message/rfc822", "multipart/mixed", "x\ny", "", " ", "a:b"],
)
_separator_ends = _mostly(["", " "], ["--", "x", " --", "\x0c"])
_names = _mostly(["Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Subject", "X-A"],
                 ["From", " X", ":", "a b", "From x"])
_headers = st.lists(st.tuples(_names, _header_values), max_size=3)
_multipart_headers = st.lists(st.tuples(_mostly(["Subject", "X-A"], ["Content-Transfer-Encoding", "From x"]),
                                        _header_values), max_size=2)


def _render_headers(headers: list[tuple[str, str]]) -> str:
    return "".join(f"{name}: {value}\n" for name, value in headers)


@st.composite
def _entities(draw, depth: int = 0) -> str:
    if depth >= 3 or not draw(st.booleans()):
        return _render_headers(draw(_headers)) + draw(_mostly(["\n"], [""])) + draw(_bodies)
    boundary = draw(_boundaries)
    subtype = draw(_mostly(["mixed", "alternative", "related"], ["digest"]))
    head = f"Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\n" + _render_headers(draw(_multipart_headers))
    parts = draw(st.lists(_entities(depth + 1), min_size=draw(_mostly([1], [0])), max_size=3))
    text = head + "\n" + draw(st.sampled_from(["", "preámbulo\n", "\n"]))
    for part in parts:
        text += f"--{boundary}{draw(_separator_ends)}\n{part}\n"
    if draw(_mostly([True], [False])):
        text += f"--{boundary}--{draw(_mostly(['', ' ', chr(10)], ['x']))}\n"
    return text + draw(st.sampled_from(["", "epílogo\n", "\n"]))


@st.composite
def _messages(draw) -> bytes:
    text = draw(_entities())
    line_end = draw(_mostly(["\n", "\r\n"], ["\r"]))
    raw = text.replace("\n", line_end).encode("utf-8")
    if not draw(st.integers(0, 4)):  # damage it somewhere
        position = draw(st.integers(0, len(raw)))
        noise = draw(st.sampled_from([b"", b" ", b"--", b"\n", b":", b"\t", b"\xff", b"\r\n", b"\r"]))
        raw = raw[:position] + noise + raw[position + draw(st.integers(0, 3)):]
    return raw


def test_generated_mime_reaches_both_paths() -> None:
    """`find` raises when no generated example meets the condition: the generator must
    give nested multiparts the fast path accepts, and multiparts it declines."""
    def nodes(raw: bytes) -> int:
        message = fastmime.parse(raw, Message)
        return 0 if message is None else len(tree(message))

    find(_messages(), lambda raw: nodes(raw) >= 4)
    find(_messages(), lambda raw: b"multipart" in raw and nodes(raw) == 0)


@FUZZ
@given(_messages())
def test_generated_mime_fast_tree_equals_the_stdlib_tree(raw: bytes) -> None:
    assert_same_as_stdlib(raw)


@FUZZ
@given(_messages(), st.integers(min_value=1, max_value=6))
def test_generated_mime_budget_agrees_on_both_paths(raw: bytes, max_parts: int) -> None:
    limits = Limits(max_mime_parts=max_parts)
    outcomes = []
    for parse in (mime.parse_message, mime.parse_message_stdlib):
        try:
            outcomes.append(tree(parse(raw, limits)))
        except LimitExceeded as error:
            outcomes.append(str(error))
    assert outcomes[0] == outcomes[1]


@FUZZ
@given(_messages())
def test_generated_mime_extracts_alike_and_never_raises(raw: bytes) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast, full = extract_both_ways(raw, monkeypatch)
    assert fast == full
    assert fast.failure is None or fast.failure.code in REASONS
