"""What the dashboard knows about one account, folded from engine events (no widgets here).

The screen applies events here as they arrive and repaints from this state a few times a
second, so thousands of events cost a few repaints, not thousands. Rows and log lines are
bounded: the dashboard shows the recent past; the ledger (Mensajes) keeps everything.
There is one board per account but one panel on screen: a board keeps its recent rows and
log lines (`recent_rows`, `recent_log`) so the panel can show them again when its account
is chosen, and the ones not yet painted (`new_rows`, `new_log`) for the panel showing it.
The alert banner comes from the store's alert state (`AlertStatus`), which the screen
reads in a worker and hands over with `set_alert_status`.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tui_recepcion.alerts import AUTH_FAILURE, EXPIRY_FINAL, EXPIRY_NOTICE, AlertStatus, PendingAlert
from tui_recepcion.alerts.messages import clean_reason, days_phrase
from tui_recepcion.config import Account, format_date
from tui_recepcion.dian.reasons import describe
from tui_recepcion.events import (
    AlertSent,
    EngineProblem,
    Event,
    MessageHandled,
    MessageKept,
    MessagesDisposed,
    PassFinished,
    PassStarted,
    StateChanged,
)
from tui_recepcion.output import money
from tui_recepcion.vocabulary import FAILED, PROCESSED, counted

ROW_LIMIT = 500
LOG_LIMIT = 200
SPARK_MINUTES = 30
EXPIRY_WARNING_DAYS = 5  # docs/architecture.md, «The product»: the alert goes out 5 days before

STATE_LABELS = {
    "inactivo": "Inactivo",
    "conectando": "Conectando",
    "procesando": "Procesando",
    "esperando": "Esperando",
    "error": "Error",
}
_row_ids = itertools.count(1)


def moment_text(moment: datetime) -> str:
    """A moment as the state line shows it: "28/03/2027 08:30" (DD/MM/AAAA, in its zone; no
    seconds, so the last and the next pass fit in 80 columns)."""
    return f"{format_date(moment.date())} {moment:%H:%M}"


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
        total = money(documents[0].total) if len(documents) == 1 else counted(len(documents), "documento", "documentos")
    else:
        sender, number, total = event.subject or "(sin asunto)", "", ""
    if event.status == FAILED:
        outcome = event.reason or FAILED
    elif documents and all(document.duplicated for document in documents):
        outcome = "duplicado"
    else:
        outcome = PROCESSED
    reason_text = describe(event.reason) if event.reason else ""
    return MessageRow(next(_row_ids), f"{local:%H:%M:%S}", sender, number, total, outcome, event.destination,
                      event.status == FAILED, reason_text)


class AccountBoard:
    """Counters, progress, recent rows, log lines and messages per minute of one account."""

    def __init__(self, account: Account, processed: int = 0, failed: int = 0, failed_now: int | None = None) -> None:
        self.account = account
        self.state = "inactivo"
        self.detail = ""
        self.processed = processed
        self.failed = failed  # history: every failure ever recorded
        # What Fallidos holds now (history minus what was reprocessed): only the store knows, so
        # the screen reads it again as batches are disposed of (never added up from events,
        # which would count twice what the read already saw). None until first read.
        self.failed_now = failed_now
        self.stale_config: str | None = None  # why the running service's configuration is older
        self.pending: int | None = None
        self.pass_total = 0
        self.pass_done = 0
        self.last_run: datetime | None = None
        self.next_run = ""
        self.recent_rows: deque[MessageRow] = deque(maxlen=ROW_LIMIT)
        self.recent_log: deque[str] = deque(maxlen=LOG_LIMIT)
        self.new_rows: deque[MessageRow] = deque(maxlen=ROW_LIMIT)  # the tail of recent_rows not painted yet
        self.new_log: deque[str] = deque(maxlen=LOG_LIMIT)
        # Claim windows closing within a business day, documents with a broken signature.
        self.radian = (0, 0)
        self.per_minute: Counter[datetime] = Counter()
        self.alert_status: AlertStatus | None = None  # None until the screen first reads it
        self.changed = True

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.account.tzinfo)

    def _log(self, event: Event, text: str) -> None:
        line = f"{self.local(event.at):%H:%M:%S} {text}"
        self.recent_log.append(line)
        self.new_log.append(line)

    def apply(self, event: Event) -> None:
        self.changed = True
        if isinstance(event, MessageHandled):
            self._handled(event)
        elif isinstance(event, StateChanged):
            self.state, self.detail = event.state, event.detail
            if event.next_run is not None:
                self.next_run = moment_text(self.local(event.next_run))
            elif event.state != "esperando":
                self.next_run = ""
            self._log(event, STATE_LABELS.get(event.state, event.state) + (f": {event.detail}" if event.detail else ""))
        elif isinstance(event, PassStarted):
            self.pending = self.pass_total = event.pending
            self.pass_done = 0
            self._log(event, f"Pasada iniciada: {counted(event.pending, 'correo', 'correos')} por procesar")
        elif isinstance(event, PassFinished):
            self.last_run = event.at
            self.pending = event.remaining
            self.pass_done = self.pass_total
            ending = "Pasada cancelada" if event.cancelled else "Pasada terminada"
            self._log(event, f"{ending}: {counted(event.processed, 'procesado', 'procesados')}, "
                             f"{counted(event.failed, 'fallido', 'fallidos')}, "
                             f"{counted(event.duplicates, 'duplicado', 'duplicados')} en {event.seconds:.1f} s")
        elif isinstance(event, MessagesDisposed):
            self._log(event, f"{counted(event.count, 'correo', 'correos')} → {event.destination}")
        elif isinstance(event, EngineProblem):
            self._log(event, f"Problema: {event.message}")
        elif isinstance(event, MessageKept):
            self._log(event, f"Retenido en el servidor ({event.reason}): {event.subject or '(sin asunto)'} — {event.detail}")
        elif isinstance(event, AlertSent):
            self._log(event, f"Alerta «{event.alert}» enviada a {event.recipient}")

    def _handled(self, event: MessageHandled) -> None:
        self.processed += event.status == PROCESSED
        self.failed += event.status == FAILED
        self.pass_done += 1
        if self.pending:
            self.pending -= 1
        self.remember(event)

    def remember(self, event: MessageHandled) -> None:
        """Add the message to the table and the per-minute counts (also for replayed history)."""
        row = message_row(event, self.local(event.at))
        self.recent_rows.append(row)
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

    def take_all(self) -> tuple[list[MessageRow], list[str]]:
        """Every recent row and log line, to show this board afresh; nothing is new after it."""
        self.new_rows.clear()
        self.new_log.clear()
        return list(self.recent_rows), list(self.recent_log)

    def set_radian(self, counts: tuple[int, int]) -> None:
        if counts != self.radian:
            self.radian = counts
            self.changed = True

    def set_failed_now(self, count: int) -> None:
        if count != self.failed_now:
            self.failed_now = count
            self.changed = True

    def set_stale_config(self, message: str | None) -> None:
        if message != self.stale_config:
            self.stale_config = message
            self.changed = True

    def set_alert_status(self, status: AlertStatus) -> None:
        if status != self.alert_status:
            self.alert_status = status
            self.changed = True

    def banner(self, today: date) -> list[str]:
        """The alert banner: the expiry date and its alert, and an open login failure."""
        status = self.alert_status
        expiry = self.account.password_expiry
        lines: list[str] = []
        if expiry is not None:
            days = (expiry - today).days
            line = f"Contraseña: {'vence' if days >= 0 else 'venció'} el {format_date(expiry)} ({days_phrase(days)})"
            if status is not None and status.expiry == expiry:
                line += f" · {_expiry_alert(status)}"
            lines.append(line)
        if status is not None and status.incident_open:
            since = f" desde {_brief(status.incident_since)}" if status.incident_since else ""
            lines.append(f"Inicio de sesión fallido{since} ({_incident_alert(status)}): "
                         f"{clean_reason(status.incident_reason or '')}")
        if status is not None:
            lines += [f"Error al enviar la alerta: {alert.last_error}" for alert in status.pending if alert.failed]
        return lines

    def expiry_urgent(self, today: date) -> bool:
        expiry = self.account.password_expiry
        return expiry is not None and (expiry - today).days <= EXPIRY_WARNING_DAYS

    def alert_trouble(self) -> bool:
        """A login failure is open, or an alert could not be sent."""
        status = self.alert_status
        return status is not None and (status.incident_open or status.send_failed)


def _brief(moment: datetime) -> str:
    """A recent moment for the banner: "08/07/2027 15:30"."""
    return f"{format_date(moment.date())} {moment:%H:%M}"


def _pending(status: AlertStatus, kinds: tuple[str, ...]) -> str | None:
    """How a send under way or failed stands, or None when none is."""
    alert: PendingAlert | None = next((alert for alert in status.pending if alert.kind in kinds), None)
    if alert is None:
        return None
    if alert.in_progress:
        return "enviando la alerta…"
    if alert.failed:
        retry = f", reintento {_brief(alert.next_attempt_at)}" if alert.next_attempt_at else ""
        return f"la alerta no se pudo enviar{retry}"
    return "alerta pendiente"


def _expiry_alert(status: AlertStatus) -> str:
    if status.notify_email is None:
        return "sin Correo Notificación: no se envían alertas"
    if status.final_alert_sent_at is not None:
        return f"alerta final enviada {_brief(status.final_alert_sent_at)}"
    pending = _pending(status, (EXPIRY_NOTICE, EXPIRY_FINAL))
    if pending is not None:
        return pending
    if status.first_alert_sent_at is not None:
        return f"alerta enviada {_brief(status.first_alert_sent_at)}"
    if status.expiry_stale:
        return "ya no se envían alertas: actualice Fecha Expiración"
    if status.first_alert_from is not None and status.today < status.first_alert_from:
        return f"alerta el {format_date(status.first_alert_from)}"
    return "alerta aún no enviada"


def _incident_alert(status: AlertStatus) -> str:
    if status.notify_email is None:
        return "sin Correo Notificación: no se envía alerta"
    if status.incident_alert_sent_at is not None:
        return f"alerta enviada {_brief(status.incident_alert_sent_at)}"
    return _pending(status, (AUTH_FAILURE,)) or "alerta aún no enviada"
