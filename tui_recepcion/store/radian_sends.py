"""RADIAN events the company sends: one row per document (CUFE) and event code, never two.

A row moves `enviando` → `aceptado` | `rechazado` | `registrado` (DIAN already had it: Regla
90, or a read-back found it) | `incierto` (no answer: timeout, HTTP 500, network). Claiming a
row is a compare-and-set on its state inside a transaction, so two senders never both send
the same event; an `incierto` (or an `enviando` left by a crash) claims as uncertain, and the
sender reads DIAN's state back before sending again. Every attempt is logged with who asked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tui_recepcion.store.database import StoreBase, as_datetime, now_text
from tui_recepcion.store.documents import document_row
from tui_recepcion.store.problems import StoreError, translated
from tui_recepcion.store.rows import DocumentRow

SENDING = "enviando"
UNCERTAIN = "incierto"
ACCEPTED = "aceptado"
REJECTED = "rechazado"
REGISTERED = "registrado"
SEND_STATES = (SENDING, UNCERTAIN, ACCEPTED, REJECTED, REGISTERED)
DONE_STATES = (ACCEPTED, REGISTERED)  # the event is at DIAN
# A row «enviando» this recent belongs to a send in progress (its answer may still come); an
# older one was left by a crash and is claimed again, as uncertain. Longer than any send's timeout.
SENDING_STALE_AFTER = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class SendClaim:
    row: int
    number: str
    attempt: int
    uncertain: bool  # a previous attempt may have reached DIAN: read back before sending


@dataclass(frozen=True, slots=True)
class SendRow:
    row: int
    cufe: str
    code: str
    claim_reason: str | None
    number: str
    state: str
    requested_by: str
    attempts: int
    cude: str | None
    status_code: str | None
    answer: str | None
    rules: tuple[tuple[str, str, str], ...]  # (code, kind, message)
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SendLogRow:
    row: int
    at: datetime
    requested_by: str
    action: str
    state: str
    detail: str | None


class AlreadySent(StoreError):
    """The event is already at DIAN (or being sent right now by someone else)."""

    def __init__(self, message: str, state: str) -> None:
        super().__init__(message)
        self.state = state


def _send_row(values: Sequence[Any]) -> SendRow:
    (row, cufe, code, reason, number, state, by, attempts, cude, status, answer, rules, created, updated) = values
    return SendRow(row, cufe, code, reason, number, state, by, attempts, cude, status, answer,
                   tuple(tuple(rule) for rule in json.loads(rules or "[]")),
                   as_datetime(created) or datetime.min, as_datetime(updated) or datetime.min)


_COLUMNS = ("id, cufe, code, claim_reason, number, state, requested_by, attempts, cude, status_code, answer, "
            "rules, created_at, updated_at")


class RadianSends(StoreBase):
    """The sends aggregate of `Store` (see the module)."""

    @translated
    def claim_radian_send(self, cufe: str, code: str, *, requested_by: str, number_prefix: str,
                          claim_reason: str | None = None) -> SendClaim:
        """Reserve the one row of (cufe, code) for a send; `AlreadySent` when it is done or busy."""
        now = now_text()
        with self._db.transaction():
            found = self._db.execute(
                "SELECT id, state, number, attempts, updated_at FROM radian_sends WHERE cufe = ? AND code = ?",
                (cufe, code)).fetchone()
            if found is None:
                # ON CONFLICT: another process (a server database has no BEGIN IMMEDIATE) may insert first.
                inserted = self._db.execute(
                    "INSERT INTO radian_sends (cufe, code, claim_reason, number, state, requested_by, attempts, rules, "
                    "created_at, updated_at) VALUES (?, ?, ?, '', ?, ?, 1, '[]', ?, ?) ON CONFLICT (cufe, code) DO NOTHING",
                    (cufe, code, claim_reason, SENDING, requested_by, now, now))
                if inserted.rowcount != 1:
                    raise AlreadySent(f"Otro proceso está enviando el evento {code} de este documento.", SENDING)
                row = int(self._db.execute("SELECT id FROM radian_sends WHERE cufe = ? AND code = ?",
                                           (cufe, code)).fetchone()[0])
                number = f"{number_prefix}{row:06d}"
                self._db.execute("UPDATE radian_sends SET number = ? WHERE id = ?", (number, row))
                self._log(row, now, requested_by, "reservar", SENDING, None)
                return SendClaim(row, number, 1, uncertain=False)
            row, state, number, attempts = int(found[0]), str(found[1]), str(found[2]), int(found[3])
            if state in DONE_STATES:
                raise AlreadySent(f"El evento {code} del documento ya está en la DIAN ({state}); no se envía otra vez.",
                                  state)
            since = as_datetime(found[4])
            if state == SENDING and since is not None and datetime.now(UTC) - since < SENDING_STALE_AFTER:
                raise AlreadySent(f"El evento {code} de este documento se está enviando ahora mismo (pedido por "
                                  "otro proceso); espere su respuesta.", SENDING)
            cursor = self._db.execute(
                "UPDATE radian_sends SET state = ?, requested_by = ?, attempts = attempts + 1, claim_reason = ?, "
                "updated_at = ? WHERE id = ? AND state = ?",
                (SENDING, requested_by, claim_reason, now, row, state))
            if cursor.rowcount != 1:
                raise AlreadySent(f"Otro proceso está enviando el evento {code} de este documento.", SENDING)
            self._log(row, now, requested_by, "reintentar", SENDING, f"estado anterior: {state}")
            return SendClaim(row, number, attempts + 1, uncertain=state in (UNCERTAIN, SENDING))

    @translated
    def finish_radian_send(self, row: int, state: str, *, requested_by: str, action: str, cude: str | None = None,
                           status_code: str | None = None, answer: str | None = None,
                           rules: Sequence[tuple[str, str, str]] = (), event_xml: str | None = None) -> None:
        if state not in SEND_STATES:
            raise ValueError(f"unknown send state {state!r}")
        now = now_text()
        with self._db.transaction():
            self._db.execute(
                "UPDATE radian_sends SET state = ?, cude = COALESCE(?, cude), status_code = ?, answer = ?, rules = ?, "
                "event_xml = COALESCE(?, event_xml), updated_at = ? WHERE id = ?",
                (state, cude, status_code, answer, json.dumps([list(rule) for rule in rules], ensure_ascii=False),
                 event_xml, now, row))
            self._log(row, now, requested_by, action, state, answer)

    def _log(self, row: int, at: str, requested_by: str, action: str, state: str, detail: str | None) -> None:
        self._db.execute(
            "INSERT INTO radian_send_log (send_row, at, requested_by, action, state, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (row, at, requested_by, action, state, detail))

    @translated
    def radian_sends(self, cufe: str | None = None, *, states: Sequence[str] = ()) -> list[SendRow]:
        clauses: list[str] = []
        params: list[Any] = []
        if cufe is not None:
            clauses.append("cufe = ?")
            params.append(cufe)
        if states:
            clauses.append("state IN (" + ", ".join("?" for _ in states) + ")")
            params.extend(states)
        sql = f"SELECT {_COLUMNS} FROM radian_sends" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        with self._db.lock:
            return [_send_row(values) for values in self._db.execute(sql + " ORDER BY id", params).fetchall()]

    @translated
    def radian_send_log(self, row: int) -> list[SendLogRow]:
        with self._db.lock:
            cursor = self._db.execute(
                "SELECT send_row, at, requested_by, action, state, detail FROM radian_send_log WHERE send_row = ? "
                "ORDER BY id", (row,))
            return [SendLogRow(int(r[0]), as_datetime(r[1]) or datetime.min, r[2], r[3], r[4], r[5]) for r in cursor]

    @translated
    def radian_sent_codes(self, cufe: str) -> frozenset[str]:
        """The codes this company has at DIAN for `cufe` (accepted or found registered)."""
        return frozenset(send.code for send in self.radian_sends(cufe, states=DONE_STATES))

    @translated
    def document_by_cufe(self, cufe: str) -> DocumentRow | None:
        """The stored document with this CUFE (any account), or None."""
        sql = ("SELECT d.*, m.message_id AS m_message_id, m.source_key AS m_source_key FROM documents d "
               "LEFT JOIN messages m ON m.id = d.message_row WHERE d.cufe = ? ORDER BY d.id LIMIT 1")
        with self._db.lock:
            cursor = self._db.execute(sql, (cufe,))
            columns = [description[0] for description in cursor.description]
            found = cursor.fetchone()
            return document_row(dict(zip(columns, found, strict=True))) if found else None
