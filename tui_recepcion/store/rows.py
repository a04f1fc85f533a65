"""What the store hands out and takes in: frozen rows, filters and the status words.

No SQL and no I/O here; the aggregates (`ledger`, `documents`, `event_log`, `alert_state`,
`token_health`) build these from their tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tui_recepcion.dian.model import Document, Extraction, compact_pickling
from tui_recepcion.dian.reasons import Reason
from tui_recepcion.vocabulary import FAILED, PROCESSED

STATUS_PROCESSED = PROCESSED
STATUS_FAILED = FAILED
ALERT_PENDING = "pendiente"
ALERT_SENT = "enviada"
ALERT_SKIPPED = "omitida"

UNKNOWN_RAW_SHA256 = ""
"""`raw_sha256` of a ledger row for a message the engine never read (`record_failure`)."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One processed message: where it came from, its outcome and what became of it."""

    account: str
    source_key: str
    message_id: str | None
    subject: str | None
    status: str
    reason: str | None
    destination: str | None
    cufes: tuple[str, ...]
    created_at: datetime
    forwarded_at: datetime | None
    disposed_at: datetime | None
    sender: str | None = None
    detail: str | None = None
    raw_sha256: str = ""
    subject_mismatches: tuple[str, ...] = ()
    """Fields where the subject disagreed with the XML, e.g. "numero: asunto «F1» ≠ XML «F2»"."""
    reprocessed_at: datetime | None = None
    """When a failed message was moved back to INBOX to be processed again (it left Fallidos)."""

    @property
    def forward_refused(self) -> bool:
        """POP3: the backup relay refused the forward for good (`mark_forward_refused`); the
        message stays on the server and later passes skip it."""
        return self.reason == Reason.REENVIO_RECHAZADO and self.disposed_at is None


@compact_pickling
@dataclass(frozen=True, slots=True)
class Outcome:
    """One message's result, ready to be recorded by `Store.record_outcomes`."""

    source_key: str
    extraction: Extraction
    raw_sha256: str
    destination: str | None = None
    saved_files: Mapping[str, Mapping[str, Path]] | None = None
    """cufe → kind → path when the caller already wrote the files with
    `save_document_files`; None lets the store write them."""
    content_sha256: Mapping[str, str] | None = None
    """cufe → `document_content_sha256` of its files, when the caller computed it (worker
    processes do, so the main process does not parse the XML again). Missing entries are
    computed by the store from `extraction.files` or the saved XML file."""
    failed_destination: str | None = None
    """Where the message goes if the store turns it into a failure (a CUFE in conflict):
    the ledger row's destination then (e.g. the Fallidos folder)."""


@dataclass(frozen=True, slots=True)
class RecordResult:
    entry: LedgerEntry
    added: tuple[str, ...] = ()
    """CUFEs stored by this call."""
    duplicates: tuple[str, ...] = ()
    """CUFEs the account already had (not a failure)."""
    already_recorded: bool = False
    """The (account, source_key) was in the ledger already; nothing changed."""
    conflicts: tuple[str, ...] = ()
    """CUFEs the account already had with other content: kept as evidence, the message failed
    as `cufe_en_conflicto`."""


@dataclass(frozen=True, slots=True)
class ConflictRow:
    """Evidence of a message that brought other content under a stored CUFE."""

    account: str
    cufe: str
    source_key: str | None
    message_id: str | None
    subject: str | None
    sender: str | None
    content_sha256: str | None
    xml_path: Path | None
    """The new (rejected) content's files, kept as evidence; never the stored document's."""
    pdf_path: Path | None
    detected_at: datetime
    stored_number: str | None
    """The number of the stored document the CUFE belongs to."""
    stored_xml_path: Path | None


@dataclass(frozen=True, slots=True)
class DocumentRow:
    account: str
    document: Document
    message_id: str | None
    source_key: str | None
    xml_path: Path | None
    pdf_path: Path | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DocumentFilter:
    account: str | None = None
    since: date | None = None
    until: date | None = None
    supplier: str | None = None
    """A NIT (dots, spaces and check digit tolerated) or part of the issuer's name."""
    tipo: str | None = None
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class MessageFilter:
    account: str | None = None
    status: str | None = None
    limit: int | None = None
    reason: str | None = None
    include_reprocessed: bool = False  # with status "fallido": also those already reprocessed (history)


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    account: str | None
    at: datetime
    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One alert's delivery state: pending (maybe claimed, maybe failed), sent or skipped.

    Incidents (alerts about a condition that starts and ends) also have `closed_at`."""

    account: str
    kind: str
    key: str
    state: str
    created_at: datetime
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    claimed_until: datetime | None
    sent_at: datetime | None
    recipient: str | None
    detail: str | None
    closed_at: datetime | None

    def claimed_at(self, now: datetime) -> bool:
        """True while a sender's claim on this alert has not expired."""
        return self.claimed_until is not None and self.claimed_until > now


@dataclass(frozen=True, slots=True)
class AlertClaim:
    """The right to send one alert now; only its holder records a failure."""

    account: str
    kind: str
    key: str
    token: str
    attempt: int


@dataclass(frozen=True, slots=True)
class TokenHealth:
    """An OAuth2 account's token history; messages are Spanish and never hold a token."""

    account: str
    healthy: bool  # the last thing that happened to the token was a success
    last_refresh_at: datetime | None
    last_failure_at: datetime | None
    last_failure_code: str | None  # e.g. "token_revocado"
    last_failure: str | None
