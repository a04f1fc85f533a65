"""`tui-recepcion alertas` against the real SMTP server, with the real clock.

The expiry date is three days from today in Bogotá, inside the first alert's window
even if the date changes while the test runs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.servers.certs import TestCertificates
from tests.servers.endpoints import TEST_HOST
from tests.servers.smtp import SMTP_USER, SmtpServer
from tests.support.alert_support import MAILBOX, NOTIFY, SMTP_SECRET_VAR, parsed, subjects
from tui_recepcion.alerts import AUTH_FAILURE
from tui_recepcion.alerts.messages import long_date
from tui_recepcion.cli import main
from tui_recepcion.store import Store

REJECTED = "El servidor IMAP rechazó el usuario o la contraseña."


def expiry_in_three_days() -> date:
    return datetime.now(ZoneInfo("America/Bogota")).date() + timedelta(days=3)


def write_config(path: Path, smtp_port: int, ca_file: Path, expiry: date) -> Path:
    path.write_text(f"""\
[cuentas.principal]
proveedor = "generic"
tipo_servidor = "basica"
protocolo = "imap"
servidor = "imap.empresa.co"
puerto = 993
seguridad = "ssl"
usuario = "{MAILBOX}"
secreto = "keyring"
fecha_expiracion = {expiry.isoformat()}
correo_notificacion = "{NOTIFY}"
certificados_ca = "{ca_file}"

[cuentas.principal.smtp]
servidor = "{TEST_HOST}"
puerto = {smtp_port}
seguridad = "starttls"
usuario = "{SMTP_USER.username}"
secreto = "env:{SMTP_SECRET_VAR}"
""", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def smtp_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SMTP_SECRET_VAR, SMTP_USER.password)


def alertas(config: Path, database: Path, *extra: str) -> int:
    return main(["--config", str(config), "alertas", "--base-datos", str(database), *extra])


def test_sends_what_is_due_once_and_prints_the_state(
    tmp_path: Path, clean_smtp: SmtpServer, tls_certs: TestCertificates, capsys: pytest.CaptureFixture[str]
) -> None:
    expiry = expiry_in_three_days()
    config = write_config(tmp_path / "config.toml", clean_smtp.port, tls_certs.ca_file, expiry)
    database = tmp_path / "recepcion.db"

    assert alertas(config, database) == 0
    out = capsys.readouterr().out
    assert subjects(clean_smtp) == [f"Alerta: la contraseña del buzón {MAILBOX} vence el {long_date(expiry)}"]
    assert f"Cuenta «principal» ({MAILBOX})" in out
    assert f"Alertas a: {NOTIFY}" in out
    assert f"Vencimiento de la contraseña: {long_date(expiry)} (faltan " in out
    assert "Primer aviso: enviado el " in out
    assert f"Aviso final (día del vencimiento): se enviará el {long_date(expiry)}." in out
    assert "Inicio de sesión: sin fallas abiertas." in out

    assert alertas(config, database) == 0
    assert len(clean_smtp.messages()) == 1


def test_a_failed_send_exits_1_shows_why_and_is_retried(
    tmp_path: Path, clean_smtp: SmtpServer, closed_port: int, tls_certs: TestCertificates,
    capsys: pytest.CaptureFixture[str]
) -> None:
    expiry = expiry_in_three_days()
    database = tmp_path / "recepcion.db"
    down = write_config(tmp_path / "caido.toml", closed_port, tls_certs.ca_file, expiry)
    with Store.open(database) as store:  # the service saw the login fail earlier
        store.open_incident("principal", AUTH_FAILURE, now=datetime.now(UTC), detail=REJECTED)

    assert alertas(down, database) == 1
    captured = capsys.readouterr()
    assert "Envío fallido: aviso de vencimiento (5 días antes), 1 intento; próximo intento: " in captured.out
    assert "Envío fallido: alerta de inicio de sesión fallido, 1 intento" in captured.out
    assert f"rechazó la conexión SMTP en el puerto {closed_port}" in captured.out
    assert "Inicio de sesión: falla abierta desde " in captured.out and REJECTED in captured.out
    assert "2 alertas no se pudieron enviar" in captured.err

    # Run by hand once SMTP is back: retried at once, without waiting for the retry time.
    up = write_config(tmp_path / "config.toml", clean_smtp.port, tls_certs.ca_file, expiry)
    assert alertas(up, database) == 0
    out = capsys.readouterr().out
    assert sorted(subjects(clean_smtp)) == sorted([
        f"Alerta: la contraseña del buzón {MAILBOX} vence el {long_date(expiry)}",
        f"Alerta: no se pudo iniciar sesión en el buzón {MAILBOX}",
    ])
    assert all(parsed(message)["To"] == NOTIFY for message in clean_smtp.messages())
    assert "Envío fallido" not in out and "Alerta de la falla: enviada el " in out


def test_invalid_config_exits_1_with_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[cuentas.principal]\nproveedor = "generic"\nfecha_expiracion = "mañana"\n', encoding="utf-8")
    assert alertas(config, tmp_path / "recepcion.db") == 1
    err = capsys.readouterr().err
    assert "cuentas.principal.fecha_expiracion" in err and "DD/MM/AAAA" in err
    assert "la configuración tiene problemas" in err


def test_unknown_account_exits_1(tmp_path: Path, clean_smtp: SmtpServer, tls_certs: TestCertificates,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config.toml", clean_smtp.port, tls_certs.ca_file, expiry_in_three_days())
    assert alertas(config, tmp_path / "recepcion.db", "--cuenta", "otra") == 1
    assert "No existe la cuenta «otra»" in capsys.readouterr().err
    assert clean_smtp.messages() == []
