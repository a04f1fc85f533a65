"""The one SQLite connection every aggregate of the store shares, and how values are stored.

SQLite runs in WAL mode so the TUI can read while a headless service writes;
`busy_timeout` absorbs short write contention between processes. One `Database` may be
shared by several threads: every store call holds `lock` for its whole duration (one
connection, serialized); parallel readers open one `Store` per thread instead.

Stored values: moments are ISO-8601 text in UTC with milliseconds (so they also compare
as text), paths are text, absent values NULL.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tui_recepcion.store.files import create_private_file, make_private_dirs
from tui_recepcion.store.problems import StoreError, database_problem, file_problem

BUSY_TIMEOUT_MS = 5_000


class Database:
    """An open SQLite database in WAL mode. Create with `Database.open(path)`."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path
        self.lock = threading.RLock()
        self._column_cache: dict[str, list[str]] = {}

    @classmethod
    def open(cls, path: Path) -> Database:
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

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        return self.connection.executemany(sql, rows)

    def schema_version(self) -> int:
        return int(self.execute("PRAGMA user_version").fetchone()[0])

    def columns(self, table: str) -> list[str]:
        """The table's column names, in the order `SELECT *` returns them."""
        if table not in self._column_cache:
            self._column_cache[table] = [row[1] for row in self.execute(f"PRAGMA table_info({table})")]
        return self._column_cache[table]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction (BEGIN IMMEDIATE), committed when the block ends normally."""
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
    path: Path
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
