"""Alert state: which alert was sent, skipped or is pending, and who holds the right to send it.

Claim-then-send: `claim_alert` marks a pending alert as being sent, with a lease, in a
write transaction, so of two processes only one gets the claim. A process that dies while
sending leaves a claim that simply expires; the alert is then claimable again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from tui_recepcion.store.database import StoreBase, as_datetime
from tui_recepcion.store.problems import translated
from tui_recepcion.store.rows import ALERT_PENDING, ALERT_SENT, ALERT_SKIPPED, AlertClaim, AlertRecord


class AlertState(StoreBase):
    """The alert-state aggregate of `Store`."""

    @translated
    def alert_records(self, account: str) -> list[AlertRecord]:
        """Every alert row of an account, oldest first (history included)."""
        with self._db.lock:
            rows = self._db.execute("SELECT * FROM alerts WHERE account = ? ORDER BY id", (account,)).fetchall()
            return [_alert_row(row, self._db.columns("alerts")) for row in rows]

    @translated
    def alert_records_of(self, accounts: Iterable[str]) -> dict[str, list[AlertRecord]]:
        """`alert_records` of many accounts, one query per 500 (the dashboard's banner)."""
        wanted = list(dict.fromkeys(accounts))
        found: dict[str, list[AlertRecord]] = {account: [] for account in wanted}
        with self._db.lock:
            columns = self._db.columns("alerts")
            for start in range(0, len(wanted), 500):
                batch = wanted[start:start + 500]
                rows = self._db.execute(f"SELECT * FROM alerts WHERE account IN ({','.join('?' * len(batch))}) "
                                        "ORDER BY id", batch).fetchall()
                for row in rows:
                    record = _alert_row(row, columns)
                    found[record.account].append(record)
        return found

    @translated
    def claim_alert(self, account: str, kind: str, key: str, *, now: datetime, lease: timedelta,
                    ignore_backoff: bool = False, detail: str | None = None) -> AlertClaim | None:
        """Claim the pending alert (account, kind, key), creating it if new (with `detail`,
        what a retry needs to compose it again; an existing alert keeps its own).

        None when it was sent or skipped already, its incident is closed, another sender
        holds an unexpired claim, or (unless `ignore_backoff`) its retry time is not due.
        """
        with self._db.transaction(scope=account):
            self._db.execute(
                """INSERT INTO alerts (account, kind, key, state, detail, created_at, updated_at)
                   VALUES (?,?,?,?,?,?,?) ON CONFLICT (account, kind, key) DO NOTHING""",
                (account, kind, key, ALERT_PENDING, detail, _stamp(now), _stamp(now)),
            )
            record = self._alert_record(account, kind, key)
            assert record is not None  # inserted above if it was missing
            if record.state != ALERT_PENDING or record.closed_at is not None or record.claimed_at(now):
                return None
            if not ignore_backoff and record.next_attempt_at is not None and record.next_attempt_at > now:
                return None
            token = uuid.uuid4().hex
            self._db.execute(
                """UPDATE alerts SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1, updated_at = ?
                   WHERE account = ? AND kind = ? AND key = ?""",
                (token, _stamp(now + lease), _stamp(now), account, kind, key),
            )
            return AlertClaim(account, kind, key, token, record.attempts + 1)

    @translated
    def alert_sent(self, claim: AlertClaim, *, now: datetime, recipient: str) -> None:
        """Record a delivered alert (even if its claim expired meanwhile: it *was* sent)."""
        with self._db.transaction(scope=claim.account):
            self._db.execute(
                """UPDATE alerts SET state = ?, sent_at = ?, recipient = ?, last_error = NULL,
                   next_attempt_at = NULL, claimed_by = NULL, claimed_until = NULL, updated_at = ?
                   WHERE account = ? AND kind = ? AND key = ? AND state = ?""",
                (ALERT_SENT, _stamp(now), recipient, _stamp(now), claim.account, claim.kind, claim.key, ALERT_PENDING),
            )

    @translated
    def alert_failed(self, claim: AlertClaim, *, now: datetime, error: str, retry_at: datetime) -> None:
        """Record a failed send and when to retry; releases the claim if still ours."""
        with self._db.transaction(scope=claim.account):
            self._db.execute(
                """UPDATE alerts SET last_error = ?, next_attempt_at = ?, claimed_by = NULL, claimed_until = NULL,
                   updated_at = ? WHERE account = ? AND kind = ? AND key = ? AND claimed_by = ?""",
                (error, _stamp(retry_at), _stamp(now), claim.account, claim.kind, claim.key, claim.token),
            )

    @translated
    def skip_alert(self, account: str, kind: str, key: str, *, now: datetime) -> None:
        """Mark a pending, unclaimed alert as no longer worth sending (superseded)."""
        with self._db.transaction(scope=account):
            record = self._alert_record(account, kind, key)
            if record is None:
                self._db.execute(
                    """INSERT INTO alerts (account, kind, key, state, created_at, updated_at)
                       VALUES (?,?,?,?,?,?)""",
                    (account, kind, key, ALERT_SKIPPED, _stamp(now), _stamp(now)),
                )
            elif record.state == ALERT_PENDING and not record.claimed_at(now):
                self._db.execute(
                    "UPDATE alerts SET state = ?, updated_at = ? WHERE account = ? AND kind = ? AND key = ?",
                    (ALERT_SKIPPED, _stamp(now), account, kind, key),
                )

    @translated
    def open_incident(self, account: str, kind: str, *, now: datetime, detail: str) -> AlertRecord:
        """The account's open incident of this kind, opened now (keyed by a sequence
        number) when there is none; `detail` describes the incident that opens."""
        with self._db.transaction(scope=account):
            record = self._open_incident(account, kind)
            if record is not None:
                return record
            (count,) = self._db.execute("SELECT COUNT(*) FROM alerts WHERE account = ? AND kind = ?",
                                        (account, kind)).fetchone()
            key = str(count + 1)
            self._db.execute(
                """INSERT INTO alerts (account, kind, key, state, detail, created_at, updated_at)
                   VALUES (?,?,?,?,?,?,?)""",
                (account, kind, key, ALERT_PENDING, detail, _stamp(now), _stamp(now)),
            )
            created = self._alert_record(account, kind, key)
            assert created is not None
            return created

    @translated
    def close_incidents(self, account: str, kind: str, *, now: datetime) -> int:
        """Close the account's open incidents of this kind; a read when none is open."""
        with self._db.lock:
            if self._open_incident(account, kind) is None:
                return 0
            with self._db.transaction(scope=account):
                cursor = self._db.execute(
                    "UPDATE alerts SET closed_at = ?, updated_at = ? WHERE account = ? AND kind = ? AND closed_at IS NULL",
                    (_stamp(now), _stamp(now), account, kind),
                )
                return cursor.rowcount

    def _open_incident(self, account: str, kind: str) -> AlertRecord | None:
        row = self._db.execute(
            "SELECT * FROM alerts WHERE account = ? AND kind = ? AND closed_at IS NULL ORDER BY id DESC LIMIT 1",
            (account, kind),
        ).fetchone()
        return _alert_row(row, self._db.columns("alerts")) if row else None

    def _alert_record(self, account: str, kind: str, key: str) -> AlertRecord | None:
        row = self._db.execute("SELECT * FROM alerts WHERE account = ? AND kind = ? AND key = ?",
                               (account, kind, key)).fetchone()
        return _alert_row(row, self._db.columns("alerts")) if row else None


def _alert_row(row: tuple[Any, ...], columns: list[str]) -> AlertRecord:
    values = dict(zip(columns, row, strict=True))
    return AlertRecord(
        account=values["account"],
        kind=values["kind"],
        key=values["key"],
        state=values["state"],
        created_at=datetime.fromisoformat(values["created_at"] or values["updated_at"]),
        attempts=values["attempts"],
        last_error=values["last_error"],
        next_attempt_at=as_datetime(values["next_attempt_at"]),
        claimed_until=as_datetime(values["claimed_until"]),
        sent_at=as_datetime(values["sent_at"]),
        recipient=values["recipient"],
        detail=values["detail"],
        closed_at=as_datetime(values["closed_at"]),
    )


def _stamp(moment: datetime) -> str:
    """An aware moment as stored: UTC, milliseconds (so stored stamps compare as text too)."""
    if moment.tzinfo is None:
        raise ValueError("alert timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")
