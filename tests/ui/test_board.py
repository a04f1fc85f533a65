"""The dashboard's alert banner, from the alert state the store keeps (no widgets, no servers)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tui_recepcion.alerts import AUTH_FAILURE, EXPIRY_NOTICE, AlertStatus, PendingAlert
from tui_recepcion.config import Account
from tui_recepcion.events import StateChanged, event_from_payload
from tui_recepcion.ui.board import AccountBoard

BOGOTA = ZoneInfo("America/Bogota")
TODAY = date(2027, 3, 28)
EXPIRY = date(2027, 3, 31)
MORNING = datetime(2027, 3, 28, 8, 15, tzinfo=BOGOTA)
ACCOUNT = Account(id="principal", provider="generic", auth_type="basica", protocol="imap", host="imap.empresa.co",
                  port=993, security="ssl", username="recepcion@empresa.co", password_expiry=EXPIRY,
                  notify_email="tecnico@empresa.co")
QUIET = AlertStatus(account="principal", notify_email="tecnico@empresa.co", expiry=EXPIRY, today=TODAY, days_left=3,
                    first_alert_from=EXPIRY - timedelta(days=5), first_alert_sent_at=None, final_alert_sent_at=None,
                    first_alert_skipped=False, pending=(), incident_open=False, incident_since=None,
                    incident_reason=None, incident_alert_sent_at=None)


def banner(status: AlertStatus | None, account: Account = ACCOUNT, today: date = TODAY) -> list[str]:
    board = AccountBoard(account)
    if status is not None:
        board.set_alert_status(status)
    return board.banner(today)


def test_without_an_expiry_date_or_trouble_there_is_no_banner() -> None:
    quiet = replace(QUIET, expiry=None, days_left=None, first_alert_from=None)
    assert banner(quiet, replace(ACCOUNT, password_expiry=None, notify_email=None)) == []


def test_before_the_alert_state_is_read_the_date_alone_is_shown() -> None:
    assert banner(None) == ["Contraseña: vence el 31/03/2027 (faltan 3 días)"]


@pytest.mark.parametrize(("status", "expected"), [
    (QUIET, "alerta aún no enviada"),
    (replace(QUIET, first_alert_sent_at=MORNING), "alerta enviada 28/03/2027 08:15"),
    (replace(QUIET, first_alert_sent_at=MORNING, final_alert_sent_at=MORNING + timedelta(days=3)),
     "alerta final enviada 31/03/2027 08:15"),
    (replace(QUIET, pending=(PendingAlert(EXPIRY_NOTICE, 1, None, None, in_progress=True),)), "enviando la alerta…"),
    (replace(QUIET, today=date(2027, 3, 20), days_left=11), "alerta el 26/03/2027"),
    (replace(QUIET, today=date(2027, 5, 20), days_left=-50), "ya no se envían alertas: actualice Fecha Expiración"),
])
def test_the_expiry_line_says_what_became_of_its_alert(status: AlertStatus, expected: str) -> None:
    today = status.today
    [line] = banner(status, today=today)
    assert line.endswith(f" · {expected}")


def test_a_failed_send_says_when_it_is_retried_and_why() -> None:
    failed = PendingAlert(EXPIRY_NOTICE, 2, "No se pudo conectar a smtp.empresa.co:587.", MORNING, in_progress=False)
    assert banner(replace(QUIET, pending=(failed,))) == [
        "Contraseña: vence el 31/03/2027 (faltan 3 días) · la alerta no se pudo enviar, reintento 28/03/2027 08:15",
        "Error al enviar la alerta: No se pudo conectar a smtp.empresa.co:587.",
    ]


def test_an_open_login_failure_has_its_own_line() -> None:
    incident = replace(QUIET, incident_open=True, incident_since=MORNING, incident_reason="Usuario o\ncontraseña mal",
                       incident_alert_sent_at=MORNING + timedelta(minutes=1))
    assert banner(incident)[1] == ("Inicio de sesión fallido desde 28/03/2027 08:15 (alerta enviada 28/03/2027 08:16): "
                                   "Usuario o contraseña mal")
    waiting = replace(incident, incident_alert_sent_at=None,
                      pending=(PendingAlert(AUTH_FAILURE, 1, "SMTP caído", None, in_progress=False),))
    assert "(la alerta no se pudo enviar)" in banner(waiting)[1]
    board = AccountBoard(ACCOUNT)
    board.set_alert_status(incident)
    assert board.alert_trouble()


def test_a_message_kept_on_the_server_is_logged_with_its_reason() -> None:
    from tui_recepcion.events import MessageKept

    board = AccountBoard(ACCOUNT)
    board.apply(MessageKept(account=ACCOUNT.id, source_key="pop3:u1", subject="Factura FE-9", reason="reenvio_rechazado",
                            detail="El servidor SMTP rechazó el envío: 552 demasiado grande"))
    assert any("Retenido en el servidor (reenvio_rechazado): Factura FE-9" in line for line in board.new_log)


def test_the_next_pass_comes_from_the_event_field_not_its_sentence() -> None:
    board = AccountBoard(ACCOUNT)
    board.apply(StateChanged(account="principal", state="esperando", detail="cualquier texto",
                             next_run=datetime(2027, 3, 28, 13, 30, tzinfo=UTC)))
    assert board.next_run == "28/03/2027 08:30"  # in the account's time zone
    board.apply(StateChanged(account="principal", state="esperando"))
    assert board.next_run == "28/03/2027 08:30"  # still waiting for the same pass
    board.apply(StateChanged(account="principal", state="procesando"))
    assert board.next_run == ""


def test_state_events_keep_their_next_pass_in_the_log_and_old_payloads_still_read() -> None:
    event = StateChanged(account="principal", state="esperando", detail="próxima pasada: …",
                         next_run=datetime(2027, 3, 28, 13, 30, tzinfo=UTC))
    payload = json.loads(json.dumps(event.to_payload()))
    assert event_from_payload(event.kind, "principal", payload) == event
    old = {"state": "esperando", "detail": "próxima pasada: 2027-03-28 08:30:00", "at": event.at.isoformat()}
    restored = event_from_payload("estado", "principal", old)
    assert isinstance(restored, StateChanged) and restored.next_run is None
