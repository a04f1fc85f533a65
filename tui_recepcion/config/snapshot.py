"""What the form loaded: a snapshot of config.toml, and what changed on disk since.

The form takes a snapshot when it loads the file. Before saving, the writer compares the
file's data now with the snapshot's: a change of comments or spacing is merged silently; a
change of any value is reported key by key (`ConfigChangedOnDisk`), so the technician can
reload, overwrite or cancel instead of silently undoing a hand edit.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_recepcion.config.problems import key_name, printable
from tui_recepcion.config.reading import read_config_text
from tui_recepcion.config.toml_lines import KeyPath
from tui_recepcion.errors import ConfigError

SHOWN_KEYS = 6  # a message names this many changed keys, then «y N más»


def fingerprint(text: str) -> str:
    """The sha256 of the file's text; "" for no file."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text else ""


@dataclass(frozen=True, slots=True)
class ConfigSnapshot:
    path: Path
    text: str  # "" when there was no file yet
    fingerprint: str

    @classmethod
    def of(cls, path: Path, text: str) -> ConfigSnapshot:
        return cls(path, text, fingerprint(text))


def take_snapshot(path: Path) -> ConfigSnapshot:
    """The file as it is now (the form calls this when it loads or reloads the file)."""
    return ConfigSnapshot.of(path, read_config_text(path) if path.exists() else "")


def toml_data(text: str) -> dict[str, Any]:
    """The parsed data of `text`; {} for no text or text that is not TOML (then every key differs)."""
    try:
        return tomllib.loads(text) if text else {}
    except (tomllib.TOMLDecodeError, RecursionError, ValueError):
        return {}


def _flatten(data: Mapping[str, Any], prefix: KeyPath = ()) -> dict[KeyPath, Any]:
    flat: dict[KeyPath, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, prefix + (key,)))
        else:
            flat[prefix + (key,)] = value
    return flat


def changed_keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[KeyPath]:
    """Every key path whose value differs between two parsed documents (added, removed, changed)."""
    old, new = _flatten(before), _flatten(after)
    return sorted(path for path in old.keys() | new.keys() if old.get(path, _ABSENT) != new.get(path, _ABSENT))


_ABSENT = object()


def _listed(keys: Iterable[str]) -> str:
    keys = list(keys)
    shown = ", ".join(keys[:SHOWN_KEYS])
    return shown + (f" y {len(keys) - SHOWN_KEYS} más" if len(keys) > SHOWN_KEYS else "")


def unused_account_id(existing: Iterable[str], preferred: str = "principal") -> str:
    """A name for a new account that no existing account has: the form's example text."""
    taken = set(existing)
    if preferred not in taken:
        return preferred
    return next(f"cuenta-{number}" for number in range(2, len(taken) + 3) if f"cuenta-{number}" not in taken)


class AccountExists(ConfigError):
    """A new account was given the name of one the file already has."""

    def __init__(self, account_id: str, path: Path) -> None:
        self.account_id = account_id
        super().__init__(printable(
            f"Ya existe una cuenta llamada «{account_id}» en {path}: elija otro nombre, o selecciónela "
            "en «Cuenta» para editarla."
        ))


class ConfigChangedOnDisk(ConfigError):
    """config.toml changed (its values, not only comments) since the form took its snapshot.

    `changed` names every key that differs; `conflicts` the ones the form edited too.
    """

    def __init__(self, path: Path, changed: Iterable[KeyPath], conflicts: Iterable[KeyPath] = ()) -> None:
        self.path = path
        self.changed = tuple(key_name(key) for key in changed)
        self.conflicts = tuple(key_name(key) for key in conflicts)
        super().__init__(printable(
            f"El archivo {path} cambió desde que se abrió el formulario (cambió: {_listed(self.changed)}). "
            "Elija recargar (ver los cambios y descartar los suyos), sobrescribir (guardar sus cambios "
            "encima; lo demás que cambió se conserva) o cancelar."
        ))
