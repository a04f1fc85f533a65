"""One processing run per account at a time on one machine (the SQLite store).

An advisory `flock` on a per-account file: the kernel releases it when the process dies,
so a crash never leaves a stale lock behind. `FileOwnership` (engine/ownership.py) keeps
these locks for as long as it owns an account; `account_lock` takes one for a block.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tui_recepcion.errors import RecepcionError


class AccountBusy(RecepcionError):
    """Another process (or worker) is already processing this account."""


@dataclass(slots=True)
class FileLock:
    """A held flock: the open descriptor of its file."""

    path: Path
    descriptor: int

    def unlink(self) -> None:
        try:
            self.path.unlink()
        except OSError:
            pass

    def close(self) -> None:
        os.close(self.descriptor)


def try_file_lock(path: Path, *, create: bool = True, write_pid: bool = False) -> FileLock | None:
    """The exclusive flock of `path`, or None when another open file holds it.

    `create=False` (probing another process's file) also returns None when the file is gone.
    The file is checked to still be the one locked: a file unlinked by a prober in between
    would give a lock nobody else can see.
    """
    flags = os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    while True:
        try:
            descriptor = os.open(path, flags, 0o600)
        except FileNotFoundError:
            if create:
                raise
            return None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return None
        except BaseException:
            os.close(descriptor)
            raise
        try:
            same = os.stat(path).st_ino == os.fstat(descriptor).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(descriptor)
        if not create:
            return None
    if write_pid:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    return FileLock(path, descriptor)


def busy_message(lock_dir: Path, account_id: str) -> str:
    """Who holds the account's lock, in Spanish (the PID its holder wrote)."""
    try:
        holder = (lock_dir / f"{account_id}.lock").read_text(errors="replace").strip() or "?"
    except OSError:
        holder = "?"
    return (f"La cuenta «{account_id}» ya se está procesando en otro proceso (PID {holder}). "
            "Espere a que termine o deténgalo.")


@contextmanager
def account_lock(lock_dir: Path, account_id: str) -> Iterator[None]:
    lock_dir.mkdir(parents=True, exist_ok=True)
    lock = try_file_lock(lock_dir / f"{account_id}.lock", write_pid=True)
    if lock is None:
        raise AccountBusy(busy_message(lock_dir, account_id))
    try:
        yield
    finally:
        lock.close()
