"""The event log: the engine's events, in order, for the TUI and other readers to follow.

Append-only; old events beyond `max_events` are pruned as new ones arrive. Ids keep
growing even when every row was pruned, so a reader's "last id seen" stays valid.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tui_recepcion.store.database import StoreBase, now_text
from tui_recepcion.store.problems import translated
from tui_recepcion.store.rows import EventRow

DEFAULT_MAX_EVENTS = 50_000
# Appenders are serialized among themselves (ids in commit order); not an account id.
EVENTS_SCOPE = ":events"


class EventLog(StoreBase):
    """The event-log aggregate of `Store`."""

    @translated
    def append_events(self, events: Iterable[tuple[str | None, str, dict[str, Any]]]) -> int:
        """Append (account, kind, payload) events; returns the last id. Old events beyond
        `max_events` are pruned in the same transaction (a primary-key range delete)."""
        rows = [(account, now_text(), kind, json.dumps(payload, ensure_ascii=False, default=str))
                for account, kind, payload in events]
        with self._db.transaction(scope=EVENTS_SCOPE):
            if rows:
                self._db.executemany("INSERT INTO events (account, at, kind, payload) VALUES (?,?,?,?)", rows)
            last = self._last_event_id()
            if rows:
                self._db.execute("DELETE FROM events WHERE id <= ?", (last - self.max_events,))
            return last

    @translated
    def events_after(self, last_id: int, limit: int = 1000) -> list[EventRow]:
        with self._db.lock:
            rows = self._db.execute(
                "SELECT id, account, at, kind, payload FROM events WHERE id > ? ORDER BY id LIMIT ?",
                (last_id, limit),
            ).fetchall()
        return [EventRow(row[0], row[1], datetime.fromisoformat(row[2]), row[3], json.loads(row[4])) for row in rows]

    @translated
    def latest_events(self, kind: str) -> list[EventRow]:
        """The most recent event of `kind` for each account."""
        with self._db.lock:
            rows = self._db.execute(
                "SELECT id, account, at, kind, payload FROM events WHERE id IN "
                "(SELECT MAX(id) FROM events WHERE kind = ? GROUP BY account) ORDER BY id",
                (kind,),
            ).fetchall()
        return [EventRow(row[0], row[1], datetime.fromisoformat(row[2]), row[3], json.loads(row[4])) for row in rows]

    @translated
    def last_event_id(self) -> int:
        with self._db.lock:
            return self._last_event_id()

    def _last_event_id(self) -> int:
        return self._db.high_water_id("events")
