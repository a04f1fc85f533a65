"""Google (Gmail, Google Workspace): the installed-application flow with a loopback redirect.

Google's device flow does not allow Gmail scopes, so the technician opens an address in a
browser; the redirect to 127.0.0.1 is caught locally, or pasted back when the browser
ran on another machine. Google's "Desktop app" clients also need their client secret in
the token requests (it is not confidential for installed apps, but still never shown).
"""

from __future__ import annotations

from typing import Any

from tui_recepcion.oauth.installed_app import InstalledAppFlow

AUTH_ENDPOINT = "https://accounts.google.com/o/oauth2/v2/auth"
TOKEN_ENDPOINT = "https://oauth2.googleapis.com/token"
SCOPES: tuple[str, ...] = ("https://mail.google.com/",)  # IMAP, POP3 and SMTP


def google_flow(**options: Any) -> InstalledAppFlow:
    """Google's flow; `options` (token_endpoint, ssl_context…) override the defaults in tests."""
    settings: dict[str, Any] = {
        "provider_name": "Google",
        "auth_endpoint": AUTH_ENDPOINT,
        "token_endpoint": TOKEN_ENDPOINT,
        "scopes": SCOPES,
        # Without both, Google issues no refresh token on a second authorization.
        "extra_parameters": {"access_type": "offline", "prompt": "consent"},
    }
    return InstalledAppFlow(**{**settings, **options})
