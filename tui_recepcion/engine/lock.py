"""One processing run per account at a time, shared by the TUI and the service.

An advisory `flock` on a per-account file: the kernel releases it when the process dies,
so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tui_recepcion.errors import RecepcionError


class AccountBusy(RecepcionError):
    """Another process (or worker) is already processing this account."""


@contextmanager
def account_lock(lock_dir: Path, account_id: str) -> Iterator[None]:
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / f"{account_id}.lock"
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "?"
            raise AccountBusy(
                f"La cuenta «{account_id}» ya se está procesando en otro proceso (PID {holder}). "
                "Espere a que termine o deténgalo."
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(descriptor)
