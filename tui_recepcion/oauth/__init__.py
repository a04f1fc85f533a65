"""OAuth2 (XOAUTH2) for Microsoft and Google accounts, behind the provider plugins.

Importing it changes nothing elsewhere: `tui_recepcion.accounts` chooses these credentials
for `tipo_servidor = "oauth2"`. Identity-provider libraries (msal) are imported only by the
flow that needs them.
"""

from __future__ import annotations

from tui_recepcion.errors import AuthorizationRequired
from tui_recepcion.oauth.credentials import OAuthCredentials
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
    "report_token_health",
]
