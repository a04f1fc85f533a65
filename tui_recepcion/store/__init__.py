"""The store: message ledger, documents, event log, alert state and token health.

All SQL of the project lives in this package, behind the `Store` methods, in one portable
dialect that runs on SQLite (the embedded default) and on PostgreSQL (several processes or
machines sharing one store). This module is the facade: `Store` and the names other
modules import; each concern has its own module (see docs/architecture.md):

- `database`: the `Database` both backends implement and the SQLite one (WAL, busy
  timeout, lock, transactions), and how values are stored; `postgres`: the PostgreSQL one
  (pool, advisory-locked transactions, psycopg errors); `dialect`: the SQL translation for
  PostgreSQL; `location`: file or URL, and masking a URL's password; `schema`: the
  migrations (and the rule new ones follow); `copy`: copying a store into another
  (`almacen migrar`); `problems`: `StoreError` and the translation of sqlite3 and file
  errors into it;
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
from tui_recepcion.store.copy import CopyReport, copy_store, table_counts
from tui_recepcion.store.database import Database, SqliteDatabase
from tui_recepcion.store.documents import Documents
from tui_recepcion.store.event_log import DEFAULT_MAX_EVENTS, EventLog
from tui_recepcion.store.files import FileBatch, document_content_sha256, save_document_files
from tui_recepcion.store.ledger import Ledger
from tui_recepcion.store.location import describe, is_postgres_url, mask_url
from tui_recepcion.store.problems import StoreError, database_problem, translated
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
    "CopyReport",
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
    "copy_store",
    "database_problem",
    "describe",
    "document_content_sha256",
    "is_postgres_url",
    "mask_url",
    "save_document_files",
    "FileBatch",
]


class Store(Ledger, Documents, EventLog, AlertState, TokenHealthLog, RadianEvents, RadianSends):
    """The store, on SQLite or PostgreSQL. Create with `Store.open(...)`; use as a context manager.

    Threads: one `Store` may be shared by several threads. On SQLite every call holds the
    store's lock for its whole duration (one connection, serialized; for parallel readers
    open one `Store` per thread); on PostgreSQL each call borrows a pooled connection.
    """

    def __init__(self, db: Database, documents_dir: Path | None, max_events: int) -> None:
        self._db = db
        self.path = db.path
        self.documents_dir = documents_dir
        self.max_events = max_events

    @classmethod
    def open(cls, location: Path | str, documents_dir: Path | None = None, *,
             max_events: int = DEFAULT_MAX_EVENTS) -> Store:
        """Open (and migrate) the store at `location`: an SQLite file, or a PostgreSQL URL
        (`postgresql://usuario@servidor/base`; its password is never shown)."""
        db = _open_database(location)
        store = cls(db, documents_dir, max_events)
        try:
            db.configure()
            migrate(db)
        except sqlite3.Error as error:
            db.close()
            problem = database_problem(error, db.name)
            raise StoreError(f"La base de datos {db.name} no se puede usar: {problem}",
                             transient=problem.transient) from None
        except BaseException:
            db.close()
            raise
        return store

    @property
    def backend(self) -> str:
        """"sqlite" or "postgresql"."""
        return self._db.backend

    @property
    def location(self) -> str:
        """Where the store is, as shown to a person (a PostgreSQL URL without its password)."""
        return self._db.name

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def schema_version(self) -> int:
        return self._db.schema_version()

    @translated
    def table_counts(self) -> dict[str, int]:
        """Rows per table (for `almacen estado`), in the order the tables were created."""
        return table_counts(self._db)


def _open_database(location: Path | str) -> Database:
    if is_postgres_url(location):
        from tui_recepcion.store.postgres import PostgresDatabase  # psycopg only when used

        return PostgresDatabase.open(str(location))
    return SqliteDatabase.open(Path(location))
