"""The project's words, each defined once: what a message's status, a destination, a
security mode, an authentication type or a protocol can be.

Config keys, the ledger, JSON output and the UI all use these values, so they are part of
the public contract and never change once released.
"""

from __future__ import annotations

from typing import Final, Literal, TypeGuard, get_args

# How a connection is secured (`seguridad`): TLS from the first byte, STARTTLS, or none
# (only with `permitir_sin_cifrado = true`).
Security = Literal["ssl", "starttls", "ninguna"]
SECURITIES: tuple[Security, ...] = get_args(Security)
SSL: Final = "ssl"
STARTTLS: Final = "starttls"
PLAINTEXT: Final = "ninguna"
SECURITY_LABELS: Final[dict[Security, str]] = {SSL: "SSL/TLS", STARTTLS: "STARTTLS", PLAINTEXT: "Ninguno"}

# How an account logs in (`tipo_servidor`): a password, or OAuth2 (XOAUTH2).
AuthType = Literal["basica", "oauth2"]
AUTH_TYPES: tuple[AuthType, ...] = get_args(AuthType)
BASIC: Final = "basica"
OAUTH2: Final = "oauth2"
AUTH_TYPE_LABELS: Final[dict[AuthType, str]] = {BASIC: "Autenticación Básica", OAUTH2: "OAuth2"}

# How the reception mailbox is read (`protocolo`), and every protocol a provider describes.
MailboxProtocol = Literal["imap", "pop3"]
MAILBOX_PROTOCOLS: tuple[MailboxProtocol, ...] = get_args(MailboxProtocol)
ServerProtocol = Literal["imap", "pop3", "smtp"]
SERVER_PROTOCOLS: tuple[ServerProtocol, ...] = get_args(ServerProtocol)
IMAP: Final = "imap"
POP3: Final = "pop3"
SMTP: Final = "smtp"
PROTOCOL_LABELS: Final[dict[ServerProtocol, str]] = {IMAP: "IMAP", POP3: "POP3", SMTP: "SMTP"}

# What became of a message (the ledger's `status`, JSON `estado`).
MessageStatus = Literal["procesado", "fallido"]
PROCESSED: Final = "procesado"
FAILED: Final = "fallido"
MESSAGE_STATUSES: tuple[MessageStatus, ...] = get_args(MessageStatus)

# Where a message ends up besides an IMAP folder.
BACKUP_DESTINATION: Final = "respaldo"  # POP3: forwarded to correo_respaldo, then deleted
KEPT_ON_SERVER: Final = "servidor"  # POP3 poison: left on the server on purpose, skipped


def is_security(value: object) -> TypeGuard[Security]:
    return value in SECURITIES


def is_auth_type(value: object) -> TypeGuard[AuthType]:
    return value in AUTH_TYPES


def is_mailbox_protocol(value: object) -> TypeGuard[MailboxProtocol]:
    return value in MAILBOX_PROTOCOLS


def is_server_protocol(value: object) -> TypeGuard[ServerProtocol]:
    return value in SERVER_PROTOCOLS


def is_message_status(value: object) -> TypeGuard[MessageStatus]:
    return value in MESSAGE_STATUSES


def counted(count: int, singular: str, plural: str) -> str:
    """"1 correo", "0 correos", "2 correos": a count with its noun in the right number.

    The plural is given, not derived: Spanish plurals are irregular enough («1 documento
    equivalente POS», «2 notas crédito»).
    """
    return f"{count} {singular if count == 1 else plural}"
