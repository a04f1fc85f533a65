"""Confirm that a mail server answers: TCP connect, TLS handshake, protocol greeting.

Used by discovery to turn a guessed host name into a suggestion. It never logs in: it
reads the greeting, negotiates STARTTLS when asked, verifies the certificate against the
host name and closes.
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass

from tui_recepcion.providers.model import Protocol, ServerDefaults
from tui_recepcion.providers.resolver import DNS_ERRORS, Address, Resolver
from tui_recepcion.vocabulary import IMAP, PLAINTEXT, POP3, PROTOCOL_LABELS, SSL

_MAX_LINE = 8192


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    detail: str  # Spanish, shown to the technician


class _ProbeFailed(Exception):
    """A Spanish reason why the server did not answer as expected."""


def make_ssl_context(extra_ca_file: str | None = None) -> ssl.SSLContext:
    """A verifying TLS context: the system's CAs plus, optionally, an extra CA bundle."""
    context = ssl.create_default_context()
    if extra_ca_file:
        context.load_verify_locations(cafile=extra_ca_file)
    return context


def probe_server(
    resolver: Resolver,
    protocol: Protocol,
    server: ServerDefaults,
    ssl_context: ssl.SSLContext,
    timeout: float,
) -> ProbeResult:
    """Try every address of `server` until one completes the TLS greeting.

    The whole probe, every address included, takes at most about `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    if server.security == PLAINTEXT:
        return ProbeResult(False, "no se sugieren servidores sin cifrado")
    try:
        addresses = resolver.addresses(server.host, server.port)
    except DNS_ERRORS as error:
        return ProbeResult(False, f"no se pudo resolver {server.host}: {error}")
    if not addresses:
        return ProbeResult(False, f"el nombre {server.host} no existe en DNS")
    reason = ""
    for address in addresses:
        try:
            _probe_address(address, protocol, server, ssl_context, deadline)
        except _ProbeFailed as failure:
            reason = str(failure)
        else:
            return ProbeResult(True, f"respondió {PROTOCOL_LABELS[protocol]} con TLS y certificado válido")
    return ProbeResult(False, reason)


def _probe_address(
    address: Address,
    protocol: Protocol,
    server: ServerDefaults,
    ssl_context: ssl.SSLContext,
    deadline: float,
) -> None:
    try:
        raw = socket.create_connection(address, timeout=_remaining(deadline))
    except TimeoutError:
        raise _ProbeFailed("tiempo de espera agotado al conectar") from None
    except OSError as error:
        raise _ProbeFailed(f"no se pudo conectar: {error.strerror or error}") from None
    with raw:
        try:
            if server.security == SSL:
                with _tls(raw, server.host, ssl_context, deadline) as secure:
                    _expect_greeting(_LineReader(secure, deadline), protocol)
            else:
                _starttls(_LineReader(raw, deadline), raw, protocol)
                with _tls(raw, server.host, ssl_context, deadline):
                    pass
        except TimeoutError:
            raise _ProbeFailed("tiempo de espera agotado esperando respuesta") from None
        except ssl.SSLCertVerificationError as error:
            raise _ProbeFailed(
                f"certificado no válido para {server.host}: {error.verify_message}"
            ) from None
        except (ssl.SSLError, OSError) as error:
            raise _ProbeFailed(f"falló la negociación TLS: {error}") from None


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _tls(
    raw: socket.socket, host: str, ssl_context: ssl.SSLContext, deadline: float
) -> ssl.SSLSocket:
    raw.settimeout(_remaining(deadline))
    # wrap_socket takes over the descriptor of `raw`: closing the TLS socket closes both.
    return ssl_context.wrap_socket(raw, server_hostname=host, do_handshake_on_connect=True)


class _LineReader:
    """CRLF lines from a socket without reading past them (STARTTLS needs a clean stream)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._buffer = bytearray()

    def send(self, line: bytes) -> None:
        self._sock.settimeout(_remaining(self._deadline))
        self._sock.sendall(line + b"\r\n")

    def line(self) -> bytes:
        while b"\n" not in self._buffer:
            if len(self._buffer) > _MAX_LINE:
                raise _ProbeFailed("respuesta demasiado larga")
            self._sock.settimeout(_remaining(self._deadline))
            chunk = self._sock.recv(1)  # one byte at a time: nothing may be read past the line
            if not chunk:
                raise _ProbeFailed("el servidor cerró la conexión")
            self._buffer += chunk
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        return line.rstrip(b"\r")

    def smtp_reply(self) -> bytes:
        """The last line of a (possibly multi-line) SMTP reply."""
        line = self.line()
        while line[3:4] == b"-":
            line = self.line()
        return line


def _expect_greeting(reader: _LineReader, protocol: Protocol) -> None:
    line = reader.smtp_reply() if protocol == "smtp" else reader.line()
    expected = {"imap": (b"* OK", b"* PREAUTH"), "pop3": (b"+OK",), "smtp": (b"220",)}[protocol]
    if not line.upper().startswith(expected):
        raise _ProbeFailed(f"la respuesta no es de un servidor {PROTOCOL_LABELS[protocol]}")


def _starttls(reader: _LineReader, raw: socket.socket, protocol: Protocol) -> None:
    _expect_greeting(reader, protocol)
    if protocol == IMAP:
        reader.send(b"A1 STARTTLS")
        line = reader.line()
        while line.startswith(b"*"):
            line = reader.line()
        accepted = line.upper().startswith(b"A1 OK")
    elif protocol == POP3:
        reader.send(b"STLS")
        accepted = reader.line().startswith(b"+OK")
    else:
        reader.send(b"EHLO " + _ehlo_name(raw))
        if not reader.smtp_reply().startswith(b"250"):
            raise _ProbeFailed("el servidor SMTP rechazó EHLO")
        reader.send(b"STARTTLS")
        accepted = reader.smtp_reply().startswith(b"220")
    if not accepted:
        raise _ProbeFailed("el servidor no ofrece STARTTLS")


def _ehlo_name(raw: socket.socket) -> bytes:
    # An address literal (RFC 5321 §4.1.3): we have no meaningful host name to announce.
    local = raw.getsockname()[0]
    return (f"[IPv6:{local}]" if ":" in local else f"[{local}]").encode("ascii")
