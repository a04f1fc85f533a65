"""The project's words, each defined once: what a message's status, a destination, a
security mode, an authentication type or a protocol can be.

Config keys, the ledger, JSON output and the UI all use these values, so they are part of
the public contract and never change once released.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

# How a connection is secured (`seguridad`): TLS from the first byte, STARTTLS, or none
# (only with `permitir_sin_cifrado = true`).
Security = Literal["ssl", "starttls", "ninguna"]
SECURITIES: tuple[Security, ...] = get_args(Security)

# How an account logs in (`tipo_servidor`): a password, or OAuth2 (XOAUTH2).
AuthType = Literal["basica", "oauth2"]
AUTH_TYPES: tuple[AuthType, ...] = get_args(AuthType)

# How the reception mailbox is read (`protocolo`), and every protocol a provider describes.
MailboxProtocol = Literal["imap", "pop3"]
MAILBOX_PROTOCOLS: tuple[MailboxProtocol, ...] = get_args(MailboxProtocol)
ServerProtocol = Literal["imap", "pop3", "smtp"]
SERVER_PROTOCOLS: tuple[ServerProtocol, ...] = get_args(ServerProtocol)

MessageStatus = Literal["procesado", "fallido"]
PROCESSED: Final = "procesado"
FAILED: Final = "fallido"
MESSAGE_STATUSES: tuple[MessageStatus, ...] = get_args(MessageStatus)

# Where a message ends up besides an IMAP folder.
BACKUP_DESTINATION: Final = "respaldo"  # POP3: forwarded to correo_respaldo, then deleted
KEPT_ON_SERVER: Final = "servidor"  # POP3 poison: left on the server on purpose, skipped
