"""What the pipeline needs from a mailbox: list, fetch in batches, dispose, finish.

IMAP, POP3 and Maildir implement this protocol. Keys are the ledger's source keys
(`imap:<uidvalidity>:<uid>`, `pop3:<uidl>`, `maildir:<name>`), stable across runs, so a
re-run after a crash recognises every message it has already decided.

Every method translates its own failures into `RecepcionError`s (a `ConnectionProblem`
for the network and the server), so the pipeline never sees a library's exception. A
message the server refuses to deliver is not an error of the pass: `fetch` yields it as
`Unreadable`, and the pipeline counts the attempt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from tui_recepcion.mailbox.transport import Endpoint
from tui_recepcion.vocabulary import KEPT_ON_SERVER, MessageStatus

# The destination of a message that stays on the server on purpose (POP3 poison: it could
# not be read, or the backup relay refused it for good); later passes skip it.
KEPT = KEPT_ON_SERVER


@dataclass(frozen=True, slots=True)
class Unreadable:
    """The server would not deliver this message (it answered NO, or left it out)."""

    detail: str


@dataclass(frozen=True, slots=True)
class Disposal:
    """What `dispose` did: the keys disposed of, and those the backup relay refused for good."""

    done: list[str]
    refused: dict[str, str] = field(default_factory=dict)  # key → the relay's answer, in Spanish


@dataclass(frozen=True, slots=True)
class Decision:
    """Where one message goes, as committed to the store before it is disposed of."""

    key: str
    status: MessageStatus
    reason: str | None
    destination: str
    forwarded: bool = False  # POP3: already forwarded to the backup address by an earlier run
    raw: bytes | None = None  # the message, when the source needs it again (POP3 forwarding)


class MessageSource(Protocol):
    name: str  # "imap", "pop3" or "maildir"
    # True when disposal only takes effect at finish() (POP3 deletions commit at QUIT).
    disposal_commits_at_finish: bool

    def open(self, deadline: float | None = None) -> None:
        """Connect, log in and prepare (IMAP creates its folders here). `deadline` (a
        `time.monotonic()` instant: the pass's bound) caps every wait of the connection
        phase, when no socket exists yet that an interrupt could shut down."""

    # True when a message that cannot be read is left on the server (POP3 has nowhere to
    # move it), False when it is disposed of like any failure (IMAP: Fallidos).
    keeps_unreadable: bool
    # True when messages are read one at a time, so a failure while reading concerns the one
    # message in flight (POP3 RETR). IMAP reads batches and isolates a culprit itself.
    reads_one_at_a_time: bool

    @property
    def key_prefix(self) -> str:
        """What every key of this mailbox (as it is now) starts with, e.g. `imap:<uidvalidity>:`."""

    def list_keys(self) -> list[str]:
        """Every message currently waiting, oldest first."""

    def size(self, key: str) -> int | None:
        """The message's size as the listing reported it, when the protocol says."""

    def fetch(self, keys: Sequence[str]) -> Iterator[tuple[str, bytes | Unreadable]]:
        """The raw bytes of `keys`, in batched round trips; memory bounded by the batch."""

    def destination(self, status: MessageStatus) -> str:
        """The ledger's `destino` for a message with this status."""

    def dispose(self, decisions: Sequence[Decision], on_forwarded: Callable[[str], None]) -> Disposal:
        """Move or forward-and-delete. `on_forwarded(key)` is called right after each forward
        so the store records it before the deletion. A forward the relay refuses for good is
        reported in `Disposal.refused` and the message is left where it is."""

    def finish(self) -> None:
        """End the session normally (POP3: QUIT, which commits deletions)."""

    def abort(self) -> None:
        """Drop the connection without committing anything still pending."""

    def interrupt(self) -> None:
        """From another thread or a signal handler: make blocked I/O return at once."""



def bounded(endpoint: Endpoint, deadline: float | None) -> Endpoint:
    """`endpoint` with its timeout cut to what is left before `deadline` (at least 0.1 s)."""
    if deadline is None:
        return endpoint
    left = max(0.1, deadline - time.monotonic())
    return endpoint if left >= endpoint.timeout else replace(endpoint, timeout=left)
