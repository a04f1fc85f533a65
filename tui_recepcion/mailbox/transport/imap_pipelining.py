"""Several IMAP commands in one flight over imaplib (RFC 3501 §5.5): one round trip for all.

imaplib writes a command and waits for its answer; over a WAN each wait is a round trip.
Here the commands of a flight are written in one send (one TLS record, no Nagle wait
between them) and their answers read in order. Only commands without literals are
pipelined (so LITERAL+ is never needed: a literal would make the client wait for the
server's «+» in the middle of the flight), and only where the answers cannot depend on
each other in a way that matters (e.g. never `COPY` and the `\\Deleted` that must follow
its success: callers send those in two flights).

Each answer comes back with the untagged responses that arrived with it, so commands of
the same kind (two LISTs) are not mixed up: the server answers in order.
"""

from __future__ import annotations

import imaplib
from collections.abc import Sequence
from dataclasses import dataclass, field

Command = tuple[str, ...]  # ("UID", "MOVE", "1:5", '"Procesados"')


@dataclass(frozen=True, slots=True)
class Answer:
    status: str  # OK, NO or BAD
    data: list[bytes | tuple[bytes, bytes]]  # the tagged line's text
    untagged: dict[str, list[bytes | tuple[bytes, bytes]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "OK"

    def text(self) -> str:
        """The server's text on one short line (past login: it names no secret)."""
        parts = [item for item in self.data if isinstance(item, bytes)]
        return " ".join(b" ".join(parts).decode("utf-8", "replace").split())[:200]


def _encode(imap: imaplib.IMAP4, command: Command) -> tuple[bytes, bytes]:
    """(tag, line) for `command`, registered as outstanding the way imaplib's `_command` does."""
    tag = imap._new_tag()
    line = tag + b" " + b" ".join(part.encode(imap._encoding) if isinstance(part, str) else part
                                  for part in command)
    imap.tagged_commands[tag] = None
    return tag, line + b"\r\n"


def pipelined(imap: imaplib.IMAP4, commands: Sequence[Command]) -> list[Answer]:
    """Send `commands` at once and return their answers in order.

    A lost connection raises `imaplib.IMAP4.abort` (nothing is known of the commands not yet
    answered); a NO or BAD is an answer like OK. Untagged responses already waiting are
    dropped first, so each answer carries only its own.
    """
    if not commands:
        return []
    imap.untagged_responses.clear()
    encoded = [_encode(imap, command) for command in commands]
    try:
        imap.send(b"".join(line for _tag, line in encoded))
    except OSError as error:
        raise imaplib.IMAP4.abort(f"socket error: {error}") from None
    answers: list[Answer] = []
    for tag, _line in encoded:
        status, data = imap._get_tagged_response(tag)  # reads until this tag
        untagged = dict(imap.untagged_responses)
        imap.untagged_responses.clear()
        if "BYE" in untagged:
            raise imaplib.IMAP4.abort(f"el servidor cerró la sesión: {untagged['BYE'][-1]!r}")
        answers.append(Answer(status, data, untagged))
    return answers


def uid_set(uids: Sequence[int]) -> str:
    """A compact UID set: consecutive UIDs as ranges (`1:40,45,50:60`)."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    start = previous = ordered[0] if ordered else 0
    for uid in ordered[1:]:
        if uid == previous + 1:
            previous = uid
            continue
        parts.append(str(start) if start == previous else f"{start}:{previous}")
        start = previous = uid
    if ordered:
        parts.append(str(start) if start == previous else f"{start}:{previous}")
    return ",".join(parts)


def send(imap: imaplib.IMAP4, command: Command) -> bytes:
    """Write one command without waiting for its answer; returns its tag (see `read_one`)."""
    tag, line = _encode(imap, command)
    try:
        imap.send(line)
    except OSError as error:
        raise imaplib.IMAP4.abort(f"socket error: {error}") from None
    return tag


def read_one(imap: imaplib.IMAP4, tag: bytes) -> tuple[str, list[bytes]] | None:
    """Read one response (with its literals) of the command `tag`; its tagged answer once it
    has come, None before. Untagged data piles up in `imap.untagged_responses` for the caller.
    A BYE (the server ending the session) raises `imaplib.IMAP4.abort`."""
    if imap.tagged_commands[tag] is None:
        imap._get_response()
    if "BYE" in imap.untagged_responses:
        raise imaplib.IMAP4.abort(f"el servidor cerró la sesión: {imap.untagged_responses['BYE'][-1]!r}")
    result: tuple[str, list[bytes]] | None = imap.tagged_commands[tag]  # type: ignore[assignment]  # typeshed: the list only
    if result is None:
        return None
    del imap.tagged_commands[tag]
    return result
