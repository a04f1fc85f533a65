"""Alerts by email: the mailbox password is about to expire, or logging in failed.

Rules (dates in the account's time zone, `zona_horaria`, America/Bogota by default):

- Expiry (`fecha_expiracion` D, `correo_notificacion` set). From D-5 to D-1 the first
  alert ("vence el …") is due; from D the final one ("vence hoy", or "venció el …" when
  the service was down that day). Once the final one is due, an unsent first alert is
  skipped: it would only repeat less urgent news. The final alert is still sent up to
  `LATE_FINAL_ALERT_DAYS` after D; later the date is stale (the password was changed
  and the date not updated, or a failed login has been alerting already) and nothing is
  sent. Each alert goes out once per (account, kind, date): a new date means new alerts,
  and the old date's rows stay as history.
- Authentication: a failed login opens an incident (unless one is open) and its alert
  goes out once; the next successful login closes it, and a later failure opens another.
- Claims summary (`claims_summary`, with `resumen_reclamos = true`): once a day, the invoices
  whose window to claim closes by the next business day (alerts/claims.py).
- Message problems (`message_problem`): a message the engine isolated (a CUFE in conflict,
  a forward the backup relay refused, a message the server would not deliver) gets one
  alert per (account, message, reason). A failed send is retried by `evaluate` like the
  others, for `MESSAGE_ALERT_MAX_AGE`; after that it is skipped (the ledger still shows it).

Delivery is claim-then-send (see `Store.claim_alert`): the TUI and the service may run
at the same time and never both send; a sender that dies leaves a claim that expires
after `CLAIM_LEASE`. A failed send keeps its error (Spanish) and its retry time, and is
retried by `evaluate` with a growing delay (`retry_delay`) so that a rejected SMTP login
is not repeated often enough for the provider to lock the account. If the process dies
after the server accepted a message but before it was recorded, the alert is sent again
once the claim expires: a duplicate warning is better than a lost one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP

from tui_recepcion.accounts import smtp_endpoint, smtp_sender, smtp_session
from tui_recepcion.alerts import messages as alert_messages
from tui_recepcion.alerts.claims import CLAIMS_SUMMARY, claims_summary_message, closing_invoices
from tui_recepcion.alerts.messages import Envelope
from tui_recepcion.config import Account
from tui_recepcion.dian.deadlines import ClaimRules
from tui_recepcion.dian.reasons import Reason
from tui_recepcion.errors import AuthenticationFailed, RecepcionError
from tui_recepcion.events import AlertSent, Event
from tui_recepcion.providers import shared_registry
from tui_recepcion.store import ALERT_PENDING, ALERT_SENT, ALERT_SKIPPED, AlertRecord, Store

log = logging.getLogger(__name__)

FIRST_ALERT_DAYS = 5
LATE_FINAL_ALERT_DAYS = 30
CLAIM_LEASE = timedelta(minutes=10)  # far beyond an SMTP send with 30 s socket timeouts
RETRY_BASE = timedelta(minutes=5)
RETRY_MAX = timedelta(hours=2)
MESSAGE_ALERT_MAX_AGE = timedelta(days=7)

# Alert kinds, as stored and as `AlertSent.alert` carries them.
EXPIRY_NOTICE = "vencimiento_aviso"
EXPIRY_FINAL = "vencimiento_final"
AUTH_FAILURE = "acceso_fallido"
MESSAGE_PROBLEM = "problema_mensaje"  # keyed f"{reason}:{source_key}"

KIND_LABELS = {
    EXPIRY_NOTICE: "aviso de vencimiento (5 días antes)",
    EXPIRY_FINAL: "aviso final de vencimiento",
    AUTH_FAILURE: "alerta de inicio de sesión fallido",
    MESSAGE_PROBLEM: "alerta de un correo apartado",
    CLAIMS_SUMMARY: "resumen diario de facturas por aceptarse tácitamente",
}

SendAlert = Callable[[Account, EmailMessage], None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def today_for(account: Account, now: datetime) -> date:
    """The calendar day it is for the account (its time zone, not the machine's)."""
    return now.astimezone(account.tzinfo).date()


def due_expiry_alert(expiry: date, today: date) -> str | None:
    """The expiry alert due today, if any: EXPIRY_NOTICE, EXPIRY_FINAL or None."""
    days_left = (expiry - today).days
    if 0 < days_left <= FIRST_ALERT_DAYS:
        return EXPIRY_NOTICE
    if -LATE_FINAL_ALERT_DAYS <= days_left <= 0:
        return EXPIRY_FINAL
    return None


def retry_delay(attempt: int) -> timedelta:
    """How long after failed attempt number `attempt` (1, 2, …) the next one may run."""
    return min(RETRY_BASE * 2 ** min(attempt - 1, 16), RETRY_MAX)


def send_with_account_smtp(account: Account, message: EmailMessage) -> None:
    """Send through the account's SMTP: its [smtp] table, else its provider's server."""
    defaults = None if account.smtp is not None else shared_registry().require(account.provider).smtp
    recipients = [address.addr_spec for address in message["To"].addresses]
    smtp_endpoint(account, defaults)  # a missing SMTP server is the problem to report, before any secret
    with smtp_session(account, defaults) as session:
        session.send(recipients, message.as_bytes(policy=SMTP))


@dataclass(frozen=True, slots=True)
class PendingAlert:
    """An alert that is due but not sent yet: being sent now, or failed and waiting."""

    kind: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None  # in the account's time zone
    in_progress: bool

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def failed(self) -> bool:
        """The last attempt failed (and no one is trying again right now)."""
        return self.last_error is not None and not self.in_progress


@dataclass(frozen=True, slots=True)
class AlertStatus:
    """What `alertas` and the TUI banner show of one account; moments in its time zone."""

    account: str
    notify_email: str | None
    expiry: date | None
    today: date
    days_left: int | None
    first_alert_from: date | None  # the day the first expiry alert becomes due
    first_alert_sent_at: datetime | None
    final_alert_sent_at: datetime | None
    first_alert_skipped: bool
    pending: tuple[PendingAlert, ...]
    incident_open: bool
    incident_since: datetime | None
    incident_reason: str | None
    incident_alert_sent_at: datetime | None

    @property
    def send_failed(self) -> bool:
        return any(alert.failed for alert in self.pending)

    @property
    def expiry_stale(self) -> bool:
        """The date passed so long ago that no alert is sent for it any more."""
        return self.days_left is not None and self.days_left < -LATE_FINAL_ALERT_DAYS


class Alerts:
    """Evaluates and sends the alerts of a set of accounts; state lives in the store."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime] = _utc_now,
                 send: SendAlert | None = None, emit: Callable[[Event], None] = lambda event: None) -> None:
        self._store = store
        self._clock = clock
        self._send = send or send_with_account_smtp
        self._emit = emit

    # ---- what the service and the TUI call -------------------------------------------------

    def evaluate(self, accounts: Iterable[Account], *, retry_now: bool = False) -> list[AlertStatus]:
        """Send the expiry alerts due now and retry failed sends whose time has come.

        `retry_now` retries failed sends at once (the technician asked, with `alertas`).
        One account's problem (SMTP down, a missing secret, a busy database) is recorded
        or logged and never stops the others.
        """
        accounts = list(accounts)
        for account in accounts:
            try:
                self._evaluate_account(account, retry_now)
            except RecepcionError as error:
                log.warning("No se pudieron evaluar las alertas de la cuenta %s: %s", account.id, error)
        return self.status(accounts)

    def authentication_failed(self, account: Account, reason: str) -> None:
        """Open an incident (or continue the open one); its alert is sent once."""
        try:
            incident = self._store.open_incident(account.id, AUTH_FAILURE, now=self._now(),
                                                 detail=alert_messages.clean_reason(reason))
            self._deliver_incident(account, incident, retry_now=False)
        except RecepcionError as error:
            log.warning("No se pudo registrar la falla de acceso de la cuenta %s: %s", account.id, error)

    def login_succeeded(self, account: Account) -> None:
        """Close the open incident, if any (a single indexed read when none is open)."""
        try:
            self._store.close_incidents(account.id, AUTH_FAILURE, now=self._now())
        except RecepcionError as error:
            log.warning("No se pudo cerrar la falla de acceso de la cuenta %s: %s", account.id, error)

    def message_problem(self, account: Account, *, source_key: str, reason: str, detail: str) -> None:
        """Alert, once per (account, source_key, reason), about a message the engine set
        aside: `cufe_en_conflicto` (possible forgery), `reenvio_rechazado` (POP3: kept on the
        server), `no_se_pudo_leer`, or another reason. Nothing without `correo_notificacion`;
        a failed send is recorded and retried by `evaluate`, never raised."""
        if account.notify_email is None:
            return
        try:
            self._deliver_message_problem(account, f"{reason}:{source_key}", alert_messages.clean_reason(detail),
                                          retry_now=False)
        except RecepcionError as error:
            log.warning("No se pudo enviar la alerta del mensaje %s de la cuenta %s: %s", source_key, account.id,
                        error)

    def claims_summary(self, account: Account, rules: ClaimRules) -> None:
        """The day's summary of invoices about to be tacitly accepted (`resumen_reclamos`):
        sent once a day when there is any; a failure is recorded and retried, never raised."""
        if account.notify_email is None:
            return
        try:
            today = today_for(account, self._now())
            invoices = closing_invoices(self._store, account.id, today, rules)
            if invoices:
                self._deliver(account, CLAIMS_SUMMARY, today.isoformat(), retry_now=False,
                              build=lambda envelope: claims_summary_message(account, envelope, today, invoices))
        except RecepcionError as error:
            log.warning("No se pudo preparar el resumen de reclamos de la cuenta %s: %s", account.id, error)

    def status(self, accounts: Iterable[Account]) -> list[AlertStatus]:
        """Each account's alert state, read in one query per 500 accounts (the dashboard has thousands)."""
        now = self._now()
        chosen = list(accounts)
        records = self._store.alert_records_of(account.id for account in chosen)
        return [self._status(account, now, records[account.id]) for account in chosen]

    # ---- evaluation --------------------------------------------------------------------------

    def _evaluate_account(self, account: Account, retry_now: bool) -> None:
        if account.notify_email is None:
            return
        now = self._now()
        expiry = account.password_expiry
        if expiry is not None:
            today = today_for(account, now)
            kind = due_expiry_alert(expiry, today)
            if kind == EXPIRY_FINAL:
                self._store.skip_alert(account.id, EXPIRY_NOTICE, expiry.isoformat(), now=now)
            if kind is not None:
                days_left = (expiry - today).days
                compose = alert_messages.expiry_notice if kind == EXPIRY_NOTICE else alert_messages.expiry_final
                self._deliver(account, kind, expiry.isoformat(), retry_now=retry_now,
                              build=lambda envelope: compose(account, envelope, expiry, days_left))
        records = self._store.alert_records(account.id)
        incident = _open_incident(records)
        if incident is not None:
            self._deliver_incident(account, incident, retry_now=retry_now)
        for record in records:
            if record.kind != MESSAGE_PROBLEM or record.state != ALERT_PENDING:
                continue
            if record.created_at + MESSAGE_ALERT_MAX_AGE < now:
                self._store.skip_alert(account.id, record.kind, record.key, now=now)
                continue
            self._deliver_message_problem(account, record.key, record.detail or "", retry_now=retry_now)

    def _deliver_incident(self, account: Account, incident: AlertRecord, *, retry_now: bool) -> None:
        if account.notify_email is None or incident.state != ALERT_PENDING:
            return
        reason = incident.detail or ""
        since = incident.created_at.astimezone(account.tzinfo)
        self._deliver(account, AUTH_FAILURE, incident.key, retry_now=retry_now,
                      build=lambda envelope: alert_messages.authentication_alert(account, envelope, reason, since))

    def _deliver_message_problem(self, account: Account, key: str, detail: str, *, retry_now: bool) -> None:
        reason, _, source_key = key.partition(":")

        def build(envelope: Envelope) -> EmailMessage:
            entry = self._store.get_message(account.id, source_key)
            evidence = ([conflict for conflict in self._store.conflicts(account.id) if conflict.source_key == source_key]
                        if reason == Reason.CUFE_EN_CONFLICTO else [])
            return alert_messages.message_problem_alert(account, envelope, source_key=source_key, reason=reason,
                                                        detail=detail, entry=entry, evidence=evidence)

        self._deliver(account, MESSAGE_PROBLEM, key, retry_now=retry_now, build=build, detail=detail)

    def _deliver(self, account: Account, kind: str, key: str, *, retry_now: bool,
                 build: Callable[[Envelope], EmailMessage], detail: str | None = None) -> None:
        """Claim, send, record. A failure is recorded with its retry time, never raised."""
        assert account.notify_email is not None
        now = self._now()
        claim = self._store.claim_alert(account.id, kind, key, now=now, lease=CLAIM_LEASE,
                                        ignore_backoff=retry_now, detail=detail)
        if claim is None:
            return
        try:
            message = build(Envelope(smtp_sender(account), account.notify_email, now.astimezone(account.tzinfo)))
            self._send(account, message)
        except Exception as error:  # noqa: BLE001 - every failure is recorded and retried, none is lost
            failed_at = self._now()
            self._store.alert_failed(claim, now=failed_at, error=_send_error(account, error),
                                     retry_at=failed_at + retry_delay(claim.attempt))
            return
        self._store.alert_sent(claim, now=self._now(), recipient=account.notify_email)
        event = AlertSent(account=account.id, at=now, alert=kind, recipient=account.notify_email,
                          detail=str(message["Subject"]))
        self._store.append_events([(event.account, event.kind, event.to_payload())])
        self._emit(event)

    # ---- status ------------------------------------------------------------------------------

    def _status(self, account: Account, now: datetime, records: list[AlertRecord]) -> AlertStatus:
        expiry = account.password_expiry
        today = today_for(account, now)
        expiry_key = expiry.isoformat() if expiry is not None else None
        current = {r.kind: r for r in records if r.kind in (EXPIRY_NOTICE, EXPIRY_FINAL) and r.key == expiry_key}
        incident = _open_incident(records)
        zone = account.tzinfo

        def local(moment: datetime | None) -> datetime | None:
            return moment.astimezone(zone) if moment is not None else None

        problems = [r for r in records if r.kind == MESSAGE_PROBLEM]
        candidates = [*current.values(), *([incident] if incident is not None else []), *problems]
        pending = tuple(
            PendingAlert(r.kind, r.attempts, r.last_error, local(r.next_attempt_at), r.claimed_at(now))
            for r in candidates
            if r.state == ALERT_PENDING and r.attempts > 0 and account.notify_email is not None
        )
        notice, final = current.get(EXPIRY_NOTICE), current.get(EXPIRY_FINAL)
        return AlertStatus(
            account=account.id,
            notify_email=account.notify_email,
            expiry=expiry,
            today=today,
            days_left=(expiry - today).days if expiry is not None else None,
            first_alert_from=expiry - timedelta(days=FIRST_ALERT_DAYS) if expiry is not None else None,
            first_alert_sent_at=local(notice.sent_at) if notice and notice.state == ALERT_SENT else None,
            final_alert_sent_at=local(final.sent_at) if final and final.state == ALERT_SENT else None,
            first_alert_skipped=notice is not None and notice.state == ALERT_SKIPPED,
            pending=pending,
            incident_open=incident is not None,
            incident_since=local(incident.created_at) if incident else None,
            incident_reason=incident.detail if incident else None,
            incident_alert_sent_at=local(incident.sent_at) if incident and incident.state == ALERT_SENT else None,
        )

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the alerts clock must return timezone-aware datetimes")
        return now


def _open_incident(records: list[AlertRecord]) -> AlertRecord | None:
    return next((r for r in reversed(records) if r.kind == AUTH_FAILURE and r.closed_at is None), None)


def _send_error(account: Account, error: Exception) -> str:
    """The Spanish line stored and shown for a failed send (never a secret)."""
    if isinstance(error, AuthenticationFailed):
        return (f"{error} Si el envío usa las mismas credenciales del buzón (p. ej. una contraseña vencida), "
                f"la alerta no puede salir por esta cuenta: agregue [cuentas.{account.id}.smtp] con usuario y "
                "secreto de otra cuenta de envío.")
    if isinstance(error, RecepcionError):
        return str(error)
    log.error("Error inesperado al enviar una alerta de la cuenta %s", account.id, exc_info=error)
    return f"Error interno al enviar la alerta ({type(error).__name__}); vea el registro del programa."
