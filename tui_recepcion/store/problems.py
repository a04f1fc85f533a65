"""The store's one error, `StoreError`, and the translation of sqlite3 and file errors into it.

Every public store method is wrapped in `translated`, so callers see a Spanish message
classified as transient (retry later) or permanent (a person must act), never a raw
`sqlite3.Error` or `OSError`. PostgreSQL's errors are translated where they happen, in
`postgres.problem`, into the same `StoreError`.
"""

from __future__ import annotations

import errno
import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from tui_recepcion.errors import RecepcionError

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


def translated(method: Callable[P, R]) -> Callable[P, R]:
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
