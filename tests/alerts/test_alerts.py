"""Expiry and authentication alerts, sent through a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from tests.servers.certs import TestCertificates
from tests.servers.endpoints import TEST_HOST
from tests.servers.smtp import SMTP_USER, SmtpServer
from tests.support.alert_support import (
    EXPIRY,
    MAILBOX,
    MAILBOX_SECRET_VAR,
    NOTIFY,
    Clock,
    alert_account,
    body,
    bogota_noon,
    parsed,
    race_two_senders,
    subjects,
)
from tui_recepcion.alerts import (
    AUTH_FAILURE,
    CLAIM_LEASE,
    EXPIRY_FINAL,
    EXPIRY_NOTICE,
    Alerts,
)
from tui_recepcion.config import Account, SmtpSettings
from tui_recepcion.events import AlertSent, Event
from tui_recepcion.store import Store

NOTICE_SUBJECT = f"Alerta: la contraseña del buzón {MAILBOX} vence el 31 de marzo de 2027"
FINAL_SUBJECT = f"Alerta: la contraseña del buzón {MAILBOX} vence hoy, 31 de marzo de 2027"
AUTH_SUBJECT = f"Alerta: no se pudo iniciar sesión en el buzón {MAILBOX}"
REJECTED = "El servidor IMAP imap.empresa.co:993 rechazó el usuario «recepcion@empresa.co» o la contraseña."


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "recepcion.db") as opened:
        yield opened


@pytest.fixture
def account(clean_smtp: SmtpServer, tls_certs: TestCertificates, monkeypatch: pytest.MonkeyPatch) -> Account:
    return alert_account(clean_smtp, tls_certs.ca_file, monkeypatch)


@pytest.fixture
def clock() -> Clock:
    return Clock()


# ---- expiry ------------------------------------------------------------------------------------


def test_first_alert_five_days_before_then_final_on_the_day(
    store: Store, account: Account, clean_smtp: SmtpServer, clock: Clock
) -> None:
    events: list[Event] = []
    alerts = Alerts(store, clock=clock, emit=events.append)

    clock.set(bogota_noon(EXPIRY - timedelta(days=6)))
    (status,) = alerts.evaluate([account])
    assert clean_smtp.messages() == []
    assert status.days_left == 6 and status.first_alert_sent_at is None

    clock.set(bogota_noon(EXPIRY - timedelta(days=5)))
    (status,) = alerts.evaluate([account])
    (received,) = clean_smtp.messages()
    assert received.rcpt_tos == (NOTIFY,)
    assert received.mail_from == SMTP_USER.username and received.auth_user == SMTP_USER.username
    message = parsed(received)
    assert message["To"] == NOTIFY
    assert message["Subject"] == NOTICE_SUBJECT
    assert message["From"].addresses[0].addr_spec == SMTP_USER.username
    assert message.get_content_type() == "text/plain" and message.get_content_charset() == "utf-8"
    assert parsedate_to_datetime(message["Date"]) == clock.now
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@prueba.co>")
    text = body(message)
    assert "vence el miércoles 31 de marzo de 2027 (faltan 5 días)" in text
    assert "abra el formulario de la cuenta «principal»" in text and "«Contraseña»" in text
    assert "«Fecha Expiración»" in text
    assert status.first_alert_sent_at == clock.now and status.first_alert_sent_at.utcoffset() == timedelta(hours=-5)
    assert status.pending == ()

    # The same alert is never sent twice: later the same day, the next day.
    clock.advance(hours=6)
    alerts.evaluate([account])
    clock.set(bogota_noon(EXPIRY - timedelta(days=4)))
    alerts.evaluate([account])
    assert subjects(clean_smtp) == [NOTICE_SUBJECT]

    # The final alert on the day itself, once.
    clock.set(bogota_noon(EXPIRY))
    (status,) = alerts.evaluate([account])
    alerts.evaluate([account])
    assert subjects(clean_smtp) == [NOTICE_SUBJECT, FINAL_SUBJECT]
    assert "vence hoy, miércoles 31 de marzo de 2027" in body(parsed(clean_smtp.messages()[1]))
    assert status.final_alert_sent_at == clock.now and not status.first_alert_skipped

    # Each send is an AlertSent event, emitted and in the store's log for the dashboard.
    assert [(e.alert, e.recipient) for e in events if isinstance(e, AlertSent)] == [
        (EXPIRY_NOTICE, NOTIFY), (EXPIRY_FINAL, NOTIFY)]
    logged = [row for row in store.events_after(0) if row.kind == AlertSent.kind]
    assert [(row.account, row.payload["alert"], row.payload["detail"]) for row in logged] == [
        ("principal", EXPIRY_NOTICE, NOTICE_SUBJECT), ("principal", EXPIRY_FINAL, FINAL_SUBJECT)]


def test_days_are_counted_in_bogota_not_utc(store: Store, account: Account, clean_smtp: SmtpServer,
                                            clock: Clock) -> None:
    alerts = Alerts(store, clock=clock)
    # 03:00 UTC on the 26th is still 22:00 of the 25th in Bogotá: six days left there.
    clock.set(datetime(2027, 3, 26, 3, 0, tzinfo=UTC))
    (status,) = alerts.evaluate([account])
    assert status.today == date(2027, 3, 25) and status.days_left == 6
    assert clean_smtp.messages() == []
    clock.set(datetime(2027, 3, 26, 5, 0, tzinfo=UTC))  # midnight in Bogotá
    alerts.evaluate([account])
    assert subjects(clean_smtp) == [NOTICE_SUBJECT]
    # Likewise the final alert waits for the 31st in Bogotá, not in UTC.
    clock.set(datetime(2027, 3, 31, 4, 59, tzinfo=UTC))
    alerts.evaluate([account])
    assert len(clean_smtp.messages()) == 1
    clock.set(datetime(2027, 3, 31, 5, 0, tzinfo=UTC))
    alerts.evaluate([account])
    assert subjects(clean_smtp) == [NOTICE_SUBJECT, FINAL_SUBJECT]


def test_another_time_zone_is_honoured(store: Store, account: Account, clean_smtp: SmtpServer,
                                       clock: Clock) -> None:
    madrid = replace(account, timezone="Europe/Madrid")
    clock.set(datetime(2027, 3, 25, 23, 30, tzinfo=UTC))  # already the 26th in Madrid, the 25th in Bogotá
    Alerts(store, clock=clock).evaluate([madrid])
    assert subjects(clean_smtp) == [NOTICE_SUBJECT]


def test_after_downtime_only_what_is_still_due_is_sent(store: Store, account: Account, clean_smtp: SmtpServer,
                                                       clock: Clock) -> None:
    alerts = Alerts(store, clock=clock)
    # Down for the whole window, back two days after the date: the final alert only.
    clock.set(bogota_noon(EXPIRY + timedelta(days=2)))
    (status,) = alerts.evaluate([account])
    assert subjects(clean_smtp) == [f"Alerta: la contraseña del buzón {MAILBOX} venció el 31 de marzo de 2027"]
    late = body(parsed(clean_smtp.messages()[0]))
    assert "venció el miércoles 31 de marzo de 2027 (hace 2 días)" in late
    assert "Con la contraseña vencida, tui-recepcion no puede iniciar sesión" in late
    assert status.first_alert_skipped and status.first_alert_sent_at is None and status.final_alert_sent_at
    alerts.evaluate([account])
    assert len(clean_smtp.messages()) == 1


def test_restart_inside_the_window_sends_the_first_alert(store: Store, account: Account,
                                                         clean_smtp: SmtpServer, clock: Clock) -> None:
    clock.set(bogota_noon(EXPIRY - timedelta(days=2)))
    Alerts(store, clock=clock).evaluate([account])
    (message,) = [parsed(m) for m in clean_smtp.messages()]
    assert message["Subject"] == NOTICE_SUBJECT and "(faltan 2 días)" in body(message)


def test_a_long_expired_date_is_stale_and_sends_nothing(store: Store, account: Account,
                                                        clean_smtp: SmtpServer, clock: Clock) -> None:
    clock.set(bogota_noon(EXPIRY + timedelta(days=31)))
    (status,) = Alerts(store, clock=clock).evaluate([account])
    assert clean_smtp.messages() == []
    assert status.expiry_stale and status.final_alert_sent_at is None


def test_a_new_date_rearms_the_alerts_and_keeps_the_old_ones_as_history(
    store: Store, account: Account, clean_smtp: SmtpServer, clock: Clock
) -> None:
    alerts = Alerts(store, clock=clock)
    clock.set(bogota_noon(EXPIRY - timedelta(days=5)))
    alerts.evaluate([account])
    assert subjects(clean_smtp) == [NOTICE_SUBJECT]

    # The technician changed the password and saved the new date: nothing is due today.
    renewed = replace(account, password_expiry=date(2027, 6, 30))
    (status,) = alerts.evaluate([renewed])
    assert len(clean_smtp.messages()) == 1
    assert status.expiry == date(2027, 6, 30) and status.first_alert_sent_at is None

    clock.set(bogota_noon(date(2027, 6, 25)))
    alerts.evaluate([renewed])
    assert subjects(clean_smtp)[1] == f"Alerta: la contraseña del buzón {MAILBOX} vence el 30 de junio de 2027"
    history = [(r.kind, r.key, r.state) for r in store.alert_records("principal")]
    assert history == [(EXPIRY_NOTICE, "2027-03-31", "enviada"), (EXPIRY_NOTICE, "2027-06-30", "enviada")]


def test_without_expiry_or_notification_address_nothing_is_sent(
    store: Store, account: Account, clean_smtp: SmtpServer, clock: Clock
) -> None:
    clock.set(bogota_noon(EXPIRY))
    alerts = Alerts(store, clock=clock)
    no_date = replace(account, id="sin-fecha", password_expiry=None)
    no_address = replace(account, id="sin-correo", notify_email=None)
    alerts.authentication_failed(no_address, REJECTED)
    statuses = alerts.evaluate([no_date, no_address])
    assert clean_smtp.messages() == []
    assert statuses[0].days_left is None and statuses[1].incident_open and statuses[1].pending == ()


# ---- failures and retries ----------------------------------------------------------------------


def test_smtp_down_is_recorded_and_retried_until_sent(
    store: Store, account: Account, clean_smtp: SmtpServer, closed_port: int, clock: Clock
) -> None:
    down = replace(account, smtp=replace(account.smtp, port=closed_port))
    alerts = Alerts(store, clock=clock)
    clock.set(bogota_noon(EXPIRY - timedelta(days=5)))
    (status,) = alerts.evaluate([down])
    assert status.send_failed and status.first_alert_sent_at is None
    (pending,) = status.pending
    assert pending.kind == EXPIRY_NOTICE and pending.attempts == 1 and not pending.in_progress
    assert "rechazó la conexión SMTP" in pending.last_error
    assert pending.next_attempt_at == clock.now + timedelta(minutes=5)

    # Before the retry time, the next cycle leaves it alone (no hammering of the server).
    clock.advance(minutes=1)
    (status,) = alerts.evaluate([down])
    assert status.pending[0].attempts == 1

    clock.advance(minutes=5)
    (status,) = alerts.evaluate([down])
    assert status.pending[0].attempts == 2
    assert status.pending[0].next_attempt_at == clock.now + timedelta(minutes=10)  # the delay grows

    # SMTP is back: the next due cycle sends it, once.
    clock.advance(minutes=10)
    (status,) = alerts.evaluate([account])
    assert subjects(clean_smtp) == [NOTICE_SUBJECT]
    assert status.pending == () and status.first_alert_sent_at == clock.now
    alerts.evaluate([account])
    assert len(clean_smtp.messages()) == 1


def test_retry_now_ignores_the_delay(store: Store, account: Account, clean_smtp: SmtpServer,
                                     closed_port: int, clock: Clock) -> None:
    down = replace(account, smtp=replace(account.smtp, port=closed_port))
    alerts = Alerts(store, clock=clock)
    clock.set(bogota_noon(EXPIRY - timedelta(days=3)))
    alerts.evaluate([down])
    (status,) = alerts.evaluate([account], retry_now=True)
    assert subjects(clean_smtp) == [NOTICE_SUBJECT] and status.pending == ()


def test_expired_shared_credentials_cannot_send_and_say_why(
    store: Store, clean_smtp: SmtpServer, tls_certs: TestCertificates, monkeypatch: pytest.MonkeyPatch,
    clock: Clock
) -> None:
    """SMTP without its own user logs in as the mailbox: with an expired password it fails too."""
    shared = alert_account(clean_smtp, tls_certs.ca_file, monkeypatch, username=SMTP_USER.username,
                           secret_ref=f"env:{MAILBOX_SECRET_VAR}",
                           smtp=SmtpSettings(TEST_HOST, clean_smtp.port, "starttls"))
    monkeypatch.setenv(MAILBOX_SECRET_VAR, "Contraseña-Vencida-1!")
    alerts = Alerts(store, clock=clock)
    alerts.authentication_failed(shared, REJECTED)
    (status,) = alerts.status([shared])
    assert clean_smtp.messages() == []
    (pending,) = status.pending
    assert pending.kind == AUTH_FAILURE and pending.failed
    assert "rechazó el usuario" in pending.last_error and "[cuentas.principal.smtp]" in pending.last_error
    assert "Contraseña-Vencida" not in pending.last_error


def test_an_account_without_smtp_server_records_why(store: Store, account: Account, clock: Clock) -> None:
    """The generic provider has no SMTP defaults: the account needs its own [smtp] table."""
    clock.set(bogota_noon(EXPIRY - timedelta(days=5)))
    (status,) = Alerts(store, clock=clock).evaluate([replace(account, smtp=None)])
    assert status.send_failed
    assert "no tiene servidor SMTP: agregue [cuentas.principal.smtp]" in status.pending[0].last_error


def test_a_claim_left_by_a_dead_process_expires(store: Store, account: Account, clean_smtp: SmtpServer,
                                                clock: Clock) -> None:
    clock.set(bogota_noon(EXPIRY - timedelta(days=5)))
    # Another process claimed the alert and died before sending it.
    assert store.claim_alert("principal", EXPIRY_NOTICE, EXPIRY.isoformat(), now=clock.now, lease=CLAIM_LEASE)
    alerts = Alerts(store, clock=clock)
    clock.advance(minutes=1)
    (status,) = alerts.evaluate([account])
    assert clean_smtp.messages() == []
    assert status.pending[0].in_progress
    clock.advance(seconds=CLAIM_LEASE.total_seconds())
    (status,) = alerts.evaluate([account])
    assert subjects(clean_smtp) == [NOTICE_SUBJECT] and status.pending == ()


def test_an_unexpected_error_is_recorded_not_raised(store: Store, account: Account, clock: Clock) -> None:
    def broken(account: Account, message: EmailMessage) -> None:
        raise RuntimeError("fallo inesperado")

    clock.set(bogota_noon(EXPIRY - timedelta(days=1)))
    other = replace(account, id="otra", password_expiry=EXPIRY + timedelta(days=60))
    statuses = Alerts(store, clock=clock, send=broken).evaluate([account, other])
    assert statuses[0].send_failed and "Error interno" in statuses[0].pending[0].last_error
    assert statuses[1].account == "otra" and not statuses[1].send_failed


# ---- two senders at once -----------------------------------------------------------------------


def test_two_processes_evaluating_at_once_send_one_email(
    store_location: Path | str, account: Account, clean_smtp: SmtpServer, clock: Clock
) -> None:
    """Two Alerts over two connections to one database (SQLite or PostgreSQL). Each sender holds
    its send until the other has finished evaluating, so the other surely ran while the claim was taken."""
    path = store_location
    Store.open(path).close()
    clock.set(bogota_noon(EXPIRY - timedelta(days=5)))
    race_two_senders(path, clock, lambda alerts: alerts.evaluate([account]))
    assert subjects(clean_smtp) == [NOTICE_SUBJECT]
    with Store.open(path) as store:
        (record,) = store.alert_records("principal")
        assert (record.state, record.attempts) == ("enviada", 1)


# ---- authentication failures -------------------------------------------------------------------


def test_one_alert_per_authentication_incident(store: Store, account: Account, clean_smtp: SmtpServer,
                                               clock: Clock) -> None:
    alerts = Alerts(store, clock=clock)
    alerts.login_succeeded(account)  # nothing open: nothing happens
    assert store.alert_records("principal") == []

    for _ in range(3):
        alerts.authentication_failed(account, REJECTED)
        clock.advance(minutes=5)
        alerts.evaluate([account])
    (message,) = [parsed(m) for m in clean_smtp.messages()]
    assert message["Subject"] == AUTH_SUBJECT and message["To"] == NOTIFY
    text = body(message)
    assert f"Motivo: {REJECTED}" in text
    assert "la contraseña venció o alguien la cambió" in text
    assert "«tui-recepcion probar --cuenta principal»" in text
    (status,) = alerts.status([account])
    assert status.incident_open and status.incident_reason == REJECTED
    assert status.incident_alert_sent_at is not None and status.incident_since is not None

    alerts.login_succeeded(account)
    (status,) = alerts.status([account])
    assert not status.incident_open
    alerts.authentication_failed(account, "Token revocado.")
    assert subjects(clean_smtp) == [AUTH_SUBJECT, AUTH_SUBJECT]
    assert "Motivo: Token revocado." in body(parsed(clean_smtp.messages()[1]))


def test_an_incident_alert_that_failed_is_retried_while_the_incident_is_open(
    store: Store, account: Account, clean_smtp: SmtpServer, closed_port: int, clock: Clock
) -> None:
    down = replace(account, smtp=replace(account.smtp, port=closed_port))
    alerts = Alerts(store, clock=clock)
    alerts.authentication_failed(down, REJECTED)
    alerts.authentication_failed(down, REJECTED)  # a second failure in the same incident: still waiting
    (status,) = alerts.status([down])
    assert status.pending[0].kind == AUTH_FAILURE and status.pending[0].attempts == 1
    clock.advance(minutes=5)
    alerts.evaluate([account])
    assert subjects(clean_smtp) == [AUTH_SUBJECT]


def test_a_closed_incident_is_not_alerted_late(store: Store, account: Account, clean_smtp: SmtpServer,
                                               closed_port: int, clock: Clock) -> None:
    down = replace(account, smtp=replace(account.smtp, port=closed_port))
    alerts = Alerts(store, clock=clock)
    alerts.authentication_failed(down, REJECTED)
    alerts.login_succeeded(account)
    clock.advance(hours=3)
    (status,) = alerts.evaluate([account])
    assert clean_smtp.messages() == [] and not status.incident_open and status.pending == ()


def test_oauth_accounts_are_told_to_authorize_again(store: Store, account: Account, clean_smtp: SmtpServer,
                                                    clock: Clock) -> None:
    oauth = replace(account, auth_type="oauth2", secret_ref="keyring")
    alerts = Alerts(store, clock=clock)
    clock.set(bogota_noon(EXPIRY - timedelta(days=5)))
    alerts.evaluate([oauth])
    alerts.authentication_failed(oauth, "Token revocado.")
    notice, incident = (body(parsed(m)) for m in clean_smtp.messages())
    assert "«tui-recepcion autorizar --cuenta principal»" in notice
    assert "«Contraseña»" not in notice
    assert "se revocó la autorización (token OAuth2)" in incident
