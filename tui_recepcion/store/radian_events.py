"""RADIAN events: what the store knows of each received document after it arrived.

Events come by mail (a customer's 030–034 about an invoice the company issued, a supplier's
034, DIAN's notices) or are recorded by the company when it sends its own (next issue).
Each is linked by the CUFE it refers to, whether or not that document is in the store, and
is unique by (CUDE, code, CUFE): the same event arriving twice is stored once. Received
events are facts and are stored whatever their order; the order rules
(`dian.radian.check_next`) judge what the company is about to send.

Recording is idempotent and happens before the message's ledger row is committed
(`record_received_events`), so a crash in between leaves the events stored and the message
retried, never a message disposed of with its events lost.

The signature columns of `documents` are `signature_columns`'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from tui_recepcion.dian.deadlines import ClaimRules, ClaimStatus, claim_status
from tui_recepcion.dian.model import INVOICE, ReceivedEvent, SignatureCheck
from tui_recepcion.dian.radian import radian_state
from tui_recepcion.store.database import StoreBase, as_date, now_text, where
from tui_recepcion.store.documents import document_row
from tui_recepcion.store.problems import translated
from tui_recepcion.store.rows import DocumentRow, Outcome

BOGOTA = ZoneInfo("America/Bogota")  # the reception day is Colombia's, whatever the server's zone

EventOrigin = Literal["recibido", "registrado"]
RECEIVED: EventOrigin = "recibido"
RECORDED: EventOrigin = "registrado"

_COLUMNS = ("account", "cude", "code", "cufe", "origin", "number", "issue_date", "issue_time", "sender_nit",
            "sender_name", "receiver_nit", "receiver_name", "reference_number", "claim_reason", "description",
            "environment", "dian_validation", "firma_emisor", "firma_dian", "source_key", "created_at")


@dataclass(frozen=True, slots=True)
class RadianEventRow:
    """One stored event; `document_stored` says whether the CUFE it names is in the store."""

    account: str
    code: str
    cude: str
    cufe: str
    origin: str
    created_at: datetime
    number: str | None = None
    issue_date: date | None = None
    issue_time: str | None = None
    sender_nit: str | None = None
    sender_name: str | None = None
    receiver_nit: str | None = None
    receiver_name: str | None = None
    reference_number: str | None = None
    claim_reason: str | None = None
    description: str | None = None
    environment: str | None = None
    dian_validation: str | None = None
    firma_emisor: str | None = None
    firma_dian: str | None = None
    source_key: str | None = None
    document_stored: bool = False

    @property
    def counts(self) -> bool:
        """Whether the event counts for the document's state: DIAN did not reject it."""
        return self.dian_validation in (None, "02")

    def as_json(self) -> dict[str, Any]:
        return {
            "codigo": self.code, "cude": self.cude, "cufe": self.cufe, "origen": self.origin,
            "numero": self.number, "fecha": self.issue_date.isoformat() if self.issue_date else None,
            "hora": self.issue_time, "nit_remitente": self.sender_nit, "nombre_remitente": self.sender_name,
            "nit_destinatario": self.receiver_nit, "nombre_destinatario": self.receiver_name,
            "numero_documento": self.reference_number, "concepto_reclamo": self.claim_reason,
            "descripcion": self.description, "validacion_dian": self.dian_validation,
            "firma_emisor": self.firma_emisor, "firma_dian": self.firma_dian,
            "documento_guardado": self.document_stored, "cuenta": self.account,
            "registrado_en": self.created_at.isoformat(),
        }


def _status(check: SignatureCheck | None) -> str | None:
    return None if check is None else check.status


def _event_values(account: str, event: ReceivedEvent, origin: EventOrigin, source_key: str | None,
                  now: str) -> tuple[Any, ...]:
    sender, receiver = event.sender, event.receiver
    return (
        account, event.cude, event.code, event.cufe, origin, event.number,
        event.issue_date.isoformat() if event.issue_date else None, event.issue_time,
        sender.nit if sender else None, sender.name if sender else None,
        receiver.nit if receiver else None, receiver.name if receiver else None,
        event.reference_number, event.claim_reason, event.description, event.environment,
        event.dian_validation, _status(event.issuer_signature), _status(event.dian_signature), source_key, now,
    )


class RadianEvents(StoreBase):
    """The RADIAN events aggregate of `Store`."""

    @translated
    def record_received_events(self, account: str, outcomes: Sequence[Outcome]) -> int:
        """Store the events the outcomes' messages carried, in one transaction; returns how
        many were new. Call it before `record_outcomes` (see the module's note on crashes)."""
        rows = [(outcome.source_key, event) for outcome in outcomes for event in outcome.extraction.events]
        if not rows:
            return 0
        return self.record_events(account, [event for _, event in rows], RECEIVED,
                                  source_keys=[key for key, _ in rows])

    @translated
    def record_events(self, account: str, events: Sequence[ReceivedEvent], origin: EventOrigin = RECORDED,
                      *, source_keys: Sequence[str | None] | None = None) -> int:
        """Store events (received, or recorded by the company); an event already stored is
        left as it is, except that DIAN's verdict fills in when it was missing. Returns how many
        rows were added or completed."""
        keys = list(source_keys) if source_keys is not None else [None] * len(events)
        now = now_text()
        marks = ",".join("?" * len(_COLUMNS))
        added = 0
        with self._db.transaction():
            for event, key in zip(events, keys, strict=True):
                cursor = self._db.execute(
                    f"INSERT INTO radian_events ({', '.join(_COLUMNS)}) VALUES ({marks}) "
                    # Stored once; a copy that brings DIAN's verdict (the container) completes it.
                    "ON CONFLICT (cude, code, cufe) DO UPDATE SET dian_validation = excluded.dian_validation, "
                    "firma_dian = excluded.firma_dian WHERE radian_events.dian_validation IS NULL "
                    "AND excluded.dian_validation IS NOT NULL",
                    _event_values(account, event, origin, key, now),
                )
                added += max(cursor.rowcount, 0)
        return added

    @translated
    def radian_events(self, *, cufe: str | None = None, account: str | None = None) -> list[RadianEventRow]:
        """Stored events, oldest first (by the event's date, then by arrival)."""
        clauses, params = [], []
        if cufe:
            clauses.append("e.cufe = ?")
            params.append(cufe.strip().lower())
        if account:
            clauses.append("e.account = ?")
            params.append(account)
        sql = (f"SELECT {', '.join('e.' + c for c in _COLUMNS)}, "
               "EXISTS (SELECT 1 FROM documents d WHERE d.cufe = e.cufe) FROM radian_events e"
               + where(clauses) + " ORDER BY e.issue_date, e.issue_time, e.id")
        with self._db.lock:
            rows = self._db.execute(sql, params).fetchall()
        return [_event_row(row) for row in rows]

    @translated
    def recently_received(self, account: str | None, since: datetime) -> list[DocumentRow]:
        """Documents stored since `since`: the only ones whose claim window can still be open."""
        clauses, params = ["d.created_at >= ?"], [since.astimezone(UTC).isoformat(timespec="milliseconds")]
        if account:
            clauses.append("d.account = ?")
            params.append(account)
        sql = ("SELECT d.*, m.message_id AS m_message_id, m.source_key AS m_source_key FROM documents d "
               "LEFT JOIN messages m ON m.id = d.message_row" + where(clauses) + " ORDER BY d.id")
        with self._db.lock:
            cursor = self._db.execute(sql, params)
            columns = [description[0] for description in cursor.description]
            return [document_row(dict(zip(columns, row, strict=True))) for row in cursor]

    @translated
    def broken_signature_count(self, account: str | None = None) -> int:
        """Documents whose issuer's or DIAN's signature did not verify."""
        sql = "SELECT COUNT(*) FROM documents WHERE (firma_emisor = 'invalida' OR firma_dian = 'invalida')"
        params: tuple[str, ...] = ()
        if account:
            sql += " AND account = ?"
            params = (account,)
        with self._db.lock:
            return int(self._db.execute(sql, params).fetchone()[0])

    @translated
    def broken_signature_counts(self) -> dict[str, int]:
        """`broken_signature_count` of every account that has any, in one query (the dashboard)."""
        sql = ("SELECT account, COUNT(*) FROM documents WHERE (firma_emisor = 'invalida' OR firma_dian = 'invalida') "
               "GROUP BY account")
        with self._db.lock:
            return {account: int(count) for account, count in self._db.execute(sql).fetchall()}

    @translated
    def radian_of(self, rows: Sequence[DocumentRow], *, today: date,
                  rules: ClaimRules = ClaimRules()) -> list[DocumentRadian]:
        """Each row's `DocumentRadian`, in order (one query for all their events)."""
        events = self.radian_events_by_cufe(row.document.cufe for row in rows)
        return [document_radian(row, events.get(row.document.cufe, ()), today=today, rules=rules) for row in rows]

    @translated
    def radian_events_by_cufe(self, cufes: Iterable[str]) -> dict[str, list[RadianEventRow]]:
        """The events of each of `cufes` (absent CUFEs have none), oldest first."""
        wanted = list(dict.fromkeys(cufes))
        found: dict[str, list[RadianEventRow]] = {}
        with self._db.lock:
            for start in range(0, len(wanted), 500):
                batch = wanted[start : start + 500]
                sql = (f"SELECT {', '.join('e.' + c for c in _COLUMNS)}, 1 FROM radian_events e "
                       f"WHERE e.cufe IN ({','.join('?' * len(batch))}) ORDER BY e.issue_date, e.issue_time, e.id")
                for row in self._db.execute(sql, batch).fetchall():
                    event = _event_row(row)
                    found.setdefault(event.cufe, []).append(event)
        return found


@dataclass(frozen=True, slots=True)
class DocumentRadian:
    """What the store knows of a document after it arrived: its events (oldest first), its
    RADIAN state and claim deadline, its signatures."""

    events: tuple[RadianEventRow, ...]
    status: ClaimStatus
    firma_emisor: str | None
    firma_dian: str | None
    applies: bool = True
    """RADIAN's acceptance and claims are for invoices; a note has events of no consequence."""

    @property
    def signature_broken(self) -> bool:
        return "invalida" in (self.firma_emisor, self.firma_dian)

    def as_json(self) -> dict[str, Any]:
        """The fields `documentos --formato json` adds."""
        return {
            "eventos": [event.as_json() for event in self.events],
            "estado_radian": self.status.state.value if self.applies else None,
            "vence_reclamo": self.status.deadline.isoformat() if self.status.deadline else None,
            "dias_habiles_reclamo": self.status.days_left if self.status.deadline else None,
            "firma_emisor": self.firma_emisor,
            "firma_dian": self.firma_dian,
        }


def reception_day(row: DocumentRow) -> date:
    """The day (in Colombia) the document reached the store."""
    moment = row.created_at
    return moment.astimezone(BOGOTA).date() if moment.tzinfo else moment.date()


def document_radian(row: DocumentRow, events: Sequence[RadianEventRow], *, today: date,
                    rules: ClaimRules = ClaimRules()) -> DocumentRadian:
    """The document's standing: RADIAN events and the claim deadline apply to invoices only."""
    document = row.document
    counted = [event.code for event in events if event.counts]
    if document.kind == INVOICE:
        status = claim_status(counted, received=reception_day(row), issued=document.issue_date, today=today,
                              clock_start=rules.clock_start, saturday_is_business_day=rules.saturday_is_business_day)
    else:
        status = ClaimStatus(radian_state(counted), None)
    return DocumentRadian(tuple(events), status, _status(document.issuer_signature), _status(document.dian_signature),
                          applies=document.kind == INVOICE)


def _event_row(row: Sequence[Any]) -> RadianEventRow:
    values = dict(zip(_COLUMNS, row, strict=False))
    return RadianEventRow(
        account=values["account"], code=values["code"], cude=values["cude"], cufe=values["cufe"],
        origin=values["origin"], created_at=datetime.fromisoformat(values["created_at"]),
        number=values["number"], issue_date=as_date(values["issue_date"]), issue_time=values["issue_time"],
        sender_nit=values["sender_nit"], sender_name=values["sender_name"], receiver_nit=values["receiver_nit"],
        receiver_name=values["receiver_name"], reference_number=values["reference_number"],
        claim_reason=values["claim_reason"], description=values["description"], environment=values["environment"],
        dian_validation=values["dian_validation"], firma_emisor=values["firma_emisor"],
        firma_dian=values["firma_dian"], source_key=values["source_key"], document_stored=bool(row[len(_COLUMNS)]),
    )
