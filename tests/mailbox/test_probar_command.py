"""`tui-recepcion probar` against the real Dovecot: success on every protocol and security,
and a specific Spanish reason (exit 1) for each way it can fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers.dovecot import DovecotServer
from tests.servers.endpoints import TEST_HOST
from tests.support.engine_support import write_account
from tui_recepcion import cli


def probar(config_path: Path) -> int:
    return cli.main(["--config", str(config_path), "probar"])


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_probar_succeeds(tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, smtp_server, capsys,
                         protocol: str, security: str) -> None:
    smtp = smtp_server if protocol == "pop3" else None  # POP3 forwards by SMTP: it needs a route
    account = write_account(tmp_path, clean_dovecot, tls_certs, protocol=protocol, security=security, smtp=smtp)
    assert probar(account.config_path) == 0
    out = capsys.readouterr().out
    assert "Prueba exitosa." in out
    assert "TLSv1." in out
    if protocol == "imap":
        assert "MOVE" in out and "UIDPLUS" in out and "IDLE" in out
        assert "Procesados" in out and "Fallidos" in out
    else:
        assert f"SMTP {TEST_HOST}:{smtp_server.port}: correcto" in out
        assert "No se envió ningún correo." in out


def test_probar_refuses_a_pop3_account_without_an_smtp_route(tmp_path: Path, clean_dovecot: DovecotServer,
                                                             tls_certs, capsys) -> None:
    account = write_account(tmp_path, clean_dovecot, tls_certs, protocol="pop3")  # generic: no SMTP defaults
    assert probar(account.config_path) == 1
    captured = capsys.readouterr()
    assert "Prueba exitosa." not in captured.out
    assert "POP3 " in captured.out + captured.err and ": correcto" in captured.out + captured.err  # the mailbox itself works
    assert "SMTP: falló" in captured.err
    assert "hace falta un servidor SMTP" in captured.err


def test_probar_wrong_password(tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, capsys) -> None:
    account = write_account(tmp_path, clean_dovecot, tls_certs, password="no-es-esta")
    assert probar(account.config_path) == 1
    err = capsys.readouterr().err
    assert "rechazó el usuario «recepcion@prueba.co» o la contraseña" in err
    assert "no-es-esta" not in err


def test_probar_closed_port(tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, capsys, closed_port: int) -> None:
    account = write_account(tmp_path, clean_dovecot, tls_certs, extra={"puerto": closed_port})
    assert probar(account.config_path) == 1
    assert f"rechazó la conexión IMAP en el puerto {closed_port}" in capsys.readouterr().err


def test_probar_untrusted_certificate(tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, capsys) -> None:
    account = write_account(tmp_path, clean_dovecot, tls_certs)
    text = account.config_path.read_text()
    account.config_path.write_text("\n".join(line for line in text.splitlines() if not line.startswith("certificados_ca")))
    assert probar(account.config_path) == 1
    err = capsys.readouterr().err
    assert "no es de confianza" in err and "certificados_ca" in err


def test_probar_starttls_not_offered(tmp_path: Path, clean_dovecot_sin_starttls: DovecotServer, tls_certs, capsys) -> None:
    account = write_account(
        tmp_path, clean_dovecot_sin_starttls, tls_certs, security="starttls",
        extra={"puerto": clean_dovecot_sin_starttls.ports.imap},
    )
    assert probar(account.config_path) == 1
    assert "no ofrece STARTTLS" in capsys.readouterr().err
    assert "Login:" not in clean_dovecot_sin_starttls.log_since_reset()  # no login was attempted


def test_probar_unknown_host(tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, capsys) -> None:
    account = write_account(tmp_path, clean_dovecot, tls_certs, extra={"servidor": "correo.no-existe.invalid"})
    assert probar(account.config_path) == 1
    assert "No se encontró el servidor «correo.no-existe.invalid»" in capsys.readouterr().err
