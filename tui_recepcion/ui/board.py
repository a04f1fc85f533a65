"""What the dashboard knows about one account, folded from engine events (no widgets here).

The screen applies events here as they arrive and repaints from this state a few times a
second, so thousands of events cost a few repaints, not thousands. Rows and log lines are
bounded: the dashboard shows the recent past; the ledger (Mensajes) keeps everything.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tui_recepcion.config import Account
from tui_recepcion.dian.reasons import describe
from tui_recepcion.mail.events import (
    AlertSent,
    EngineProblem,
    Event,
    MessageHandled,
    MessagesDisposed,
    PassFinished,
    PassStarted,
    StateChanged,
)
from tui_recepcion.output import money
from tui_recepcion.store import STATUS_FAILED, STATUS_PROCESSED

ROW_LIMIT = 500
LOG_LIMIT = 200
SPARK_MINUTES = 30
EXPIRY_WARNING_DAYS = 5  # design §1: the alert goes out 5 days before

STATE_LABELS = {
    "inactivo": "Inactivo",
    "conectando": "Conectando",
    "procesando": "Procesando",
    "esperando": "Esperando",
    "error": "Error",
}
_NEXT_RUN = re.compile(r"próxima pasada: (?P<when>.+)$")
_row_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class MessageRow:
    """One line of the recent-messages table."""

    id: int
    time: str
    sender: str
    number: str
    total: str
    outcome: str
    destination: str
    failed: bool
    reason_text: str = ""


def message_row(event: MessageHandled, local: datetime) -> MessageRow:
    documents = event.documents
    if documents:
        sender = documents[0].nombre_emisor
        number = ", ".join(document.numero for document in documents)
        total = money(documents[0].total) if len(documents) == 1 else f"{len(documents)} documentos"
    else:
        sender, number, total = event.subject or "(sin asunto)", "", ""
    if event.status == STATUS_FAILED:
        outcome = event.reason or "fallido"
    elif documents and all(document.duplicated for document in documents):
        outcome = "duplicado"
    else:
        outcome = STATUS_PROCESSED
    reason_text = describe(event.reason) if event.reason else ""
    return MessageRow(next(_row_ids), f"{local:%H:%M:%S}", sender, number, total, outcome, event.destination,
                      event.status == STATUS_FAILED, reason_text)


class AccountBoard:
    """Counters, progress, recent rows, log lines and messages per minute of one account."""

    def __init__(self, account: Account, processed: int = 0, failed: int = 0) -> None:
        self.account = account
        self.state = "inactivo"
        self.detail = ""
        self.processed = processed
        self.failed = failed
        self.pending: int | None = None
        self.pass_total = 0
        self.pass_done = 0
        self.last_run: datetime | None = None
        self.next_run = ""
        self.new_rows: deque[MessageRow] = deque(maxlen=ROW_LIMIT)
        self.new_log: deque[str] = deque(maxlen=LOG_LIMIT)
        self.per_minute: Counter[datetime] = Counter()
        self.changed = True

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.account.tzinfo)

    def _log(self, event: Event, text: str) -> None:
        self.new_log.append(f"{self.local(event.at):%H:%M:%S} {text}")

    def apply(self, event: Event) -> None:
        self.changed = True
        if isinstance(event, MessageHandled):
            self._handled(event)
        elif isinstance(event, StateChanged):
            self.state, self.detail = event.state, event.detail
            found = _NEXT_RUN.search(event.detail)
            self.next_run = found["when"] if found else ("" if event.state != "esperando" else self.next_run)
            self._log(event, STATE_LABELS.get(event.state, event.state) + (f": {event.detail}" if event.detail else ""))
        elif isinstance(event, PassStarted):
            self.pending = self.pass_total = event.pending
            self.pass_done = 0
            self._log(event, f"Pasada iniciada: {event.pending} correos por procesar")
        elif isinstance(event, PassFinished):
            self.last_run = event.at
            self.pending = event.remaining
            self.pass_done = self.pass_total
            ending = "Pasada cancelada" if event.cancelled else "Pasada terminada"
            self._log(event, f"{ending}: {event.processed} procesados, {event.failed} fallidos, "
                             f"{event.duplicates} duplicados en {event.seconds:.1f} s")
        elif isinstance(event, MessagesDisposed):
            self._log(event, f"{event.count} correos → {event.destination}")
        elif isinstance(event, EngineProblem):
            self._log(event, f"Problema: {event.message}")
        elif isinstance(event, AlertSent):
            self._log(event, f"Alerta «{event.alert}» enviada a {event.recipient}")

    def _handled(self, event: MessageHandled) -> None:
        self.processed += event.status == STATUS_PROCESSED
        self.failed += event.status == STATUS_FAILED
        self.pass_done += 1
        if self.pending:
            self.pending -= 1
        self.remember(event)

    def remember(self, event: MessageHandled) -> None:
        """Add the message to the table and the per-minute counts (also for replayed history)."""
        row = message_row(event, self.local(event.at))
        self.new_rows.append(row)
        self.per_minute[event.at.replace(second=0, microsecond=0)] += 1

    def take_rows(self) -> list[MessageRow]:
        rows = list(self.new_rows)
        self.new_rows.clear()
        return rows

    def take_log(self) -> list[str]:
        lines = list(self.new_log)
        self.new_log.clear()
        return lines

    def per_minute_series(self, now: datetime, minutes: int = SPARK_MINUTES) -> list[int]:
        """Messages in each of the last `minutes` minutes, oldest first."""
        end = now.replace(second=0, microsecond=0)
        return [self.per_minute.get(end - timedelta(minutes=back), 0) for back in range(minutes - 1, -1, -1)]

    def expiry_text(self, today: date, alert_sent: bool | None = None) -> str:
        """The password-expiry banner, or "" when no expiry date is configured."""
        expiry = self.account.password_expiry
        if expiry is None:
            return ""
        days = (expiry - today).days
        if days < 0:
            text = f"La contraseña del buzón venció el {expiry:%Y-%m-%d} (hace {-days} días)."
        elif days == 0:
            text = f"La contraseña del buzón vence hoy ({expiry:%Y-%m-%d})."
        else:
            text = f"La contraseña del buzón vence en {days} {'día' if days == 1 else 'días'} ({expiry:%Y-%m-%d})."
        if alert_sent is not None:
            text += " Alerta enviada." if alert_sent else " Alerta aún no enviada."
        return text

    def expiry_urgent(self, today: date) -> bool:
        expiry = self.account.password_expiry
        return expiry is not None and (expiry - today).days <= EXPIRY_WARNING_DAYS
