"""Connection failures the engine, the CLI and the TUI tell apart by a stable code."""

from __future__ import annotations

from typing import Literal

from tui_recepcion.errors import RecepcionError

ProblemCode = Literal[
    "host_desconocido",  # DNS cannot resolve the server name
    "conexion_rechazada",  # nothing listens on that port
    "conexion_perdida",  # reset, unreachable network, server hung up mid-session
    "tiempo_agotado",  # no answer within the endpoint's timeout
    "tls_fallido",  # the TLS handshake failed for a reason other than trust
    "certificado_no_confiable",  # certificate verification failed
    "certificados_ca_invalidos",  # the configured extra CA bundle cannot be loaded
    "starttls_no_ofrecido",  # STARTTLS requested but the server does not offer it
    "sin_cifrado_no_permitido",  # security "ninguna" without allow_plaintext
    "credenciales_invalidas",  # the server rejected the user or the password
    "protocolo",  # the server answered something unexpected
]


class ConnectionProblem(RecepcionError):
    """Connecting to or talking with a mail server failed.

    `code` is stable (scripts, events and the TUI key on it); `str()` is the Spanish
    explanation and never contains a secret. `transient` is True when retrying later
    may succeed (network, timeout), False when a person must act (auth, certificate).
    """

    def __init__(self, code: ProblemCode, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.code: ProblemCode = code
        self.transient = transient

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, transient={self.transient}, message={str(self)!r})"


class AuthenticationFailed(ConnectionProblem):
    """The server rejected the credentials; never retried in a loop (providers lock accounts)."""

    def __init__(self, message: str) -> None:
        super().__init__("credenciales_invalidas", message, transient=False)
