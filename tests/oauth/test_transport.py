"""XOAUTH2 logins against real servers: Dovecot (oauth2 passdb) for IMAP/POP3, aiosmtpd for SMTP."""

from __future__ import annotations

import secrets
import traceback
from collections.abc import Callable, Iterator

import pytest

from tests.servers.certs import TestCertificates
from tests.servers.dovecot import RECEPCION, RESPALDO, DovecotServer
from tests.servers.endpoints import dovecot_endpoint, smtp_endpoint
from tests.servers.oauth import TokenRegistry
from tests.servers.smtp import SmtpServer
from tui_recepcion.errors import AuthenticationFailed, ConnectionProblem
from tui_recepcion.mailbox.transport import (
    close_quietly,
    connect_imap,
    connect_pop3,
    connect_smtp,
    oauth2_login_imap,
    oauth2_login_pop3,
    oauth2_login_smtp,
)
from tui_recepcion.secrets import Secret


@pytest.fixture
def token(oauth_tokens: TokenRegistry) -> Iterator[str]:
    """A fresh access token the servers accept for the reception mailbox."""
    value = oauth_tokens.issue(f"at-{secrets.token_hex(16)}", RECEPCION.address)
    yield value
    oauth_tokens.revoke(value)


def _rejected(login: Callable[[], None], token: str) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as caught:
        login()
    failure = caught.value
    text = str(failure) + repr(failure) + "".join(traceback.format_exception(failure))
    assert token not in text
    assert failure.code == "credenciales_invalidas" and not failure.transient
    assert "token OAuth2" in str(failure) and "tui-recepcion autorizar" in str(failure)
    return failure


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_imap_logs_in_with_a_valid_token(
    dovecot_oauth2: DovecotServer, tls_certs: TestCertificates, token: str, security: str
) -> None:
    client = connect_imap(dovecot_endpoint(dovecot_oauth2, "imap", security, tls_certs.ca_file))
    try:
        oauth2_login_imap(client, RECEPCION.address, Secret(token))
        assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] >= 0
    finally:
        client.logout()
    assert f"user=<{RECEPCION.address}>, method=XOAUTH2" in dovecot_oauth2.log_tail()


@pytest.mark.parametrize("kind", ["invalido", "vencido", "de_otro_usuario"])
def test_imap_refuses_an_invalid_expired_or_foreign_token(
    dovecot_oauth2: DovecotServer, tls_certs: TestCertificates, oauth_tokens: TokenRegistry, kind: str
) -> None:
    value = f"at-{kind}-{secrets.token_hex(8)}"
    if kind == "vencido":  # issued, then expired: introspection says it is no longer active
        oauth_tokens.issue(value, RECEPCION.address)
        oauth_tokens.revoke(value)
    elif kind == "de_otro_usuario":
        oauth_tokens.issue(value, RESPALDO.address)
    client = connect_imap(dovecot_endpoint(dovecot_oauth2, "imap", "ssl", tls_certs.ca_file))
    try:
        failure = _rejected(lambda: oauth2_login_imap(client, RECEPCION.address, Secret(value)), value)
    finally:
        close_quietly(client)
    assert "IMAP localhost" in str(failure) and RECEPCION.address in str(failure)


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_pop3_logs_in_with_a_valid_token(
    dovecot_oauth2: DovecotServer, tls_certs: TestCertificates, token: str, security: str
) -> None:
    client = connect_pop3(dovecot_endpoint(dovecot_oauth2, "pop3", security, tls_certs.ca_file))
    try:
        oauth2_login_pop3(client, RECEPCION.address, Secret(token))
        assert client.stat()[0] >= 0
    finally:
        client.quit()


@pytest.mark.parametrize("expired", [False, True])
def test_pop3_refuses_an_invalid_or_expired_token(
    dovecot_oauth2: DovecotServer, tls_certs: TestCertificates, oauth_tokens: TokenRegistry, expired: bool
) -> None:
    value = f"at-pop3-{secrets.token_hex(8)}"
    if expired:
        oauth_tokens.issue(value, RECEPCION.address)
        oauth_tokens.revoke(value)
    client = connect_pop3(dovecot_endpoint(dovecot_oauth2, "pop3", "ssl", tls_certs.ca_file))
    try:
        failure = _rejected(lambda: oauth2_login_pop3(client, RECEPCION.address, Secret(value)), value)
    finally:
        close_quietly(client)
    assert "POP3 localhost" in str(failure)


def test_servers_without_xoauth2_are_reported_before_sending_the_token(
    clean_dovecot: DovecotServer, tls_certs: TestCertificates, token: str
) -> None:
    client = connect_imap(dovecot_endpoint(clean_dovecot, "imap", "ssl", tls_certs.ca_file))
    try:
        with pytest.raises(ConnectionProblem, match="no ofrece autenticación OAuth2") as caught:
            oauth2_login_imap(client, RECEPCION.address, Secret(token))
    finally:
        close_quietly(client)
    assert not isinstance(caught.value, AuthenticationFailed)
    assert "XOAUTH2" not in clean_dovecot.log_since_reset()  # nothing was attempted


def test_a_token_with_a_line_break_never_reaches_the_server(
    dovecot_oauth2: DovecotServer, tls_certs: TestCertificates
) -> None:
    client = connect_pop3(dovecot_endpoint(dovecot_oauth2, "pop3", "ssl", tls_certs.ca_file))
    try:
        with pytest.raises(AuthenticationFailed, match="caracteres no válidos"):
            oauth2_login_pop3(client, RECEPCION.address, Secret("at-1\r\nQUIT"))
    finally:
        close_quietly(client)


def test_smtp_logs_in_with_a_valid_token_and_sends(
    smtp_xoauth2_server: SmtpServer, tls_certs: TestCertificates, token: str
) -> None:
    smtp_xoauth2_server.clear()
    client = connect_smtp(smtp_endpoint(smtp_xoauth2_server, tls_certs.ca_file))
    try:
        oauth2_login_smtp(client, RECEPCION.address, Secret(token))
        client.sendmail(RECEPCION.address, [RESPALDO.address], b"Subject: prueba\r\n\r\nhola\r\n")
    finally:
        client.quit()
    [message] = smtp_xoauth2_server.wait_for(1)
    assert message.auth_user == RECEPCION.address


def test_smtp_refuses_an_invalid_token(smtp_xoauth2_server: SmtpServer, tls_certs: TestCertificates) -> None:
    value = f"at-smtp-{secrets.token_hex(8)}"
    client = connect_smtp(smtp_endpoint(smtp_xoauth2_server, tls_certs.ca_file))
    try:
        failure = _rejected(lambda: oauth2_login_smtp(client, RECEPCION.address, Secret(value)), value)
    finally:
        close_quietly(client)
    assert "535" in str(failure)


def test_smtp_without_xoauth2_is_a_protocol_problem(
    clean_smtp: SmtpServer, tls_certs: TestCertificates, token: str
) -> None:
    client = connect_smtp(smtp_endpoint(clean_smtp, tls_certs.ca_file))
    try:
        with pytest.raises(ConnectionProblem, match="no ofrece autenticación OAuth2") as caught:
            oauth2_login_smtp(client, RECEPCION.address, Secret(token))
    finally:
        close_quietly(client)
    assert caught.value.code == "protocolo" and not caught.value.transient
