"""`cuentas.d/*.toml`: one account per file, next to config.toml, for provisioning tools.

The file name is the account's id (`cuentas.d/acme.toml` is the account `acme`): a tool that
provisions one company writes one file, and a name can never disagree with a key inside it.
The file holds what a `[cuentas.ID]` table holds, at its top level, with optional `[smtp]`
and `[oauth2]` tables. Hidden files (`.acme.toml`) and names not ending in `.toml` are
ignored, so a tool writes `.acme.toml.tmp` and renames it into place (atomic, never read
half-written).

`config_signature` is what the service (engine/reload.py) compares to notice that config.toml
or an account file changed, appeared or disappeared, and reload.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_recepcion.config.location import accounts_dir
from tui_recepcion.config.problems import Problem, printable
from tui_recepcion.config.toml_lines import KeyPath, key_lines, line_of
from tui_recepcion.secrets import FileRefused, read_regular_file

SUFFIX = ".toml"
MAX_ACCOUNT_FILE_BYTES = 256 * 1024  # one account is a few hundred bytes


@dataclass(slots=True)
class AccountFile:
    """One file of cuentas.d: its id (the name), its text and its TOML data once parsed."""

    account_id: str
    path: Path
    text: str
    data: dict[str, Any] | None = None
    _lines: dict[KeyPath, int] | None = field(default=None, repr=False)

    def line(self, inner: KeyPath) -> int | None:
        """The line of a key path inside the file (computed only when a problem needs it)."""
        if self._lines is None:
            self._lines = key_lines(self.text)
        return line_of(self._lines, inner) if inner else None


def _candidates(directory: Path) -> Iterator[os.DirEntry[str]]:
    with os.scandir(directory) as entries:
        for entry in sorted(entries, key=lambda item: item.name):
            if entry.name.startswith(".") or not entry.name.endswith(SUFFIX):
                continue  # hidden (a tool's temporary file) or not an account file
            yield entry


def read_account_files(config_path: Path | None) -> tuple[list[AccountFile], list[Problem]]:
    """Every account file next to `config_path` (none when the folder is absent), and the
    problems that stop a file from being read at all (unreadable, not UTF-8, too big)."""
    if config_path is None:
        return [], []
    directory = accounts_dir(config_path)
    files: list[AccountFile] = []
    problems: list[Problem] = []
    try:
        entries = list(_candidates(directory))
    except FileNotFoundError:
        return [], []
    except NotADirectoryError:
        return [], [Problem(directory, "(archivo)", None, "debe ser una carpeta con un archivo .toml por cuenta")]
    except OSError as error:
        return [], [Problem(directory, "(archivo)", None, f"no se puede leer la carpeta: {error.strerror or error}")]
    for entry in entries:
        read = _read(directory / entry.name)
        if isinstance(read, AccountFile):
            files.append(read)
        elif read is not None:
            problems.append(read)
    return files, problems


def read_account_file(config_path: Path, account_id: str) -> AccountFile | None:
    """The file of one account of cuentas.d, or None when it cannot be read now."""
    read = _read(accounts_dir(config_path) / f"{account_id}{SUFFIX}")
    return read if isinstance(read, AccountFile) else None


def _read(path: Path) -> AccountFile | Problem | None:
    """One account file, or the problem that stops reading it (None: removed meanwhile)."""
    try:
        data, _ = read_regular_file(path, MAX_ACCOUNT_FILE_BYTES)
    except FileRefused as refused:
        if refused.missing:  # removed between the listing and the read: simply gone
            return None
        return Problem(path, "(archivo)", None, f"el archivo de cuenta {refused.reason}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return Problem(path, "(archivo)", line, f"no está en UTF-8 (byte {error.start + 1})")
    return AccountFile(path.name[: -len(SUFFIX)], path, text)


def locate(problem_path: KeyPath, message: str, origin: AccountFile, *, warning: bool = False) -> Problem:
    """A problem of the account read from `origin`, named by its key inside that file."""
    inner = problem_path[2:]  # ("cuentas", id, key...) → (key...)
    key = ".".join(inner) if inner else f"(cuenta {printable(origin.account_id)})"
    return Problem(origin.path, key, origin.line(inner) or (1 if not inner else None), message, warning=warning)


def config_signature(config_path: Path) -> tuple[tuple[str, int, int], ...]:
    """What changes when config.toml or any account file is edited, added or removed:
    (name, mtime in ns, size) of each; cheap enough to compare every few seconds."""
    found: list[tuple[str, int, int]] = []
    try:
        info = os.stat(config_path)
        found.append((config_path.name, info.st_mtime_ns, info.st_size))
    except OSError:
        found.append((config_path.name, -1, -1))
    try:
        for entry in _candidates(accounts_dir(config_path)):
            try:
                info = entry.stat()
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                found.append((entry.name, info.st_mtime_ns, info.st_size))
    except OSError:
        pass  # no folder (or unreadable): reading the config reports it
    return tuple(found)
