"""OAuth2 accounts' Credentials: XOAUTH2 logins with an access token refreshed as needed.

Which flow an account uses (its provider's) is decided by `tui_recepcion.accounts`; this
package depends on no provider and registers nothing on import.
"""

from __future__ import annotations

import poplib
import smtplib
import threading
from collections import defaultdict
from dataclasses import dataclass

from imapclient import IMAPClient  # type: ignore[import-untyped]  # IMAPClient ships no py.typed

from tui_recepcion.config import Account
from tui_recepcion.errors import AuthenticationFailed
from tui_recepcion.mailbox.transport import oauth2_login_imap, oauth2_login_pop3, oauth2_login_smtp
from tui_recepcion.oauth.flows import OAuthFlow
from tui_recepcion.oauth.health import token_failed, token_refreshed
from tui_recepcion.oauth.token_cache import TokenStore
from tui_recepcion.secrets import Secret

# One refresh at a time per account in this process: two threads refreshing together
# would both rotate the refresh token and the second save would undo the first.
_account_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
_locks_guard = threading.Lock()


def lock_for(account_id: str) -> threading.Lock:
    with _locks_guard:
        return _account_locks[account_id]


@dataclass(frozen=True, slots=True)
class OAuthCredentials:
    """Logs clients in with XOAUTH2, getting (and refreshing) the access token each time."""

    account: Account
    flow: OAuthFlow
    tokens: TokenStore

    def access_token(self) -> Secret:
        """A valid access token; AuthorizationRequired when the account must be authorised again."""
        with lock_for(self.account.id):
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
