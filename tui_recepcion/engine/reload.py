"""The service follows config.toml: which version it runs, when the file changed, what to do.

A version is a short hash of the file's text. `procesar` (as a service) watches the file
between passes (`ConfigWatcher`, polling its size and mtime, hashing only when they moved)
and on SIGHUP (`systemctl reload`): it validates the new text first (`load_for_service`),
keeps the old configuration when the new one is invalid (and logs why, with file, key and
line), and records with a `ConfigApplied` event which version each account runs. The
dashboard calls `service_config_status` to tell the technician when the running service
uses an older configuration than the file.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tui_recepcion.config import Account, Config, ConfigProblems, parse_config, read_config_text
from tui_recepcion.errors import ConfigError, RecepcionError
from tui_recepcion.events import ConfigApplied, ConfigRejected
from tui_recepcion.store import Store

log = logging.getLogger(__name__)

VERSION_CHARS = 12
WATCH_SECONDS = 1.0  # how often the service looks at the file's size and mtime


def config_version(text: str) -> str:
    """The version of a config.toml: the first hex digits of its text's sha256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:VERSION_CHARS]


def file_version(path: Path) -> str | None:
    """The version of the file at `path` now; None when it cannot be read."""
    try:
        return config_version(read_config_text(path))
    except ConfigError:
        return None


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """A validated configuration for the service: the accounts it runs and its version."""

    config: Config
    accounts: tuple[Account, ...]
    version: str


def load_for_service(path: Path, account_id: str | None = None) -> ServiceConfig:
    """Read, validate and select (every account, or `account_id`) in one reading of the file.

    Raises ConfigError; ConfigProblems lists every problem located by file, key and line.
    The version is that of the very text validated, so it is never the hash of a later edit.
    """
    text = read_config_text(path)
    version = config_version(text)
    config, problems = parse_config(text, path, allow_unknown=True)
    if config is None:
        raise ConfigProblems(problems)
    accounts = tuple(config.accounts.values()) if account_id is None else (config.account(account_id),)
    return ServiceConfig(config, accounts, version)


class ConfigWatcher:
    """Tells when config.toml's content changed since the version last seen.

    `changed()` is cheap between edits (one stat); it reads and hashes the file only when its
    size, mtime or inode moved, and reports each new version once.
    """

    def __init__(self, path: Path, version: str) -> None:
        self.path = path
        self.seen = version
        self._stat = self._stat_now()

    def _stat_now(self) -> tuple[int, int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size, info.st_ino

    def changed(self) -> bool:
        stat = self._stat_now()
        if stat == self._stat:
            return False
        self._stat = stat
        version = file_version(self.path)
        if version is None or version == self.seen:
            return False
        self.seen = version
        return True


# --- the service's side: validate, keep or apply, record ------------------------------------------


class ConfigFollower:
    """What a running service does about its configuration file, whatever runs its accounts.

    `changed()` says whether the file's content moved (polled between passes); `reload()`
    validates the file and returns the new configuration to apply, or None (unchanged, or
    invalid: then it logs why, with file, line and key, and records `ConfigRejected` for the
    running accounts, which keep the old one); `applied()` records, per account, the version
    it now runs (`ConfigApplied`), so the dashboard can compare it with the file's.
    """

    def __init__(self, store: Store, path: Path, account_id: str | None, service: ServiceConfig) -> None:
        self.store = store
        self.path = path
        self.account_id = account_id
        self.version = service.version
        self.watcher = ConfigWatcher(path, service.version)

    def changed(self) -> bool:
        return self.watcher.changed()

    def reload(self, running: Iterable[str], *, forced: bool = False) -> ServiceConfig | None:
        try:
            service = load_for_service(self.path, self.account_id)
        except ConfigError as error:
            self._rejected(error, list(running))
            return None
        self.watcher.seen = service.version
        if service.version == self.version and not forced:
            return None
        self.version = service.version
        return service

    def applied(self, account_ids: Iterable[str]) -> None:
        self._record([ConfigApplied(account=account_id, version=self.version, path=str(self.path), pid=os.getpid())
                      for account_id in account_ids])

    def _rejected(self, error: ConfigError, running: list[str]) -> None:
        version = file_version(self.path) or "ilegible"
        self.watcher.seen = version
        problems = [str(problem) for problem in error.problems] if isinstance(error, ConfigProblems) else [str(error)]
        log.error("la configuración nueva (versión %s) no es válida; se sigue con la anterior (versión %s):",
                  version, self.version)
        for problem in problems:
            log.error("  %s", problem)
        self._record([ConfigRejected(account=account_id, version=version, message=problems[0])
                      for account_id in running])

    def _record(self, events: list[ConfigApplied] | list[ConfigRejected]) -> None:
        try:
            self.store.append_events([(event.account, event.kind, event.to_payload()) for event in events])
        except RecepcionError as error:
            log.warning("no se pudo registrar en el almacén qué configuración usa el servicio: %s", error)


# --- what the dashboard shows -----------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, run by another user (the service's own)
        return True
    return True


@dataclass(frozen=True, slots=True)
class ServiceConfigStatus:
    """Which configuration a running service uses, compared with the file."""

    file_version: str | None
    running: dict[str, str] = field(default_factory=dict)  # account -> version its service runs
    stale: tuple[str, ...] = ()  # running accounts whose version is not the file's
    rejected: dict[str, str] = field(default_factory=dict)  # account -> why the file's version was refused

    @property
    def message(self) -> str | None:
        if not self.stale:
            return None
        names = ", ".join(f"«{account}»" for account in self.stale)
        cuenta = "la cuenta" if len(self.stale) == 1 else "las cuentas"
        text = f"El servicio (procesar) usa una configuración anterior al archivo para {cuenta} {names}"
        reasons = {self.rejected[account] for account in self.stale if account in self.rejected}
        if reasons:
            return text + ": la nueva no es válida (" + "; ".join(sorted(reasons)) + ")."
        return text + "; se aplicará entre pasadas (o con systemctl reload tui-recepcion)."


def service_config_status(store: Store, path: Path, *, alive: Callable[[int], bool] | None = None) -> ServiceConfigStatus:
    """Compare the versions running services recorded with the file at `path` now."""
    is_alive = alive or _pid_alive
    version = file_version(path)
    running: dict[str, str] = {}
    for row in store.latest_events(ConfigApplied.kind):
        pid = row.payload.get("pid")
        same_file = Path(str(row.payload.get("path", ""))) == path
        if row.account and isinstance(pid, int) and same_file and is_alive(pid):
            running[row.account] = str(row.payload.get("version", ""))
    rejected = {
        row.account: str(row.payload.get("message", ""))
        for row in store.latest_events(ConfigRejected.kind)
        if row.account and row.payload.get("version") == version
    }
    stale = tuple(account for account, used in running.items() if version is not None and used != version)
    return ServiceConfigStatus(version, running, stale, rejected)
