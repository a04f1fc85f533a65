"""POP3: connect (implicit TLS or STLS) and log in with a password or an OAuth2 token.

poplib's line reading is replaced (`Pop3`, `Pop3Ssl`) so real mail with long lines can be
read and a connection cut mid-line is seen as a cut.
"""

from __future__ import annotations

import logging
import poplib
import socket
from typing import Any

from tui_recepcion.dian.limits import DEFAULT_LIMITS
from tui_recepcion.mailbox.transport import sasl
from tui_recepcion.mailbox.transport.client import close_quietly
from tui_recepcion.mailbox.transport.endpoint import Endpoint
from tui_recepcion.mailbox.transport.faults import Peer, Pop3Eof, clean_text, login_errors, server_errors
from tui_recepcion.mailbox.transport.login import client_peer, no_xoauth2, rejected_login, usable_password
from tui_recepcion.mailbox.transport.redaction import Redactor
from tui_recepcion.mailbox.transport.tls import context_for, starttls_missing
from tui_recepcion.secrets import Secret

log = logging.getLogger(__name__)

# poplib refuses lines over 2048 bytes, yet real mail carries longer ones (unwrapped HTML,
# a base64 attachment on one line). A message it cannot RETR would stay in the mailbox
# forever, so a line may be as long as the largest message processed; the engine never
# RETRs a message the listing says is larger (it is isolated as too large instead).
POP3_MAX_LINE = DEFAULT_LIMITS.max_message_bytes


class _LongLines:
    file: Any  # poplib's socket file, set by its constructor

    def _getline(self) -> tuple[bytes, int]:
        line: bytes = self.file.readline(POP3_MAX_LINE + 1)
        if len(line) > POP3_MAX_LINE:
            raise poplib.error_proto("línea demasiado larga")
        if not line.endswith(b"\n"):
            # Nothing, or the start of a line and then the end of the stream: the connection
            # dropped. poplib would take a cut "+O" for a "+OK" (and a cut "-ER" for a refusal).
            raise Pop3Eof()
        octets = len(line)
        if line[-2:] == b"\r\n":
            return line[:-2], octets
        if line[:1] == b"\r":
            return line[1:-1], octets
        return line[:-1], octets


class Pop3(_LongLines, poplib.POP3):
    pass


class Pop3Ssl(_LongLines, poplib.POP3_SSL):
    pass


def _capabilities(client: poplib.POP3) -> dict[str, list[str]]:
    try:
        return client.capa()
    except poplib.error_proto:  # CAPA is optional (RFC 2449); its absence is an answer
        return {}


def connect_pop3(endpoint: Endpoint) -> poplib.POP3:
    """A connected POP3 client (POP3_SSL for ssl, STLS for starttls); not logged in."""
    peer = Peer("POP3", endpoint.host, endpoint.port, endpoint.timeout)
    context = context_for(endpoint, peer.protocol)
    log.debug("Conectando a %s (%s)", peer.where, endpoint.security)
    with server_errors(peer):
        if endpoint.security == "ssl":
            client: poplib.POP3 = Pop3Ssl(
                endpoint.host, endpoint.port, timeout=endpoint.timeout, context=context
            )
        else:
            client = Pop3(endpoint.host, endpoint.port, timeout=endpoint.timeout)
        try:
            if endpoint.security == "starttls":
                if "STLS" not in _capabilities(client):
                    raise starttls_missing(peer)
                client.stls(context)
        except BaseException:
            close_quietly(client)
            raise
    return client


def _refusal(exc: poplib.error_proto, redact: Redactor) -> str | None:
    """The server's "-ERR" answer, or None when the error is not an answer (EOF, line too long).

    poplib raises `error_proto(line)` with the server's line as bytes; its own conditions
    (and ours, `_LongLines`) carry a str.
    """
    line = exc.args[0] if exc.args else None
    if not isinstance(line, bytes) or not line.startswith(b"-ERR"):
        return None
    return clean_text(line.decode("utf-8", "replace").removeprefix("-ERR"), redact)


def _ask(client: poplib.POP3, line: str, peer: Peer, username: str, redact: Redactor,
         *, token: bool = False) -> bytes:
    """Send one login line; a "-ERR" answer is a refusal, anything else propagates."""
    try:
        return client._shortcmd(line)  # type: ignore[attr-defined]  # private in typeshed
    except poplib.error_proto as exc:
        refusal = _refusal(exc, redact)
        if refusal is None:
            raise  # EOF, a line too long: not an answer about the credentials
        rejected_login(peer, username, refusal, token=token)


def login_pop3(client: poplib.POP3, username: str, secret: Secret) -> None:
    peer = client_peer(client, "POP3")
    password = usable_password(secret, username)
    redact = Redactor(secret, username)
    with login_errors(peer, redact):
        # poplib sends UTF-8, so USER/PASS carry any password
        _ask(client, f"USER {username}", peer, username, redact)
        _ask(client, f"PASS {password}", peer, username, redact)
    log.debug("Sesión POP3 iniciada como %s en %s", username, peer.where)


def oauth2_login_pop3(client: poplib.POP3, username: str, token: Secret) -> None:
    """AUTH XOAUTH2 in two steps (command, then the response after "+"), as Microsoft requires."""
    peer = client_peer(client, "POP3")
    blob = sasl.encoded(sasl.xoauth2_response(username, token))  # ASCII: checked by xoauth2_response
    redact = Redactor(token, username)
    with login_errors(peer, redact):
        capabilities = _capabilities(client)
        if capabilities and "XOAUTH2" not in [m.upper() for m in capabilities.get("SASL", [])]:
            raise no_xoauth2(peer)
        _ask(client, "AUTH XOAUTH2", peer, username, redact, token=True)
        reply = _ask(client, blob, peer, username, redact, token=True)
        if not reply.startswith(b"+OK"):
            # A "+ <error>" challenge (Dovecot, Gmail): an empty answer gets the verdict.
            _ask(client, "", peer, username, redact, token=True)
    log.debug("Sesión POP3 (OAuth2) iniciada como %s en %s", username, peer.where)


# --- pipelining (RFC 2449: only when the server advertises PIPELINING) ------------------------

def pipelining_offered(client: poplib.POP3) -> bool:
    """Whether the logged-in server accepts several commands before answering the first."""
    return "PIPELINING" in _capabilities(client)


def send_commands(client: poplib.POP3, lines: list[str]) -> None:
    """Write `lines` as commands in one send; their answers are read later, in order."""
    if lines:
        client.sock.sendall(b"".join(line.encode(client.encoding) + b"\r\n" for line in lines))


def read_status(client: poplib.POP3) -> bytes:
    """One single-line answer; `poplib.error_proto` carrying the line for a «-ERR»."""
    return client._getresp()  # type: ignore[attr-defined]  # private in typeshed


def read_message(client: poplib.POP3) -> bytes:
    """One RETR answer: the message with CRLF line ends; `poplib.error_proto` for a «-ERR»."""
    _response, lines, _octets = client._getlongresp()  # type: ignore[attr-defined]  # as above
    return b"\r\n".join(lines) + b"\r\n"


def set_no_delay(client: poplib.POP3) -> None:
    """TCP_NODELAY: a command written while answers are still due must leave at once."""
    client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
