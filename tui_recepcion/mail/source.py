"""What the pipeline needs from a mailbox: list, fetch in batches, dispose, finish.

IMAP, POP3 and Maildir implement this protocol. Keys are the ledger's source keys
(`imap:<uidvalidity>:<uid>`, `pop3:<uidl>`, `maildir:<name>`), stable across runs, so a
re-run after a crash recognises every message it has already decided.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Status = Literal["procesado", "fallido"]


@dataclass(frozen=True, slots=True)
class Decision:
    """Where one message goes, as committed to the store before it is disposed of."""

    key: str
    status: Status
    reason: str | None
    destination: str
    forwarded: bool = False  # POP3: already forwarded to the backup address by an earlier run
    raw: bytes | None = None  # the message, when the source needs it again (POP3 forwarding)


class MessageSource(Protocol):
    name: str  # "imap", "pop3" or "maildir"
    # True when disposal only takes effect at finish() (POP3 deletions commit at QUIT).
    disposal_commits_at_finish: bool

    def open(self) -> None:
        """Connect, log in and prepare (IMAP creates its folders here)."""

    def list_keys(self) -> list[str]:
        """Every message currently waiting, oldest first."""

    def fetch(self, keys: Sequence[str]) -> Iterator[tuple[str, bytes]]:
        """The raw bytes of `keys`, in batched round trips; memory bounded by the batch."""

    def destination(self, status: Status) -> str:
        """The ledger's `destino` for a message with this status."""

    def dispose(self, decisions: Sequence[Decision], on_forwarded: Callable[[str], None]) -> list[str]:
        """Move or forward-and-delete; returns the keys disposed of. `on_forwarded(key)` is
        called right after each forward so the store records it before the deletion."""

    def finish(self) -> None:
        """End the session normally (POP3: QUIT, which commits deletions)."""

    def abort(self) -> None:
        """Drop the connection without committing anything still pending."""
