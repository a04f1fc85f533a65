"""The local store: message ledger, documents, event log and alert state.

All SQL of the project lives here, behind the `Store` methods, so that a server database
can replace SQLite later. SQLite runs in WAL mode so the TUI can read while a headless
service writes; `busy_timeout` absorbs short write contention between processes.

Threads: one `Store` may be shared by several threads; every call holds the store's
lock for its whole duration (one connection, serialized). For parallel readers open one
`Store` per thread instead.

Crash safety: `record_outcome` writes the document files first and then commits documents
and ledger row in one transaction. A crash before the commit leaves at most an orphan file
that the retry finds holding the same bytes and reuses; the message is disposed of only
after the commit, so nothing is lost and no document is stored twice.

Immutability: a stored document's row and files never change. Files are written once, to a
temporary name that is fsynced and then hard-linked into place (never over an existing
file), under a name that carries a short hash of their bytes (`<cufe16>-<kind>-<sha8>.<ext>`):
other bytes never take a stored file's name, the same bytes map to the same file. A later
message with a stored CUFE is a duplicate when its signed document has the same content
(`content_sha256`, see `document_content_sha256`) and a conflict otherwise: the new content
is kept apart as evidence (`document_conflicts`) and the message fails as
`cufe_en_conflicto`.

Permissions: the database (and SQLite's -wal/-shm files, which take its mode) is created
0600 and the folders the store creates 0700; document and evidence files are 0600.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import re
import sqlite3
import tempfile
import threading
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from lxml import etree

from tui_recepcion.dian import xml as safe_xml
from tui_recepcion.dian.limits import DEFAULT_LIMITS
from tui_recepcion.dian.model import Document, Extraction, Party, Reference, SavedFile, Tax
from tui_recepcion.dian.reasons import Reason
from tui_recepcion.dian.ubl import ATTACHED_DOCUMENT, root_kind, split_nit
from tui_recepcion.errors import RecepcionError
from tui_recepcion.vocabulary import FAILED, KEPT_ON_SERVER, PROCESSED

STATUS_PROCESSED = PROCESSED
STATUS_FAILED = FAILED
ALERT_PENDING = "pendiente"
ALERT_SENT = "enviada"
ALERT_SKIPPED = "omitida"
DEFAULT_MAX_EVENTS = 50_000
BUSY_TIMEOUT_MS = 5_000

_KIND_SLUGS = {"Invoice": "factura", "CreditNote": "nota-credito", "DebitNote": "nota-debito"}

UNKNOWN_RAW_SHA256 = ""
"""`raw_sha256` of a ledger row for a message the engine never read (`record_failure`)."""
"""The `destination` of a POP3 message whose forward was refused for good: still on the server."""

# Each step runs in its own transaction and bumps PRAGMA user_version by one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            source_key TEXT NOT NULL,
            message_id TEXT,
            subject TEXT,
            sender TEXT,
            raw_sha256 TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('procesado', 'fallido')),
            reason TEXT,
            detail TEXT,
            destination TEXT,
            cufes TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL,
            forwarded_at TEXT,
            disposed_at TEXT,
            UNIQUE (account, source_key)
        )""",
        "CREATE INDEX messages_by_hash ON messages (account, raw_sha256)",
        "CREATE INDEX messages_by_status ON messages (account, status)",
        """CREATE TABLE documents (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            cufe TEXT NOT NULL,
            message_row INTEGER REFERENCES messages (id),
            kind TEXT NOT NULL,
            tipo TEXT NOT NULL,
            number TEXT NOT NULL,
            environment TEXT,
            issue_date TEXT NOT NULL,
            issue_time TEXT,
            due_date TEXT,
            supplier_nit TEXT NOT NULL,
            supplier_dv TEXT,
            supplier_scheme TEXT,
            supplier_name TEXT NOT NULL,
            supplier_search TEXT NOT NULL,
            customer_nit TEXT NOT NULL,
            customer_dv TEXT,
            customer_scheme TEXT,
            customer_name TEXT NOT NULL,
            currency TEXT NOT NULL,
            subtotal TEXT,
            tax_base TEXT,
            tax_inclusive TEXT,
            tax_total TEXT NOT NULL,
            withholding_total TEXT NOT NULL,
            total TEXT NOT NULL,
            taxes TEXT NOT NULL,
            withholdings TEXT NOT NULL,
            dian_validation TEXT,
            reference_number TEXT,
            reference_cufe TEXT,
            reference_date TEXT,
            xml_path TEXT,
            pdf_path TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (account, cufe)
        )""",
        "CREATE INDEX documents_by_date ON documents (account, issue_date)",
        "CREATE INDEX documents_by_supplier ON documents (supplier_nit)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            account TEXT,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL
        )""",
    ),
    (
        # Generic state for alerts (expiry notices and the like): one row per thing to alert on.
        """CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pendiente',
            sent_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            updated_at TEXT NOT NULL,
            UNIQUE (account, kind, key)
        )""",
    ),
    (
        # Alert delivery: a claim (owner and lease) so two processes never send the same
        # alert, a retry time after a failed send, and incident bookkeeping.
        "ALTER TABLE alerts ADD COLUMN created_at TEXT",
        "UPDATE alerts SET created_at = updated_at",
        "ALTER TABLE alerts ADD COLUMN closed_at TEXT",
        "ALTER TABLE alerts ADD COLUMN detail TEXT",
        "ALTER TABLE alerts ADD COLUMN recipient TEXT",
        "ALTER TABLE alerts ADD COLUMN next_attempt_at TEXT",
        "ALTER TABLE alerts ADD COLUMN claimed_by TEXT",
        "ALTER TABLE alerts ADD COLUMN claimed_until TEXT",
        "CREATE INDEX alerts_open ON alerts (account, kind) WHERE closed_at IS NULL",
    ),
    (
        # OAuth2 token health: the last successful refresh and the last failure, per account.
        """CREATE TABLE oauth_tokens (
            account TEXT PRIMARY KEY,
            healthy INTEGER NOT NULL,
            last_refresh_at TEXT,
            last_failure_at TEXT,
            last_failure_code TEXT,
            last_failure TEXT
        )""",
    ),
    (
        # Where the email subject disagreed with the XML (the XML wins; kept for review).
        "ALTER TABLE messages ADD COLUMN subject_mismatches TEXT",
    ),
    (
        # 6. Immutable documents: the hash of each stored document's signed content (NULL for
        # rows stored before; their XML file is hashed when needed), and the evidence of
        # messages that brought other content under a stored CUFE.
        "ALTER TABLE documents ADD COLUMN content_sha256 TEXT",
        """CREATE TABLE document_conflicts (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            cufe TEXT NOT NULL,
            message_row INTEGER REFERENCES messages (id),
            document_row INTEGER REFERENCES documents (id),
            content_sha256 TEXT,
            xml_path TEXT,
            pdf_path TEXT,
            detected_at TEXT NOT NULL
        )""",
        "CREATE INDEX document_conflicts_by_cufe ON document_conflicts (account, cufe)",
    ),
    (
        # 7. Failed attempts (fetch, RETR, store) on messages not decided yet, across passes.
        """CREATE TABLE message_attempts (
            account TEXT NOT NULL,
            source_key TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            stage TEXT NOT NULL,
            last_error TEXT NOT NULL,
            first_at TEXT NOT NULL,
            last_at TEXT NOT NULL,
            PRIMARY KEY (account, source_key)
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

P = ParamSpec("P")
R = TypeVar("R")


class StoreError(RecepcionError):
    """The database or the document files cannot be opened, read or written.

    The message is Spanish. `transient` is True when retrying later may succeed (the
    database is busy or locked, the disk is full, an I/O error) and False when a person
    must act (a corrupt database, a schema from a newer program, no permission). The
    exception pickles with its flag (it crosses from worker processes).
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient

    def __repr__(self) -> str:
        return f"{type(self).__name__}(transient={self.transient}, message={str(self)!r})"


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

    @property
    def forward_refused(self) -> bool:
        """POP3: the backup relay refused the forward for good (`mark_forward_refused`); the
        message stays on the server and later passes skip it."""
        return self.reason == Reason.REENVIO_RECHAZADO and self.disposed_at is None


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


# Primary SQLite result codes after which a retry may succeed.
_TRANSIENT_SQLITE = frozenset({
    sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_INTERRUPT,
    sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL,
})
_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_PERMANENT_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENAMETOOLONG, errno.ENOTDIR,
                               errno.EISDIR})


def database_problem(error: sqlite3.Error, path: Path | str | None = None) -> StoreError:
    """The Spanish, classified `StoreError` for an sqlite3 error (disk full says so)."""
    where = f" {path}" if path is not None else ""
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(error)
    if primary is None and "locked" in text:  # raised without a code by some sqlite3 paths
        primary = sqlite3.SQLITE_LOCKED
    if primary == sqlite3.SQLITE_FULL:
        return StoreError(f"El disco está lleno: no se pudo escribir en la base de datos{where}. Libere espacio; "
                          "se reintentará.", transient=True)
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StoreError(f"La base de datos{where} está ocupada por otro proceso ({text}); se reintentará.",
                          transient=True)
    if primary == sqlite3.SQLITE_IOERR:
        return StoreError(f"Error de entrada/salida en la base de datos{where} ({text}); se reintentará.",
                          transient=True)
    if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return StoreError(f"La base de datos{where} está dañada o no es una base de datos ({text}).")
    if primary == sqlite3.SQLITE_READONLY:
        return StoreError(f"La base de datos{where} es de solo lectura ({text}); revise los permisos.")
    return StoreError(f"Error de la base de datos{where}: {text}", transient=primary in _TRANSIENT_SQLITE)


def file_problem(error: OSError, path: Path | str | None = None) -> StoreError:
    """The Spanish, classified `StoreError` for a failed file operation of the store."""
    where = f" {path}" if path is not None else ""
    detail = error.strerror or str(error)
    if error.errno in _DISK_FULL_ERRNOS:
        return StoreError(f"El disco está lleno: no se pudo guardar{where}. Libere espacio; se reintentará.",
                          transient=True)
    if error.errno in (errno.EACCES, errno.EPERM):
        return StoreError(f"Sin permiso para escribir{where} ({detail}); revise los permisos de la carpeta.")
    if error.errno == errno.EROFS:
        return StoreError(f"No se pudo guardar{where}: el sistema de archivos es de solo lectura.")
    return StoreError(f"No se pudo guardar{where} ({detail}).", transient=error.errno not in _PERMANENT_ERRNOS)


def _translated(method: Callable[P, R]) -> Callable[P, R]:
    """Turn sqlite3 errors (locked, disk full, corrupt) and file errors into a Spanish,
    classified `StoreError`."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as error:
            path = getattr(args[0], "path", None) if args else None
            raise database_problem(error, path) from error
        except OSError as error:
            raise file_problem(error, error.filename) from error

    return wrapper


class Store:
    """The SQLite store. Create with `Store.open(...)`; use as a context manager."""

    def __init__(self, connection: sqlite3.Connection, path: Path, documents_dir: Path | None,
                 max_events: int) -> None:
        self._db = connection
        self.path = path
        self.documents_dir = documents_dir
        self.max_events = max_events
        self._lock = threading.RLock()
        self._column_cache: dict[str, list[str]] = {}

    @classmethod
    def open(cls, path: Path, documents_dir: Path | None = None, *,
             max_events: int = DEFAULT_MAX_EVENTS) -> Store:
        path = Path(path)
        try:
            make_private_dirs(path.parent)
            _create_private_file(path)
            connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                         check_same_thread=False)
        except OSError as error:
            problem = file_problem(error, error.filename or path)
            raise StoreError(f"No se puede abrir la base de datos {path}: {problem}",
                             transient=problem.transient) from None
        except sqlite3.Error as error:
            problem = database_problem(error, path)
            raise StoreError(f"No se puede abrir la base de datos {path}: {problem}",
                             transient=problem.transient) from None
        store = cls(connection, path, documents_dir, max_events)
        try:
            store._configure()
            store._migrate()
        except sqlite3.Error as error:
            connection.close()
            problem = database_problem(error, path)
            raise StoreError(f"La base de datos {path} no se puede usar: {problem}",
                             transient=problem.transient) from None
        except StoreError:
            connection.close()
            raise
        return store

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- setup -----------------------------------------------------------------------

    def _configure(self) -> None:
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"La base de datos {self.path} no admite el modo WAL (modo actual: {mode}).")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA foreign_keys = ON")

    def _migrate(self) -> None:
        with self._lock:
            version = self.schema_version()
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"La base de datos {self.path} es de una versión más nueva del programa "
                    f"(esquema {version}, este programa conoce hasta el {SCHEMA_VERSION})."
                )
            for number in range(version, SCHEMA_VERSION):
                with self._transaction():
                    # Re-read inside the write lock: another process may have migrated.
                    if self.schema_version() > number:
                        continue
                    for statement in MIGRATIONS[number]:
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {number + 1}")

    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def journal_mode(self) -> str:
        return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                # SQLite rolls back by itself after some errors (SQLITE_FULL, an I/O error);
                # a failed ROLLBACK must not hide the error that caused it.
                if self._db.in_transaction:
                    try:
                        self._db.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise
            try:
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    try:
                        self._db.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise

    # ---- the ledger ------------------------------------------------------------------

    @_translated
    def lookup_messages(self, account: str, source_keys: Iterable[str]) -> dict[str, LedgerEntry]:
        """Ledger entries for the given source keys (absent keys are simply missing)."""
        keys = list(dict.fromkeys(source_keys))
        found: dict[str, LedgerEntry] = {}
        with self._lock:
            # SQLite caps bound parameters; 500 per query stays well below every build's limit.
            for start in range(0, len(keys), 500):
                batch = keys[start : start + 500]
                marks = ",".join("?" * len(batch))
                rows = self._db.execute(
                    f"SELECT * FROM messages WHERE account = ? AND source_key IN ({marks})", (account, *batch)
                ).fetchall()
                for row in rows:
                    entry = _ledger_entry(row, self._columns("messages"))
                    found[entry.source_key] = entry
        return found

    @_translated
    def get_message(self, account: str, source_key: str) -> LedgerEntry | None:
        return self.lookup_messages(account, [source_key]).get(source_key)

    @_translated
    def record_outcome(self, account: str, source_key: str, extraction: Extraction, raw_sha256: str,
                       destination: str | None = None, *, failed_destination: str | None = None) -> RecordResult:
        """Store the documents and the ledger row of one message in one transaction.

        A CUFE the account already has with the same content counts as a duplicate, not a
        failure; with other content it is a conflict (see `record_outcomes`). Idempotent:
        an (account, source_key) already in the ledger is returned unchanged.
        """
        outcome = Outcome(source_key, extraction, raw_sha256, destination, failed_destination=failed_destination)
        return self.record_outcomes(account, [outcome])[0]

    @_translated
    def record_outcomes(self, account: str, outcomes: Sequence[Outcome]) -> list[RecordResult]:
        """Record a batch of messages in ONE transaction (a commit per message would cost
        more than the rest of the work); same rules as `record_outcome`, results in order.

        A CUFE the account has already (stored before, or by an earlier message of the
        batch) is a duplicate when the content is the same; with other content it is a
        conflict: the stored row and files are left alone, the new files are recorded in
        `document_conflicts` as evidence, and the message is `fallido` /
        `cufe_en_conflicto` with `failed_destination` (its other, new documents are still
        stored). After the commit, files written for duplicates that nothing references are
        removed (a resend often carries a regenerated PDF).
        """
        for outcome in outcomes:
            if not outcome.extraction.ok and outcome.extraction.failure is None:
                raise ValueError("an extraction without documents must carry a failure")
        results: list[RecordResult] = []
        leftovers: list[tuple[str, Path]] = []
        with self._transaction():
            recorded = self.lookup_messages(account, [outcome.source_key for outcome in outcomes])
            known = self._known_documents(account, [cufe for o in outcomes for cufe in o.extraction.cufes])
            now = _now()
            for outcome in outcomes:
                existing = recorded.get(outcome.source_key)
                if existing is not None:
                    results.append(RecordResult(existing, already_recorded=True))
                    continue
                result = self._insert_outcome(account, outcome, known, now, leftovers)
                recorded[outcome.source_key] = result.entry
                results.append(result)
            self._db.executemany("DELETE FROM message_attempts WHERE account = ? AND source_key = ?",
                                 [(account, result.entry.source_key) for result in results
                                  if not result.already_recorded])
        if leftovers:
            self._discard_unreferenced(account, leftovers)
        return results

    def _known_documents(self, account: str, cufes: list[str]) -> dict[str, _Known]:
        found: dict[str, _Known] = {}
        cufes = list(dict.fromkeys(cufes))
        for start in range(0, len(cufes), 500):
            batch = cufes[start : start + 500]
            marks = ",".join("?" * len(batch))
            cursor = self._db.execute(
                "SELECT d.*, NULL AS m_message_id, NULL AS m_source_key FROM documents d "
                f"WHERE d.account = ? AND d.cufe IN ({marks})", (account, *batch)
            )
            columns = [description[0] for description in cursor.description]
            for row in cursor:
                values = dict(zip(columns, row, strict=True))
                stored = _document_row(values)
                found[values["cufe"]] = _Known(values["id"], stored.document, values["content_sha256"],
                                               stored.xml_path, stored.pdf_path)
        return found

    def _insert_outcome(self, account: str, outcome: Outcome, known: dict[str, _Known], now: str,
                        leftovers: list[tuple[str, Path]]) -> RecordResult:
        """Insert one ledger row, its new documents and its conflicts' evidence; `known`
        grows with what is added, `leftovers` with duplicates' files to clean up."""
        extraction = outcome.extraction
        failure = None if extraction.ok else extraction.failure
        new: list[tuple[Document, dict[str, Path], str | None]] = []
        conflicts: list[tuple[Document, _Known, dict[str, Path], str | None]] = []
        duplicates: list[str] = []
        planned: set[str] = set()
        for document in extraction.documents:
            saved = outcome.saved_files.get(document.cufe) if outcome.saved_files is not None else None
            paths = dict(saved) if saved is not None else None
            content = self._content_sha256(outcome, document.cufe, paths)
            stored = known.get(document.cufe)
            if stored is None:
                if document.cufe in planned:
                    continue
                planned.add(document.cufe)
                if paths is None:
                    paths = save_document_files(self.documents_dir, account, document,
                                                extraction.files.get(document.cufe, ()))
                new.append((document, paths, content))
            elif _same_content(stored, document, content):
                duplicates.append(document.cufe)
                leftovers += [(document.cufe, path) for path in (paths or {}).values()
                              if path not in (stored.xml_path, stored.pdf_path)]
            else:
                if paths is None:  # the evidence is written only now, never over a stored file
                    paths = save_document_files(self.documents_dir, account, document,
                                                extraction.files.get(document.cufe, ()))
                conflicts.append((document, stored, paths, content))
        status, reason, detail, destination = STATUS_PROCESSED, None, None, outcome.destination
        if failure is not None:
            status, reason, detail = STATUS_FAILED, str(failure.code), failure.detail
        elif conflicts:
            status, reason, destination = STATUS_FAILED, str(Reason.CUFE_EN_CONFLICTO), outcome.failed_destination
            detail = " ".join(_conflict_detail(document, stored, paths) for document, stored, paths, _ in conflicts)
        mismatches = tuple(
            f"{m.field}: asunto «{m.subject_value}» ≠ XML «{m.xml_value}»" for m in extraction.hint_mismatches
        )
        cursor = self._db.execute(
            """INSERT INTO messages (account, source_key, message_id, subject, sender, raw_sha256, status,
               reason, detail, destination, cufes, created_at, subject_mismatches)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            (account, outcome.source_key, extraction.message_id, extraction.subject, extraction.sender,
             outcome.raw_sha256, status, reason, detail, destination, json.dumps(list(extraction.cufes)), now,
             json.dumps(mismatches, ensure_ascii=False) if mismatches else None),
        )
        message_row = cursor.lastrowid
        for document, paths, content in new:
            row_id = self._insert_document(account, document, message_row, paths, content, now)
            known[document.cufe] = _Known(row_id, document, content, paths.get("xml"), paths.get("pdf"))
        for document, stored, paths, content in conflicts:
            self._db.execute(
                """INSERT INTO document_conflicts (account, cufe, message_row, document_row, content_sha256,
                   xml_path, pdf_path, detected_at) VALUES (?,?,?,?,?,?,?,?)""",
                (account, document.cufe, message_row, stored.row_id, content,
                 _path_text(paths.get("xml")), _path_text(paths.get("pdf")), now),
            )
        entry = LedgerEntry(
            account=account, source_key=outcome.source_key, message_id=extraction.message_id,
            subject=extraction.subject, status=status, reason=reason,
            destination=destination, cufes=tuple(extraction.cufes),
            created_at=datetime.fromisoformat(now), forwarded_at=None, disposed_at=None,
            sender=extraction.sender, detail=detail, raw_sha256=outcome.raw_sha256,
            subject_mismatches=mismatches,
        )
        return RecordResult(entry, tuple(document.cufe for document, _, _ in new), tuple(duplicates),
                            conflicts=tuple(document.cufe for document, *_ in conflicts))

    def _content_sha256(self, outcome: Outcome, cufe: str, paths: dict[str, Path] | None) -> str | None:
        """The new content's hash: given by the caller, else from the files in memory, else
        from the XML file the caller saved; None when there is no XML to hash."""
        if outcome.content_sha256 is not None and outcome.content_sha256.get(cufe):
            return outcome.content_sha256[cufe]
        files = outcome.extraction.files.get(cufe, ())
        if files:
            return document_content_sha256(files)
        if paths and "xml" in paths:
            return _file_content_sha256(paths["xml"])
        return None

    def _discard_unreferenced(self, account: str, leftovers: list[tuple[str, Path]]) -> None:
        """Remove files written for duplicates that no document or evidence row references.

        Best effort, after the commit: a failure here leaves a harmless file and must not
        make the caller believe the batch was not recorded."""
        with self._lock:
            for cufe, path in dict.fromkeys(leftovers):
                # A file's name starts with its CUFE's first 16 characters: only documents
                # whose CUFE starts so can reference it (an index range, not a table scan).
                prefix = cufe[:16]
                try:
                    referenced = self._db.execute(
                        """SELECT 1 FROM documents WHERE account = ?1 AND cufe >= ?2 AND cufe < ?3
                             AND (xml_path = ?4 OR pdf_path = ?4)
                           UNION ALL SELECT 1 FROM document_conflicts WHERE account = ?1 AND cufe >= ?2
                             AND cufe < ?3 AND (xml_path = ?4 OR pdf_path = ?4) LIMIT 1""",
                        (account, prefix, prefix + "\uffff", str(path)),
                    ).fetchone()
                    if referenced is None:
                        path.unlink(missing_ok=True)
                except (sqlite3.Error, OSError):
                    continue

    @_translated
    def conflicts(self, account: str | None = None) -> list[ConflictRow]:
        """The evidence of CUFEs that came again with other content, oldest first."""
        sql = ("SELECT c.account, c.cufe, m.source_key, m.message_id, m.subject, m.sender, c.content_sha256, "
               "c.xml_path, c.pdf_path, c.detected_at, d.number, d.xml_path FROM document_conflicts c "
               "LEFT JOIN messages m ON m.id = c.message_row LEFT JOIN documents d ON d.id = c.document_row")
        params: tuple[str, ...] = ()
        if account is not None:
            sql += " WHERE c.account = ?"
            params = (account,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY c.id", params).fetchall()
        return [
            ConflictRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], _path(row[7]), _path(row[8]),
                        datetime.fromisoformat(row[9]), row[10], _path(row[11]))
            for row in rows
        ]

    # ---- failed attempts and failures decided by the engine --------------------------

    @_translated
    def record_attempt(self, account: str, source_key: str, stage: str, error: str) -> int:
        """Count a failed attempt (`stage`: fetch, RETR, store…) on a message not decided
        yet; returns how many there have been, across passes. Recording the message's
        outcome or failure drops the count."""
        now = _now()
        with self._transaction():
            row = self._db.execute(
                """INSERT INTO message_attempts (account, source_key, attempts, stage, last_error, first_at, last_at)
                   VALUES (?,?,1,?,?,?,?)
                   ON CONFLICT (account, source_key) DO UPDATE SET attempts = attempts + 1,
                   stage = excluded.stage, last_error = excluded.last_error, last_at = excluded.last_at
                   RETURNING attempts""",
                (account, source_key, stage, error, now, now),
            ).fetchone()
            return int(row[0])

    @_translated
    def attempts(self, account: str, source_keys: Iterable[str]) -> dict[str, int]:
        """Failed attempts per source key; keys never counted are missing."""
        keys = list(dict.fromkeys(source_keys))
        found: dict[str, int] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                batch = keys[start : start + 500]
                marks = ",".join("?" * len(batch))
                found.update(self._db.execute(
                    f"SELECT source_key, attempts FROM message_attempts WHERE account = ? AND source_key IN ({marks})",
                    (account, *batch),
                ).fetchall())
        return found

    @_translated
    def clear_attempts(self, account: str, source_keys: Iterable[str]) -> None:
        with self._transaction():
            self._db.executemany("DELETE FROM message_attempts WHERE account = ? AND source_key = ?",
                                 [(account, key) for key in dict.fromkeys(source_keys)])

    @_translated
    def record_failure(self, account: str, source_key: str, *, reason: str, detail: str, destination: str | None,
                       raw_sha256: str | None, subject: str | None = None,
                       message_id: str | None = None) -> LedgerEntry:
        """A `fallido` ledger row for a message the engine isolated without extracting it
        (`no_se_pudo_leer`, `mensaje_demasiado_grande`). Without the raw bytes,
        `raw_sha256` is stored as `UNKNOWN_RAW_SHA256` (the empty string). Idempotent: an
        (account, source_key) already in the ledger is returned unchanged."""
        now = _now()
        with self._transaction():
            existing = self._ledger_row(account, source_key)
            if existing is not None:
                return existing
            self._db.execute(
                """INSERT INTO messages (account, source_key, message_id, subject, raw_sha256, status, reason,
                   detail, destination, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)""",
                (account, source_key, message_id, subject, raw_sha256 or UNKNOWN_RAW_SHA256, STATUS_FAILED,
                 str(reason), detail, destination, now),
            )
            self._db.execute("DELETE FROM message_attempts WHERE account = ? AND source_key = ?",
                             (account, source_key))
            entry = self._ledger_row(account, source_key)
            assert entry is not None
            return entry

    @_translated
    def mark_forward_refused(self, account: str, source_key: str, detail: str) -> LedgerEntry:
        """POP3: the backup relay refused the forward for good (SMTP 5xx; `detail` is its
        reply). The row becomes `fallido` / `reenvio_rechazado`, destination
        `KEPT_ON_SERVER` ("servidor"), not disposed of; its detail keeps the original
        outcome readable. `LedgerEntry.forward_refused` tells such rows apart. Calling it
        again returns the row unchanged. ValueError when the row does not exist."""
        with self._transaction():
            entry = self._ledger_row(account, source_key)
            if entry is None:
                raise ValueError(f"no ledger row for {account!r} {source_key!r}")
            if entry.reason == Reason.REENVIO_RECHAZADO:
                return entry
            if entry.status == STATUS_PROCESSED:
                original = "procesado"
            else:
                original = f"fallido ({entry.reason}: {entry.detail})" if entry.detail else f"fallido ({entry.reason})"
            text = (f"El servidor SMTP rechazó de forma definitiva el reenvío al correo de respaldo: "
                    f"{_one_line(detail)}. El correo se conserva en el servidor POP3 y no se vuelve a reenviar. "
                    f"Resultado del procesamiento: {original}.")
            self._db.execute(
                """UPDATE messages SET status = ?, reason = ?, detail = ?, destination = ?
                   WHERE account = ? AND source_key = ?""",
                (STATUS_FAILED, str(Reason.REENVIO_RECHAZADO), text, KEPT_ON_SERVER, account, source_key),
            )
            updated = self._ledger_row(account, source_key)
            assert updated is not None
            return updated

    @_translated
    def retire_message(self, account: str, source_key: str) -> None:
        """POP3 UIDL reuse: rename a disposed row's key to `f"{key}#{raw_sha256[:16]}"` (with
        the row id appended if that is taken, or instead of the hash if it is unknown), so a
        new message under the same UIDL is recorded with the live key; the history stays.
        ValueError when there is no such row or it was not disposed of."""
        with self._transaction():
            row = self._db.execute(
                "SELECT id, raw_sha256, disposed_at FROM messages WHERE account = ? AND source_key = ?",
                (account, source_key),
            ).fetchone()
            if row is None:
                raise ValueError(f"no ledger row for {account!r} {source_key!r}")
            row_id, raw_sha256, disposed_at = row
            if disposed_at is None:
                raise ValueError(f"ledger row {account!r} {source_key!r} was not disposed of; it cannot be retired")
            retired = f"{source_key}#{raw_sha256[:16]}" if raw_sha256 else f"{source_key}#{row_id}"
            taken = self._db.execute("SELECT 1 FROM messages WHERE account = ? AND source_key = ?",
                                     (account, retired)).fetchone()
            if taken is not None:
                retired = f"{retired}-{row_id}"
            self._db.execute("UPDATE messages SET source_key = ? WHERE id = ?", (retired, row_id))
            self._db.execute("DELETE FROM message_attempts WHERE account = ? AND source_key = ?",
                             (account, source_key))

    def _ledger_row(self, account: str, source_key: str) -> LedgerEntry | None:
        row = self._db.execute("SELECT * FROM messages WHERE account = ? AND source_key = ?",
                               (account, source_key)).fetchone()
        return _ledger_entry(row, self._columns("messages")) if row else None

    @_translated
    def mark_forwarded(self, account: str, source_key: str) -> bool:
        """Record that a POP3 message reached the backup address (before DELE)."""
        with self._transaction():
            cursor = self._db.execute(
                "UPDATE messages SET forwarded_at = COALESCE(forwarded_at, ?) WHERE account = ? AND source_key = ?",
                (_now(), account, source_key),
            )
            return cursor.rowcount > 0

    @_translated
    def mark_disposed(self, account: str, source_keys: Iterable[str], destination: str | None = None) -> int:
        """Record that messages were moved or deleted at the source; returns how many rows."""
        now = _now()
        with self._transaction():
            count = 0
            for key in source_keys:
                cursor = self._db.execute(
                    """UPDATE messages SET disposed_at = ?, destination = COALESCE(?, destination)
                       WHERE account = ? AND source_key = ?""",
                    (now, destination, account, key),
                )
                count += cursor.rowcount
            return count

    @_translated
    def undisposed_messages(self, account: str, key_prefix: str) -> list[LedgerEntry]:
        """Decided but not yet disposed-of rows whose source key starts with `key_prefix`
        (e.g. one IMAP UIDVALIDITY): what a pass checks against the server's listing."""
        with self._lock:
            columns = self._columns("messages")
            rows = self._db.execute(
                "SELECT * FROM messages WHERE account = ? AND disposed_at IS NULL AND source_key LIKE ? ESCAPE '\\'",
                (account, _like_escape(key_prefix) + "%"),
            )
            return [_ledger_entry(row, columns) for row in rows]

    @_translated
    def messages(self, filters: MessageFilter = MessageFilter()) -> list[LedgerEntry]:
        clauses, params = [], []
        if filters.account:
            clauses.append("account = ?")
            params.append(filters.account)
        if filters.status:
            clauses.append("status = ?")
            params.append(filters.status)
        sql = "SELECT * FROM messages" + _where(clauses) + " ORDER BY id"
        if filters.limit:
            sql += f" LIMIT {int(filters.limit)}"
        with self._lock:
            columns = self._columns("messages")
            return [_ledger_entry(row, columns) for row in self._db.execute(sql, params)]

    @_translated
    def message_counts(self) -> dict[str, dict[str, int]]:
        """{account: {"procesado": n, "fallido": m}}."""
        counts: dict[str, dict[str, int]] = {}
        with self._lock:
            for account, status, count in self._db.execute(
                "SELECT account, status, COUNT(*) FROM messages GROUP BY account, status"
            ):
                counts.setdefault(account, {STATUS_PROCESSED: 0, STATUS_FAILED: 0})[status] = count
        return counts

    # ---- documents -------------------------------------------------------------------

    @_translated
    def documents(self, filters: DocumentFilter = DocumentFilter()) -> list[DocumentRow]:
        clauses, params = [], []
        if filters.account:
            clauses.append("d.account = ?")
            params.append(filters.account)
        if filters.since:
            clauses.append("d.issue_date >= ?")
            params.append(filters.since.isoformat())
        if filters.until:
            clauses.append("d.issue_date <= ?")
            params.append(filters.until.isoformat())
        if filters.tipo:
            clauses.append("d.tipo = ?")
            params.append(filters.tipo)
        if filters.supplier:
            nit, _ = split_nit(filters.supplier.strip())
            if nit.isdigit():
                clauses.append("d.supplier_nit = ?")
                params.append(nit)
            else:
                clauses.append("d.supplier_search LIKE ? ESCAPE '\\'")
                params.append(f"%{_like_escape(search_key(filters.supplier))}%")
        sql = ("SELECT d.*, m.message_id AS m_message_id, m.source_key AS m_source_key FROM documents d "
               "LEFT JOIN messages m ON m.id = d.message_row" + _where(clauses)
               + " ORDER BY d.issue_date, d.issue_time, d.id")
        if filters.limit:
            sql += f" LIMIT {int(filters.limit)}"
        with self._lock:
            cursor = self._db.execute(sql, params)
            columns = [description[0] for description in cursor.description]
            return [_document_row(dict(zip(columns, row, strict=True))) for row in cursor]

    @_translated
    def document_count(self, account: str | None = None) -> int:
        with self._lock:
            if account is None:
                return int(self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
            return int(self._db.execute("SELECT COUNT(*) FROM documents WHERE account = ?",
                                        (account,)).fetchone()[0])

    def _insert_document(self, account: str, document: Document, message_row: int | None,
                         paths: dict[str, Path], content_sha256: str | None, now: str) -> int:
        reference = document.reference
        values = {
            "account": account,
            "cufe": document.cufe,
            "message_row": message_row,
            "kind": document.kind,
            "tipo": document.tipo,
            "number": document.number,
            "environment": document.environment,
            "issue_date": document.issue_date.isoformat(),
            "issue_time": document.issue_time,
            "due_date": document.due_date.isoformat() if document.due_date else None,
            "supplier_nit": document.supplier.nit,
            "supplier_dv": document.supplier.dv,
            "supplier_scheme": document.supplier.id_scheme,
            "supplier_name": document.supplier.name,
            "supplier_search": search_key(document.supplier.name),
            "customer_nit": document.customer.nit,
            "customer_dv": document.customer.dv,
            "customer_scheme": document.customer.id_scheme,
            "customer_name": document.customer.name,
            "currency": document.currency,
            "subtotal": _decimal_text(document.subtotal),
            "tax_base": _decimal_text(document.tax_base),
            "tax_inclusive": _decimal_text(document.tax_inclusive),
            "tax_total": str(document.tax_total),
            "withholding_total": str(document.withholding_total),
            "total": str(document.total),
            "taxes": _taxes_json(document.taxes),
            "withholdings": _taxes_json(document.withholdings),
            "dian_validation": document.dian_validation,
            "reference_number": reference.number if reference else None,
            "reference_cufe": reference.cufe if reference else None,
            "reference_date": reference.issue_date.isoformat() if reference and reference.issue_date else None,
            "xml_path": str(paths["xml"]) if "xml" in paths else None,
            "pdf_path": str(paths["pdf"]) if "pdf" in paths else None,
            "created_at": now,
            "content_sha256": content_sha256,
        }
        columns = ", ".join(values)
        marks = ", ".join("?" * len(values))
        cursor = self._db.execute(f"INSERT INTO documents ({columns}) VALUES ({marks})", tuple(values.values()))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    # ---- events ----------------------------------------------------------------------

    @_translated
    def append_events(self, events: Iterable[tuple[str | None, str, dict[str, Any]]]) -> int:
        """Append (account, kind, payload) events; returns the last id. Old events beyond
        `max_events` are pruned in the same transaction (a primary-key range delete)."""
        rows = [(account, _now(), kind, json.dumps(payload, ensure_ascii=False, default=str))
                for account, kind, payload in events]
        with self._transaction():
            if rows:
                self._db.executemany("INSERT INTO events (account, at, kind, payload) VALUES (?,?,?,?)", rows)
            last = self._last_event_id()
            if rows:
                self._db.execute("DELETE FROM events WHERE id <= ?", (last - self.max_events,))
            return last

    @_translated
    def events_after(self, last_id: int, limit: int = 1000) -> list[EventRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, account, at, kind, payload FROM events WHERE id > ? ORDER BY id LIMIT ?",
                (last_id, limit),
            ).fetchall()
        return [EventRow(row[0], row[1], datetime.fromisoformat(row[2]), row[3], json.loads(row[4])) for row in rows]

    @_translated
    def last_event_id(self) -> int:
        with self._lock:
            return self._last_event_id()

    @_translated
    def event_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def _last_event_id(self) -> int:
        # sqlite_sequence keeps the high-water mark even when every row was pruned.
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return int(row[0]) if row else 0

    # ---- alerts ----------------------------------------------------------------------
    #
    # Claim-then-send: `claim_alert` marks a pending alert as being sent, with a lease, in a
    # write transaction, so of two processes only one gets the claim. A process that dies
    # while sending leaves a claim that simply expires; the alert is then claimable again.

    @_translated
    def alert_records(self, account: str) -> list[AlertRecord]:
        """Every alert row of an account, oldest first (history included)."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM alerts WHERE account = ? ORDER BY id", (account,)).fetchall()
            return [_alert_record(row, self._columns("alerts")) for row in rows]

    @_translated
    def claim_alert(self, account: str, kind: str, key: str, *, now: datetime, lease: timedelta,
                    ignore_backoff: bool = False, detail: str | None = None) -> AlertClaim | None:
        """Claim the pending alert (account, kind, key), creating it if new (with `detail`,
        what a retry needs to compose it again; an existing alert keeps its own).

        None when it was sent or skipped already, its incident is closed, another sender
        holds an unexpired claim, or (unless `ignore_backoff`) its retry time is not due.
        """
        with self._transaction():
            self._db.execute(
                """INSERT OR IGNORE INTO alerts (account, kind, key, state, detail, created_at, updated_at)
                   VALUES (?,?,?,?,?,?,?)""",
                (account, kind, key, ALERT_PENDING, detail, _stamp(now), _stamp(now)),
            )
            record = self._alert_record(account, kind, key)
            assert record is not None  # inserted above if it was missing
            if record.state != ALERT_PENDING or record.closed_at is not None or record.claimed_at(now):
                return None
            if not ignore_backoff and record.next_attempt_at is not None and record.next_attempt_at > now:
                return None
            token = uuid.uuid4().hex
            self._db.execute(
                """UPDATE alerts SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1, updated_at = ?
                   WHERE account = ? AND kind = ? AND key = ?""",
                (token, _stamp(now + lease), _stamp(now), account, kind, key),
            )
            return AlertClaim(account, kind, key, token, record.attempts + 1)

    @_translated
    def alert_sent(self, claim: AlertClaim, *, now: datetime, recipient: str) -> None:
        """Record a delivered alert (even if its claim expired meanwhile: it *was* sent)."""
        with self._transaction():
            self._db.execute(
                """UPDATE alerts SET state = ?, sent_at = ?, recipient = ?, last_error = NULL,
                   next_attempt_at = NULL, claimed_by = NULL, claimed_until = NULL, updated_at = ?
                   WHERE account = ? AND kind = ? AND key = ? AND state = ?""",
                (ALERT_SENT, _stamp(now), recipient, _stamp(now), claim.account, claim.kind, claim.key, ALERT_PENDING),
            )

    @_translated
    def alert_failed(self, claim: AlertClaim, *, now: datetime, error: str, retry_at: datetime) -> None:
        """Record a failed send and when to retry; releases the claim if still ours."""
        with self._transaction():
            self._db.execute(
                """UPDATE alerts SET last_error = ?, next_attempt_at = ?, claimed_by = NULL, claimed_until = NULL,
                   updated_at = ? WHERE account = ? AND kind = ? AND key = ? AND claimed_by = ?""",
                (error, _stamp(retry_at), _stamp(now), claim.account, claim.kind, claim.key, claim.token),
            )

    @_translated
    def skip_alert(self, account: str, kind: str, key: str, *, now: datetime) -> None:
        """Mark a pending, unclaimed alert as no longer worth sending (superseded)."""
        with self._transaction():
            record = self._alert_record(account, kind, key)
            if record is None:
                self._db.execute(
                    """INSERT INTO alerts (account, kind, key, state, created_at, updated_at)
                       VALUES (?,?,?,?,?,?)""",
                    (account, kind, key, ALERT_SKIPPED, _stamp(now), _stamp(now)),
                )
            elif record.state == ALERT_PENDING and not record.claimed_at(now):
                self._db.execute(
                    "UPDATE alerts SET state = ?, updated_at = ? WHERE account = ? AND kind = ? AND key = ?",
                    (ALERT_SKIPPED, _stamp(now), account, kind, key),
                )

    @_translated
    def open_incident(self, account: str, kind: str, *, now: datetime, detail: str) -> AlertRecord:
        """The account's open incident of this kind, opened now (keyed by a sequence
        number) when there is none; `detail` describes the incident that opens."""
        with self._transaction():
            record = self._open_incident(account, kind)
            if record is not None:
                return record
            (count,) = self._db.execute("SELECT COUNT(*) FROM alerts WHERE account = ? AND kind = ?",
                                        (account, kind)).fetchone()
            key = str(count + 1)
            self._db.execute(
                """INSERT INTO alerts (account, kind, key, state, detail, created_at, updated_at)
                   VALUES (?,?,?,?,?,?,?)""",
                (account, kind, key, ALERT_PENDING, detail, _stamp(now), _stamp(now)),
            )
            created = self._alert_record(account, kind, key)
            assert created is not None
            return created

    @_translated
    def close_incidents(self, account: str, kind: str, *, now: datetime) -> int:
        """Close the account's open incidents of this kind; a read when none is open."""
        with self._lock:
            if self._open_incident(account, kind) is None:
                return 0
            with self._transaction():
                cursor = self._db.execute(
                    "UPDATE alerts SET closed_at = ?, updated_at = ? WHERE account = ? AND kind = ? AND closed_at IS NULL",
                    (_stamp(now), _stamp(now), account, kind),
                )
                return cursor.rowcount

    def _open_incident(self, account: str, kind: str) -> AlertRecord | None:
        row = self._db.execute(
            "SELECT * FROM alerts WHERE account = ? AND kind = ? AND closed_at IS NULL ORDER BY id DESC LIMIT 1",
            (account, kind),
        ).fetchone()
        return _alert_record(row, self._columns("alerts")) if row else None

    def _alert_record(self, account: str, kind: str, key: str) -> AlertRecord | None:
        row = self._db.execute("SELECT * FROM alerts WHERE account = ? AND kind = ? AND key = ?",
                               (account, kind, key)).fetchone()
        return _alert_record(row, self._columns("alerts")) if row else None

    # ---- OAuth2 token health ---------------------------------------------------------

    @_translated
    def record_token_refresh(self, account: str) -> None:
        """An access token was obtained from the identity provider (authorization or refresh)."""
        with self._transaction():
            self._db.execute(
                """INSERT INTO oauth_tokens (account, healthy, last_refresh_at) VALUES (?, 1, ?)
                   ON CONFLICT (account) DO UPDATE SET healthy = 1, last_refresh_at = excluded.last_refresh_at""",
                (account, _now()),
            )

    @_translated
    def record_token_failure(self, account: str, code: str, message: str) -> None:
        """Refreshing failed (`code` like "token_revocado"); `message` is the Spanish reason."""
        with self._transaction():
            self._db.execute(
                """INSERT INTO oauth_tokens (account, healthy, last_failure_at, last_failure_code, last_failure)
                   VALUES (?, 0, ?, ?, ?)
                   ON CONFLICT (account) DO UPDATE SET healthy = 0, last_failure_at = excluded.last_failure_at,
                   last_failure_code = excluded.last_failure_code, last_failure = excluded.last_failure""",
                (account, _now(), code, message),
            )

    @_translated
    def token_health(self, account: str) -> TokenHealth | None:
        with self._lock:
            row = self._db.execute(
                """SELECT healthy, last_refresh_at, last_failure_at, last_failure_code, last_failure
                   FROM oauth_tokens WHERE account = ?""",
                (account,),
            ).fetchone()
        if row is None:
            return None
        return TokenHealth(account, bool(row[0]), _datetime(row[1]), _datetime(row[2]), row[3], row[4])

    # ---- helpers ---------------------------------------------------------------------

    def _columns(self, table: str) -> list[str]:
        if table not in self._column_cache:
            self._column_cache[table] = [row[1] for row in self._db.execute(f"PRAGMA table_info({table})")]
        return self._column_cache[table]


def search_key(text: str) -> str:
    """Case- and accent-insensitive form of a name, for searching."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _ledger_entry(row: tuple, columns: list[str]) -> LedgerEntry:
    values = dict(zip(columns, row, strict=True))
    return LedgerEntry(
        account=values["account"],
        source_key=values["source_key"],
        message_id=values["message_id"],
        subject=values["subject"],
        status=values["status"],
        reason=values["reason"],
        destination=values["destination"],
        cufes=tuple(json.loads(values["cufes"] or "[]")),
        created_at=datetime.fromisoformat(values["created_at"]),
        forwarded_at=_datetime(values["forwarded_at"]),
        disposed_at=_datetime(values["disposed_at"]),
        sender=values["sender"],
        detail=values["detail"],
        raw_sha256=values["raw_sha256"],
        subject_mismatches=tuple(json.loads(values["subject_mismatches"] or "[]")),
    )


def _alert_record(row: tuple, columns: list[str]) -> AlertRecord:
    values = dict(zip(columns, row, strict=True))
    return AlertRecord(
        account=values["account"],
        kind=values["kind"],
        key=values["key"],
        state=values["state"],
        created_at=datetime.fromisoformat(values["created_at"] or values["updated_at"]),
        attempts=values["attempts"],
        last_error=values["last_error"],
        next_attempt_at=_datetime(values["next_attempt_at"]),
        claimed_until=_datetime(values["claimed_until"]),
        sent_at=_datetime(values["sent_at"]),
        recipient=values["recipient"],
        detail=values["detail"],
        closed_at=_datetime(values["closed_at"]),
    )


def _document_row(values: dict[str, Any]) -> DocumentRow:
    reference = None
    if values["reference_number"]:
        reference = Reference(values["reference_number"], values["reference_cufe"],
                              _date(values["reference_date"]))
    document = Document(
        kind=values["kind"],
        tipo=values["tipo"],
        number=values["number"],
        cufe=values["cufe"],
        issue_date=date.fromisoformat(values["issue_date"]),
        supplier=Party(values["supplier_nit"], values["supplier_name"], values["supplier_dv"],
                       values["supplier_scheme"]),
        customer=Party(values["customer_nit"], values["customer_name"], values["customer_dv"],
                       values["customer_scheme"]),
        currency=values["currency"],
        total=Decimal(values["total"]),
        environment=values["environment"],
        issue_time=values["issue_time"],
        due_date=_date(values["due_date"]),
        subtotal=_decimal(values["subtotal"]),
        tax_base=_decimal(values["tax_base"]),
        tax_inclusive=_decimal(values["tax_inclusive"]),
        taxes=_taxes(values["taxes"]),
        withholdings=_taxes(values["withholdings"]),
        dian_validation=values["dian_validation"],
        reference=reference,
    )
    return DocumentRow(
        account=values["account"],
        document=document,
        message_id=values["m_message_id"],
        source_key=values["m_source_key"],
        xml_path=Path(values["xml_path"]) if values["xml_path"] else None,
        pdf_path=Path(values["pdf_path"]) if values["pdf_path"] else None,
        created_at=datetime.fromisoformat(values["created_at"]),
    )


def _taxes_json(taxes: Iterable[Tax]) -> str:
    return json.dumps([[tax.code, tax.name, str(tax.amount)] for tax in taxes], ensure_ascii=False)


def _taxes(text: str) -> tuple[Tax, ...]:
    return tuple(Tax(code, name, Decimal(amount)) for code, name, amount in json.loads(text))


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _datetime(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _stamp(moment: datetime) -> str:
    """An aware moment as stored: UTC, milliseconds (so stored stamps compare as text too)."""
    if moment.tzinfo is None:
        raise ValueError("alert timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _where(clauses: list[str]) -> str:
    return (" WHERE " + " AND ".join(clauses)) if clauses else ""


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _safe_account(account: str) -> str:
    """A folder name for an account id: plain characters only; a short hash keeps
    distinct ids apart when cleaning changed them."""
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", account)[:48].strip("_") or "cuenta"
    if clean != account:
        clean += "-" + hashlib.sha256(account.encode()).hexdigest()[:8]
    return clean


@dataclass(frozen=True, slots=True)
class _Known:
    """A document the account has (stored before, or earlier in the batch being recorded)."""

    row_id: int
    document: Document
    content_sha256: str | None
    xml_path: Path | None
    pdf_path: Path | None


def _same_content(stored: _Known, document: Document, content: str | None) -> bool:
    """Whether a new document under a stored CUFE is the stored one again.

    By the signed content's hash; a row stored before hashes existed is hashed from its XML
    file. Without an XML on either side (no documents folder), by every value the store
    keeps of the signed document (number, dates, parties, amounts, taxes…; DIAN's response
    belongs to the container)."""
    stored_content = stored.content_sha256
    if stored_content is None and stored.xml_path is not None:
        stored_content = _file_content_sha256(stored.xml_path)
    if stored_content is not None and content is not None:
        return stored_content == content
    return replace(stored.document, dian_validation=None) == replace(document, dian_validation=None)


def _conflict_detail(document: Document, stored: _Known, paths: Mapping[str, Path]) -> str:
    evidence = paths.get("xml") or paths.get("pdf")
    where = f" ({evidence})" if evidence is not None else ""
    return (f"El CUFE {document.cufe} ya estaba guardado como el documento {stored.document.number} con otro "
            f"contenido (este correo trae el documento {document.number} por {document.total} "
            f"{document.currency}; posible falsificación). El documento guardado no se modificó; el contenido "
            f"nuevo se guardó aparte como evidencia{where}.")


def _one_line(text: str, limit: int = 500) -> str:
    """Text from a server on one line, bounded."""
    line = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _path_text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None


def document_content_sha256(files: Iterable[SavedFile]) -> str | None:
    """The hash that decides whether two documents under one CUFE are the same content.

    It covers the signed document only: the Invoice/CreditNote/DebitNote embedded in an
    AttachedDocument (the text of Attachment/ExternalReference/Description, which is where
    number, parties and amounts are read from), or the bare document itself, in canonical
    form (C14N 1.0 without comments), so the same signed document is the same content
    whether it comes bare or in a container, with or without an XML declaration. The
    container around it (its ids, dates and signature) and the PDF are left out: suppliers
    regenerate them when they resend. None when there is no XML. Bytes that cannot be
    parsed (never the case after a successful extraction) are hashed as they are.
    """
    data = next((saved.data for saved in files if saved.kind == "xml"), None)
    return None if data is None else _content_sha256_of(data)


def _content_sha256_of(data: bytes) -> str:
    limit = DEFAULT_LIMITS.max_xml_bytes
    try:
        root = safe_xml.parse(data, max_bytes=limit)
        if root_kind(root) == ATTACHED_DOCUMENT:
            description = root.find("{*}Attachment/{*}ExternalReference/{*}Description")
            text = (description.text or "").strip() if description is not None else ""
            if text:
                root = safe_xml.parse(text.encode("utf-8"), max_bytes=limit, force_utf8=True)
        canonical = etree.tostring(root, method="c14n", with_comments=False)
    except (safe_xml.XmlRejected, etree.Error, ValueError):
        canonical = data
    return hashlib.sha256(canonical).hexdigest()


def _file_content_sha256(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return _content_sha256_of(data)


def make_private_dirs(folder: Path) -> None:
    """Create `folder` and its missing parents 0700 (existing folders are left as they are)."""
    missing: list[Path] = []
    current = Path(folder)
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            if path.is_dir():  # another process (a worker) made it meanwhile
                continue
            raise
        os.chmod(path, 0o700)  # the umask may have taken bits from the mode


def _create_private_file(path: Path) -> None:
    """Create an empty database file 0600 (SQLite gives its -wal and -shm files the same mode)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    except FileExistsError:
        return
    os.close(descriptor)


def save_document_files(documents_dir: Path | None, account: str, document: Document,
                        files: Iterable[SavedFile]) -> dict[str, Path]:
    """Write a document's files under generated names (never a name from the mail).

    Names are `<cufe16>-<kind>-<sha8>.<ext>` in `<account>/<YYYY>/<MM>` (folders 0700, files
    0600). A file is written once and never replaced: a file of that name holding the same
    bytes is reused as it is; other bytes get a longer hash in their name. No SQL: the
    engine may call this from worker processes before the batch is recorded. A crash
    before the commit leaves at most a file the retry finds and reuses. File errors become
    a (picklable) `StoreError`; a full disk says so and is transient.
    """
    if documents_dir is None:
        return {}
    folder = documents_dir / _safe_account(account) / f"{document.issue_date:%Y}" / f"{document.issue_date:%m}"
    stem = f"{document.cufe[:16]}-{_KIND_SLUGS.get(document.kind, 'documento')}"
    paths: dict[str, Path] = {}
    created = False
    try:
        for saved in files:
            if saved.kind in paths:
                continue
            if not created:
                make_private_dirs(folder)
            target, wrote = _write_once(folder, stem, saved.kind, saved.data)
            created = created or wrote
            paths[saved.kind] = target
        if created:
            _fsync_directory(folder)
    except OSError as error:
        raise file_problem(error, error.filename or folder) from None
    return paths


def _write_once(folder: Path, stem: str, extension: str, data: bytes) -> tuple[Path, bool]:
    """The path holding `data` (reused or new) and whether it was written now."""
    digest = hashlib.sha256(data).hexdigest()
    temporary: str | None = None
    try:
        for tag in (digest[:8], digest[:16], digest):
            target = folder / f"{stem}-{tag}.{extension}"
            held = _holds(target, data)
            if held:
                return target, False
            if held is False:  # another file under this short hash: a longer name
                continue
            if temporary is None:
                temporary = _temporary_copy(folder, data)
            if _link_into_place(temporary, target, data):
                return target, True
            if _holds(target, data):  # someone else wrote the same bytes meanwhile
                return target, False
        raise OSError(errno.EEXIST, "ningún nombre libre para el archivo", str(folder / f"{stem}.{extension}"))
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


def _holds(target: Path, data: bytes) -> bool | None:
    """True when `target` holds exactly `data`, False when it holds something else, None
    when there is no such file."""
    try:
        with open(target, "rb") as stream:
            if os.fstat(stream.fileno()).st_size != len(data):
                return False
            return stream.read() == data
    except FileNotFoundError:
        return None


def _temporary_copy(folder: Path, data: bytes) -> str:
    """`data` in a new 0600 temporary file of `folder`, on disk (fsynced)."""
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return temporary


_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})


def _link_into_place(temporary: str, target: Path, data: bytes) -> bool:
    """Give the temporary file its final name, never over an existing file; False when the
    name was taken meanwhile. Where hard links are not supported, an exclusive create."""
    try:
        os.link(temporary, target)
        return True
    except FileExistsError:
        return False
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
    return True


def _fsync_directory(folder: Path) -> None:
    """Make the new names durable (the files' contents were fsynced before linking)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:  # some file systems refuse fsync on a folder; the data is on disk
        pass
    finally:
        os.close(descriptor)
