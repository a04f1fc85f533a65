"""The exception hierarchy shared by the engine, the CLI and the TUI.

Every message is Spanish and meant for the technician; none may contain a secret.
"""

from __future__ import annotations


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
    service never dies of it; the message names the exception type, never its arguments,
    which could carry message content.
    """

    code = "error_interno"
    transient = True

    @classmethod
    def from_exception(cls, error: BaseException, where: str) -> InternalFault:
        return cls(f"Error interno en {where} ({type(error).__name__}); se reintentará más tarde.")
