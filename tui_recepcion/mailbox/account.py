"""How one configured account connects: its endpoints, its credentials and its source.

The single place that turns an `Account` from config.toml into live connections, shared by
`probar`, `procesar`, the alerts and the TUI, so each of them logs in exactly the same way.
"""

from __future__ import annotations

import poplib
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from imapclient import IMAPClient

from tui_recepcion.config import Account
from tui_recepcion.errors import ConfigError
from tui_recepcion.mailbox.imap import ImapSource
from tui_recepcion.mailbox.pop3 import Pop3Source
from tui_recepcion.mailbox.smtp import SmtpSession
from tui_recepcion.mailbox.source import MessageSource
from tui_recepcion.mailbox.transport import Endpoint, login_imap, login_pop3, login_smtp
from tui_recepcion.providers import ServerDefaults
from tui_recepcion.secrets import Secret, secret_store

DEFAULT_TIMEOUT = 30.0


class Credentials(Protocol):
    """Logs a connected client in; basic (password) and OAuth2 (token) implement it."""

    @property
    def username(self) -> str: ...

    def imap(self, client: IMAPClient) -> None: ...

    def pop3(self, client: poplib.POP3) -> None: ...

    def smtp(self, client: smtplib.SMTP) -> None: ...


@dataclass(frozen=True, slots=True)
class PasswordCredentials:
    username: str
    secret: Secret

    def imap(self, client: IMAPClient) -> None:
        login_imap(client, self.username, self.secret)

    def pop3(self, client: poplib.POP3) -> None:
        login_pop3(client, self.username, self.secret)

    def smtp(self, client: smtplib.SMTP) -> None:
        login_smtp(client, self.username, self.secret)


# OAuth2 accounts obtain a token through their provider; the factory is installed by
# `tui_recepcion.oauth` so this module does not depend on any identity provider library.
OAuthCredentialsFactory = Callable[[Account], Credentials]
_oauth_factory: OAuthCredentialsFactory | None = None


def register_oauth_credentials(factory: OAuthCredentialsFactory) -> None:
    global _oauth_factory
    _oauth_factory = factory


def read_secret(secret_ref: str, account: Account) -> Secret:
    """The secret named by `secret_ref` for this account; SecretError says why not."""
    return secret_store(secret_ref, account.id, account.username).read()


def credentials_for(account: Account) -> Credentials:
    if account.auth_type == "oauth2":
        import tui_recepcion.oauth  # noqa: F401  (registers the factory; imports no msal yet)

        if _oauth_factory is None:
            raise ConfigError(f"La cuenta «{account.id}» usa OAuth2, pero el soporte OAuth2 no está disponible.")
        return _oauth_factory(account)
    return PasswordCredentials(account.username, read_secret(account.secret_ref, account))


def account_endpoint(account: Account, timeout: float = DEFAULT_TIMEOUT) -> Endpoint:
    return Endpoint(
        host=account.host,
        port=account.port,
        security=account.security,
        ca_file=account.ca_file,
        allow_plaintext=account.allow_plaintext,
        timeout=timeout,
    )


def smtp_endpoint(account: Account, defaults: ServerDefaults | None, timeout: float = DEFAULT_TIMEOUT) -> Endpoint:
    """The account's [smtp] server, else its provider's (`defaults`)."""
    settings = account.smtp
    if settings is not None:
        host, port, security = settings.host, settings.port, settings.security
    elif defaults is not None:
        host, port, security = defaults.host, defaults.port, defaults.security
    else:
        raise ConfigError(
            f"La cuenta «{account.id}» no tiene servidor SMTP: agregue [cuentas.{account.id}.smtp] "
            "con servidor, puerto y seguridad (se usa para reenviar a respaldo y enviar alertas)."
        )
    return Endpoint(
        host=host,
        port=port,
        security=security,
        ca_file=account.ca_file,
        allow_plaintext=account.allow_plaintext,
        timeout=timeout,
    )


def smtp_credentials(account: Account) -> Credentials | None:
    """Who the SMTP session logs in as: the [smtp] user/secret, else the account's own."""
    settings = account.smtp
    if settings is not None and not settings.authenticate:
        return None
    if settings is None or (settings.username is None and settings.secret_ref is None):
        return credentials_for(account)
    username = settings.username or account.username
    return PasswordCredentials(username, read_secret(settings.secret_ref or account.secret_ref, account))


def smtp_sender(account: Account) -> str:
    """The envelope sender of forwards and alerts: the mailbox that sends them."""
    if account.smtp is not None and account.smtp.username and "@" in account.smtp.username:
        return account.smtp.username
    return account.username


def smtp_session(account: Account, defaults: ServerDefaults | None) -> SmtpSession:
    credentials = smtp_credentials(account)
    return SmtpSession(
        smtp_endpoint(account, defaults),
        credentials.smtp if credentials is not None else None,
        smtp_sender(account),
    )


def build_source(account: Account, smtp_defaults: ServerDefaults | None) -> MessageSource:
    """The IMAP or POP3 source for an account, with its credentials read now."""
    credentials = credentials_for(account)
    endpoint = account_endpoint(account)
    if account.protocol == "imap":
        return ImapSource(
            endpoint,
            credentials.imap,
            processed_folder=account.processed_folder,
            failed_folder=account.failed_folder,
        )
    if account.backup_email is None:
        raise ConfigError(f"La cuenta POP3 «{account.id}» necesita correo_respaldo.")
    smtp_endpoint(account, smtp_defaults)  # fail before touching the mailbox if SMTP is missing
    return Pop3Source(
        endpoint,
        credentials.pop3,
        account_id=account.id,
        backup_address=account.backup_email,
        smtp=lambda: smtp_session(account, smtp_defaults),
    )
