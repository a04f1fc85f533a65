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
