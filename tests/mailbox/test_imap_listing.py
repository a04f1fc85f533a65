"""The INBOX listing's fast path reads exactly what IMAPClient's parser reads.

`listing_by_imapclient` is the listing as it was (IMAPClient's general parser): the oracle.
For every answer, `listing_from_fetch` gives the same {uid: size} (same order too) or raises
the same exception type; plain answers, the ones servers send, must take the fast path.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from imapclient.exceptions import ProtocolError

from tests.servers.dovecot import RECEPCION, DovecotServer
from tui_recepcion.errors import ConnectionProblem
from tui_recepcion.mailbox.imap import ImapSource
from tui_recepcion.mailbox.imap_listing import listing_by_imapclient, listing_from_fetch, plain_listing
from tui_recepcion.mailbox.transport import Endpoint, connection_errors
from tui_recepcion.mailbox.transport.imap_pipelining import Answer
from tui_recepcion.vocabulary import SSL

ITEM_NAMES = (b"UID", b"RFC822.SIZE", b"FLAGS")
PLAIN_FLAGS = [b"\\Seen", b"\\Answered", b"\\Flagged", b"\\Draft", b"\\Recent", b"\\Deleted", b"\\DELETED",
               b"\\deleted", b"\\DeLeTeD", b"$Label1", b"$Forwarded", b"$MDNSent", b"NonJunk", b"Junk", b"\\*",
               b"nil", b"\\NIL", b"\\Deletedx", b"\\123", b"12a", b"a}b", b"Pago~2024.01"]
# Each differs from a plain flag in a way IMAPClient's lexer or its conversions care about.
ODD_FLAGS = [b"\\", b"NIL", b"0", b"7", b"007", b"x\\Deleted", b"\\\\Deleted", b'"\\Deleted"', b"\\Deleted%", b"%",
             b"[x]", b"a]b", b"{3}", b"\\Deleted\t", b"\xe9t\xe9", b"\x7f", b"\x00", b"(\\Deleted)", b"\\Deleted)",
             b"\\Deleted\r", b"\\Deleted\n", b"*", b"\\**", b"a*b"]
ODD_NUMBERS = [b"-5", b"+5", b"1_000", b"abc", b"", b"NIL", b"0" * 25 + b"1", b"9" * 25, b"0x10", b"\xd9\xa3",
               b"(5)", b'"5"', b"5" * 4400, b"05" * 2300]


def outcome(parse, data):
    """What a parse gives: the listing with its order, or the type of what it raised."""
    try:
        return list(parse(data).items())
    except Exception as error:  # the types raised are what is compared
        return type(error)


def assert_same_as_imapclient(data) -> None:
    assert outcome(listing_from_fetch, data) == outcome(listing_by_imapclient, data)


def line(seq: bytes, items: list[tuple[bytes, bytes]], space: bytes = b" ") -> bytes:
    return seq + space + b"(" + space.join(name + space + value for name, value in items) + b")"


def flags_value(flags: list[bytes]) -> bytes:
    return b"(" + b" ".join(flags) + b")"


numbers = st.integers(0, 2**32).map(lambda n: b"%d" % n)
padded = st.builds(lambda n, zeros: b"0" * zeros + b"%d" % n, st.integers(0, 10**17), st.integers(0, 2))  # up to 20 digits
uids = st.one_of(st.integers(1, 6), st.integers(1, 2**32 - 1)).map(lambda n: b"%d" % n)  # repeats likely


@st.composite
def plain_answers(draw) -> list[bytes]:
    """Answers the way servers write them: one line a message, the items in one order."""
    order = draw(st.permutations(ITEM_NAMES))
    count = draw(st.integers(1, 12))
    lines = []
    for _ in range(count):
        values = {b"UID": draw(st.one_of(uids, padded)), b"RFC822.SIZE": draw(st.one_of(numbers, padded)),
                  b"FLAGS": flags_value(draw(st.lists(st.sampled_from(PLAIN_FLAGS), max_size=4)))}
        lines.append(line(draw(st.one_of(numbers, padded)), [(name, values[name]) for name in order]))
    return lines


def _mutations(lines: list[bytes], at: int, draw) -> list:
    """One answer that differs from a plain one in one place."""
    target = lines[at]
    seq, rest = target.split(b" ", 1)
    kind = draw(st.sampled_from([
        "odd_flag", "odd_uid", "odd_size", "odd_seq", "extra_item", "drop_item", "repeat_item", "lowercase",
        "spacing", "truncate", "literal", "newline_join", "other_order", "no_parens", "flags_atom", "garbage",
        "empty_line", "bare_seq", "trailing", "unbalanced",
    ]))
    out: list = list(lines)
    if kind == "odd_flag":
        flags = [draw(st.sampled_from(PLAIN_FLAGS)) for _ in range(draw(st.integers(0, 2)))]
        flags.insert(draw(st.integers(0, len(flags))), draw(st.sampled_from(ODD_FLAGS)))
        out[at] = line(seq, [(b"UID", b"9"), (b"RFC822.SIZE", b"10"), (b"FLAGS", flags_value(flags))])
    elif kind in ("odd_uid", "odd_size"):
        odd = draw(st.sampled_from(ODD_NUMBERS))
        uid, size = (odd, b"10") if kind == "odd_uid" else (b"9", odd)
        out[at] = line(seq, [(b"UID", uid), (b"RFC822.SIZE", size), (b"FLAGS", b"()")])
    elif kind == "odd_seq":
        out[at] = draw(st.sampled_from(ODD_NUMBERS)) + b" " + rest
    elif kind == "extra_item":
        extra = draw(st.sampled_from([(b"MODSEQ", b"(12345)"), (b"INTERNALDATE", b'"17-Jul-1996 02:44:25 -0700"'),
                                      (b"X-GM-LABELS", b'("\\\\Inbox")'), (b"UID", b"77"), (b"BODY[]", b"NIL")]))
        items = [(b"UID", b"9"), (b"RFC822.SIZE", b"10"), (b"FLAGS", b"(\\Seen)")]
        items.insert(draw(st.integers(0, 3)), extra)
        out[at] = line(seq, items)
    elif kind in ("drop_item", "repeat_item"):
        items = [(b"UID", b"9"), (b"RFC822.SIZE", b"10"), (b"FLAGS", b"(\\Deleted)")]
        chosen = draw(st.integers(0, 2))
        if kind == "drop_item":
            del items[chosen]
        else:
            items.append((items[chosen][0], draw(st.sampled_from([b"3", b"()", b"(\\Seen)"]))))
        out[at] = line(seq, items)
    elif kind == "lowercase":
        name = draw(st.sampled_from([b"uid", b"rfc822.size", b"flags", b"Uid", b"Flags"]))
        items = [(b"UID", b"9"), (b"RFC822.SIZE", b"10"), (b"FLAGS", b"(\\Deleted)")]
        items = [(name if existing.lower() == name.lower() else existing, value) for existing, value in items]
        out[at] = line(seq, items)
    elif kind == "spacing":
        space = draw(st.sampled_from([b"  ", b"\t", b"\r", b" \r"]))
        out[at] = line(seq, [(b"UID", b"9"), (b"RFC822.SIZE", b"10"), (b"FLAGS", b"(\\Deleted \\Seen)")], space)
    elif kind == "truncate":
        out[at] = target[:draw(st.integers(0, len(target) - 1))]
    elif kind == "literal":
        # IMAPClient's shape for a literal: (text ending in {n}, the literal), then the rest of the line.
        body = draw(st.binary(max_size=5))
        declared = draw(st.sampled_from([len(body), len(body) + 1]))
        out[at:at + 1] = [(line(seq, [(b"UID", b"9"), (b"RFC822.SIZE", b"10")])[:-1] + b" BODY[HEADER] {%d}" % declared, body),
                          b" FLAGS (\\Seen))"]
    elif kind == "newline_join":
        if at + 1 < len(out):
            out[at:at + 2] = [out[at] + draw(st.sampled_from([b"\n", b"\r\n"])) + out[at + 1]]
        else:
            out[at] = out[at] + b"\n"
    elif kind == "other_order":
        order = draw(st.permutations([(b"UID", b"9"), (b"RFC822.SIZE", b"10"), (b"FLAGS", b"(\\Deleted)")]))
        out[at] = line(seq, order)  # a single line in another order is still plain
    elif kind == "no_parens":
        out[at] = seq + b" UID 9 RFC822.SIZE 10 FLAGS ()"
    elif kind == "flags_atom":
        value = draw(st.sampled_from([b"\\Seen", b"\\Deleted", b"NIL", b"5", b'"x"', b"((\\Seen))"]))
        out[at] = line(seq, [(b"UID", b"9"), (b"RFC822.SIZE", b"10"), (b"FLAGS", value)])
    elif kind == "garbage":
        out[at] = draw(st.binary(max_size=40))
    elif kind == "empty_line":
        out.insert(at, b"")
    elif kind == "bare_seq":
        out.insert(at, seq)
    elif kind == "trailing":
        out[at] = target + draw(st.sampled_from([b" ", b")", b" 5", b"\r", b" (UID 1)"]))
    elif kind == "unbalanced":
        out[at] = target.replace(b"FLAGS (", b"FLAGS ((", 1)
    return out


@st.composite
def near_plain_answers(draw) -> list:
    lines = draw(plain_answers())
    return _mutations(lines, draw(st.integers(0, len(lines) - 1)), draw)


@settings(max_examples=250, suppress_health_check=[HealthCheck.too_slow])
@given(plain_answers())
def test_plain_answers_take_the_fast_path_and_read_as_imapclient_reads_them(lines) -> None:
    expected = outcome(listing_by_imapclient, lines)
    fast = plain_listing(lines)
    assert fast is not None
    assert list(fast.items()) == expected
    assert outcome(listing_from_fetch, lines) == expected


@settings(max_examples=700, suppress_health_check=[HealthCheck.too_slow])
@given(near_plain_answers())
@example([b"1 (UID 5 RFC822.SIZE 10 FLAGS (\\Deleted%))"])  # IMAPClient's lexer splits at %: deleted
@example([b"1 (UID 5 RFC822.SIZE 10 FLAGS (0))"])  # a number, not a flag: IMAPClient raises
@example([b"1 (UID 5 RFC822.SIZE 10 FLAGS ())\n2 (UID 6 RFC822.SIZE 20 FLAGS ())"])
def test_any_other_answer_reads_as_imapclient_reads_it(lines) -> None:
    assert_same_as_imapclient(lines)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.binary(max_size=60), st.tuples(st.binary(max_size=30), st.binary(max_size=5))), max_size=4))
def test_arbitrary_bytes_read_as_imapclient_reads_them(lines) -> None:
    assert_same_as_imapclient(lines)


# --- hostile answers, each pinned to what IMAPClient's parser made of it --------------------

PLAIN = b"1 (UID 5 RFC822.SIZE 10 FLAGS (\\Seen))"


@pytest.mark.parametrize(("data", "expected"), [
    ([b"1 (UID 5 RFC822.SIZE -5 FLAGS ())"], {5: -5}),  # kept as it was read: a negative size
    ([b"1 (UID 5 RFC822.SIZE %s FLAGS ())" % (b"9" * 30)], {5: int("9" * 30)}),
    ([b"1 (UID %s RFC822.SIZE 3 FLAGS ())" % (b"9" * 30)], {int("9" * 30): 3}),
    ([b"3 (RFC822.SIZE 10 FLAGS ())"], {3: 10}),  # no UID: keyed by the sequence number
    ([b"3 (UID 1 FLAGS ())"], {}),  # no size: not listed
    ([PLAIN, b"2 (UID 5 RFC822.SIZE 20 FLAGS (\\dElEtEd))"], {}),  # repeated UID: the last line counts
    ([b"1 (UID 5 RFC822.SIZE 10 FLAGS (\\DELETED))", b"2 (UID 4 RFC822.SIZE 2 FLAGS ())", b"3 (UID 5 RFC822.SIZE 20 FLAGS ())"],
     {5: 20, 4: 2}),
    ([b"1 (UID 5 RFC822.SIZE 10 FLAGS ())\n2 (UID 6 RFC822.SIZE 20 FLAGS ())"], {5: 10, 6: 20}),
    ([b"1 (UID 5 RFC822.SIZE 10 FLAGS (\\Deleted%))"], {}),
    ([b"1 (UID 5 RFC822.SIZE 10 FLAGS (\\Deletedx $Deleted))"], {5: 10}),
    ([PLAIN, b"2 (FLAGS () UID 6 RFC822.SIZE 7)"], {5: 10, 6: 7}),  # two orders in one answer
    ([(b"1 (UID 5 RFC822.SIZE 10 BODY[HEADER] {3}", b"abc"), b" FLAGS (\\Seen))"], {5: 10}),
    ([], {}),
])
def test_hostile_answers_keep_their_old_reading(data, expected) -> None:
    assert listing_by_imapclient(data) == expected
    assert listing_from_fetch(data) == expected


@pytest.mark.parametrize(("data", "error"), [
    ([b"1 (UID 5 RFC822.SIZE abc FLAGS ())"], ValueError),
    ([b"1 (UID 5 RFC822.SIZE 0%s FLAGS ())" % (b"9" * 5000)], ValueError),  # past int()'s digit limit
    ([b"1 (UID %s RFC822.SIZE 1 FLAGS ())" % (b"9" * 5000)], ProtocolError),
    ([b"1 (UID 5 RFC822.SIZE 1"], ProtocolError),  # truncated
    ([b"1 (UID 5 RFC822.SIZE 10 FLAGS ())", b"2"], ProtocolError),
    ([b"1 (UID x RFC822.SIZE 10 FLAGS ())"], ProtocolError),
    ([b"1 (UID 5 RFC822.SIZE 10 FLAGS (0))"], AttributeError),
    ([b"1 (UID 5 RFC822.SIZE 10 FLAGS (NIL))"], AttributeError),
    ([b"1 (UID 5 RFC822.SIZE 10 FLAGS NIL)"], TypeError),
    ([(b"1 (UID 5 BODY[] {4}", b"abc"), b" RFC822.SIZE 3 FLAGS ())"], ProtocolError),  # a literal of the wrong size
])
def test_hostile_answers_are_still_rejected_the_same_way(data, error) -> None:
    with pytest.raises(error):
        listing_by_imapclient(data)
    with pytest.raises(error):
        listing_from_fetch(data)


def test_a_huge_line_that_is_not_plain_is_left_to_imapclient() -> None:
    """Half a megabyte of flags, the last one not plain: the patterns give up in linear time
    (a flag never holds the space between two, so there is one way to split them) and
    IMAPClient's parser reads it."""
    flags = b" ".join(itertools.repeat(b"\\Seen", 100_000))
    data = [PLAIN] * 10 + [b"2 (UID 6 RFC822.SIZE 7 FLAGS (%s \\Deleted%%))" % flags]
    assert plain_listing(data) is None
    assert listing_from_fetch(data) == {5: 10}


@pytest.mark.parametrize("line", [
    b"1 (UID 1 RFC822.SIZE diez FLAGS ())",  # a size that is no number
    b"1 (UID 1 RFC822.SIZE 10 FLAGS (0))",  # a flag that is a number
    b"1 (UID 1 RFC822.SIZE 10 FLAGS NIL)",  # FLAGS that are no list
])
def test_an_unreadable_listing_is_a_protocol_problem_of_the_server(line: bytes) -> None:
    """Whatever the parser raises on a hostile answer, the engine gets the typed problem it
    classifies (`ConnectionProblem`, code `protocolo`), naming the server, not a bare error."""
    answer = Answer("OK", [b"FETCH completed"], {"FETCH": [line]})
    endpoint = Endpoint("imap.proveedor.co", 993, SSL)
    with pytest.raises(ConnectionProblem) as caught, connection_errors(endpoint, "IMAP"):
        ImapSource._listing_from(answer)
    assert caught.value.code == "protocolo"
    assert "imap.proveedor.co" in str(caught.value) and "listado de INBOX ilegible" in str(caught.value)


# --- the real thing -------------------------------------------------------------------------

def test_dovecot_listing_takes_the_fast_path(clean_dovecot: DovecotServer) -> None:
    """Dovecot's own answer to the listing command, flags of every kind, is plain."""
    raw = b"From: a@prueba.co\r\nSubject: x\r\n\r\nhola\r\n"
    for flags in ((), ("\\Seen",), ("\\Seen", "$Label1"), ("\\Deleted",), ("\\Flagged", "NonJunk", "\\Answered")):
        clean_dovecot.append(RECEPCION, raw * (len(flags) + 1), flags=flags)
    with clean_dovecot.imap(RECEPCION) as client:
        client.select_folder("INBOX")
        status, data = client._imap.uid("FETCH", "1:*", "(UID RFC822.SIZE FLAGS)")
    assert status == "OK"
    fast = plain_listing(data)
    assert fast is not None, data
    assert fast == listing_by_imapclient(data)
    assert sorted(fast.values()) == sorted(len(raw) * n for n in (1, 2, 3, 4))  # the \Deleted one is left out
