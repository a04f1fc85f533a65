"""How one configured account connects: its endpoints, its credentials and its source.

The single place that turns an `Account` from config.toml into live connections, shared by
`probar`, `procesar`, the alerts and the TUI, so each of them logs in exactly the same way.
Password or OAuth2 is decided here: the mailbox layer only sees `Credentials`, and the OAuth2
package knows nothing of providers or of this module.
"""

from __future__ import annotations

from tui_recepcion.config import Account
from tui_recepcion.errors import ConfigError
from tui_recepcion.mailbox.credentials import Credentials, PasswordCredentials
from tui_recepcion.mailbox.imap import ImapSource
from tui_recepcion.mailbox.pop3 import Pop3Source
from tui_recepcion.mailbox.smtp import SmtpSession
from tui_recepcion.mailbox.source import MessageSource
from tui_recepcion.mailbox.transport import Endpoint
from tui_recepcion.oauth import Authorization, AuthorizationUI, OAuthCredentials, OAuthFlow, TokenStore
from tui_recepcion.oauth.credentials import lock_for
from tui_recepcion.oauth.health import token_refreshed
from tui_recepcion.providers import ProviderRegistry, ServerDefaults, shared_registry
from tui_recepcion.secrets import Secret, secret_store

DEFAULT_TIMEOUT = 30.0


def read_secret(secret_ref: str, account: Account) -> Secret:
    """The secret named by `secret_ref` for this account; SecretError says why not."""
    return secret_store(secret_ref, account.id, account.username).read()


def credentials_for(account: Account, registry: ProviderRegistry | None = None) -> Credentials:
    if account.auth_type == "oauth2":
        return oauth_credentials(account, registry)
    return PasswordCredentials(account.username, read_secret(account.secret_ref, account))


def flow_for(account: Account, registry: ProviderRegistry | None = None) -> OAuthFlow:
    """The OAuth2 flow of the account's provider; ConfigError when it has none."""
    registry = registry or shared_registry()
    provider = registry.require(account.provider)
    flow = registry.oauth_flow(provider.id)
    if flow is None:
        raise ConfigError(
            f"El proveedor «{provider.id}» de la cuenta «{account.id}» no ofrece OAuth2: use "
            'tipo_servidor = "basica" o un proveedor con OAuth2 (outlook, gmail).'
        )
    return flow


def oauth_credentials(account: Account, registry: ProviderRegistry | None = None) -> OAuthCredentials:
    return OAuthCredentials(account, flow_for(account, registry), TokenStore.for_account(account))


def authorize_account(
    account: Account, ui: AuthorizationUI, registry: ProviderRegistry | None = None
) -> Authorization:
    """Run the provider's interactive flow and store the account's new token state."""
    if account.auth_type != "oauth2":
        raise ConfigError(
            f"La cuenta «{account.id}» usa autenticación básica: no necesita autorización. Para usar "
            'OAuth2 cambie tipo_servidor a "oauth2".'
        )
    flow = flow_for(account, registry)
    tokens = TokenStore.for_account(account)
    with lock_for(account.id):
        signed_in_as = flow.authorize(account, ui, tokens)
    token_refreshed(account.id)
    return Authorization(signed_in_as, tokens.describe())


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
    """An SMTP session for forwards and alerts, logged in as `smtp_credentials` says."""
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
