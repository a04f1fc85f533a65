"""The local store: message ledger, documents, event log, alert state and token health.

All SQL of the project lives in this package, behind the `Store` methods, so that a server
database can replace SQLite later. This module is the facade: `Store` and the names other
modules import; each concern has its own module (see docs/architecture.md):

- `database`: the one SQLite connection (WAL, busy timeout, lock, transactions) and how
  values are stored; `schema`: the migrations; `problems`: `StoreError` and the
  translation of sqlite3 and file errors into it;
- `ledger`: messages, failed attempts, failures, forward refusals, retiring a POP3 key;
- `documents`: document rows, queries and conflict evidence; `files`: the one module that
  writes files (document files, their content hash, private permissions);
- `radian_events`: RADIAN events linked by CUFE, and the documents' signature columns;
- `radian_sends`: RADIAN events the company sends to DIAN, one row per CUFE and code;
- `event_log`, `alert_state`, `token_health`: the other aggregates; `rows`: the frozen
  rows, filters and status words they hand out.

Composition: `Store` is the aggregates as mixins over one shared base (`StoreBase`: one
`Database`, the documents folder, the event limit). Callers (the engine, the CLI, the TUI,
the alerts) use one flat object, `store.record_outcomes(...)`, `store.claim_alert(...)`,
and keep doing so; per-aggregate objects behind delegating methods would repeat every
signature a second time for no behaviour. The aggregates never call each other's methods:
what spans two tables in one transaction (recording a message and its documents) is done
by the ledger with the plain functions of `documents`, on the shared `Database`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tui_recepcion.store.alert_state import AlertState
from tui_recepcion.store.database import Database
from tui_recepcion.store.documents import Documents
from tui_recepcion.store.event_log import DEFAULT_MAX_EVENTS, EventLog
from tui_recepcion.store.files import document_content_sha256, save_document_files
from tui_recepcion.store.ledger import Ledger
from tui_recepcion.store.problems import StoreError, database_problem
from tui_recepcion.store.radian_events import RECEIVED, RECORDED, RadianEventRow, RadianEvents
from tui_recepcion.store.radian_sends import AlreadySent, RadianSends, SendClaim, SendLogRow, SendRow
from tui_recepcion.store.rows import (
    ALERT_PENDING,
    ALERT_SENT,
    ALERT_SKIPPED,
    STATUS_FAILED,
    STATUS_PROCESSED,
    UNKNOWN_RAW_SHA256,
    AlertClaim,
    AlertRecord,
    ConflictRow,
    DocumentFilter,
    DocumentRow,
    EventRow,
    LedgerEntry,
    MessageFilter,
    Outcome,
    RecordResult,
    TokenHealth,
)
from tui_recepcion.store.schema import MIGRATIONS, SCHEMA_VERSION, migrate
from tui_recepcion.store.token_health import TokenHealthLog
from tui_recepcion.vocabulary import KEPT_ON_SERVER

__all__ = [
    "ALERT_PENDING",
    "ALERT_SENT",
    "ALERT_SKIPPED",
    "DEFAULT_MAX_EVENTS",
    "KEPT_ON_SERVER",
    "MIGRATIONS",
    "RECEIVED",
    "RECORDED",
    "SCHEMA_VERSION",
    "STATUS_FAILED",
    "STATUS_PROCESSED",
    "UNKNOWN_RAW_SHA256",
    "AlertClaim",
    "AlreadySent",
    "AlertRecord",
    "ConflictRow",
    "DocumentFilter",
    "DocumentRow",
    "EventRow",
    "LedgerEntry",
    "MessageFilter",
    "Outcome",
    "RadianEventRow",
    "RadianSends",
    "RecordResult",
    "SendClaim",
    "SendLogRow",
    "SendRow",
    "Store",
    "StoreError",
    "TokenHealth",
    "database_problem",
    "document_content_sha256",
    "save_document_files",
]


class Store(Ledger, Documents, EventLog, AlertState, TokenHealthLog, RadianEvents, RadianSends):
    """The SQLite store. Create with `Store.open(...)`; use as a context manager.

    Threads: one `Store` may be shared by several threads; every call holds the store's
    lock for its whole duration (one connection, serialized). For parallel readers open one
    `Store` per thread instead.
    """

    def __init__(self, db: Database, documents_dir: Path | None, max_events: int) -> None:
        self._db = db
        self.path = db.path
        self.documents_dir = documents_dir
        self.max_events = max_events

    @classmethod
    def open(cls, path: Path, documents_dir: Path | None = None, *,
             max_events: int = DEFAULT_MAX_EVENTS) -> Store:
        path = Path(path)
        db = Database.open(path)
        store = cls(db, documents_dir, max_events)
        try:
            db.configure()
            migrate(db)
        except sqlite3.Error as error:
            db.close()
            problem = database_problem(error, path)
            raise StoreError(f"La base de datos {path} no se puede usar: {problem}",
                             transient=problem.transient) from None
        except StoreError:
            db.close()
            raise
        return store

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def schema_version(self) -> int:
        return self._db.schema_version()
