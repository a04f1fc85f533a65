"""The typed problems shared by every layer: configuration, secrets, connections, logins.

Every message is Spanish and meant for the technician; none may contain a secret.
"""

from __future__ import annotations

from typing import Literal


class RecepcionError(Exception):
    """A problem the user can act on; `str(error)` is the Spanish explanation."""


class ConfigError(RecepcionError):
    """The configuration file is missing, unreadable or invalid."""


class SecretError(RecepcionError):
    """The mailbox secret cannot be read from or written to its store."""


class SecretMissing(SecretError):
    """The store works but holds nothing yet (no file, no keyring item, unset variable)."""


class InternalFault(RecepcionError):
    """A bug or an unforeseen failure inside the engine, caught at the edge of a pass.

    It is treated like a transient problem (the pass is retried later with backoff) so a
    service never dies of it. The message names neither the exception's type (a word of
    code, not of the technician) nor its arguments (they could carry message content);
    both go to the DEBUG log, shown with TUI_RECEPCION_DEPURAR=1.
    """

    code = "error_interno"
    transient = True

    @classmethod
    def from_exception(cls, error: BaseException, where: str) -> InternalFault:
        return cls(f"Error interno en {where}; se reintentará más tarde "
                   "(el detalle se ve con TUI_RECEPCION_DEPURAR=1).")


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
    "credenciales_invalidas",  # the server rejected the user or the password (or OAuth2 token)
    "token_revocado",  # OAuth2: the refresh token was revoked or expired; authorise again
    "sin_autorizacion",  # OAuth2: the account was never authorised (no token stored)
    "protocolo",  # the server answered something unexpected
    "smtp_rechazado",  # the SMTP relay refused one message (4xx later, 5xx never)
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


class AuthorizationRequired(AuthenticationFailed):
    """OAuth2: no usable authorization is stored; a person must run `tui-recepcion autorizar`.

    Raised by an OAuth2 account's credentials when the refresh token was revoked, expired
    after inactivity or invalidated by a password change (`token_revocado`), or when the
    account was never authorised (`sin_autorizacion`). It is an `AuthenticationFailed`, so
    whatever stops the account and alerts on authentication failures handles it too.
    """

    def __init__(self, code: Literal["token_revocado", "sin_autorizacion"], message: str) -> None:
        ConnectionProblem.__init__(self, code, message, transient=False)
