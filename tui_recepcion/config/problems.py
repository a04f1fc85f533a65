"""A configuration problem, located by file, key and line, and how it is shown.

Every problem names where to fix it (`archivo:línea: clave: mensaje`) and never lets a key or
value drive the terminal (`printable`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tui_recepcion.config.toml_lines import KeyPath
from tui_recepcion.errors import ConfigError

# A problem before its line is known: the key path and the Spanish message.
KeyProblem = tuple[KeyPath, str]


@dataclass(frozen=True, slots=True)
class Problem:
    """One configuration problem, located so the technician can fix it directly."""

    file: Path | None
    key: str
    line: int | None
    message: str
    warning: bool = False  # worth a look, but the program works with it (an unknown key)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else str(self.file or "")
        prefix = f"{where}: " if where else ""
        kind = "advertencia: " if self.warning else ""
        return printable(f"{prefix}{kind}{self.key}: {self.message}")


def printable(text: str) -> str:
    """`text` with control characters escaped, so a key or value can never drive the terminal."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() or char == " " else ascii(char)[1:-1] for char in text)


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def key_name(path: KeyPath) -> str:
    """A key path written as in TOML: `cuentas.principal.puerto`, `cuentas."Mi cuenta"`."""
    return ".".join(
        part if _BARE_KEY.fullmatch(part) else '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for part in path
    )


def quote_value(text: str, limit: int = 80) -> str:
    """«text», shortened: a message names the value without repeating a huge one."""
    return f"«{text if len(text) <= limit else text[:limit] + '…'}»"


class ConfigProblems(ConfigError):
    """Raised when a configuration has problems; `problems` lists every one of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in problems))
