"""SMTP: connect (implicit TLS or STARTTLS, then EHLO) and log in with a password or an OAuth2 token."""

from __future__ import annotations

import logging
import smtplib
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from tui_recepcion.errors import ConnectionProblem
from tui_recepcion.mailbox.transport import sasl
from tui_recepcion.mailbox.transport.client import close_quietly
from tui_recepcion.mailbox.transport.endpoint import Endpoint
from tui_recepcion.mailbox.transport.faults import Peer, login_errors, server_errors, server_text
from tui_recepcion.mailbox.transport.login import (
    client_peer,
    needs_utf8,
    no_plain_for_utf8,
    no_xoauth2,
    rejected_login,
    usable_password,
)
from tui_recepcion.mailbox.transport.redaction import Redactor
from tui_recepcion.mailbox.transport.tls import context_for, starttls_missing
from tui_recepcion.secrets import Secret

log = logging.getLogger(__name__)


def connect_smtp(endpoint: Endpoint) -> smtplib.SMTP:
    """A connected SMTP client after EHLO (SMTP_SSL for ssl, STARTTLS for starttls); not logged in.

    TCP_NODELAY is on: smtplib writes the end of DATA separately, and Nagle's algorithm
    with delayed ACKs would add ~40 ms to every forwarded message.
    """
    peer = Peer("SMTP", endpoint.host, endpoint.port, endpoint.timeout)
    context = context_for(endpoint, peer.protocol)
    # smtplib's default EHLO name comes from getfqdn(), a reverse DNS lookup that can stall.
    local_hostname = socket.gethostname() or "localhost"
    log.debug("Conectando a %s (%s)", peer.where, endpoint.security)
    with server_errors(peer):
        if endpoint.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                endpoint.host,
                endpoint.port,
                local_hostname=local_hostname,
                timeout=endpoint.timeout,
                context=context,
            )
        else:
            client = smtplib.SMTP(
                endpoint.host,
                endpoint.port,
                local_hostname=local_hostname,
                timeout=endpoint.timeout,
            )
        try:
            assert client.sock is not None  # the constructor connected
            client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.ehlo()
            if endpoint.security == "starttls":
                if not client.has_extn("starttls"):
                    raise starttls_missing(peer)
                client.starttls(context=context)
                client.ehlo()
        except BaseException:
            close_quietly(client)
            raise
    return client


def _plain_utf8(client: smtplib.SMTP, peer: Peer, username: str, password: str) -> None:
    """AUTH PLAIN with UTF-8 credentials, which smtplib's login() cannot encode."""
    client.ehlo_or_helo_if_needed()
    if not client.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("AUTH")
    if "PLAIN" not in client.esmtp_features["auth"].upper().split():
        raise no_plain_for_utf8(peer)
    blob = sasl.encoded(sasl.plain(username, password))
    code, reply = client.docmd("AUTH", "PLAIN " + blob)
    if code == 334:  # a server that wants the credentials after an empty challenge
        code, reply = client.docmd(blob)
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


# 5xx answers to AUTH that are about the command, not a verdict on the credentials.
_NOT_A_VERDICT = (500, 501, 502, 504)


@contextmanager
def _auth(peer: Peer, username: str, secret: Secret, *, token: bool = False) -> Iterator[None]:
    """Translate the outcome of an SMTP AUTH exchange (password or token)."""
    redact = Redactor(secret, username)
    with login_errors(peer, redact):
        try:
            yield
        except smtplib.SMTPNotSupportedError:
            raise ConnectionProblem(
                "protocolo",
                f"El servidor {peer.where} no ofrece autenticación (AUTH) en esta conexión; "
                "suele exigir STARTTLS o SSL/TLS antes.",
                transient=False,
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            text = server_text(exc, redact)
            code = exc.smtp_code
            if 400 <= code < 500:
                raise ConnectionProblem(
                    "protocolo",
                    f"El servidor {peer.where} no pudo autenticar a «{username}» por un problema "
                    f"temporal ({text}); se reintentará más tarde.",
                    transient=True,
                ) from None
            if not 500 <= code < 600:
                # smtplib reads a reply cut short ("23", nothing parsable: -1) as a code.
                raise ConnectionProblem(
                    "conexion_perdida",
                    f"Se perdió la conexión con {peer.where} durante la autenticación "
                    f"(respuesta incompleta: {text}).",
                    transient=True,
                ) from None
            if code in _NOT_A_VERDICT:
                raise ConnectionProblem(
                    "protocolo",
                    f"El servidor {peer.where} no aceptó la orden de autenticación ({text}).",
                    transient=False,
                ) from None
            rejected_login(peer, username, text, token=token)


def login_smtp(client: smtplib.SMTP, username: str, secret: Secret) -> None:
    peer = client_peer(client, "SMTP")
    password = usable_password(secret, username)
    with _auth(peer, username, secret):
        if needs_utf8(username, password):
            _plain_utf8(client, peer, username, password)
        else:
            client.login(username, password)
    log.debug("Sesión SMTP iniciada como %s en %s", username, peer.where)


def oauth2_login_smtp(client: smtplib.SMTP, username: str, token: Secret) -> None:
    """AUTH XOAUTH2 with the initial response; an error challenge is answered empty (RFC 4954)."""
    peer = client_peer(client, "SMTP")
    response = sasl.xoauth2_response(username, token)
    with _auth(peer, username, token, token=True):
        client.ehlo_or_helo_if_needed()
        if not client.has_extn("auth"):
            raise smtplib.SMTPNotSupportedError("AUTH")
        if "XOAUTH2" not in client.esmtp_features["auth"].upper().split():
            raise no_xoauth2(peer)
        client.auth("XOAUTH2", lambda challenge=None: response if challenge is None else "")
    log.debug("Sesión SMTP (OAuth2) iniciada como %s en %s", username, peer.where)
