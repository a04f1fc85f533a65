"""RFC 2047 encoded-word bombs: header decoding is bounded, and ordinary headers decode as
the stdlib decodes them.

The speed itself (linear: doubling the bomb at most doubles the time) is measured in
bench/bench_headers.py, not timed here.
"""

from __future__ import annotations

import email.errors
import email.header
from email.header import Header
from email.message import Message

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory
from tui_recepcion.dian import fastmime, mime
from tui_recepcion.dian.extract import extract_message
from tui_recepcion.dian.limits import DEFAULT_LIMITS, Limits
from tui_recepcion.dian.reasons import Reason

UNLIMITED = 10**9
BOMB_WORD = "=?utf-8?q?a?= "


def stdlib_decode_header_value(value: object, limit: int = 1000) -> str | None:
    """`mime.decode_header_value` as it was, on `email.header.decode_header` (quadratic)."""
    if value is None:
        return None
    try:
        chunks = email.header.decode_header(value)
    except Exception:
        chunks = [(str(value), None)]
    pieces = [mime._decode_bytes(chunk, charset) if isinstance(chunk, bytes) else mime._undo_surrogates(chunk)
              for chunk, charset in chunks]
    text = " ".join("".join(pieces)[: limit * 4].split())
    if not text.isprintable():
        text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text or None


def stdlib_or_error(header: str) -> object:
    try:
        return email.header.decode_header(header)
    except email.errors.HeaderParseError:
        return "HeaderParseError"


def ours_or_error(header: str) -> object:
    try:
        return mime.decode_rfc2047(header, UNLIMITED)
    except email.errors.HeaderParseError:
        return "HeaderParseError"


# ---- ordinary headers: the same text as the stdlib ------------------------------------------

CHARSETS = ("utf-8", "iso-8859-1", "windows-1252", "us-ascii")
PLAIN = st.text(st.characters(codec="ascii", exclude_categories=("Cc",)), max_size=30)
SPANISH_LETTERS = "abcdeñóáéíúüÑÁÉ ;.-_=?0123456789ACMESAS"
SPANISH = st.text(st.sampled_from(SPANISH_LETTERS), max_size=60)


@st.composite
def encoded_word(draw) -> str:
    text = draw(SPANISH)
    charset = draw(st.sampled_from(CHARSETS))
    if charset == "us-ascii":
        text = text.encode("ascii", "ignore").decode()
    elif charset != "utf-8":
        text = text.encode(charset, "ignore").decode(charset)
    encoding = draw(st.sampled_from(("q", "b", "Q", "B")))
    data = text.encode(charset)
    if encoding in "qQ":
        body = "".join(chr(byte) if chr(byte).isalnum() and byte < 128 else
                       "_" if byte == 32 else f"={byte:02X}" for byte in data)
    else:
        body = email.base64mime.body_encode(data, maxlinelen=10**6).strip()
        if draw(st.booleans()):
            body = body.rstrip("=")  # some senders drop the padding
    return f"=?{draw(st.sampled_from((charset, charset.upper())))}?{encoding}?{body}?="


@st.composite
def ordinary_header(draw) -> str:
    pieces = draw(st.lists(st.one_of(encoded_word(), PLAIN), min_size=1, max_size=12))
    out = ""
    for piece in pieces:
        out += piece + draw(st.sampled_from(("", " ", "  ", "\t", "\r\n ", "\n\t", " - ")))
    return out


@settings(max_examples=400, deadline=None)
@given(ordinary_header())
def test_ordinary_headers_decode_as_the_stdlib_does(header: str) -> None:
    assert mime.decode_rfc2047(header, UNLIMITED) == email.header.decode_header(header)
    assert mime.decode_header_value(header) == stdlib_decode_header_value(header)


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from(SPANISH_LETTERS), max_size=200), st.sampled_from(CHARSETS[:2]))
def test_headers_encoded_by_the_stdlib_decode_back(text: str, charset: str) -> None:
    header = Header(text, charset).encode()
    assert mime.decode_rfc2047(header, UNLIMITED) == email.header.decode_header(header)
    assert mime.decode_header_value(header) == stdlib_decode_header_value(header)


# Pieces that make the scanner's corner cases likely: unclosed words, stray `?=`, a charset
# that runs over a line break, bad base64, 8-bit bytes (surrogates), odd line breaks.
TRICKY = st.lists(st.sampled_from(
    ["=?", "?=", "?", "=", "q", "Q", "b", "B", "x", "_", " ", "\t", "\n", "\r", "\x85", "\u2028", "é", "\udce9",
     "=?utf-8?q?", "=?utf-8?b?", "=?iso-8859-1?Q?", "=C3=A9", "w6k=", "YQ", "=?a?b?YQ==?=", "=?utf-8?q?a?= "]),
    max_size=40).map("".join)


@settings(max_examples=1500, deadline=None)
@given(TRICKY)
def test_any_text_splits_into_words_as_the_stdlib_does(header: str) -> None:
    assert ours_or_error(header) == stdlib_or_error(header)
    assert mime.decode_header_value(header) == stdlib_decode_header_value(header)


def test_a_cut_header_is_cut_at_a_word() -> None:
    header = " ".join(f"=?utf-8?q?w{n}?=" for n in range(5)) + " fin"
    assert mime.decode_rfc2047(header, 5) == email.header.decode_header(header)  # at the cap: all of it
    assert mime.decode_rfc2047(header, 3) == [(b"w0w1w2", "utf-8")]  # past it: up to the last word
    assert mime.decode_header_value(header, max_words=3) == "w0w1w2"


# ---- bombs: bounded work, bounded value ------------------------------------------------------


class Counter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.words = 0
        self.scanned = 0
        decode_word, scanner = mime._decode_word, mime._EncodedWords
        counter = self

        def counting_decode_word(encoded: str, encoding: str) -> bytes:
            counter.words += 1
            return decode_word(encoded, encoding)

        class CountingScanner(scanner):
            __slots__ = ()

            def __init__(self, text: str) -> None:
                counter.scanned = max(counter.scanned, len(text))
                super().__init__(text)

        monkeypatch.setattr(mime, "_decode_word", counting_decode_word)
        monkeypatch.setattr(mime, "_EncodedWords", CountingScanner)


BOMBS = {
    "palabras": BOMB_WORD * 500_000,  # 7 MB of encoded words, the bomb
    "pegadas": "=?utf-8?q?a?=" * 500_000,  # no blanks between them
    "plegadas": "=?utf-8?q?a?=\n " * 400_000,  # one word a folded line
    "sin_cierre": "=?utf-8?q?a" * 500_000,  # ecre re-scans the line from every `=?`
    "vacias": "=?utf-8?q??= " * 500_000,  # words that decode to nothing
    "base64": "=?utf-8?b?YWFh?=" * 400_000,
}


@pytest.mark.parametrize("name", BOMBS)
def test_bomb_decoding_touches_at_most_the_caps(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = Counter(monkeypatch)
    value = mime.decode_header_value(BOMBS[name], DEFAULT_LIMITS.max_header_chars)
    assert value is None or len(value) <= DEFAULT_LIMITS.max_header_chars
    assert counter.words <= DEFAULT_LIMITS.max_encoded_words
    assert 0 < counter.scanned <= DEFAULT_LIMITS.max_header_bytes
    expected = {
        "palabras": "a" * DEFAULT_LIMITS.max_encoded_words,  # one letter a word: the word cap shows
        "pegadas": "a" * DEFAULT_LIMITS.max_encoded_words,
        "plegadas": "a" * DEFAULT_LIMITS.max_encoded_words,
        "sin_cierre": BOMBS["sin_cierre"][:DEFAULT_LIMITS.max_header_chars - 1] + "…",  # no word: raw text
        "vacias": None,
        "base64": "a" * (DEFAULT_LIMITS.max_header_chars - 1) + "…",
    }
    assert value == expected[name]


def test_the_caps_follow_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = Counter(monkeypatch)
    value = mime.decode_header_value(BOMB_WORD * 10_000, 1000, max_bytes=4096, max_words=100)
    assert value == "a" * 100
    assert counter.words == 100 and counter.scanned <= 4096


def test_parsed_header_values_are_cut_to_the_caps() -> None:
    raw = ("From: a@b.co\r\nSubject: " + BOMB_WORD * 100_000 + "\r\n"
           "Content-Type: text/plain; charset=utf-8" + "; a=b" * 100_000 + "\r\n\r\nhola\r\n").encode()
    for parse in (mime.parse_message, mime.parse_message_stdlib):
        message = parse(raw, DEFAULT_LIMITS)
        assert len(message["Subject"]) <= DEFAULT_LIMITS.max_header_bytes
        assert len(message["Content-Type"]) <= DEFAULT_LIMITS.max_param_header_bytes
        assert message.get_content_charset() == "utf-8"
    small = Limits(max_header_bytes=100, max_param_header_bytes=50)
    message = mime.parse_message(raw, small)
    assert (len(message["Subject"]), len(message["Content-Type"])) == (100, 50)


# ---- whole extraction: a document or a reason, never an exception ----------------------------


@pytest.fixture(scope="module")
def good_mail() -> bytes:
    return SampleFactory(seed=12).document_email().raw


def with_subject(raw: bytes, subject: bytes) -> bytes:
    head, _, rest = raw.partition(b"\nSubject: ")
    return head + b"\nSubject: " + subject + rest[rest.index(b"\n"):]


@pytest.mark.parametrize("name", BOMBS)
def test_a_bomb_subject_still_yields_the_document(name: str, good_mail: bytes) -> None:
    raw = with_subject(good_mail, BOMBS[name].encode())
    result = extract_message(raw, receiver_nit=DEFAULT_RECEIVER.nit)
    assert result.ok, result.failure
    assert result.subject is None or len(result.subject) <= DEFAULT_LIMITS.max_header_chars


def test_a_bomb_subject_through_the_stdlib_parser(good_mail: bytes) -> None:
    # a bare CR makes the fast path decline: the stdlib feedparser builds the tree
    raw = with_subject(good_mail, BOMBS["palabras"].encode()).replace(b"\n\n", b"\n\n\r", 1)
    assert fastmime.parse(raw, Message) is None
    result = extract_message(raw, receiver_nit=DEFAULT_RECEIVER.nit)
    assert result.ok, result.failure
    assert result.subject == "a" * DEFAULT_LIMITS.max_encoded_words


def test_a_bomb_in_a_message_over_the_size_limit_is_a_reason(good_mail: bytes) -> None:
    raw = with_subject(good_mail, BOMBS["palabras"].encode())
    result = extract_message(raw, receiver_nit=DEFAULT_RECEIVER.nit, limits=Limits(max_message_bytes=len(raw) - 1))
    assert result.failure is not None and result.failure.code == Reason.ZIP_EXCEDE_LIMITES
    assert result.subject == "a" * DEFAULT_LIMITS.max_encoded_words


def test_a_bomb_in_the_attachment_name_or_its_parameters(good_mail: bytes) -> None:
    named = good_mail.replace(b'filename="', b'filename="' + BOMB_WORD.encode() * 200_000, 1)
    params = good_mail.replace(b"Content-Disposition: attachment", b"Content-Disposition: attachment"
                               + b"; a=b" * 400_000, 1)
    for raw in (named, params):
        assert raw != good_mail
        result = extract_message(raw, receiver_nit=DEFAULT_RECEIVER.nit)
        assert result.ok, result.failure
