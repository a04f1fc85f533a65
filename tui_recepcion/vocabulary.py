"""The project's words, each defined once: what a message's status, a destination, a
security mode, an authentication type or a protocol can be.

Config keys, the ledger, JSON output and the UI all use these values, so they are part of
the public contract and never change once released.
"""

from __future__ import annotations

from typing import Final, Literal

MessageStatus = Literal["procesado", "fallido"]
PROCESSED: Final = "procesado"
FAILED: Final = "fallido"
MESSAGE_STATUSES: tuple[MessageStatus, ...] = (PROCESSED, FAILED)

# Where a message ends up besides an IMAP folder.
BACKUP_DESTINATION: Final = "respaldo"  # POP3: forwarded to correo_respaldo, then deleted
KEPT_ON_SERVER: Final = "servidor"  # POP3 poison: left on the server on purpose, skipped
