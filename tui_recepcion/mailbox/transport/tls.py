"""TLS policy: verifying contexts, the plaintext opt-in, STARTTLS refusal, what was negotiated.

Every connection verifies certificates (system CAs plus an optional extra bundle), checks
the host name and requires TLS 1.2 or newer. STARTTLS that is not offered aborts the
connection; plaintext needs an explicit opt-in (`permitir_sin_cifrado`).
"""

from __future__ import annotations

import functools
import logging
import os
import ssl
import time
from dataclasses import dataclass, replace
from pathlib import Path

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


# One verifying context per CA bundle, shared by the connections that use it: each context
# holds the system's CA store (~0.9 MB), and a service with hundreds of idle IMAP connections
# would otherwise hold one per connection. Built again when the bundle changes, and hourly
# (the system's CAs may be updated under a long-running service).
SHARED_CONTEXT_SECONDS = 3600


@functools.lru_cache(maxsize=32)
def _shared_context(endpoint: Endpoint, stamp: tuple[int, int], period: int) -> ssl.SSLContext:
    return tls_context(endpoint)


def _bundle_stamp(ca_file: Path | None) -> tuple[int, int]:
    try:
        info = os.stat(ca_file) if ca_file is not None else None
    except OSError:
        return (-1, -1)  # tls_context reports the missing bundle
    return (info.st_mtime_ns, info.st_size) if info is not None else (0, 0)


def negotiated_tls(client: MailClient) -> TlsInfo | None:
    """The TLS version and cipher of a connected client, or None if it is in plaintext."""
    sock = socket_of(client)
    if not isinstance(sock, ssl.SSLSocket):
        return None
    cipher = sock.cipher()
    return TlsInfo(version=sock.version() or "?", cipher=cipher[0] if cipher else "?")


def context_for(endpoint: Endpoint, protocol: str) -> ssl.SSLContext | None:
    """The TLS context to use, or None for an allowed plaintext connection."""
    if endpoint.security != "ninguna":
        # Only the bundle shapes the context: one key for every server that shares it.
        key = replace(endpoint, host="tls", port=1, security="ssl", allow_plaintext=False, timeout=30.0)
        return _shared_context(key, _bundle_stamp(endpoint.ca_file), int(time.monotonic() // SHARED_CONTEXT_SECONDS))
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
