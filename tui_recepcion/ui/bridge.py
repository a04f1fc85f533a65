"""From engine threads to the UI: a thread-safe inbox of events, drained on a timer.

Events reach the dashboard two ways: straight from `emit` when this TUI processes an
account, and from the store's event log, which also carries what another process (the
headless `tui-recepcion procesar`) does. This TUI's own events come back through the log
too; the bridge counts what it emitted and drops those copies, so each event counts once.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Iterable

from tui_recepcion.events import Event


class EventBridge:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inbox: deque[Event] = deque()
        self._emitted: Counter[Event] = Counter()  # ours, still to come back through the log

    def emit(self, event: Event) -> None:
        """The engine's `emit` callback; called from worker threads."""
        with self._lock:
            self._inbox.append(event)
            self._emitted[event] += 1

    def from_log(self, events: Iterable[Event]) -> None:
        """Events read from the store's log; those this TUI emitted itself are dropped."""
        with self._lock:
            for event in events:
                if self._emitted[event]:
                    self._emitted[event] -= 1
                    if not self._emitted[event]:
                        del self._emitted[event]
                else:
                    self._inbox.append(event)

    def drain(self) -> list[Event]:
        with self._lock:
            events = list(self._inbox)
            self._inbox.clear()
        return events
