"""The alert rules and texts on their own (no server): windows, delays, Spanish wording."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from tui_recepcion.alerts import (
    EXPIRY_FINAL,
    EXPIRY_NOTICE,
    RETRY_MAX,
    Alerts,
    due_expiry_alert,
    retry_delay,
)
from tui_recepcion.alerts.messages import (
    Envelope,
    clean_reason,
    days_phrase,
    expiry_notice,
    long_date,
    status_lines,
    weekday_date,
)
from tui_recepcion.config import Account
from tui_recepcion.store import Store

EXPIRY = date(2027, 3, 31)
ACCOUNT = Account(id="principal", provider="generic", auth_type="basica", protocol="pop3",
                  host="pop.empresa.co", port=995, security="ssl", username="recepcion@empresa.co",
                  password_expiry=EXPIRY, notify_email="tecnico@empresa.co", backup_email="respaldo@empresa.co")


@pytest.mark.parametrize(("days_left", "expected"), [
    (30, None), (6, None), (5, EXPIRY_NOTICE), (1, EXPIRY_NOTICE), (0, EXPIRY_FINAL),
    (-1, EXPIRY_FINAL), (-30, EXPIRY_FINAL), (-31, None),
])
def test_which_expiry_alert_is_due(days_left: int, expected: str | None) -> None:
    assert due_expiry_alert(EXPIRY, EXPIRY - timedelta(days=days_left)) == expected


def test_retry_delay_grows_and_is_capped() -> None:
    delays = [retry_delay(attempt) for attempt in range(1, 10)]
    assert delays[:3] == [timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20)]
    assert delays == sorted(delays) and delays[-1] == RETRY_MAX
    assert retry_delay(10_000) == RETRY_MAX


def test_spanish_dates_do_not_depend_on_the_locale() -> None:
    assert long_date(date(2027, 3, 31)) == "31 de marzo de 2027"
    assert weekday_date(date(2027, 1, 3)) == "domingo 3 de enero de 2027"
    assert [days_phrase(n) for n in (5, 1, 0, -1, -4)] == ["faltan 5 días", "mañana", "hoy", "hace 1 día",
                                                           "hace 4 días"]


def test_reasons_are_one_bounded_line() -> None:
    assert clean_reason("línea uno\r\nlínea\x00dos\t fin") == "línea uno línea dos fin"
    assert len(clean_reason("x" * 5000)) == 500
    assert clean_reason(" \n ") == "(sin detalle)"


def test_env_secrets_are_updated_where_the_variable_is_defined() -> None:
    account = replace(ACCOUNT, secret_ref="env:CLAVE_RECEPCION")
    envelope = Envelope("recepcion@empresa.co", "tecnico@empresa.co", datetime(2027, 3, 26, 8, tzinfo=UTC))
    text = expiry_notice(account, envelope, EXPIRY, 5).get_content()
    assert "variable de entorno CLAVE_RECEPCION" in text and "«Contraseña»" not in text
    assert "Servidor: pop.empresa.co:995 (POP3)" in text


def test_status_texts_for_alertas(tmp_path: Path) -> None:
    sent: list[EmailMessage] = []
    now = datetime(2027, 3, 20, 17, tzinfo=UTC)
    with Store.open(tmp_path / "r.db") as store:
        alerts = Alerts(store, clock=lambda: now, send=lambda account, message: sent.append(message))
        (status,) = alerts.evaluate([ACCOUNT])
        assert "Primer aviso: se enviará el 26 de marzo de 2027." in status_lines(status)
        now = datetime(2027, 3, 29, 17, tzinfo=UTC)
        (status,) = alerts.evaluate([ACCOUNT])
        assert "Vencimiento de la contraseña: 31 de marzo de 2027 (faltan 2 días)." in status_lines(status)
        alerts.authentication_failed(ACCOUNT, "Rechazado.")
        (status,) = alerts.status([ACCOUNT])
        assert any(line.startswith("Inicio de sesión: falla abierta desde") and line.endswith(": Rechazado.")
                   for line in status_lines(status))
    assert len(sent) == 2
