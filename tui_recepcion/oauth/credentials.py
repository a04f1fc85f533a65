"""OAuth2 accounts: their flow, their Credentials (XOAUTH2 logins) and their authorization.

`oauth_credentials` is the factory `tui_recepcion.mailbox.account.credentials_for` uses for
`tipo_servidor = "oauth2"`; `authorize_account` is what `tui-recepcion autorizar` and the
TUI run to obtain the first token.
"""

from __future__ import annotations

import poplib
import smtplib
import threading
from collections import defaultdict
from dataclasses import dataclass

from imapclient import IMAPClient

from tui_recepcion.config import Account
from tui_recepcion.errors import ConfigError
from tui_recepcion.mailbox.errors import AuthenticationFailed
from tui_recepcion.mailbox.transport import oauth2_login_imap, oauth2_login_pop3, oauth2_login_smtp
from tui_recepcion.oauth.flows import Authorization, AuthorizationUI, OAuthFlow
from tui_recepcion.oauth.health import token_failed, token_refreshed
from tui_recepcion.oauth.token_cache import TokenStore
from tui_recepcion.providers import ProviderRegistry, shared_registry
from tui_recepcion.secrets import Secret

# One refresh at a time per account in this process: two threads refreshing together
# would both rotate the refresh token and the second save would undo the first.
_account_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
_locks_guard = threading.Lock()


def _lock_for(account_id: str) -> threading.Lock:
    with _locks_guard:
        return _account_locks[account_id]


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


@dataclass(frozen=True, slots=True)
class OAuthCredentials:
    """Logs clients in with XOAUTH2, getting (and refreshing) the access token each time."""

    account: Account
    flow: OAuthFlow
    tokens: TokenStore

    def access_token(self) -> Secret:
        """A valid access token; AuthorizationRequired when the account must be authorised again."""
        with _lock_for(self.account.id):
            try:
                token = self.flow.access_token(self.account, self.tokens)
            except AuthenticationFailed as error:
                token_failed(self.account.id, error.code, str(error))
                raise
        if token.refreshed:
            token_refreshed(self.account.id)
        return token.value

    @property
    def username(self) -> str:
        return self.account.username

    def imap(self, client: IMAPClient) -> None:
        oauth2_login_imap(client, self.username, self.access_token())

    def pop3(self, client: poplib.POP3) -> None:
        oauth2_login_pop3(client, self.username, self.access_token())

    def smtp(self, client: smtplib.SMTP) -> None:
        oauth2_login_smtp(client, self.username, self.access_token())


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
    with _lock_for(account.id):
        signed_in_as = flow.authorize(account, ui, tokens)
    token_refreshed(account.id)
    return Authorization(signed_in_as, tokens.describe())
