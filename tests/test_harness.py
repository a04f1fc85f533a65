"""The test servers themselves work: every port and security, delivery, reset, SMTP."""

from __future__ import annotations

import poplib
import smtplib
import socket
import ssl
from dataclasses import replace
from email.message import EmailMessage

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from tests.servers.certs import TestCertificates
from tests.servers.dovecot import RECEPCION, RESPALDO, SIN_STARTTLS, DovecotError, DovecotServer
from tests.servers.net import tls_handshake_server
from tests.servers.smtp import SMTP_USER, SmtpServer


def _message(subject: str, body: str = "cuerpo") -> bytes:
    return f"From: a@prueba.co\r\nTo: b@prueba.co\r\nSubject: {subject}\r\n\r\n{body}\r\n".encode()


@pytest.fixture
def client_tls(tls_certs: TestCertificates) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_certs.ca_file))


# --- Dovecot: IMAP ------------------------------------------------------------------


def test_imap_login_plaintext(clean_dovecot: DovecotServer) -> None:
    client = IMAPClient(clean_dovecot.host, clean_dovecot.ports.imap, ssl=False, timeout=5)
    client.login(RECEPCION.address, RECEPCION.password)
    assert b"MOVE" in client.capabilities()
    client.logout()


def test_imap_login_starttls(clean_dovecot: DovecotServer, client_tls: ssl.SSLContext) -> None:
    client = IMAPClient("localhost", clean_dovecot.ports.imap, ssl=False, timeout=5)
    assert b"STARTTLS" in client.capabilities()
    client.starttls(client_tls)
    client.login(RECEPCION.address, RECEPCION.password)
    assert client.socket().version() in ("TLSv1.2", "TLSv1.3")
    client.logout()


def test_imap_login_implicit_tls(clean_dovecot: DovecotServer, client_tls: ssl.SSLContext) -> None:
    client = IMAPClient(
        "localhost", clean_dovecot.ports.imaps, ssl=True, ssl_context=client_tls, timeout=5
    )
    client.login(RESPALDO.address, RESPALDO.password)
    assert client.socket().version() in ("TLSv1.2", "TLSv1.3")
    client.logout()


def test_imap_rejects_wrong_password(clean_dovecot: DovecotServer) -> None:
    client = IMAPClient(clean_dovecot.host, clean_dovecot.ports.imap, ssl=False, timeout=5)
    with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
        client.login(RECEPCION.address, "otra")


def test_delivered_messages_are_visible_over_imap(clean_dovecot: DovecotServer) -> None:
    raws = [_message(f"n{i}") for i in range(3)]
    assert clean_dovecot.deliver(RECEPCION, raws) == 3
    stored = clean_dovecot.messages(RECEPCION)
    assert [m.raw for m in stored] == raws
    assert all("\\Seen" not in m.flags for m in stored)
    assert clean_dovecot.messages(RESPALDO) == []


def test_deliver_with_flags_into_a_new_folder(clean_dovecot: DovecotServer) -> None:
    clean_dovecot.deliver(
        RECEPCION, [_message("leído")], "Procesados", flags=["\\Seen", "\\Flagged"]
    )
    assert "Procesados" in clean_dovecot.folders(RECEPCION)
    [stored] = clean_dovecot.messages(RECEPCION, "Procesados")
    assert {"\\Seen", "\\Flagged"} <= stored.flags


def test_append_goes_through_imap(clean_dovecot: DovecotServer) -> None:
    clean_dovecot.append(RECEPCION, _message("por imap"), "Fallidos", flags=["\\Seen"])
    [stored] = clean_dovecot.messages(RECEPCION, "Fallidos")
    assert stored.raw == _message("por imap") and "\\Seen" in stored.flags


def test_reset_empties_messages_and_folders(dovecot: DovecotServer) -> None:
    dovecot.deliver(RECEPCION, [_message("x")])
    dovecot.create_folder(RECEPCION, "Procesados")
    dovecot.reset()
    assert dovecot.messages(RECEPCION) == []
    assert dovecot.folders(RECEPCION) == ["INBOX"]


def test_deliver_many_messages(clean_dovecot: DovecotServer) -> None:
    assert clean_dovecot.deliver(RECEPCION, (_message(f"m{i}") for i in range(1000))) == 1000
    with clean_dovecot.imap(RECEPCION) as client:
        assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] == 1000


# --- Dovecot: POP3 ------------------------------------------------------------------


def test_pop3_plaintext_sees_delivered_mail(clean_dovecot: DovecotServer) -> None:
    clean_dovecot.deliver(RECEPCION, [_message("pop")])
    client = poplib.POP3(clean_dovecot.host, clean_dovecot.ports.pop3, timeout=5)
    client.user(RECEPCION.address)
    client.pass_(RECEPCION.password)
    assert client.stat()[0] == 1
    _, lines, _ = client.retr(1)
    assert b"Subject: pop" in lines
    client.quit()


def test_pop3_stls(clean_dovecot: DovecotServer, client_tls: ssl.SSLContext) -> None:
    client = poplib.POP3("localhost", clean_dovecot.ports.pop3, timeout=5)
    client.stls(client_tls)
    client.user(RESPALDO.address)
    client.pass_(RESPALDO.password)
    assert client.stat() == (0, 0)
    client.quit()


def test_pop3_implicit_tls(clean_dovecot: DovecotServer, client_tls: ssl.SSLContext) -> None:
    clean_dovecot.deliver(RECEPCION, [_message("a"), _message("b")])
    client = poplib.POP3_SSL("localhost", clean_dovecot.ports.pop3s, timeout=5, context=client_tls)
    client.user(RECEPCION.address)
    client.pass_(RECEPCION.password)
    assert len(client.uidl()[1]) == 2
    client.quit()


# --- Dovecot variants ---------------------------------------------------------------


def test_variant_without_move_keeps_uidplus(clean_dovecot_sin_move: DovecotServer) -> None:
    with clean_dovecot_sin_move.imap(RECEPCION) as client:
        capabilities = client.capabilities()
    assert b"MOVE" not in capabilities
    assert {b"UIDPLUS", b"IDLE"} <= set(capabilities)


def test_variant_without_starttls(clean_dovecot_sin_starttls: DovecotServer) -> None:
    assert clean_dovecot_sin_starttls.ports.imaps is None
    client = IMAPClient(
        clean_dovecot_sin_starttls.host, clean_dovecot_sin_starttls.ports.imap, ssl=False, timeout=5
    )
    assert b"STARTTLS" not in client.capabilities()
    client.shutdown()
    pop = poplib.POP3(
        clean_dovecot_sin_starttls.host, clean_dovecot_sin_starttls.ports.pop3, timeout=5
    )
    assert "STLS" not in pop.capa()
    pop.quit()


def test_variant_with_namespace_prefix(clean_dovecot_con_prefijo: DovecotServer) -> None:
    server = clean_dovecot_con_prefijo
    assert server.mailbox_name("Procesados") == "INBOX.Procesados"
    assert server.mailbox_name("inbox") == "INBOX"
    server.deliver(RECEPCION, [_message("p")], server.mailbox_name("Procesados"))
    with server.imap(RECEPCION) as client:
        assert client.namespace().personal == (("INBOX.", "."),)
    assert server.folders(RECEPCION) == ["INBOX", "INBOX.Procesados"]
    assert len(server.messages(RECEPCION, "INBOX.Procesados")) == 1


def test_dovecot_that_cannot_start_fails_with_its_log(tls_certs: TestCertificates) -> None:
    broken = replace(SIN_STARTTLS, name="dovecot-roto", extra=("ajuste_que_no_existe = 1\n",))
    server = DovecotServer(broken, tls_certs.server)
    try:
        with pytest.raises(DovecotError, match="ajuste_que_no_existe"):
            server.start()
    finally:
        server.stop()


# --- SMTP ---------------------------------------------------------------------------


def _email(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "envios@prueba.co"
    message["To"] = "respaldo@prueba.co"
    message["Subject"] = subject
    message.set_content("hola\n")
    return message


def test_smtp_starttls_with_auth_receives_mail(
    clean_smtp: SmtpServer, client_tls: ssl.SSLContext
) -> None:
    with smtplib.SMTP("localhost", clean_smtp.port, timeout=5) as client:
        client.starttls(context=client_tls)
        client.login(SMTP_USER.username, SMTP_USER.password)
        client.send_message(_email("por starttls"))
    [received] = clean_smtp.wait_for(1)
    assert received.mail_from == "envios@prueba.co"
    assert received.rcpt_tos == ("respaldo@prueba.co",)
    assert received.auth_user == SMTP_USER.username
    assert b"Subject: por starttls" in received.raw


def test_smtp_implicit_tls_receives_mail(
    clean_smtps: SmtpServer, client_tls: ssl.SSLContext
) -> None:
    with smtplib.SMTP_SSL("localhost", clean_smtps.port, timeout=5, context=client_tls) as client:
        client.login(SMTP_USER.username, SMTP_USER.password)
        client.sendmail(
            "envios@prueba.co", ["a@prueba.co", "b@prueba.co"], b"Subject: crudo\r\n\r\nx\r\n"
        )
    [received] = clean_smtps.wait_for(1)
    assert received.rcpt_tos == ("a@prueba.co", "b@prueba.co")
    assert received.raw == b"Subject: crudo\r\n\r\nx\r\n"


def test_smtp_refuses_auth_before_starttls(clean_smtp: SmtpServer) -> None:
    with smtplib.SMTP(clean_smtp.host, clean_smtp.port, timeout=5) as client:
        client.ehlo()
        assert not client.has_extn("auth")
        with pytest.raises(smtplib.SMTPException):
            client.login(SMTP_USER.username, SMTP_USER.password)


def test_smtp_rejects_wrong_password(clean_smtp: SmtpServer, client_tls: ssl.SSLContext) -> None:
    with smtplib.SMTP("localhost", clean_smtp.port, timeout=5) as client:
        client.starttls(context=client_tls)
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login(SMTP_USER.username, "otra")
    assert clean_smtp.messages() == []


def test_smtp_wait_for_reports_a_shortfall(clean_smtp: SmtpServer) -> None:
    with pytest.raises(AssertionError, match="recibió 0 mensajes de 1"):
        clean_smtp.wait_for(1, timeout=0.05)


# --- network stand-ins --------------------------------------------------------------


def test_closed_port_refuses(closed_port: int) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", closed_port), timeout=2)


def test_silent_port_accepts_and_never_speaks(silent_port: int) -> None:
    with socket.create_connection(("127.0.0.1", silent_port), timeout=0.2) as sock:
        with pytest.raises(TimeoutError):
            sock.recv(1)


def test_tls_handshake_server_presents_its_certificate(tls_certs: TestCertificates) -> None:
    stranger = tls_certs.untrusted_ca.issue()
    with tls_handshake_server(stranger.cert, stranger.key) as port:
        trusting = ssl.create_default_context(cafile=str(tls_certs.untrusted_ca.cert))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with trusting.wrap_socket(raw, server_hostname="localhost") as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with pytest.raises(ssl.SSLCertVerificationError):
                ssl.create_default_context(cafile=str(tls_certs.ca_file)).wrap_socket(
                    raw, server_hostname="localhost"
                )
