"""OAuth2 (XOAUTH2) for Microsoft and Google accounts, behind the provider plugins.

Importing this package registers the credentials factory that
`tui_recepcion.mailbox.account.credentials_for` uses for `tipo_servidor = "oauth2"`.
Identity-provider libraries (msal) are imported only by the flow that needs them.
"""

from __future__ import annotations

from tui_recepcion.mailbox.account import register_oauth_credentials
from tui_recepcion.mailbox.errors import AuthorizationRequired
from tui_recepcion.oauth.credentials import OAuthCredentials, authorize_account, flow_for, oauth_credentials
from tui_recepcion.oauth.flows import (
    AccessToken,
    Authorization,
    AuthorizationCancelled,
    AuthorizationError,
    AuthorizationUI,
    OAuthFlow,
)
from tui_recepcion.oauth.health import TokenHealthSink, report_token_health
from tui_recepcion.oauth.token_cache import TokenStore

register_oauth_credentials(oauth_credentials)

__all__ = [
    "AccessToken",
    "Authorization",
    "AuthorizationCancelled",
    "AuthorizationError",
    "AuthorizationRequired",
    "AuthorizationUI",
    "OAuthCredentials",
    "OAuthFlow",
    "TokenHealthSink",
    "TokenStore",
    "authorize_account",
    "flow_for",
    "oauth_credentials",
    "report_token_health",
]
