"""The PostgreSQL backend of the store: psycopg 3 and a connection pool.

How it keeps SQLite's guarantees with many processes on many machines:

- Connections: one `psycopg_pool.ConnectionPool` per open store. `lock` lends the calling
  thread one connection for a whole store call (re-entrant), so the reads of one call see
  one connection; different threads work at once on connections of their own. The pool
  checks a connection before lending it and drops broken ones, so a server restart or a
  lost network costs one transient `StoreError`, never a crash.
- Writes: `transaction(scope)` is `BEGIN` at READ COMMITTED plus transaction-scoped
  advisory locks taken first: a shared lock on the store and an exclusive one on the scope
  (an account, "events"). Writers of one scope are thus serialized as SQLite's BEGIN
  IMMEDIATE serializes every writer, and each statement after the lock sees everything
  they committed: the read-then-write sequences of the aggregates (claims, counts, "is
  this CUFE stored?") stay correct. A transaction without a scope (migrations, `almacen
  migrar`) takes the store's lock exclusively. The locks die with the transaction, and
  with the connection if a process dies. Lock keys use their own class ids
  (`LOCK_CLASS_*`), apart from any other advisory lock of the program.
- SQL: the store's portable SQL is translated by `dialect.to_postgres`; an INSERT into a
  table with an `id` gets `RETURNING id` so that `lastrowid` works as with sqlite3.
- Faults: every psycopg error becomes a Spanish `StoreError` whose `transient` says whether
  a retry may succeed (connection lost, server shutting down, serialization failure,
  deadlock, lock timeout, no free connection, disk full: yes; password refused, no such
  database, no permission, an SQL error: no). The URL's password never appears in a
  message (`location.mask_url`, `location.scrub`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolTimeout

from tui_recepcion.store.database import Database
from tui_recepcion.store.dialect import inserted_table, to_postgres
from tui_recepcion.store.location import mask_url, scrub
from tui_recepcion.store.problems import StoreError

CONNECT_TIMEOUT_S = 10
POOL_TIMEOUT_S = 10.0
POOL_MAX_SIZE = 10
VERSION_TABLE = "schema_version"
# Advisory lock class ids (the first key of pg_advisory_xact_lock(int, int)): "tR" + 1, 2.
LOCK_CLASS_STORE = 0x7452_0001
LOCK_CLASS_SCOPE = 0x7452_0002

Connection = psycopg.Connection[tuple[Any, ...]]


class Rows:
    """The rows of one statement, fetched whole (the connection goes back to the pool)."""

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int, description: Any,
                 lastrowid: int | None = None) -> None:
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount
        self.description = description
        self.lastrowid = lastrowid

    def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[Any]:
        rest, self._next = self._rows[self._next :], len(self._rows)
        return rest

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class _Lending:
    """`Database.lock` for PostgreSQL: lends the thread one pooled connection, re-entrantly."""

    def __init__(self, database: PostgresDatabase) -> None:
        self._database = database
        self._local = threading.local()

    @property
    def connection(self) -> Connection | None:
        connection: Connection | None = getattr(self._local, "connection", None)
        return connection

    def __enter__(self) -> Connection:
        depth: int = getattr(self._local, "depth", 0)
        if depth == 0:
            self._local.connection = self._database.checkout()
        self._local.depth = depth + 1
        connection = self.connection
        assert connection is not None
        return connection

    def __exit__(self, *exc_info: object) -> None:
        self._local.depth -= 1
        if self._local.depth == 0:
            connection, self._local.connection = self._local.connection, None
            self._database.give_back(connection)


class PostgresDatabase(Database):
    """A PostgreSQL store database. Create with `PostgresDatabase.open(url)`."""

    backend = "postgresql"

    def __init__(self, url: str, pool: ConnectionPool[Connection]) -> None:
        super().__init__()
        self.url = url
        self.name = mask_url(url)
        self.path = None
        self.pool = pool
        self._lending = _Lending(self)
        self.lock = self._lending

    @classmethod
    def open(cls, url: str, *, max_size: int = POOL_MAX_SIZE) -> PostgresDatabase:
        """Connect once (for a precise error when the server or the login is wrong), then pool."""
        try:
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S).close()
        except psycopg.Error as error:
            raise problem(error, url, opening=True) from None
        pool: ConnectionPool[Connection] = ConnectionPool(
            url, min_size=1, max_size=max_size, open=False, timeout=POOL_TIMEOUT_S,
            check=ConnectionPool.check_connection, name="tui-recepcion",
            # Autocommit: a read outside `transaction` never leaves a transaction open.
            # No server-side prepared statements: they break behind pgbouncer and after
            # another process's migration changes a table.
            kwargs={"autocommit": True, "prepare_threshold": None, "connect_timeout": CONNECT_TIMEOUT_S},
        )
        pool.open(wait=False)
        return cls(url, pool)

    # ---- connections -------------------------------------------------------------------

    def checkout(self) -> Connection:
        try:
            return self.pool.getconn()
        except PoolTimeout:
            raise StoreError(
                f"No hay conexión disponible con PostgreSQL ({self.name}) tras {POOL_TIMEOUT_S:.0f} s: el servidor "
                "no responde o todas las conexiones están ocupadas; se reintentará.", transient=True) from None
        except psycopg.Error as error:
            raise problem(error, self.url) from None

    def give_back(self, connection: Connection | None) -> None:
        if connection is None:
            return
        try:
            self.pool.putconn(connection)  # a broken connection is discarded, a dirty one rolled back
        except Exception:  # noqa: BLE001 - the pool closed meanwhile: nothing to give back to
            connection.close()

    def _current(self) -> Connection:
        connection = self._lending.connection
        assert connection is not None, "PostgresDatabase used outside its lock"
        return connection

    # ---- statements --------------------------------------------------------------------

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Rows:
        table = inserted_table(sql)
        returning = table is not None and "id" in self.columns(table)
        statement = to_postgres(sql) + (" RETURNING id" if returning else "")
        with self.lock:
            try:
                cursor = self._current().execute(statement, tuple(parameters))
                rows = cursor.fetchall() if cursor.description is not None else []
            except psycopg.Error as error:
                raise problem(error, self.url) from error
        lastrowid = int(rows[-1][0]) if returning and rows else None
        return Rows([] if returning else rows, cursor.rowcount, None if returning else cursor.description, lastrowid)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(row) for row in rows]
        if not batch:
            return
        with self.lock:
            try:
                with self._current().cursor() as cursor:
                    cursor.executemany(to_postgres(sql), batch)
            except psycopg.Error as error:
                raise problem(error, self.url) from error

    def _run(self, statement: str, parameters: tuple[Any, ...] = ()) -> None:
        try:
            self._current().execute(statement, parameters)
        except psycopg.Error as error:
            raise problem(error, self.url) from error

    @contextmanager
    def transaction(self, scope: str | None = None) -> Iterator[None]:
        if scope is None:
            locks = f"SELECT pg_advisory_xact_lock({LOCK_CLASS_STORE}, 0)"
        else:
            locks = (f"SELECT pg_advisory_xact_lock_shared({LOCK_CLASS_STORE}, 0), "
                     f"pg_advisory_xact_lock({LOCK_CLASS_SCOPE}, {scope_key(scope)})")
        with self.lock:
            try:
                # One round trip: the keys are our own integers, never text from outside.
                self._current().execute(f"BEGIN ISOLATION LEVEL READ COMMITTED; {locks}".encode())
            except psycopg.Error as error:
                self._rollback()
                raise problem(error, self.url) from error
            try:
                yield
            except BaseException:
                self._rollback()
                raise
            try:
                self._run("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        # A failed ROLLBACK (the connection is gone) must not hide the error that caused it.
        try:
            self._current().execute("ROLLBACK")
        except psycopg.Error:
            pass

    # ---- schema ------------------------------------------------------------------------

    def configure(self) -> None:
        """Create the schema-version table (once, under the store's exclusive lock)."""
        with self.transaction():
            self._run(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version BIGINT NOT NULL)")
            self._run(f"INSERT INTO {VERSION_TABLE} (version) SELECT 0 "
                      f"WHERE NOT EXISTS (SELECT 1 FROM {VERSION_TABLE})")

    def schema_version(self) -> int:
        row = self.execute(f"SELECT MAX(version) FROM {VERSION_TABLE}").fetchone()
        return int(row[0] or 0)

    def set_schema_version(self, version: int) -> None:
        self.execute(f"UPDATE {VERSION_TABLE} SET version = ?", (int(version),))
        self.forget_columns()

    def tables(self) -> list[str]:
        # pg_class oids grow with creation, so referenced tables come first (as in SQLite).
        rows = self.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = current_schema() AND c.relname <> ? ORDER BY c.oid",
            (VERSION_TABLE,),
        ).fetchall()
        return [str(row[0]) for row in rows]

    def high_water_id(self, table: str) -> int:
        # MAX(id), not the sequence: a sequence also counts ids of transactions not committed
        # yet, and a reader must never skip past them. Pruning always keeps the newest rows.
        (largest,) = self.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()
        return int(largest)

    def has_generated_id(self, table: str) -> bool:
        if "id" not in self.columns(table):
            return False
        (sequence,) = self.execute("SELECT pg_get_serial_sequence(?, 'id')", (table,)).fetchone()
        return sequence is not None

    def restart_ids(self, table: str, at_least: int) -> None:
        self.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                     f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), ?, 1))", (int(at_least),))

    def close(self) -> None:
        self.pool.close()


def scope_key(scope: str) -> int:
    """A stable 32-bit signed key for a scope (Python's hash() changes between runs)."""
    return int.from_bytes(hashlib.sha256(scope.encode()).digest()[:4], "big", signed=True)


# ---- errors ---------------------------------------------------------------------------------

# SQLSTATE classes after which a retry may succeed: connection exceptions, transaction
# rollbacks (serialization failure, deadlock), insufficient resources, operator
# intervention (admin shutdown, query canceled, cannot connect now), system errors.
_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "57", "58"})
_TRANSIENT_STATES = frozenset({"55P03", "55006"})  # lock not available, object in use


# A refused connection carries no SQLSTATE, only the server's FATAL text (in the server's
# language): these fragments say a person must act (login, database name, pg_hba.conf).
_REFUSED_FOR_GOOD = ("password authentication failed", "does not exist", "no pg_hba.conf entry",
                     "permission denied", "invalid", "no existe", "autentificación", "autenticación",
                     "permiso denegado", "inválid")


def problem(error: psycopg.Error, url: str, *, opening: bool = False) -> StoreError:
    """The Spanish, classified `StoreError` for a psycopg error (never with the password)."""
    where = mask_url(url)
    state = error.sqlstate or ""
    text = scrub(" ".join(str(error).split()), url)[:500]
    if opening and not state and any(fragment in text.lower() for fragment in _REFUSED_FOR_GOOD):
        return StoreError(f"PostgreSQL ({where}) rechazó la conexión: {text}. Revise el usuario, la contraseña, "
                          "el nombre de la base de datos y pg_hba.conf.")
    if isinstance(error, pg_errors.InvalidPassword | pg_errors.InvalidAuthorizationSpecification):
        return StoreError(f"PostgreSQL ({where}) rechazó el usuario o la contraseña: {text}")
    if isinstance(error, pg_errors.InvalidCatalogName):
        return StoreError(f"La base de datos de PostgreSQL ({where}) no existe: créela con createdb. ({text})")
    if isinstance(error, pg_errors.InsufficientPrivilege):
        return StoreError(f"El usuario de PostgreSQL ({where}) no tiene permiso para esta operación: {text}")
    if isinstance(error, pg_errors.SerializationFailure | pg_errors.DeadlockDetected):
        return StoreError(f"PostgreSQL ({where}) canceló la transacción por un conflicto con otra ({text}); "
                          "no se guardó nada de ella y se reintentará.", transient=True)
    if isinstance(error, pg_errors.DiskFull):
        return StoreError(f"El disco del servidor PostgreSQL ({where}) está lleno; libere espacio, se reintentará.",
                          transient=True)
    if state[:2] in _TRANSIENT_CLASSES or state in _TRANSIENT_STATES or (
        not state and isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)
    ):
        action = "No se pudo conectar con" if opening else "Se perdió la conexión con"
        if state[:2] not in ("", "08", "57"):
            action = "Problema pasajero de"
        return StoreError(f"{action} PostgreSQL ({where}): {text}. Lo que no se confirmó no se guardó; "
                          "se reintentará.", transient=True)
    return StoreError(f"Error de PostgreSQL ({where}): {text}")

