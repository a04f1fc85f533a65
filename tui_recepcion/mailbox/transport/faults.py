"""One error vocabulary: whatever a mail library or the socket raises becomes a `ConnectionProblem`.

Each problem has a stable code and a Spanish message that says where it happened and never
contains the secret (server text passes through a `Redactor` first). Only a refusal of the
credentials is something else (`AuthenticationFailed`, see `login.py`).
"""

from __future__ import annotations

import imaplib
import poplib
import re
import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tui_recepcion.errors import ConnectionProblem
from tui_recepcion.mailbox.transport.endpoint import Endpoint
from tui_recepcion.mailbox.transport.redaction import NO_SECRET, Redactor


@dataclass(frozen=True, slots=True)
class Peer:
    """What error messages need to say where the failure happened."""

    protocol: str  # "IMAP", "POP3" or "SMTP"
    host: str
    port: int
    timeout: float | None = None

    @property
    def where(self) -> str:
        return f"{self.protocol} {self.host}:{self.port}"


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
TEMPORARY_MARKERS = ("[UNAVAILABLE]", "[SYS/TEMP]", "[IN-USE]", "[LOGIN-DELAY]", "[INUSE]")


def server_text(exc: BaseException, redact: Redactor = NO_SECRET) -> str:
    """The server's words from an exception, short, on one line and without the secret."""
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        text = f"{exc.smtp_code} {error.decode(errors='replace') if isinstance(error, bytes) else error}"
    else:
        # Libraries raise with None among the arguments (imaplib on a closed socket): it is
        # no word of the server's, and neither is the exception's class name.
        text = " ".join(
            a.decode(errors="replace") if isinstance(a, bytes) else str(a)
            for a in exc.args if a is not None
        )
    return clean_text(text, redact) or "sin texto del servidor"


def clean_text(text: str, redact: Redactor = NO_SECRET) -> str:
    """Server text redacted first (before anything could cut a secret in two), then tidied."""
    text = redact(text)
    quoted = re.fullmatch(r"b(['\"])(.*)\1", text, flags=re.DOTALL)  # imapclient's str(bytes)
    if quoted:
        text = quoted.group(2)
    return redact(" ".join(text.split()))[:200]


class Pop3Eof(poplib.error_proto):
    """The POP3 server closed the connection (or it dropped) in the middle of an answer."""

    def __init__(self) -> None:
        super().__init__("-ERR EOF")


def _is_lost_connection(exc: Exception) -> bool:
    """The server went away mid-conversation (each library says it differently)."""
    if isinstance(exc, (imaplib.IMAP4.abort, smtplib.SMTPServerDisconnected, EOFError, Pop3Eof)):
        return True
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)):
        return True  # the TLS stream ended without a goodbye: a cut, not a TLS policy failure
    return isinstance(exc, poplib.error_proto) and exc.args == ("-ERR EOF",)  # poplib's own


def _certificate_problem(exc: ssl.SSLCertVerificationError, peer: Peer) -> ConnectionProblem:
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


def _after_timeout(exc: Exception) -> bool:
    """A timeout that a library reported as something else."""
    if isinstance(exc, smtplib.SMTPServerDisconnected):  # smtplib wraps a read timeout so
        return isinstance(exc.__context__, TimeoutError)
    # A socket file that once timed out refuses every later read with this OSError.
    return type(exc) is OSError and "timed out object" in str(exc)


def translate(exc: Exception, peer: Peer, redact: Redactor = NO_SECRET) -> ConnectionProblem | None:
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
            f"Se perdió la conexión con {peer.where}: {server_text(exc, redact)}.",
            transient=True,
        )
    if isinstance(exc, ssl.SSLError):
        return ConnectionProblem(
            "tls_fallido",
            f"Falló la negociación TLS con {peer.where} ({exc.reason or server_text(exc, redact)}). "
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
        text = server_text(exc, redact)
        temporary = any(m in text.upper() for m in TEMPORARY_MARKERS) or (
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
            f"Falló la comunicación con {peer.where}: {exc.strerror or server_text(exc, redact)}.",
            transient=True,
        )
    return None


@contextmanager
def server_errors(peer: Peer) -> Iterator[None]:
    """Translate connection failures inside the block into ConnectionProblem (chained)."""
    try:
        yield
    except ConnectionProblem:
        raise
    except Exception as exc:
        problem = translate(exc, peer)
        if problem is None:
            raise
        raise problem from exc


@contextmanager
def login_errors(peer: Peer, redact: Redactor) -> Iterator[None]:
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
            problem = translate(exc, peer, redact)
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
    with server_errors(Peer(protocol, endpoint.host, endpoint.port, endpoint.timeout)):
        yield
