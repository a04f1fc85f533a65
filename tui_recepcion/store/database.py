"""The database every aggregate of the store shares, and how values are stored.

`Database` is what the aggregates see: `execute`/`executemany` with the store's portable
SQL (`?` placeholders; see the rule at the top of `schema.py`), `lock` (hold it across
several reads), `transaction(scope)` (a write transaction), the schema version and the
tables' columns. Two backends implement it:

- `SqliteDatabase` (this module), the embedded default: one connection in WAL mode so the
  TUI can read while a headless service writes; `busy_timeout` absorbs short write
  contention between processes. One `SqliteDatabase` may be shared by several threads:
  `lock` is held for a whole store call (one connection, serialized); parallel readers
  open one `Store` per thread instead. A write transaction is `BEGIN IMMEDIATE`.
- `PostgresDatabase` (`postgres.py`): a connection pool; `lock` lends the calling thread
  one connection for the call; a write transaction holds an advisory lock so that writers
  of one scope are serialized as SQLite's are (see that module).

Stored values: moments are ISO-8601 text in UTC with milliseconds (so they also compare
as text), paths are text, absent values NULL.
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from tui_recepcion.store.files import create_private_file, make_private_dirs
from tui_recepcion.store.problems import StoreError, database_problem, file_problem

BUSY_TIMEOUT_MS = 5_000


class Cursor(Protocol):
    """What `Database.execute` returns (an sqlite3 cursor, or the rows PostgreSQL sent)."""

    @property
    def rowcount(self) -> int: ...
    @property
    def lastrowid(self) -> int | None: ...
    @property
    def description(self) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Database(ABC):
    """An open, configured store database (either backend)."""

    #: "sqlite" or "postgresql"
    backend: str
    #: how the database is shown to a person: the file, or the URL without its password
    name: str
    #: the SQLite file; None for PostgreSQL
    path: Path | None
    lock: AbstractContextManager[Any]

    def __init__(self) -> None:
        self._column_cache: dict[str, list[str]] = {}

    @abstractmethod
    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor: ...

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    @abstractmethod
    def transaction(self, scope: str | None = None) -> AbstractContextManager[None]:
        """A write transaction, committed when the block ends normally.

        `scope` (an account id, "events"…) says which data the transaction writes: writers
        of one scope are serialized; writers of different scopes may run at once (on
        PostgreSQL). No scope: the transaction excludes every other writer (migrations)."""

    @abstractmethod
    def configure(self) -> None:
        """Prepare a freshly opened database (pragmas; the schema-version table)."""

    @abstractmethod
    def schema_version(self) -> int: ...

    @abstractmethod
    def set_schema_version(self, version: int) -> None:
        """Record the schema version, inside the migration step's transaction."""

    @abstractmethod
    def tables(self) -> list[str]:
        """The store's tables, in the order they were created (referenced tables first)."""

    @abstractmethod
    def high_water_id(self, table: str) -> int:
        """The largest id the table ever handed out (ids are never reused, even once pruned)."""

    @abstractmethod
    def restart_ids(self, table: str, at_least: int) -> None:
        """After rows were copied with their ids: the next id is above the largest one and
        above `at_least` (the source's high-water mark)."""

    @abstractmethod
    def close(self) -> None: ...

    def columns(self, table: str) -> list[str]:
        """The table's column names, in the order `SELECT *` returns them."""
        if table not in self._column_cache:
            cursor = self.execute(f"SELECT * FROM {table} LIMIT 0")
            self._column_cache[table] = [column[0] for column in cursor.description]
        return self._column_cache[table]

    def forget_columns(self) -> None:
        """A migration changed the tables: read their columns again."""
        self._column_cache.clear()


class SqliteDatabase(Database):
    """An open SQLite database in WAL mode. Create with `SqliteDatabase.open(path)`."""

    backend = "sqlite"

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        super().__init__()
        self.connection = connection
        self.path = path
        self.name = str(path)
        self.lock = threading.RLock()

    @classmethod
    def open(cls, path: Path) -> SqliteDatabase:
        """Create the file (0600, its folders 0700) if missing and connect; not configured yet."""
        try:
            make_private_dirs(path.parent)
            create_private_file(path)
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
        return cls(connection, path)

    def configure(self) -> None:
        self.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = self.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"La base de datos {self.path} no admite el modo WAL (modo actual: {mode}).")
        self.execute("PRAGMA synchronous = NORMAL")
        self.execute("PRAGMA foreign_keys = ON")

    def close(self) -> None:
        with self.lock:
            self.connection.close()

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.connection.execute(sql, parameters)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.connection.executemany(sql, rows)

    def schema_version(self) -> int:
        return int(self.execute("PRAGMA user_version").fetchone()[0])

    def set_schema_version(self, version: int) -> None:
        self.execute(f"PRAGMA user_version = {int(version)}")
        self.forget_columns()

    def tables(self) -> list[str]:
        rows = self.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                            "ORDER BY rowid").fetchall()
        return [str(row[0]) for row in rows]

    def high_water_id(self, table: str) -> int:
        # AUTOINCREMENT tables keep their high-water mark in sqlite_sequence even when pruned.
        row = self.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
        (largest,) = self.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()
        return max(int(row[0]) if row else 0, int(largest))

    def restart_ids(self, table: str, at_least: int) -> None:
        if table in {str(row[0]) for row in self.execute("SELECT name FROM sqlite_sequence")}:
            self.execute("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?", (at_least, table))
        # Other tables: SQLite picks the next rowid above the largest by itself.

    @contextmanager
    def transaction(self, scope: str | None = None) -> Iterator[None]:
        """BEGIN IMMEDIATE: SQLite has one writer at a time, whatever the scope."""
        with self.lock:
            self.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                # SQLite rolls back by itself after some errors (SQLITE_FULL, an I/O error);
                # a failed ROLLBACK must not hide the error that caused it.
                if self.connection.in_transaction:
                    try:
                        self.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise
            try:
                self.execute("COMMIT")
            except BaseException:
                if self.connection.in_transaction:
                    try:
                        self.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise


class StoreBase:
    """The state the aggregates of `Store` share: one database and the store's settings."""

    _db: Database
    path: Path | None
    documents_dir: Path | None
    max_events: int


# ---- how values are stored ---------------------------------------------------------------


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def as_datetime(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def as_date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def as_path(text: str | None) -> Path | None:
    return Path(text) if text else None


def path_text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def where(clauses: list[str]) -> str:
    return (" WHERE " + " AND ".join(clauses)) if clauses else ""


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
