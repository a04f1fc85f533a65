"""The fleet's PostgreSQL session: who owns each account, and the rows the dashboard reads.

Several `tui-recepcion procesar` processes (on any machines) share one PostgreSQL. Each
opens one `FleetSession`: a dedicated connection (never one of the store's pool, which
lends connections to other threads) that holds

- one *session advisory lock* per account it owns, in the namespace `ACCOUNT_LOCKS`
  (`pg_try_advisory_lock(ACCOUNT_LOCKS, key)`): exclusive across sessions, and released by
  the server the moment the session ends: a process killed with SIGKILL loses its accounts
  at once (the kernel closes the socket); a machine cut off the network loses them once the
  server's TCP keepalive / user timeout, set short on this session, declares it dead (and
  its own side, set shorter, has stopped processing by then: `SESSION_SETTINGS`);
- one lock on its own key in `WORKER_LOCKS`: the live processes are exactly the sessions
  holding such a lock (`pg_locks`), with no clock to trust and no stale row to expire.

An account's key is 32 bits of a hash of its id; two ids that collide only mean that one
process must own both at once (the lock is re-entrant within a session), never that two
processes own one. `fleet_workers`/`fleet_accounts` (schema.py) say who each process is
(host, PID) and what it does with each account; they are for people, the locks decide.

The SQL here is PostgreSQL's own (pg_locks, advisory locks): SQLite has no such thing, and
a single machine keeps its file locks (engine/lock.py).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from tui_recepcion.store.database import now_text
from tui_recepcion.store.location import mask_url, scrub
from tui_recepcion.store.problems import StoreError

ACCOUNT_LOCKS = 0x54524101  # "TRA\x01": advisory-lock namespace of account ownership
WORKER_LOCKS = 0x54524102  # "TRA\x02": one lock per live process
# A machine cut off the network must stop processing before anyone takes its accounts over:
# its own side gives up first (keepalive 4 s + 2 × 2 s, and 8 s for unacknowledged data:
# ~8 s, noticed at the next check, every 5 s), the server's side later (keepalive
# 10 s + 3 × 3 s, ~19 s), releasing the locks; the others take them at their next check
# (takeover ~25 s, under the 30 s goal).
SESSION_SETTINGS = (
    "SET tcp_keepalives_idle = 10",
    "SET tcp_keepalives_interval = 3",
    "SET tcp_keepalives_count = 3",
    "SET tcp_user_timeout = 19000",
    "SET statement_timeout = 10000",
    "SET idle_in_transaction_session_timeout = 10000",
)
CLIENT_SETTINGS: dict[str, Any] = {
    "autocommit": True,
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 4,
    "keepalives_interval": 2,
    "keepalives_count": 2,
    "tcp_user_timeout": 8000,
    "application_name": "tui-recepcion flota",
}
_THIS_DATABASE = "(SELECT oid FROM pg_database WHERE datname = current_database())"
_HELD = (
    "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
    f"AND classid::bigint = %s::bigint AND database = {_THIS_DATABASE}"
)


def account_key(account_id: str) -> int:
    """The account's lock key: 31 bits of a hash of its id (the same on every machine)."""
    return int.from_bytes(hashlib.blake2b(account_id.encode(), digest_size=4).digest(), "big") & 0x7FFFFFFF


@dataclass(frozen=True, slots=True)
class FleetRow:
    """One account as the fleet sees it: its owner (host, PID; alive or not) and its state."""

    account: str
    host: str | None
    pid: int | None
    alive: bool
    state: str
    detail: str | None
    updated_at: str
    last_pass_at: str | None
    last_processed: int | None
    last_failed: int | None
    last_remaining: int | None


def _problem(error: psycopg.Error, url: str) -> StoreError:
    text = str(error).strip()
    first = scrub(text.splitlines()[0], url) if text else type(error).__name__
    return StoreError(f"PostgreSQL ({mask_url(url)}) no respondió a la coordinación de procesos: {first}",
                      transient=True)


class FleetSession:
    """One process's membership in the fleet. Thread-safe; every failure is a StoreError
    (transient): the session is then gone, and with it every lock it held."""

    def __init__(self, connection: psycopg.Connection[tuple[Any, ...]], url: str, worker_id: str, host: str,
                 pid: int, max_accounts: int | None = None) -> None:
        self._connection = connection
        self._url = url
        self.max_accounts = max_accounts
        self._lock = threading.Lock()
        self.worker_id = worker_id
        self.host = host
        self.pid = pid
        self.lock_key = 0

    @classmethod
    def open(cls, url: str, *, worker_id: str, host: str, pid: int, max_accounts: int | None = None) -> FleetSession:
        try:
            connection = psycopg.connect(url, **CLIENT_SETTINGS)
        except psycopg.Error as error:
            raise _problem(error, url) from None
        session = cls(connection, url, worker_id, host, pid, max_accounts)
        try:
            with session._sql() as cursor:
                for statement in SESSION_SETTINGS:
                    cursor.execute(statement)
            session._join()
        except BaseException:
            session.close()
            raise
        return session

    @contextmanager
    def _sql(self) -> Iterator[psycopg.Cursor[tuple[Any, ...]]]:
        with self._lock:
            try:
                with self._connection.cursor() as cursor:
                    yield cursor
            except psycopg.Error as error:
                raise _problem(error, self._url) from None

    def _join(self) -> None:
        """Take a worker lock of our own and say who we are; forget processes that are gone."""
        with self._sql() as cursor:
            while True:
                key = secrets.randbelow(0x7FFFFFFF) + 1
                row = cursor.execute("SELECT pg_try_advisory_lock(%s::integer, %s::integer)", (WORKER_LOCKS, key)).fetchone()
                if row and row[0]:
                    break
            self.lock_key = key
            now = now_text()
            cursor.execute(
                f"DELETE FROM fleet_workers WHERE lock_key NOT IN ({_HELD})", (WORKER_LOCKS,)
            )
            cursor.execute(
                "INSERT INTO fleet_workers (id, host, pid, lock_key, max_accounts, started_at, heartbeat_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET lock_key = excluded.lock_key, "
                "max_accounts = excluded.max_accounts, heartbeat_at = excluded.heartbeat_at",
                (self.worker_id, self.host, self.pid, key, self.max_accounts, now, now),
            )

    # --- ownership ---------------------------------------------------------------------------

    def try_lock(self, account_id: str) -> bool:
        with self._sql() as cursor:
            row = cursor.execute("SELECT pg_try_advisory_lock(%s::integer, %s::integer)", (ACCOUNT_LOCKS, account_key(account_id))).fetchone()
        return bool(row and row[0])

    def unlock(self, account_id: str) -> None:
        with self._sql() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s::integer, %s::integer)", (ACCOUNT_LOCKS, account_key(account_id)))

    def held_elsewhere(self) -> set[int]:
        """The account keys other sessions hold now."""
        with self._sql() as cursor:
            rows = cursor.execute(_HELD + " AND pid <> pg_backend_pid()", (ACCOUNT_LOCKS,)).fetchall()
        return {int(row[0]) for row in rows}

    def live_caps(self) -> list[int | None]:
        """The `--max-cuentas` of every live process (None: no cap), this one included."""
        with self._sql() as cursor:
            rows = cursor.execute(f"SELECT max_accounts FROM fleet_workers WHERE lock_key IN ({_HELD})",
                                  (WORKER_LOCKS,)).fetchall()
        return [None if row[0] is None else int(row[0]) for row in rows] or [self.max_accounts]

    def holder(self, account_id: str) -> tuple[str, int] | None:
        """The host and PID of the live process that says it owns the account, if any."""
        with self._sql() as cursor:
            row = cursor.execute(
                "SELECT w.host, w.pid FROM fleet_accounts a JOIN fleet_workers w ON w.id = a.worker "
                f"WHERE a.account = %s AND w.lock_key IN ({_HELD})", (account_id, WORKER_LOCKS),
            ).fetchone()
        return (str(row[0]), int(row[1])) if row else None

    def heartbeat(self) -> None:
        """Prove the session is alive (raises StoreError when it is not)."""
        with self._sql() as cursor:
            cursor.execute("UPDATE fleet_workers SET heartbeat_at = %s WHERE id = %s", (now_text(), self.worker_id))

    # --- what the dashboard reads -------------------------------------------------------------

    def publish(self, account_id: str, state: str, detail: str | None = None, *, owned: bool = True,
                last_pass: tuple[int, int, int] | None = None) -> None:
        """Record the account's state; `last_pass` is (processed, failed, remaining)."""
        now = now_text()
        processed, failed, remaining = last_pass if last_pass is not None else (None, None, None)
        with self._sql() as cursor:
            cursor.execute(
                "INSERT INTO fleet_accounts (account, worker, state, detail, updated_at, last_pass_at, "
                "last_processed, last_failed, last_remaining) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (account) DO UPDATE SET worker = excluded.worker, state = excluded.state, "
                "detail = excluded.detail, updated_at = excluded.updated_at, "
                "last_pass_at = COALESCE(excluded.last_pass_at, fleet_accounts.last_pass_at), "
                "last_processed = COALESCE(excluded.last_processed, fleet_accounts.last_processed), "
                "last_failed = COALESCE(excluded.last_failed, fleet_accounts.last_failed), "
                "last_remaining = COALESCE(excluded.last_remaining, fleet_accounts.last_remaining)",
                (account_id, self.worker_id if owned else None, state, detail, now,
                 now if last_pass is not None else None, processed, failed, remaining),
            )

    def close(self) -> None:
        """End the session: the server releases every lock it held."""
        try:
            self._connection.close()
        except psycopg.Error:
            pass


def fleet_status(url: str) -> list[FleetRow]:
    """Every account the fleet has seen, its owner and whether that owner is alive now."""
    try:
        with psycopg.connect(url, connect_timeout=10, autocommit=True) as connection:
            rows = connection.execute(
                "SELECT a.account, w.host, w.pid, "
                f"(w.lock_key IS NOT NULL AND w.lock_key IN ({_HELD})), "
                "a.state, a.detail, a.updated_at, a.last_pass_at, a.last_processed, a.last_failed, a.last_remaining "
                "FROM fleet_accounts a LEFT JOIN fleet_workers w ON w.id = a.worker ORDER BY a.account",
                (WORKER_LOCKS,),
            ).fetchall()
    except psycopg.errors.UndefinedTable:
        return []  # a store no process has opened yet: no fleet so far
    except psycopg.Error as error:
        raise _problem(error, url) from None
    return [
        FleetRow(str(r[0]), r[1], r[2], bool(r[3]), str(r[4]), r[5], str(r[6]), r[7], r[8], r[9], r[10])
        for r in rows
    ]
