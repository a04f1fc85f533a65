"""Token health: who hears that an account's token was refreshed or could not be.

The store (`Store.record_token_refresh` / `record_token_failure`) is the usual listener;
whoever opens it for processing wraps the work in `report_token_health(store)`. Reporting
never breaks a login: a listener that fails is logged and ignored.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

log = logging.getLogger(__name__)


class TokenHealthSink(Protocol):
    def record_token_refresh(self, account: str) -> None: ...

    def record_token_failure(self, account: str, code: str, message: str) -> None: ...


_sinks: list[TokenHealthSink] = []
_lock = threading.Lock()


@contextmanager
def report_token_health(sink: TokenHealthSink) -> Iterator[None]:
    """Send token refreshes and failures to `sink` while the block runs (any thread)."""
    with _lock:
        _sinks.append(sink)
    try:
        yield
    finally:
        with _lock:
            _sinks.remove(sink)


def _each_sink() -> list[TokenHealthSink]:
    with _lock:
        return list(_sinks)


def token_refreshed(account: str) -> None:
    for sink in _each_sink():
        try:
            sink.record_token_refresh(account)
        except Exception:
            log.warning("No se pudo registrar la renovación del token de «%s»", account, exc_info=True)


def token_failed(account: str, code: str, message: str) -> None:
    for sink in _each_sink():
        try:
            sink.record_token_failure(account, code, message)
        except Exception:
            log.warning("No se pudo registrar la falla del token de «%s»", account, exc_info=True)
