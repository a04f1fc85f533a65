"""IMAP: connect (implicit TLS or STARTTLS) and log in with a password or an OAuth2 token."""

from __future__ import annotations

import imaplib
import logging
import socket

from imapclient import IMAPClient  # type: ignore[import-untyped]  # IMAPClient ships no py.typed

from tui_recepcion.errors import ConnectionProblem
from tui_recepcion.mailbox.transport import sasl
from tui_recepcion.mailbox.transport.client import close_quietly
from tui_recepcion.mailbox.transport.endpoint import Endpoint
from tui_recepcion.mailbox.transport.faults import Peer, clean_text, login_errors, server_errors, server_text
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


def _quiet_protocol_trace(client: IMAPClient) -> None:
    """Turn off imaplib's protocol trace unless someone listens to it at DEBUG.

    IMAPClient enables the trace and routes it to its logger, but imaplib formats each line
    (the repr of every message it reads) before the logger can drop it: in a bulk fetch that
    formatting cost more CPU than reading the mail itself.
    """
    if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
        client._imap.debug = 0


def _no_delay(client: IMAPClient) -> None:
    """TCP_NODELAY: a command written while an answer is still due (pipelining) must leave
    now, not when the previous segment is acknowledged (Nagle), a round trip later."""
    sock = getattr(client._imap, "sock", None)
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def connect_imap(endpoint: Endpoint) -> IMAPClient:
    """A connected IMAP client with TLS established as `endpoint.security` says; not logged in."""
    peer = Peer("IMAP", endpoint.host, endpoint.port, endpoint.timeout)
    context = context_for(endpoint, peer.protocol)
    log.debug("Conectando a %s (%s)", peer.where, endpoint.security)
    with server_errors(peer):
        client = IMAPClient(
            endpoint.host,
            endpoint.port,
            ssl=endpoint.security == "ssl",
            ssl_context=context,
            timeout=endpoint.timeout,
        )
        _quiet_protocol_trace(client)
        _no_delay(client)
        try:
            if endpoint.security == "starttls":
                if not client.has_capability("STARTTLS"):
                    raise starttls_missing(peer)
                client.starttls(context)
        except BaseException:
            close_quietly(client)
            raise
    return client


def _exchange(client: IMAPClient, command: str, *args: str, response: str | None = None) -> tuple[str, str]:
    """Run LOGIN or AUTHENTICATE with imaplib itself; (tagged status, server text).

    IMAPClient's login methods turn every imaplib error into LoginError, a lost connection
    (IMAP4.abort) included, which made a cut look like a wrong password. Here a tagged NO
    is the only answer returned; IMAP4.abort and IMAP4.error (a BAD) propagate as they are.
    `response` is the SASL initial response, sent (base64) after the first "+" challenge;
    a later challenge (an error report, as XOAUTH2 servers send) is answered empty.
    """
    imap: imaplib.IMAP4 = client._imap
    if response is not None:
        responses = iter([response])
        # imaplib sends a literal produced by a bound method: its own base64 SASL helper.
        # typeshed types `literal` as the str it usually is; imaplib itself accepts a callable.
        imap.literal = imaplib._Authenticator(lambda _challenge: next(responses, "")).process  # type: ignore[assignment]
    typ, data = imap._simple_command(command, *args)
    if typ == "OK":
        imap.state = "AUTH"
    text = data[-1] if data else b""
    return typ, text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _bad(peer: Peer, exc: imaplib.IMAP4.error, redact: Redactor) -> ConnectionProblem:
    return ConnectionProblem(
        "protocolo",
        f"El servidor {peer.where} no aceptó la orden de inicio de sesión "
        f"({server_text(exc, redact)}); se reintentará más tarde.",
        transient=True,
    )


def login_imap(client: IMAPClient, username: str, secret: Secret) -> None:
    """LOGIN, or AUTHENTICATE PLAIN when the server offers it (preferred: the password then
    travels base64 in SASL, never as the quoted string some servers echo in a NO)."""
    peer = client_peer(client, "IMAP")
    password = usable_password(secret, username)
    redact = Redactor(secret, username)
    with login_errors(peer, redact):
        try:
            if client.has_capability("AUTH=PLAIN") and client.has_capability("SASL-IR"):
                # RFC 4959: the response travels with the command, one round trip instead of two.
                typ, text = _exchange(client, "AUTHENTICATE", "PLAIN", sasl.encoded(sasl.plain(username, password)))
            elif client.has_capability("AUTH=PLAIN"):
                typ, text = _exchange(client, "AUTHENTICATE", "PLAIN", response=sasl.plain(username, password))
            elif not needs_utf8(username, password):
                quote = client._imap._quote
                typ, text = _exchange(client, "LOGIN", quote(username), quote(password))
            else:
                raise no_plain_for_utf8(peer)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            raise _bad(peer, exc, redact) from None
        if typ != "OK":
            rejected_login(peer, username, clean_text(text, redact))
    log.debug("Sesión IMAP iniciada como %s en %s", username, peer.where)


def oauth2_login_imap(client: IMAPClient, username: str, token: Secret) -> None:
    """AUTHENTICATE XOAUTH2 with an access token; AuthenticationFailed if it is refused."""
    peer = client_peer(client, "IMAP")
    response = sasl.xoauth2_response(username, token)
    redact = Redactor(token, username)
    with login_errors(peer, redact):
        if not client.has_capability("AUTH=XOAUTH2"):
            raise no_xoauth2(peer)
        try:
            typ, text = _exchange(client, "AUTHENTICATE", "XOAUTH2", response=response)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            raise _bad(peer, exc, redact) from None
        if typ != "OK":
            rejected_login(peer, username, clean_text(text, redact), token=True)
    log.debug("Sesión IMAP (OAuth2) iniciada como %s en %s", username, peer.where)
