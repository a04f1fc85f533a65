"""Connections to mail servers: TLS policy, connect and log in, and one error vocabulary.

Every connection verifies certificates (system CAs plus an optional extra bundle), checks
the host name, requires TLS 1.2 or newer, and has a socket timeout. STARTTLS that is not
offered or fails aborts the connection; plaintext needs an explicit opt-in. Whatever goes
wrong becomes a `ConnectionProblem` with a stable code and a Spanish message that never
contains the secret.

OAuth2 accounts log in with `oauth2_login_imap`/`oauth2_login_pop3`/`oauth2_login_smtp`
(SASL XOAUTH2, the mechanism Microsoft and Google accept); a refused token raises the same
`AuthenticationFailed` as a refused password, with a reason that says to authorise again.
"""

from __future__ import annotations

import base64
import imaplib
import logging
import poplib
import re
import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeAlias

from imapclient import IMAPClient

from tui_recepcion.dian.limits import DEFAULT_LIMITS
from tui_recepcion.errors import AuthenticationFailed, ConfigError, ConnectionProblem
from tui_recepcion.secrets import Secret

log = logging.getLogger(__name__)

Security = Literal["ssl", "starttls", "ninguna"]
SECURITIES: tuple[Security, ...] = ("ssl", "starttls", "ninguna")
MailClient: TypeAlias = IMAPClient | poplib.POP3 | smtplib.SMTP


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a mail service listens and how to secure the connection to it."""

    host: str
    port: int
    security: Security
    ca_file: Path | None = None  # extra CA bundle (`certificados_ca`); system CAs stay trusted
    allow_plaintext: bool = False  # `permitir_sin_cifrado`; required for security "ninguna"
    timeout: float = 30.0  # seconds, for connecting and for every read

    def __post_init__(self) -> None:
        if not self.host or self.host != self.host.strip():
            raise ConfigError(f"El servidor «{self.host}» no es un nombre de host válido.")
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"El puerto {self.port} no es válido: debe estar entre 1 y 65535.")
        if self.security not in SECURITIES:
            raise ConfigError(
                f"La seguridad «{self.security}» no es válida: use ssl, starttls o ninguna."
            )
        if not self.timeout > 0:
            raise ConfigError(
                f"El tiempo de espera {self.timeout} no es válido: debe ser positivo."
            )


@dataclass(frozen=True, slots=True)
class TlsInfo:
    version: str  # e.g. "TLSv1.3"
    cipher: str  # e.g. "TLS_AES_256_GCM_SHA384"


@dataclass(frozen=True, slots=True)
class _Peer:
    """What error messages need to say where the failure happened."""

    protocol: str  # "IMAP", "POP3" or "SMTP"
    host: str
    port: int
    timeout: float | None = None

    @property
    def where(self) -> str:
        return f"{self.protocol} {self.host}:{self.port}"


# --- TLS --------------------------------------------------------------------------


def tls_context(endpoint: Endpoint) -> ssl.SSLContext:
    """A verifying client context: system CAs plus `ca_file`, host name checked, TLS >= 1.2."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    if endpoint.ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(endpoint.ca_file))
        except (OSError, ssl.SSLError) as exc:
            reason = (
                exc.strerror
                if isinstance(exc, OSError) and exc.strerror
                else "no contiene certificados PEM válidos"
            )
            raise ConnectionProblem(
                "certificados_ca_invalidos",
                f"No se pudo cargar el archivo de certificados_ca «{endpoint.ca_file}»: {reason}.",
                transient=False,
            ) from exc
    return context


def _socket_of(client: MailClient) -> socket.socket | None:
    """The client's connected socket (a TLS one after STARTTLS), or None if it has none."""
    if isinstance(client, IMAPClient):
        return getattr(client._imap, "sock", None)
    return getattr(client, "sock", None)


def negotiated_tls(client: MailClient) -> TlsInfo | None:
    """The TLS version and cipher of a connected client, or None if it is in plaintext."""
    sock = _socket_of(client)
    if not isinstance(sock, ssl.SSLSocket):
        return None
    cipher = sock.cipher()
    return TlsInfo(version=sock.version() or "?", cipher=cipher[0] if cipher else "?")


def _context_for(endpoint: Endpoint, protocol: str) -> ssl.SSLContext | None:
    """The TLS context to use, or None for an allowed plaintext connection."""
    if endpoint.security != "ninguna":
        return tls_context(endpoint)
    if not endpoint.allow_plaintext:
        raise ConnectionProblem(
            "sin_cifrado_no_permitido",
            f"La conexión {protocol} con {endpoint.host}:{endpoint.port} sería sin cifrado "
            "(seguridad «ninguna»): la contraseña viajaría legible por la red. Elija SSL/TLS o "
            "STARTTLS, o active permitir_sin_cifrado = true si de verdad lo necesita.",
            transient=False,
        )
    log.warning(
        "Conexión %s sin cifrado con %s:%d (permitida)", protocol, endpoint.host, endpoint.port
    )
    return None


# --- error translation --------------------------------------------------------------

_CERTIFICATE_REASONS = {
    9: "el certificado todavía no es válido (revise también la fecha y hora de este equipo)",
    10: "el certificado está vencido",
    18: "el certificado es autofirmado",
    19: "la cadena termina en una autoridad autofirmada que este equipo no reconoce",
    20: "lo emitió una autoridad certificadora que este equipo no reconoce",
    21: "lo emitió una autoridad certificadora que este equipo no reconoce",
    23: "el certificado fue revocado",
    62: "el certificado no corresponde al nombre del servidor",
    64: "el certificado no corresponde a la dirección IP del servidor",
}

# Response codes that mean "try again later", not "wrong password".
_TEMPORARY_MARKERS = ("[UNAVAILABLE]", "[SYS/TEMP]", "[IN-USE]", "[LOGIN-DELAY]", "[INUSE]")


class _Redactor:
    """Removes a secret from server text in every form a server could echo it back.

    A server that repeats the client's line in its reply (some do, in a NO, -ERR or 535)
    shows the secret as the client sent it: raw (POP3 PASS), IMAP-quoted with `\\` and `"`
    escaped (LOGIN), or base64 (SASL PLAIN, XOAUTH2, SMTP AUTH LOGIN); libraries then add
    their own escaping (`repr` of bytes in imaplib and poplib messages). Every one of those
    forms is replaced; whitespace inside a form matches any run of whitespace, so collapsing
    a reply onto one line cannot make a form unrecognisable.
    """

    MASK = "********"

    def __init__(self, secret: Secret | None, username: str = "") -> None:
        value = secret.reveal() if secret is not None else ""
        forms = _secret_forms(value, username) if value else set()
        patterns = sorted({_flexible(form) for form in forms if form.strip()}, key=len, reverse=True)
        self._pattern = re.compile("|".join(patterns), re.IGNORECASE) if patterns else None

    def __call__(self, text: str) -> str:
        return self._pattern.sub(self.MASK, text) if self._pattern is not None else text


_NO_SECRET = _Redactor(None)


def _flexible(form: str) -> str:
    parts = [re.escape(part) for part in re.split(r"\s+", form.strip())]
    return r"\s+".join(parts)


def _escaped_forms(text: str) -> set[str]:
    """`text` and what quoting and `repr` make of it (IMAP quoted string, str and bytes repr)."""
    imap_quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    forms = {text, imap_quoted}
    for form in (text, imap_quoted):
        # repr, one character (or byte) at a time, leaves quotes alone; in context repr
        # escapes `'` when the text also holds `"`, so both variants are kept.
        as_str = "".join(repr(c)[1:-1] for c in form)
        as_bytes = "".join(repr(bytes([b]))[2:-1] for b in form.encode("utf-8", "surrogateescape"))
        forms.update({as_str, as_bytes, as_str.replace("'", "\\'"), as_bytes.replace("'", "\\'")})
    return forms


def _secret_forms(value: str, username: str) -> set[str]:
    """Every form of `value` a login sends or a library writes (see `_Redactor`)."""
    sent = [
        value,
        f"\0{username}\0{value}",  # SASL PLAIN, empty authorisation identity
        f"{username}\0{username}\0{value}",  # SASL PLAIN, authorisation identity = user
        f"user={username}\x01auth=Bearer {value}\x01\x01",  # XOAUTH2
        f"user={username}\x01auth=Bearer {value}\x01",
    ]
    forms = _escaped_forms(value)
    for blob in sent:
        forms.add(base64.b64encode(blob.encode("utf-8", "surrogateescape")).decode("ascii"))
    return forms


def _server_text(exc: BaseException, redact: _Redactor = _NO_SECRET) -> str:
    """The server's words from an exception, short, on one line and without the secret."""
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        text = f"{exc.smtp_code} {error.decode(errors='replace') if isinstance(error, bytes) else error}"
    else:
        text = " ".join(
            a.decode(errors="replace") if isinstance(a, bytes) else str(a) for a in exc.args
        )
    return _clean_text(text, redact) or type(exc).__name__


def _clean_text(text: str, redact: _Redactor = _NO_SECRET) -> str:
    """Server text redacted first (before anything could cut a secret in two), then tidied."""
    text = redact(text)
    quoted = re.fullmatch(r"b(['\"])(.*)\1", text, flags=re.DOTALL)  # imapclient's str(bytes)
    if quoted:
        text = quoted.group(2)
    return redact(" ".join(text.split()))[:200]


class _Pop3Eof(poplib.error_proto):
    """The POP3 server closed the connection (or it dropped) in the middle of an answer."""

    def __init__(self) -> None:
        super().__init__("-ERR EOF")


def _is_lost_connection(exc: Exception) -> bool:
    """The server went away mid-conversation (each library says it differently)."""
    if isinstance(exc, (imaplib.IMAP4.abort, smtplib.SMTPServerDisconnected, EOFError, _Pop3Eof)):
        return True
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)):
        return True  # the TLS stream ended without a goodbye: a cut, not a TLS policy failure
    return isinstance(exc, poplib.error_proto) and exc.args == ("-ERR EOF",)  # poplib's own


def _pop3_refusal(exc: poplib.error_proto, redact: _Redactor) -> str | None:
    """The server's "-ERR" answer, or None when the error is not an answer (EOF, line too long).

    poplib raises `error_proto(line)` with the server's line as bytes; its own conditions
    (and ours, `_LongLines`) carry a str.
    """
    line = exc.args[0] if exc.args else None
    if not isinstance(line, bytes) or not line.startswith(b"-ERR"):
        return None
    return _clean_text(line.decode("utf-8", "replace").removeprefix("-ERR"), redact)


def _certificate_problem(exc: ssl.SSLCertVerificationError, peer: _Peer) -> ConnectionProblem:
    reason = _CERTIFICATE_REASONS.get(
        exc.verify_code, exc.verify_message or exc.reason or "motivo desconocido"
    )
    return ConnectionProblem(
        "certificado_no_confiable",
        f"El certificado del servidor {peer.where} no es de confianza: {reason}. "
        "Si la empresa usa su propia autoridad certificadora, indique su archivo PEM en "
        "«certificados_ca»; la verificación no se desactiva.",
        transient=False,
    )


def _translate(
    exc: Exception, peer: _Peer, redact: _Redactor = _NO_SECRET
) -> ConnectionProblem | None:
    """The ConnectionProblem for a low-level failure, or None if it is not a connection failure."""
    if isinstance(exc, socket.gaierror):
        return ConnectionProblem(
            "host_desconocido",
            f"No se encontró el servidor «{peer.host}»: el nombre no existe en DNS o no hay "
            "conexión a internet. Revise el campo Servidor.",
            transient=exc.errno == socket.EAI_AGAIN,
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _certificate_problem(exc, peer)
    if isinstance(exc, TimeoutError) or _after_timeout(exc):
        waited = " a tiempo"
        if peer.timeout:  # None or 0 when the socket had no timeout (or it is unknown)
            waited = " en " + f"{peer.timeout:g}".replace(".", ",") + " s"  # decimal comma
        return ConnectionProblem(
            "tiempo_agotado",
            f"El servidor {peer.where} no respondió{waited}. Revise el puerto, el protocolo de "
            "seguridad (un puerto SSL/TLS no saluda a quien espera STARTTLS) y el cortafuegos.",
            transient=True,
        )
    if _is_lost_connection(exc):  # before SSLError: an SSL EOF is a cut, not a TLS failure
        return ConnectionProblem(
            "conexion_perdida",
            f"Se perdió la conexión con {peer.where}: {_server_text(exc, redact)}.",
            transient=True,
        )
    if isinstance(exc, ssl.SSLError):
        return ConnectionProblem(
            "tls_fallido",
            f"Falló la negociación TLS con {peer.where} ({exc.reason or _server_text(exc, redact)}). "
            "Revise que el protocolo de seguridad corresponda al puerto: SSL/TLS habla cifrado "
            "desde el primer byte (p. ej. 993, 995, 465); STARTTLS empieza sin cifrar (143, 110, 587).",
            transient=False,
        )
    if isinstance(exc, ConnectionRefusedError):
        return ConnectionProblem(
            "conexion_rechazada",
            f"El servidor {peer.host} rechazó la conexión {peer.protocol} en el puerto {peer.port}: "
            "revise el puerto o si el servicio está activo.",
            transient=True,
        )
    # SMTPException derives from OSError, so protocol answers are sorted out first.
    if isinstance(exc, (imaplib.IMAP4.error, poplib.error_proto, smtplib.SMTPException)):
        text = _server_text(exc, redact)
        temporary = any(m in text.upper() for m in _TEMPORARY_MARKERS) or (
            isinstance(exc, smtplib.SMTPResponseException) and 400 <= exc.smtp_code < 500
        )
        return ConnectionProblem(
            "protocolo",
            f"Respuesta inesperada del servidor {peer.where}: {text}",
            transient=temporary,
        )
    if isinstance(exc, OSError):  # reset, broken pipe, unreachable network
        return ConnectionProblem(
            "conexion_perdida",
            f"Falló la comunicación con {peer.where}: {exc.strerror or _server_text(exc, redact)}.",
            transient=True,
        )
    return None


def _after_timeout(exc: Exception) -> bool:
    """A timeout that a library reported as something else."""
    if isinstance(exc, smtplib.SMTPServerDisconnected):  # smtplib wraps a read timeout so
        return isinstance(exc.__context__, TimeoutError)
    # A socket file that once timed out refuses every later read with this OSError.
    return type(exc) is OSError and "timed out object" in str(exc)


@contextmanager
def _server_errors(peer: _Peer) -> Iterator[None]:
    """Translate connection failures inside the block into ConnectionProblem (chained)."""
    try:
        yield
    except ConnectionProblem:
        raise
    except Exception as exc:
        problem = _translate(exc, peer)
        if problem is None:
            raise
        raise problem from exc


@contextmanager
def _login_errors(peer: _Peer, redact: _Redactor) -> Iterator[None]:
    """Translate failures during a login, with nothing of the exchange kept anywhere.

    The server text in the message is redacted, and the problem carries no exception
    chain: neither `__cause__` nor `__context__` (which `raise ... from None` still sets,
    merely hiding it from tracebacks) keeps the library's exception, whose text may hold
    the secret as the server echoed it.
    """
    try:
        try:
            yield
        except ConnectionProblem:
            raise
        except Exception as exc:
            problem = _translate(exc, peer, redact)
            if problem is None:
                raise
            raise problem from None
    except ConnectionProblem as problem:
        problem.__cause__ = None
        problem.__context__ = None
        problem.__suppress_context__ = True
        raise


@contextmanager
def connection_errors(endpoint: Endpoint, protocol: str) -> Iterator[None]:
    """For engine code talking to a connected server: failures become ConnectionProblem."""
    with _server_errors(_Peer(protocol, endpoint.host, endpoint.port, endpoint.timeout)):
        yield


def _starttls_missing(peer: _Peer) -> ConnectionProblem:
    return ConnectionProblem(
        "starttls_no_ofrecido",
        f"El servidor {peer.where} no ofrece STARTTLS: la conexión se canceló para no enviar "
        "la contraseña sin cifrar. Revise el puerto o elija SSL/TLS.",
        transient=False,
    )


def _rejected_login(peer: _Peer, username: str, text: str, *, token: bool = False) -> NoReturn:
    """Raise for a login the server refused; call it from the `except` that caught the refusal.

    `token` marks an OAuth2 (XOAUTH2) login, whose remedy is a new authorization.
    """
    upper = text.upper()
    if any(marker in upper for marker in _TEMPORARY_MARKERS):
        raise ConnectionProblem(
            "protocolo",
            f"El servidor {peer.where} no pudo iniciar la sesión de «{username}» por un problema "
            f"temporal ({text}); se reintentará más tarde.",
            transient=True,
        ) from None
    if "[PRIVACYREQUIRED]" in upper:
        raise ConnectionProblem(
            "protocolo",
            f"El servidor {peer.where} exige una conexión cifrada para iniciar sesión ({text}).",
            transient=False,
        ) from None
    # `from None`: the library's exception is not kept, so no traceback repeats the exchange.
    if token:
        raise AuthenticationFailed(
            f"El servidor {peer.where} rechazó el token OAuth2 de «{username}»: el token no es "
            f"válido o venció (respuesta: {text}). Ejecute «tui-recepcion autorizar» para "
            "autorizar de nuevo la cuenta (con el mismo usuario del buzón); no se reintentará "
            "automáticamente."
        ) from None
    raise AuthenticationFailed(
        f"El servidor {peer.where} rechazó el usuario «{username}» o la contraseña "
        f"(respuesta: {text}). "
        "Revise ambos; no se reintentará automáticamente para no bloquear la cuenta."
    ) from None


def _usable_password(secret: Secret, username: str) -> str:
    """The secret's value, refused before any server sees it if it cannot be sent."""
    password = secret.reveal()
    if any(c in password for c in "\r\n\0"):
        raise AuthenticationFailed(
            f"La contraseña de «{username}» contiene saltos de línea u otros caracteres de "
            "control; revise cómo se guardó (por ejemplo, un salto de línea al final del archivo)."
        )
    return password


def _needs_utf8(username: str, password: str) -> bool:
    # LOGIN (IMAP) and smtplib's AUTH only carry ASCII; SASL PLAIN carries UTF-8.
    return not (username + password).isascii()


def _no_plain_for_utf8(peer: _Peer) -> ConnectionProblem:
    return ConnectionProblem(
        "protocolo",
        f"El usuario o la contraseña tienen caracteres fuera de ASCII (tildes, ñ) y el servidor "
        f"{peer.where} no ofrece AUTH PLAIN, el único método que los transmite.",
        transient=False,
    )


def interrupt(client: MailClient) -> None:
    """Make any blocking read or write on `client`'s connection return now; from any thread.

    For the engine's SIGTERM handler and its pass deadline: the connection is shut down
    both ways (a TCP FIN to the server), so a thread waiting in recv() sees the end of the
    stream and one in send() a broken pipe; either ends in a transient `ConnectionProblem`
    (`conexion_perdida`) from the call it was in. The client is unusable afterwards: close
    it as after any failure. Works in plaintext and TLS alike (the TLS object is left to
    its owner thread: only the socket underneath is shut down); errors are ignored, so
    interrupting a connection that already closed is harmless.
    """
    sock = _socket_of(client)
    if sock is None:
        return
    try:
        # socket.socket's own shutdown, not SSLSocket.shutdown, which also drops the TLS
        # state under the feet of the thread that is reading through it.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, ValueError):  # not connected, already closed, or a closed fd
        log.debug("No se pudo interrumpir una conexión que ya estaba cerrada", exc_info=True)


def close_quietly(client: MailClient) -> None:
    """Drop a connection without a goodbye, ignoring errors (it has usually failed already)."""
    try:
        if isinstance(client, IMAPClient):
            client.shutdown()
        else:
            client.close()
    except Exception:  # the error that led here is the one worth reporting
        log.debug("Error al cerrar una conexión que ya había fallado", exc_info=True)


# --- connect ------------------------------------------------------------------------


def _quiet_protocol_trace(client: IMAPClient) -> None:
    """Turn off imaplib's protocol trace unless someone listens to it at DEBUG.

    IMAPClient enables the trace and routes it to its logger, but imaplib formats each line
    (the repr of every message it reads) before the logger can drop it: in a bulk fetch that
    formatting cost more CPU than reading the mail itself.
    """
    if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
        client._imap.debug = 0


def connect_imap(endpoint: Endpoint) -> IMAPClient:
    """A connected IMAP client with TLS established as `endpoint.security` says; not logged in."""
    peer = _Peer("IMAP", endpoint.host, endpoint.port, endpoint.timeout)
    context = _context_for(endpoint, peer.protocol)
    log.debug("Conectando a %s (%s)", peer.where, endpoint.security)
    with _server_errors(peer):
        client = IMAPClient(
            endpoint.host,
            endpoint.port,
            ssl=endpoint.security == "ssl",
            ssl_context=context,
            timeout=endpoint.timeout,
        )
        _quiet_protocol_trace(client)
        try:
            if endpoint.security == "starttls":
                if not client.has_capability("STARTTLS"):
                    raise _starttls_missing(peer)
                client.starttls(context)
        except BaseException:
            close_quietly(client)
            raise
    return client


def _pop3_capabilities(client: poplib.POP3) -> dict[str, list[str]]:
    try:
        return client.capa()
    except poplib.error_proto:  # CAPA is optional (RFC 2449); its absence is an answer
        return {}


# poplib refuses lines over 2048 bytes, yet real mail carries longer ones (unwrapped HTML,
# a base64 attachment on one line). A message it cannot RETR would stay in the mailbox
# forever, so a line may be as long as the largest message processed; the engine never
# RETRs a message the listing says is larger (it is isolated as too large instead).
POP3_MAX_LINE = DEFAULT_LIMITS.max_message_bytes


class _LongLines:
    file: Any

    def _getline(self) -> tuple[bytes, int]:
        line = self.file.readline(POP3_MAX_LINE + 1)
        if len(line) > POP3_MAX_LINE:
            raise poplib.error_proto("línea demasiado larga")
        if not line.endswith(b"\n"):
            # Nothing, or the start of a line and then the end of the stream: the connection
            # dropped. poplib would take a cut "+O" for a "+OK" (and a cut "-ER" for a refusal).
            raise _Pop3Eof()
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


def connect_pop3(endpoint: Endpoint) -> poplib.POP3:
    """A connected POP3 client (POP3_SSL for ssl, STLS for starttls); not logged in."""
    peer = _Peer("POP3", endpoint.host, endpoint.port, endpoint.timeout)
    context = _context_for(endpoint, peer.protocol)
    log.debug("Conectando a %s (%s)", peer.where, endpoint.security)
    with _server_errors(peer):
        if endpoint.security == "ssl":
            client: poplib.POP3 = Pop3Ssl(
                endpoint.host, endpoint.port, timeout=endpoint.timeout, context=context
            )
        else:
            client = Pop3(endpoint.host, endpoint.port, timeout=endpoint.timeout)
        try:
            if endpoint.security == "starttls":
                if "STLS" not in _pop3_capabilities(client):
                    raise _starttls_missing(peer)
                client.stls(context)
        except BaseException:
            close_quietly(client)
            raise
    return client


def connect_smtp(endpoint: Endpoint) -> smtplib.SMTP:
    """A connected SMTP client after EHLO (SMTP_SSL for ssl, STARTTLS for starttls); not logged in.

    TCP_NODELAY is on: smtplib writes the end of DATA separately, and Nagle's algorithm
    with delayed ACKs would add ~40 ms to every forwarded message (docs/architecture.md, «Mailbox rules»).
    """
    peer = _Peer("SMTP", endpoint.host, endpoint.port, endpoint.timeout)
    context = _context_for(endpoint, peer.protocol)
    # smtplib's default EHLO name comes from getfqdn(), a reverse DNS lookup that can stall.
    local_hostname = socket.gethostname() or "localhost"
    log.debug("Conectando a %s (%s)", peer.where, endpoint.security)
    with _server_errors(peer):
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
                    raise _starttls_missing(peer)
                client.starttls(context=context)
                client.ehlo()
        except BaseException:
            close_quietly(client)
            raise
    return client


# --- log in (basic authentication) ----------------------------------------------------
#
# Only an explicit refusal of the credentials is AuthenticationFailed: an IMAP tagged NO to
# LOGIN or AUTHENTICATE, a POP3 -ERR to USER, PASS or AUTH, an SMTP 5xx verdict on AUTH
# (535, 534, 530, 538...). Everything else during a login is what it is: a dropped, reset or
# stalled connection is a transient conexion_perdida or tiempo_agotado; an IMAP BAD or an
# answer the library cannot parse is a transient protocol problem (no verdict on the
# credentials, and retrying it cannot lock the account); "try later" response codes
# ([UNAVAILABLE], 4xx) are transient too.


def _client_peer(client: MailClient, protocol: str) -> _Peer:
    """Where a connected client talks to, with its socket's timeout for the messages."""
    sock = _socket_of(client)
    timeout = None
    port = getattr(client, "port", 0)
    try:
        if sock is not None:
            timeout = sock.gettimeout()
            if isinstance(client, smtplib.SMTP):
                port = sock.getpeername()[1]
    except OSError:  # the socket closed already; the message just says less
        pass
    host = getattr(client, "_host", "?") if isinstance(client, smtplib.SMTP) else client.host
    return _Peer(protocol, host, port, timeout)


def _imap_exchange(
    client: IMAPClient, command: str, *args: str, response: str | None = None
) -> tuple[str, str]:
    """Run LOGIN or AUTHENTICATE with imaplib itself; (tagged status, server text).

    IMAPClient's login methods turn every imaplib error into LoginError, a lost connection
    (IMAP4.abort) included, which made a cut look like a wrong password. Here a tagged NO
    is the only answer returned; IMAP4.abort and IMAP4.error (a BAD) propagate as they are.
    `response` is the SASL initial response, sent (base64) after the first "+" challenge;
    a later challenge (an error report, as XOAUTH2 servers send) is answered empty.
    """
    imap = client._imap
    if response is not None:
        responses = iter([response])
        # imaplib sends a literal produced by a bound method: its own base64 SASL helper.
        imap.literal = imaplib._Authenticator(lambda _challenge: next(responses, "")).process  # type: ignore[attr-defined]
    typ, data = imap._simple_command(command, *args)
    if typ == "OK":
        imap.state = "AUTH"
    text = data[-1] if data else b""
    return typ, text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _imap_bad(peer: _Peer, exc: imaplib.IMAP4.error, redact: _Redactor) -> ConnectionProblem:
    return ConnectionProblem(
        "protocolo",
        f"El servidor {peer.where} no aceptó la orden de inicio de sesión "
        f"({_server_text(exc, redact)}); se reintentará más tarde.",
        transient=True,
    )


def login_imap(client: IMAPClient, username: str, secret: Secret) -> None:
    """LOGIN, or AUTHENTICATE PLAIN when the server offers it (preferred: the password then
    travels base64 in SASL, never as the quoted string some servers echo in a NO)."""
    peer = _client_peer(client, "IMAP")
    password = _usable_password(secret, username)
    redact = _Redactor(secret, username)
    with _login_errors(peer, redact):
        try:
            if client.has_capability("AUTH=PLAIN"):
                typ, text = _imap_exchange(
                    client, "AUTHENTICATE", "PLAIN", response=f"\0{username}\0{password}"
                )
            elif not _needs_utf8(username, password):
                quote = client._imap._quote
                typ, text = _imap_exchange(client, "LOGIN", quote(username), quote(password))
            else:
                raise _no_plain_for_utf8(peer)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            raise _imap_bad(peer, exc, redact) from None
        if typ != "OK":
            _rejected_login(peer, username, _clean_text(text, redact))
    log.debug("Sesión IMAP iniciada como %s en %s", username, peer.where)


def _pop3_ask(client: poplib.POP3, line: str, peer: _Peer, username: str, redact: _Redactor,
              *, token: bool = False) -> bytes:
    """Send one login line; a "-ERR" answer is a refusal, anything else propagates."""
    try:
        return client._shortcmd(line)  # type: ignore[attr-defined,no-any-return]
    except poplib.error_proto as exc:
        refusal = _pop3_refusal(exc, redact)
        if refusal is None:
            raise  # EOF, a line too long: not an answer about the credentials
        _rejected_login(peer, username, refusal, token=token)


def login_pop3(client: poplib.POP3, username: str, secret: Secret) -> None:
    peer = _client_peer(client, "POP3")
    password = _usable_password(secret, username)
    redact = _Redactor(secret, username)
    with _login_errors(peer, redact):
        # poplib sends UTF-8, so USER/PASS carry any password
        _pop3_ask(client, f"USER {username}", peer, username, redact)
        _pop3_ask(client, f"PASS {password}", peer, username, redact)
    log.debug("Sesión POP3 iniciada como %s en %s", username, peer.where)


def _smtp_plain_utf8(client: smtplib.SMTP, peer: _Peer, username: str, password: str) -> None:
    """AUTH PLAIN with UTF-8 credentials, which smtplib's login() cannot encode."""
    client.ehlo_or_helo_if_needed()
    if not client.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("AUTH")
    if "PLAIN" not in client.esmtp_features["auth"].upper().split():
        raise _no_plain_for_utf8(peer)
    blob = base64.b64encode(b"\0" + username.encode() + b"\0" + password.encode()).decode("ascii")
    code, reply = client.docmd("AUTH", "PLAIN " + blob)
    if code == 334:  # a server that wants the credentials after an empty challenge
        code, reply = client.docmd(blob)
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


# 5xx answers to AUTH that are about the command, not a verdict on the credentials.
_SMTP_NOT_A_VERDICT = (500, 501, 502, 504)


@contextmanager
def _smtp_auth(peer: _Peer, username: str, secret: Secret, *, token: bool = False) -> Iterator[None]:
    """Translate the outcome of an SMTP AUTH exchange (password or token)."""
    redact = _Redactor(secret, username)
    with _login_errors(peer, redact):
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
            text = _server_text(exc, redact)
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
            if code in _SMTP_NOT_A_VERDICT:
                raise ConnectionProblem(
                    "protocolo",
                    f"El servidor {peer.where} no aceptó la orden de autenticación ({text}).",
                    transient=False,
                ) from None
            _rejected_login(peer, username, text, token=token)


def login_smtp(client: smtplib.SMTP, username: str, secret: Secret) -> None:
    peer = _client_peer(client, "SMTP")
    password = _usable_password(secret, username)
    with _smtp_auth(peer, username, secret):
        if _needs_utf8(username, password):
            _smtp_plain_utf8(client, peer, username, password)
        else:
            client.login(username, password)
    log.debug("Sesión SMTP iniciada como %s en %s", username, peer.where)


# --- log in (OAuth2: SASL XOAUTH2) ------------------------------------------------------


def _xoauth2(username: str, token: Secret) -> str:
    """The XOAUTH2 initial client response, refused before any server sees it if it cannot be sent."""
    value = token.reveal()
    if not value or not value.isascii() or any(c.isspace() or c < " " for c in value):
        raise AuthenticationFailed(
            f"El token OAuth2 de «{username}» está vacío o tiene caracteres no válidos; "
            "ejecute «tui-recepcion autorizar» para obtener uno nuevo."
        )
    if not username.isascii() or any(c < " " for c in username):
        raise ConnectionProblem(
            "protocolo",
            f"El usuario «{username}» tiene caracteres fuera de ASCII, que XOAUTH2 no transmite.",
            transient=False,
        )
    return f"user={username}\x01auth=Bearer {value}\x01\x01"


def _no_xoauth2(peer: _Peer) -> ConnectionProblem:
    return ConnectionProblem(
        "protocolo",
        f"El servidor {peer.where} no ofrece autenticación OAuth2 (XOAUTH2); revise el servidor "
        "y el puerto, o use autenticación básica si el proveedor la permite.",
        transient=False,
    )


def oauth2_login_imap(client: IMAPClient, username: str, token: Secret) -> None:
    """AUTHENTICATE XOAUTH2 with an access token; AuthenticationFailed if it is refused."""
    peer = _client_peer(client, "IMAP")
    response = _xoauth2(username, token)
    redact = _Redactor(token, username)
    with _login_errors(peer, redact):
        if not client.has_capability("AUTH=XOAUTH2"):
            raise _no_xoauth2(peer)
        try:
            typ, text = _imap_exchange(client, "AUTHENTICATE", "XOAUTH2", response=response)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            raise _imap_bad(peer, exc, redact) from None
        if typ != "OK":
            _rejected_login(peer, username, _clean_text(text, redact), token=True)
    log.debug("Sesión IMAP (OAuth2) iniciada como %s en %s", username, peer.where)


def oauth2_login_pop3(client: poplib.POP3, username: str, token: Secret) -> None:
    """AUTH XOAUTH2 in two steps (command, then the response after "+"), as Microsoft requires."""
    peer = _client_peer(client, "POP3")
    blob = base64.b64encode(_xoauth2(username, token).encode("ascii")).decode("ascii")
    redact = _Redactor(token, username)
    with _login_errors(peer, redact):
        capabilities = _pop3_capabilities(client)
        if capabilities and "XOAUTH2" not in [m.upper() for m in capabilities.get("SASL", [])]:
            raise _no_xoauth2(peer)
        _pop3_ask(client, "AUTH XOAUTH2", peer, username, redact, token=True)
        reply = _pop3_ask(client, blob, peer, username, redact, token=True)
        if not reply.startswith(b"+OK"):
            # A "+ <error>" challenge (Dovecot, Gmail): an empty answer gets the verdict.
            _pop3_ask(client, "", peer, username, redact, token=True)
    log.debug("Sesión POP3 (OAuth2) iniciada como %s en %s", username, peer.where)


def oauth2_login_smtp(client: smtplib.SMTP, username: str, token: Secret) -> None:
    """AUTH XOAUTH2 with the initial response; an error challenge is answered empty (RFC 4954)."""
    peer = _client_peer(client, "SMTP")
    response = _xoauth2(username, token)
    with _smtp_auth(peer, username, token, token=True):
        client.ehlo_or_helo_if_needed()
        if not client.has_extn("auth"):
            raise smtplib.SMTPNotSupportedError("AUTH")
        if "XOAUTH2" not in client.esmtp_features["auth"].upper().split():
            raise _no_xoauth2(peer)
        client.auth("XOAUTH2", lambda challenge=None: response if challenge is None else "")
    log.debug("Sesión SMTP (OAuth2) iniciada como %s en %s", username, peer.where)
