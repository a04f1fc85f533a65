"""What the service writes for journald: Spanish lines, times in the accounts' zone with the offset.

`procesar` prints one line per message and per account problem (stdout) and logs to stderr.
Level names are Spanish; a library's own (English) log line is replaced by a Spanish line
that names the library, with the original kept for `--debug`-level logging only.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from tui_recepcion.config import DEFAULT_TIMEZONE, Config

LEVELS = {"DEBUG": "depuración", "INFO": "información", "WARNING": "advertencia", "ERROR": "error",
          "CRITICAL": "crítico"}
OWN_LOGGER = "tui_recepcion"


def local_time(moment: datetime, timezone: str | None) -> str:
    """«2026-12-01 08:15:02-05:00»: the account's own clock, with its offset."""
    return moment.astimezone(ZoneInfo(timezone or DEFAULT_TIMEZONE)).isoformat(sep=" ", timespec="seconds")


def service_timezone(config: Config) -> str:
    """The zone the log's own times use: the accounts' zone when they share one."""
    zones = {account.timezone for account in config.accounts.values()}
    return zones.pop() if len(zones) == 1 else DEFAULT_TIMEZONE


class SpanishFormatter(logging.Formatter):
    def __init__(self, timezone: str, *, with_time: bool) -> None:
        super().__init__()
        self.timezone = timezone
        self.with_time = with_time

    def format(self, record: logging.LogRecord) -> str:
        level = LEVELS.get(record.levelname, record.levelname.lower())
        if record.name == OWN_LOGGER or record.name.startswith(OWN_LOGGER + "."):
            text = record.getMessage()
        else:  # a library's words are English: say in Spanish who spoke and how loudly
            text = f"la biblioteca {record.name.split('.')[0]} informó un problema ({level})"
        line = f"{level} {record.name}: {text}"
        if self.with_time:
            line = local_time(datetime.fromtimestamp(record.created).astimezone(), self.timezone) + " " + line
        return line


def configure_logging(config: Config) -> None:
    """Spanish log lines on stderr; journald adds its own timestamps, so none then."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SpanishFormatter(service_timezone(config), with_time="JOURNAL_STREAM" not in os.environ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)  # libraries: only their problems
    logging.getLogger(OWN_LOGGER).setLevel(logging.INFO)
