"""«Probar conexión» / `probar` (issue 14, scenarios 5 and 7): the mailbox and SMTP tested
apart against real servers, progress, cancel, a bound, a hint for a port of another protocol,
and no «None» nor an exception class name in any message."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer
from tests.support.engine_support import write_account
from tui_recepcion.config import ConfigProblems, save_account, take_snapshot
from tui_recepcion.engine.connection_test import ConnectionTestReport, _failure_lines, probe_account
from tui_recepcion.errors import ConnectionProblem, InternalFault
from tui_recepcion.secrets import Secret

CLASS_NAMES = ("None", "ConnectionError", "ConnectionProblem", "AuthenticationFailed", "Error interno", "Traceback")


def _clean(report: ConnectionTestReport) -> str:
    text = "\n".join(report.lines())
    for name in CLASS_NAMES:
        assert name not in text, text
    return text


def test_a_pop3_account_reports_the_mailbox_and_smtp_separately(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, smtp_server: SmtpServer
) -> None:
    account = write_account(tmp_path, clean_dovecot, tls_certs, protocol="pop3", smtp=smtp_server).config().accounts["principal"]
    steps: list[str] = []
    smtp_server.clear()
    report = probe_account(account, progress=steps.append)
    text = _clean(report)
    assert report.ok and report.smtp is not None and report.smtp.ok, text
    assert report.mailbox.title.startswith("POP3 ") and report.smtp.title.startswith("SMTP ")
    assert any(step.startswith("Conectando con POP3") for step in steps)
    assert any(step.startswith("Conectando con SMTP") for step in steps)
    assert "No se envió ningún correo." in report.smtp.lines
    assert smtp_server.messages() == [] and smtp_server.mail_commands() == []  # nothing was sent


def test_without_smtp_the_pop3_account_fails_and_says_why(tmp_path: Path, clean_dovecot: DovecotServer, tls_certs) -> None:
    account = write_account(tmp_path, clean_dovecot, tls_certs, protocol="pop3").config().accounts["principal"]
    report = probe_account(account)
    _clean(report)
    assert report.mailbox.ok and report.smtp is not None and not report.smtp.ok and not report.ok
    assert "hace falta un servidor SMTP" in report.smtp.lines[0]


def test_a_wrong_smtp_password_fails_only_smtp(tmp_path: Path, clean_dovecot: DovecotServer, tls_certs,
                                               smtp_server: SmtpServer) -> None:
    account = write_account(tmp_path, clean_dovecot, tls_certs, protocol="pop3", smtp=smtp_server).config().accounts["principal"]
    report = probe_account(account, smtp_password=Secret("no-es-la-clave"))
    text = _clean(report)
    assert report.mailbox.ok and report.smtp is not None and not report.smtp.ok
    assert "rechazó" in text and "no-es-la-clave" not in text


def test_a_refused_login_neither_names_a_class_nor_promises_a_retry(tmp_path: Path, clean_dovecot: DovecotServer,
                                                                    tls_certs) -> None:
    account = write_account(tmp_path, clean_dovecot, tls_certs).config().accounts["principal"]
    report = probe_account(account, password=Secret("no-es-esta"))
    text = _clean(report)
    assert not report.ok and "rechazó el usuario" in text
    assert "se reintentará más tarde" not in text


def test_a_pop3_port_tested_as_imap_gets_a_hint(tmp_path: Path, clean_dovecot: DovecotServer, tls_certs) -> None:
    account = write_account(tmp_path, clean_dovecot, tls_certs).config().accounts["principal"]
    wrong = replace(account, port=clean_dovecot.ports.port_for("pop3", "ssl"))
    report = probe_account(wrong)
    text = _clean(report)
    assert f"el puerto {wrong.port} respondió como POP3" in text


def test_the_test_can_be_cancelled_and_is_bounded(tmp_path: Path, clean_dovecot: DovecotServer, tls_certs,
                                                 silent_port: int) -> None:
    account = write_account(tmp_path, clean_dovecot, tls_certs, extra={"puerto": silent_port}).config().accounts["principal"]
    cancel = threading.Event()
    report = probe_account(account, cancel=cancel, progress=lambda _step: cancel.set())  # Esc right after it starts
    assert report.cancelled and not report.ok
    assert report.mailbox.lines == ("Prueba cancelada.",)
    bounded = probe_account(account, timeout=0.5)
    assert not bounded.cancelled and not bounded.ok
    assert "Sin respuesta completa en 0,5 s" in _clean(bounded)


def test_a_generic_pop3_account_is_saved_only_with_an_smtp_route_that_probar_then_tests(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, smtp_server: SmtpServer
) -> None:
    with_route = write_account(tmp_path, clean_dovecot, tls_certs, protocol="pop3", smtp=smtp_server).config()
    account = with_route.accounts["principal"]  # what the form would build, SMTP section filled in
    path = tmp_path / "nuevo.toml"
    snapshot = take_snapshot(path)
    with pytest.raises(ConfigProblems, match="hace falta un servidor SMTP"):
        save_account(path, replace(account, smtp=None), snapshot=snapshot, new=True, provider_smtp=False)
    assert not path.exists()
    saved = save_account(path, account, snapshot=snapshot, new=True, provider_smtp=False)
    report = probe_account(saved.config.accounts["principal"])
    _clean(report)
    assert report.ok
    assert report.mailbox.title == f"POP3 {account.host}:{account.port}" and report.mailbox.ok
    assert report.smtp is not None and report.smtp.title == f"SMTP {account.smtp.host}:{smtp_server.port}"


def test_a_test_that_runs_once_promises_no_retry() -> None:
    dropped = ConnectionProblem("conexion_perdida", "El servidor cortó la conexión; se reintentará más tarde.", transient=True)
    assert _failure_lines(dropped) == ("El servidor cortó la conexión; pruebe de nuevo en un momento.",)
    fault = InternalFault.from_exception(ConnectionError("x"), "la prueba")
    assert "ConnectionError" not in _failure_lines(fault)[0]


def test_ssl_on_a_plaintext_port_suggests_starttls(tmp_path: Path, clean_dovecot: DovecotServer, tls_certs) -> None:
    account = write_account(tmp_path, clean_dovecot, tls_certs).config().accounts["principal"]
    wrong = replace(account, port=clean_dovecot.ports.port_for("imap", "starttls"))  # security stays "ssl"
    text = _clean(probe_account(wrong))
    assert f"El puerto {wrong.port} de {wrong.host} no usa SSL/TLS desde el inicio: respondió sin cifrar como IMAP" in text
    assert "STARTTLS" in text
