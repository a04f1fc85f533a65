"""Connecting, logging in and failing well, against real servers on loopback."""

from __future__ import annotations

import base64
import imaplib
import logging
import poplib
import socket
import ssl
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.servers.certs import TestCertificates
from tests.servers.dovecot import RECEPCION, TILDES, DovecotServer
from tests.servers.endpoints import TEST_HOST, dovecot_endpoint, smtp_endpoint
from tests.servers.net import hangup_server, scripted_server, tls_handshake_server
from tests.servers.smtp import SMTP_USER, SMTP_USER_TILDES, SmtpServer
from tui_recepcion.errors import AuthenticationFailed, ConfigError, ConnectionProblem
from tui_recepcion.mailbox.transport import (
    Endpoint,
    connect_imap,
    connect_pop3,
    connect_smtp,
    login_imap,
    login_pop3,
    login_smtp,
    negotiated_tls,
    tls_context,
)
from tui_recepcion.mailbox.transport.faults import Peer, translate
from tui_recepcion.secrets import Secret

WRONG = Secret("Contraseña-Equivocada-81!")


def _all_text(problem: BaseException) -> str:
    """Everything a log or a screen could show about an exception."""
    return str(problem) + repr(problem) + "".join(traceback.format_exception(problem))


# --- Endpoint and TLS context -------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"port": 0}, "puerto 0"),
        ({"port": 70000}, "puerto 70000"),
        ({"security": "tls"}, "seguridad «tls»"),
        ({"host": ""}, "servidor «»"),
        ({"timeout": 0}, "tiempo de espera"),
    ],
)
def test_endpoint_rejects_bad_values_in_spanish(fields: dict[str, object], fragment: str) -> None:
    values: dict[str, object] = {"host": "imap.prueba.co", "port": 993, "security": "ssl", **fields}
    with pytest.raises(ConfigError, match=fragment):
        Endpoint(**values)  # type: ignore[arg-type]


def test_tls_context_always_verifies(tls_certs: TestCertificates) -> None:
    context = tls_context(Endpoint("localhost", 993, "ssl", ca_file=tls_certs.ca_file))
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    # the extra CA is added to the system ones, not instead of them
    assert len(context.get_ca_certs()) > 1


def test_unreadable_ca_file_is_a_clear_problem(tmp_path: Path) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("esto no es un certificado")
    for ca_file in (tmp_path / "no-existe.pem", not_pem):
        with pytest.raises(ConnectionProblem) as caught:
            tls_context(Endpoint("localhost", 993, "ssl", ca_file=ca_file))
        assert caught.value.code == "certificados_ca_invalidos"
        assert str(ca_file) in str(caught.value)


# --- connecting and logging in --------------------------------------------------------


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_imap_connects_with_tls_and_logs_in(
    clean_dovecot: DovecotServer, tls_certs: TestCertificates, security: str
) -> None:
    client = connect_imap(dovecot_endpoint(clean_dovecot, "imap", security, tls_certs.ca_file))
    tls = negotiated_tls(client)
    assert tls is not None and tls.version in ("TLSv1.2", "TLSv1.3")
    assert client._imap.state == "NONAUTH"  # connected, not logged in
    login_imap(client, RECEPCION.address, Secret(RECEPCION.password))
    assert client.select_folder("INBOX")[b"EXISTS"] == 0
    client.logout()


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_pop3_connects_with_tls_and_logs_in(
    clean_dovecot: DovecotServer, tls_certs: TestCertificates, security: str
) -> None:
    clean_dovecot.deliver(RECEPCION, [b"Subject: uno\r\n\r\nx\r\n"])
    client = connect_pop3(dovecot_endpoint(clean_dovecot, "pop3", security, tls_certs.ca_file))
    assert negotiated_tls(client) is not None
    login_pop3(client, RECEPCION.address, Secret(RECEPCION.password))
    assert client.stat()[0] == 1
    client.quit()


def test_non_ascii_passwords_log_in_everywhere(
    clean_dovecot: DovecotServer, clean_smtp: SmtpServer, tls_certs: TestCertificates
) -> None:
    password = Secret(TILDES.password)
    imap = connect_imap(dovecot_endpoint(clean_dovecot, "imap", "ssl", tls_certs.ca_file))
    login_imap(imap, TILDES.address, password)
    imap.logout()
    pop = connect_pop3(dovecot_endpoint(clean_dovecot, "pop3", "starttls", tls_certs.ca_file))
    login_pop3(pop, TILDES.address, password)
    pop.quit()
    smtp = connect_smtp(smtp_endpoint(clean_smtp, tls_certs.ca_file))
    login_smtp(smtp, SMTP_USER_TILDES.username, Secret(SMTP_USER_TILDES.password))
    smtp.sendmail("envios@prueba.co", ["respaldo@prueba.co"], b"Subject: n\r\n\r\nx\r\n")
    smtp.quit()
    assert clean_smtp.wait_for(1)[0].auth_user == SMTP_USER_TILDES.username


def test_imap_protocol_trace_is_built_only_for_a_debug_listener(
    clean_dovecot: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    # imaplib formats every traced line (a repr of each message read) before logging can
    # drop it, which made bulk fetches twice as expensive: no listener, no trace.
    quiet = connect_imap(dovecot_endpoint(clean_dovecot, "imap", "ninguna", None))
    assert quiet._imap.debug == 0
    quiet.logout()

    caplog.set_level(logging.DEBUG, logger="imapclient.imaplib")
    traced = connect_imap(dovecot_endpoint(clean_dovecot, "imap", "ninguna", None))
    traced.capabilities()
    traced.logout()
    assert any(record.name == "imapclient.imaplib" for record in caplog.records)


def test_password_with_a_newline_is_refused_without_sending_it(
    clean_dovecot: DovecotServer,
) -> None:
    client = connect_imap(dovecot_endpoint(clean_dovecot, "imap", "ninguna", None))
    with pytest.raises(AuthenticationFailed, match="salto de línea al final"):
        login_imap(client, RECEPCION.address, Secret(RECEPCION.password + "\n"))
    # the session is still unauthenticated and usable: nothing was sent
    login_imap(client, RECEPCION.address, Secret(RECEPCION.password))
    client.logout()


def test_plaintext_when_explicitly_allowed(clean_dovecot: DovecotServer) -> None:
    client = connect_imap(
        dovecot_endpoint(clean_dovecot, "imap", "ninguna", None, allow_plaintext=True)
    )
    assert negotiated_tls(client) is None
    login_imap(client, RECEPCION.address, Secret(RECEPCION.password))
    client.logout()


@pytest.mark.parametrize("connect", [connect_imap, connect_pop3, connect_smtp])
def test_plaintext_is_refused_before_connecting(connect, closed_port: int) -> None:
    # The port refuses connections: had it tried, the code would be conexion_rechazada.
    with pytest.raises(ConnectionProblem) as caught:
        connect(Endpoint("127.0.0.1", closed_port, "ninguna"))
    assert caught.value.code == "sin_cifrado_no_permitido"
    assert "permitir_sin_cifrado" in str(caught.value)
    assert not caught.value.transient


# --- SMTP ---------------------------------------------------------------------------


def _nodelay(client) -> bool:
    return client.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_smtp_starttls_login_and_send(clean_smtp: SmtpServer, tls_certs: TestCertificates) -> None:
    client = connect_smtp(smtp_endpoint(clean_smtp, tls_certs.ca_file))
    assert _nodelay(client)
    assert negotiated_tls(client) is not None
    login_smtp(client, SMTP_USER.username, Secret(SMTP_USER.password))
    client.sendmail("envios@prueba.co", ["respaldo@prueba.co"], b"Subject: reenvio\r\n\r\nx\r\n")
    client.quit()
    [received] = clean_smtp.wait_for(1)
    assert received.auth_user == SMTP_USER.username
    assert received.raw == b"Subject: reenvio\r\n\r\nx\r\n"


def test_smtp_implicit_tls_login(clean_smtps: SmtpServer, tls_certs: TestCertificates) -> None:
    client = connect_smtp(smtp_endpoint(clean_smtps, tls_certs.ca_file))
    assert _nodelay(client)
    tls = negotiated_tls(client)
    assert tls is not None and tls.version in ("TLSv1.2", "TLSv1.3")
    login_smtp(client, SMTP_USER.username, Secret(SMTP_USER.password))
    client.quit()


def test_smtp_wrong_password(clean_smtp: SmtpServer, tls_certs: TestCertificates) -> None:
    client = connect_smtp(smtp_endpoint(clean_smtp, tls_certs.ca_file))
    with pytest.raises(AuthenticationFailed) as caught:
        login_smtp(client, SMTP_USER.username, WRONG)
    client.close()
    assert caught.value.code == "credenciales_invalidas" and not caught.value.transient
    assert SMTP_USER.username in str(caught.value)
    assert WRONG.reveal() not in _all_text(caught.value)


def test_smtp_without_starttls_aborts(
    smtp_sin_starttls_server: SmtpServer, tls_certs: TestCertificates
) -> None:
    endpoint = Endpoint(
        TEST_HOST, smtp_sin_starttls_server.port, "starttls", ca_file=tls_certs.ca_file
    )
    with pytest.raises(ConnectionProblem) as caught:
        connect_smtp(endpoint)
    assert caught.value.code == "starttls_no_ofrecido"


# --- certificate problems -----------------------------------------------------------


def _certificate_problem(cert: Path, key: Path, ca_file: Path | None) -> ConnectionProblem:
    with tls_handshake_server(cert, key) as port, pytest.raises(ConnectionProblem) as caught:
        connect_imap(Endpoint(TEST_HOST, port, "ssl", ca_file=ca_file, timeout=5))
    assert caught.value.code == "certificado_no_confiable"
    assert not caught.value.transient
    assert f"{TEST_HOST}:{port}" in str(caught.value)
    assert "certificados_ca" in str(caught.value)
    return caught.value


def test_certificate_from_unknown_authority(clean_dovecot: DovecotServer) -> None:
    # The real Dovecot, without the test CA: only the system CAs are trusted.
    with pytest.raises(ConnectionProblem) as caught:
        connect_imap(dovecot_endpoint(clean_dovecot, "imap", "ssl", None))
    assert caught.value.code == "certificado_no_confiable"
    assert "autoridad certificadora que este equipo no reconoce" in str(caught.value)


def test_certificate_from_another_authority(tls_certs: TestCertificates) -> None:
    stranger = tls_certs.untrusted_ca.issue()
    problem = _certificate_problem(stranger.cert, stranger.key, tls_certs.ca_file)
    assert "no reconoce" in str(problem)


def test_self_signed_certificate(tls_certs: TestCertificates) -> None:
    ca = tls_certs.untrusted_ca
    assert "autofirmado" in str(_certificate_problem(ca.cert, ca.key, tls_certs.ca_file))


def test_expired_certificate(tls_certs: TestCertificates) -> None:
    now = datetime.now(UTC)
    expired = tls_certs.ca.issue(
        not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
    )
    assert "vencido" in str(_certificate_problem(expired.cert, expired.key, tls_certs.ca_file))


def test_certificate_for_another_name(tls_certs: TestCertificates) -> None:
    other = tls_certs.ca.issue("correo.otra-empresa.co", ("DNS:correo.otra-empresa.co",))
    problem = _certificate_problem(other.cert, other.key, tls_certs.ca_file)
    assert "no corresponde al nombre" in str(problem)


def test_ssl_against_a_plaintext_port_is_a_tls_failure(
    clean_dovecot: DovecotServer, tls_certs: TestCertificates
) -> None:
    endpoint = Endpoint(
        TEST_HOST, clean_dovecot.ports.imap, "ssl", ca_file=tls_certs.ca_file, timeout=5
    )
    with pytest.raises(ConnectionProblem) as caught:
        connect_imap(endpoint)
    assert caught.value.code == "tls_fallido"
    assert "STARTTLS" in str(caught.value)


# --- the connection drops or the server misbehaves -------------------------------------


def test_server_that_hangs_up_is_a_lost_connection() -> None:
    with hangup_server() as port, pytest.raises(ConnectionProblem) as caught:
        connect_pop3(Endpoint("127.0.0.1", port, "ninguna", allow_plaintext=True, timeout=5))
    assert caught.value.code == "conexion_perdida"
    assert caught.value.transient


def test_server_echoing_the_password_is_scrubbed() -> None:
    secret = Secret("Eco-Secreto-55!")

    def answer(line: bytes) -> bytes | None:
        if line.startswith(b"PASS "):
            return b"-ERR [AUTH] la clave " + line[5:].strip() + b" no sirve\r\n"
        return b"+OK\r\n"

    with scripted_server(b"+OK listo\r\n", answer) as port:
        client = connect_pop3(
            Endpoint("127.0.0.1", port, "ninguna", allow_plaintext=True, timeout=5)
        )
        with pytest.raises(AuthenticationFailed) as caught:
            login_pop3(client, "recepcion@prueba.co", secret)
        client.close()
    assert "respuesta: [AUTH] la clave ******** no sirve" in str(caught.value)
    assert secret.reveal() not in _all_text(caught.value)


def test_temporary_login_failure_is_transient_not_bad_credentials() -> None:
    def answer(line: bytes) -> bytes | None:
        if line.startswith(b"PASS "):
            return b"-ERR [SYS/TEMP] Servicio no disponible\r\n"
        return b"+OK\r\n"

    with scripted_server(b"+OK listo\r\n", answer) as port:
        client = connect_pop3(
            Endpoint("127.0.0.1", port, "ninguna", allow_plaintext=True, timeout=5)
        )
        with pytest.raises(ConnectionProblem) as caught:
            login_pop3(client, "recepcion@prueba.co", Secret("x"))
        client.close()
    assert not isinstance(caught.value, AuthenticationFailed)
    assert caught.value.code == "protocolo" and caught.value.transient


# --- the secret never shows -----------------------------------------------------------


def test_password_never_reaches_exceptions_or_logs(
    clean_dovecot: DovecotServer,
    clean_smtp: SmtpServer,
    tls_certs: TestCertificates,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert imaplib.Debug == 0  # library tracing stays off (poplib's is checked per client)
    caplog.set_level(logging.DEBUG)
    good = Secret(RECEPCION.password)
    problems: list[ConnectionProblem] = []

    imap = connect_imap(dovecot_endpoint(clean_dovecot, "imap", "starttls", tls_certs.ca_file))
    with pytest.raises(AuthenticationFailed) as caught:
        login_imap(imap, RECEPCION.address, WRONG)
    problems.append(caught.value)
    imap.shutdown()
    imap = connect_imap(dovecot_endpoint(clean_dovecot, "imap", "ssl", tls_certs.ca_file))
    login_imap(imap, RECEPCION.address, good)
    imap.logout()

    pop = connect_pop3(dovecot_endpoint(clean_dovecot, "pop3", "ssl", tls_certs.ca_file))
    assert pop._debugging == 0
    with pytest.raises(AuthenticationFailed) as caught:
        login_pop3(pop, RECEPCION.address, WRONG)
    problems.append(caught.value)
    pop.close()
    pop = connect_pop3(dovecot_endpoint(clean_dovecot, "pop3", "starttls", tls_certs.ca_file))
    login_pop3(pop, RECEPCION.address, good)
    pop.quit()

    smtp = connect_smtp(smtp_endpoint(clean_smtp, tls_certs.ca_file))
    with pytest.raises(AuthenticationFailed) as caught:
        login_smtp(smtp, SMTP_USER.username, WRONG)
    problems.append(caught.value)
    smtp.close()

    assert any("imapclient" in r.name for r in caplog.records)  # DEBUG logging was captured
    for secret in (WRONG.reveal(), good.reveal(), SMTP_USER.password):
        # neither in clear nor as the SASL PLAIN blob that carries it
        blob = base64.b64encode(f"\0{RECEPCION.address}\0{secret}".encode()).decode()
        assert secret not in caplog.text and blob not in caplog.text
        for problem in problems:
            assert secret not in _all_text(problem)


@pytest.mark.parametrize("error", [imaplib.IMAP4.error(None), poplib.error_proto(), imaplib.IMAP4.error(b"")],
                         ids=["none", "empty", "empty-bytes"])
def test_a_protocol_answer_without_text_is_said_so_in_spanish(error: Exception) -> None:
    problem = translate(error, Peer("IMAP", "imap.empresa.co", 993))
    assert problem is not None
    assert "None" not in str(problem) and type(error).__name__ not in str(problem)
    assert "sin texto del servidor" in str(problem)
