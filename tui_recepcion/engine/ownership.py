"""Which process processes which account: one owner at a time, across processes and machines.

The service's scheduler, `procesar --una-vez` and the TUI all go through an `Ownership`, so
none of them ever processes an account another one is processing:

- `PostgresOwnership` (the store is PostgreSQL): a session advisory lock per account on a
  dedicated connection (`store/fleet.py`). Chosen over leases with heartbeats and
  `SKIP LOCKED` because the server itself ends the ownership when the owner's connection
  ends: a SIGKILLed process frees its accounts at once, a machine cut off the network within
  the session's TCP timeouts (~19 s), with no clock to compare and no lease to renew or
  expire. The process checks its session every few seconds (`check`); when it is gone it
  stops processing what it owned before anyone else can take it over, then joins again.
- `FileOwnership` (SQLite, one machine): an `flock` per account (`engine/lock.py`), which the
  kernel releases when the process dies.

Both count the live processes, so each can aim at its share of the accounts
(`engine/scheduler.py`), and both are re-entrant: a pass of an account this process already
owns just runs (`hold`).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tui_recepcion import paths
from tui_recepcion.config import Config
from tui_recepcion.engine.lock import AccountBusy, FileLock, busy_message, try_file_lock
from tui_recepcion.store import StoreError
from tui_recepcion.store.fleet import FleetSession, account_key

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    """A name for this process in the fleet: host, PID and a random part (PIDs are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Ownership(ABC):
    """Exclusive, re-entrant ownership of accounts by this process. Thread-safe."""

    def __init__(self) -> None:
        self.worker_id = new_worker_id()
        self.max_accounts: int | None = None  # this process's `--max-cuentas`, told to the others
        self._owned: set[str] = set()
        self._mutex = threading.RLock()

    def owned(self) -> frozenset[str]:
        with self._mutex:
            return frozenset(self._owned)

    def owns(self, account_id: str) -> bool:
        with self._mutex:
            return account_id in self._owned

    @abstractmethod
    def live_caps(self) -> list[int | None]:
        """The `--max-cuentas` of each process sharing the accounts now (None: no cap), this
        one included; joins the fleet on the first call."""

    def live_workers(self) -> int:
        """How many processes share the accounts now (this one included; at least 1)."""
        return max(1, len(self.live_caps()))

    def free_among(self, account_ids: Iterable[str]) -> list[str]:
        """Those of `account_ids` no other process seems to own (a hint: `try_acquire` decides)."""
        return list(account_ids)

    @abstractmethod
    def try_acquire(self, account_id: str) -> bool:
        """Own the account from now on; False when another process owns it."""

    @abstractmethod
    def release(self, account_id: str) -> None:
        """Give the account up (another process may take it right away)."""

    def check(self) -> set[str]:
        """Confirm this process still owns what it owned; returns the accounts it lost
        (all of them, when the connection that held them is gone)."""
        return set()

    def publish(self, account_id: str, state: str, detail: str | None = None, *,
                last_pass: tuple[int, int, int] | None = None) -> None:
        """Tell the fleet's dashboard what this process does with the account (best effort)."""
        return None

    def busy_message(self, account_id: str) -> str:
        return f"La cuenta «{account_id}» ya se está procesando en otro proceso. Espere a que termine o deténgalo."

    @contextmanager
    def hold(self, account_id: str) -> Iterator[None]:
        """Own the account for a block (a pass); AccountBusy when another process owns it."""
        if self.owns(account_id):
            yield
            return
        if not self.try_acquire(account_id):
            raise AccountBusy(self.busy_message(account_id))
        try:
            yield
        finally:
            self.release(account_id)

    def release_all(self) -> None:
        for account_id in self.owned():
            self.release(account_id)

    def close(self) -> None:
        self.release_all()


class FileOwnership(Ownership):
    """One machine: an flock per account in `lock_dir`, one per live process in `procesos/`."""

    def __init__(self, lock_dir: Path) -> None:
        super().__init__()
        self.lock_dir = lock_dir
        self._locks: dict[str, FileLock] = {}
        self._presence: FileLock | None = None

    @property
    def _process_dir(self) -> Path:
        return self.lock_dir / "procesos"

    def _join(self) -> None:
        if self._presence is not None:
            return
        self._process_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = self.worker_id.replace("/", "_") + ".lock"
        lock = try_file_lock(self._process_dir / name)
        if lock is None:  # impossible for a name of our own; counted as one process anyway
            return
        os.pwrite(lock.descriptor, f"{self.max_accounts or ''}\n".encode(), 0)
        self._presence = lock

    def live_caps(self) -> list[int | None]:
        with self._mutex:
            self._join()
            caps: list[int | None] = []
            try:
                names = os.listdir(self._process_dir)
            except OSError:
                return [self.max_accounts]
            for name in names:
                path = self._process_dir / name
                if self._presence is not None and path == self._presence.path:
                    caps.append(self.max_accounts)
                    continue
                probe = try_file_lock(path, create=False)
                if probe is None:  # locked: its process is alive
                    try:
                        text = path.read_text().strip()
                    except OSError:
                        text = ""
                    caps.append(int(text) if text.isdigit() else None)
                else:  # nobody holds it: a process that died; its file goes
                    probe.unlink()
                    probe.close()
            return caps or [self.max_accounts]

    def try_acquire(self, account_id: str) -> bool:
        with self._mutex:
            if account_id in self._owned:
                return True
            self.lock_dir.mkdir(parents=True, exist_ok=True)
            lock = try_file_lock(self.lock_dir / f"{account_id}.lock", write_pid=True)
            if lock is None:
                return False
            self._locks[account_id] = lock
            self._owned.add(account_id)
            return True

    def release(self, account_id: str) -> None:
        with self._mutex:
            lock = self._locks.pop(account_id, None)
            self._owned.discard(account_id)
            if lock is not None:
                lock.close()

    def busy_message(self, account_id: str) -> str:
        return busy_message(self.lock_dir, account_id)

    def close(self) -> None:
        with self._mutex:
            super().close()
            if self._presence is not None:
                self._presence.unlink()
                self._presence.close()
                self._presence = None


class PostgresOwnership(Ownership):
    """Many machines: session advisory locks on one PostgreSQL (`store/fleet.py`)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url
        self._session: FleetSession | None = None

    def _connected(self) -> FleetSession:
        """The session, joining the fleet first if needed (raises StoreError)."""
        if self._session is None:
            host, pid = socket.gethostname(), os.getpid()
            self._session = FleetSession.open(self._url, worker_id=self.worker_id, host=host, pid=pid,
                                              max_accounts=self.max_accounts)
        return self._session

    def _lose_everything(self) -> set[str]:
        lost, self._owned = self._owned, set()
        if self._session is not None:
            self._session.close()
            self._session = None
        if lost:
            log.error("se perdió la conexión que aseguraba %d cuenta(s); se dejan de procesar", len(lost))
        return lost

    def live_caps(self) -> list[int | None]:
        with self._mutex:
            try:
                return self._connected().live_caps()
            except StoreError:
                self._lose_everything()
                return [self.max_accounts]

    def free_among(self, account_ids: Iterable[str]) -> list[str]:
        with self._mutex:
            try:
                held = self._connected().held_elsewhere()
            except StoreError:
                self._lose_everything()
                return []
        return [account_id for account_id in account_ids if account_key(account_id) not in held]

    def try_acquire(self, account_id: str) -> bool:
        with self._mutex:
            if account_id in self._owned:
                return True
            session = self._connected()
            try:
                if not session.try_lock(account_id):
                    return False
                self._owned.add(account_id)
                session.publish(account_id, "asignada")
            except StoreError:
                self._lose_everything()
                raise
            return True

    def release(self, account_id: str) -> None:
        with self._mutex:
            if account_id not in self._owned:
                return
            self._owned.discard(account_id)
            if self._session is None:
                return
            try:
                self._session.publish(account_id, "liberada", owned=False)
                self._session.unlock(account_id)
            except StoreError:
                self._lose_everything()  # the locks went with the session anyway

    def check(self) -> set[str]:
        with self._mutex:
            if self._session is None:
                return set()
            try:
                self._session.heartbeat()
            except StoreError as problem:
                log.error("la coordinación con PostgreSQL falló: %s", problem)
                return self._lose_everything()
            return set()

    def publish(self, account_id: str, state: str, detail: str | None = None, *,
                last_pass: tuple[int, int, int] | None = None) -> None:
        with self._mutex:
            if self._session is None or account_id not in self._owned:
                return
            try:
                self._session.publish(account_id, state, detail, last_pass=last_pass)
            except StoreError as problem:
                log.warning("no se pudo publicar el estado de «%s»: %s", account_id, problem)

    def busy_message(self, account_id: str) -> str:
        try:
            holder = self._connected().holder(account_id)
        except StoreError:
            holder = None
        where = f" (PID {holder[1]} en {holder[0]})" if holder else ""
        return (f"La cuenta «{account_id}» ya se está procesando en otro proceso{where}. "
                "Espere a que termine o deténgalo.")

    def close(self) -> None:
        with self._mutex:
            self.release_all()
            if self._session is not None:
                self._session.close()
                self._session = None


def ownership_for(config: Config) -> Ownership:
    """Advisory locks when the store is PostgreSQL; file locks next to the SQLite file otherwise."""
    database = paths.database_path(config)
    return PostgresOwnership(database) if isinstance(database, str) else FileOwnership(paths.lock_dir(config))
