"""The INBOX listing, `UID FETCH 1:* (UID RFC822.SIZE FLAGS)`, read into {uid: size}.

IMAPClient's general parser costs tens of µs a message: most of a second of CPU for a backlog
of 20,000 before the first message is fetched. Servers answer this command with one plain
line a message, `12 (UID 34 RFC822.SIZE 65012 FLAGS (\\Seen $Label1))` (the three items in
any order, the same one in every line), and those lines are read here by one precompiled
pattern in one pass (about 1 µs a message). An answer with anything else in it (a literal,
another item, other spacing or case, a flag the pattern does not know, two orders) is read
whole by IMAPClient's parser, as before: the result is the same for every answer, and an
answer that parser rejects is rejected the same way (tests/mailbox/test_imap_listing.py).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from imapclient.response_parser import parse_fetch_response  # type: ignore[import-untyped]  # IMAPClient ships no py.typed

FetchData = Sequence[bytes | tuple[bytes, bytes]]

# Up to 20 digits: IMAPClient reads such a number the same way (leading zeros included);
# longer ones (past what int() accepts from text, for one) are left to it.
_NUMBER = rb"\d{1,20}"
_ITEMS = {
    b"UID": rb"UID (" + _NUMBER + rb")",
    b"RFC822.SIZE": rb"RFC822\.SIZE (" + _NUMBER + rb")",
    b"FLAGS": rb"FLAGS \(([^()\n]*)\)",  # checked below, once per distinct value
}
_ORDERS = list(itertools.permutations(_ITEMS))
# One line an answer; MULTILINE so each match is one whole line of the answers joined by \n.
_LINES = [re.compile(rb"^" + _NUMBER + rb" \(" + b" ".join(_ITEMS[name] for name in order) + rb"\)$", re.MULTILINE)
          for order in _ORDERS]
# What each pattern's groups are, in the order (uid, size, flags).
_COLUMNS = [tuple(order.index(name) for name in _ITEMS) for order in _ORDERS]
# RFC 3501 ATOM-CHAR without "[" (IMAPClient's lexer reads a "[" up to its "]"): printable
# ASCII except ( ) { SP % * " \ ] [. A bare run of digits is a number to IMAPClient, and NIL
# is None: neither is read here as a flag.
_ATOM_CHAR = rb"[!#$&'+,\-./0-9:;<=>?@A-Z^_`a-z|}~]"
_FLAG = rb"(?!(?:\d+|NIL)(?: |$))(?:\\\*|\\?" + _ATOM_CHAR + rb"+)"
_FLAG_LIST = re.compile(rb"(?:" + _FLAG + rb"(?: " + _FLAG + rb")*)?")
_DELETED = re.compile(rb"(?:^| )\\deleted(?: |$)", re.IGNORECASE)


def listing_from_fetch(data: FetchData) -> dict[int, int]:
    """{uid: size} of the messages the untagged FETCH answers `data` list without \\Deleted."""
    plain = plain_listing(data)
    return plain if plain is not None else listing_by_imapclient(data)


def plain_listing(data: FetchData) -> dict[int, int] | None:
    """The listing when every answer is a plain line with its items in one order, or None.

    The lines are joined by \\n and read by one `findall`: every line matched exactly when
    there are as many matches as lines between the \\n (which then were the answers: no
    answer held a \\n of its own). A repeated UID counts by its last line, in the place of its
    first (what IMAPClient's parser does)."""
    if not data:
        return {}
    try:
        joined = b"\n".join(data)  # type: ignore[arg-type]  # a literal (a tuple) raises: not plain
    except TypeError:
        return None
    first = data[0]
    if not isinstance(first, bytes):
        return None
    chosen = next((index for index, pattern in enumerate(_LINES) if pattern.fullmatch(first)), None)
    if chosen is None:
        return None
    found = _LINES[chosen].findall(joined)
    if len(found) != len(data) or joined.count(b"\n") + 1 != len(data):
        return None
    uid, size, flags = _COLUMNS[chosen]
    flag_lists = {row[flags] for row in found}
    if not all(_FLAG_LIST.fullmatch(value) for value in flag_lists):
        return None
    deleted = {value for value in flag_lists if _DELETED.search(value)}
    if not deleted:
        return {int(row[uid]): int(row[size]) for row in found}
    entries = {int(row[uid]): None if row[flags] in deleted else int(row[size]) for row in found}
    return {key: value for key, value in entries.items() if value is not None}


def listing_by_imapclient(data: FetchData) -> dict[int, int]:
    """The same listing through IMAPClient's general parser: any answer it accepts (literals,
    other items, odd spacing); what it rejects raises what it raises."""
    sizes: dict[int, int] = {}
    fetched = parse_fetch_response(list(data), False, True)
    for uid, fields in fetched.items():
        flags = {flag.upper() for flag in fields.get(b"FLAGS", ())}
        if b"\\DELETED" not in flags and b"RFC822.SIZE" in fields:
            sizes[int(uid)] = int(fields[b"RFC822.SIZE"])
    return sizes
