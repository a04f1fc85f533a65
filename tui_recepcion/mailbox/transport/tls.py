"""TLS policy: verifying contexts, the plaintext opt-in, STARTTLS refusal, what was negotiated.

Every connection verifies certificates (system CAs plus an optional extra bundle), checks
the host name and requires TLS 1.2 or newer. STARTTLS that is not offered aborts the
connection; plaintext needs an explicit opt-in (`permitir_sin_cifrado`).
"""

from __future__ import annotations

import logging
import ssl
import threading
from dataclasses import dataclass
from typing import Any, cast

from tui_recepcion.errors import ConnectionProblem
from tui_recepcion.mailbox.transport.client import MailClient, socket_of
from tui_recepcion.mailbox.transport.endpoint import Endpoint
from tui_recepcion.mailbox.transport.faults import Peer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TlsInfo:
    version: str  # e.g. "TLSv1.3"
    cipher: str  # e.g. "TLS_AES_256_GCM_SHA384"


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


def negotiated_tls(client: MailClient) -> TlsInfo | None:
    """The TLS version and cipher of a connected client, or None if it is in plaintext."""
    sock = socket_of(client)
    if not isinstance(sock, ssl.SSLSocket):
        return None
    cipher = sock.cipher()
    return TlsInfo(version=sock.version() or "?", cipher=cipher[0] if cipher else "?")


class _ContextSoon:
    """A context still being built (loading the system CAs) while the TCP connection is set up:
    the protocol libraries only call `wrap_socket` on it, once connected, which waits for it.
    Over a WAN that hides the CA loading behind the TCP handshake's round trip."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._context: ssl.SSLContext | None = None
        self._error: BaseException | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._build, name="recepcion-tls", daemon=True).start()

    def _build(self) -> None:
        try:
            self._context = tls_context(self._endpoint)
        except BaseException as error:  # reported where the context is used
            self._error = error
        finally:
            self._ready.set()

    def get(self) -> ssl.SSLContext:
        self._ready.wait()
        if self._error is not None:
            raise self._error
        assert self._context is not None
        return self._context

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        return self.get().wrap_socket(*args, **kwargs)


def context_for(endpoint: Endpoint, protocol: str) -> ssl.SSLContext | None:
    """The TLS context to use, or None for an allowed plaintext connection."""
    if endpoint.security == "ssl":
        # A bad `certificados_ca` bundle is reported when the socket is wrapped, once connected.
        return cast(ssl.SSLContext, _ContextSoon(endpoint))
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


def starttls_missing(peer: Peer) -> ConnectionProblem:
    return ConnectionProblem(
        "starttls_no_ofrecido",
        f"El servidor {peer.where} no ofrece STARTTLS: la conexión se canceló para no enviar "
        "la contraseña sin cifrar. Revise el puerto o elija SSL/TLS.",
        transient=False,
    )
