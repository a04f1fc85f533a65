"""The OAuth2 seam: what a provider's flow does, and what it needs from whoever shows it.

A provider plugin returns an `OAuthFlow` from `recepcion_oauth_flow`. The flow runs the
interactive authorization once (`authorize`, driven through an `AuthorizationUI` that the
CLI and the TUI implement) and afterwards hands out access tokens silently
(`access_token`), refreshing and persisting its state through the account's `TokenStore`.
Nothing here imports an identity-provider library: each flow imports its own, lazily.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from tui_recepcion.config import Account
from tui_recepcion.errors import (
    AuthenticationFailed,
    AuthorizationRequired,
    ConfigError,
    ConnectionProblem,
    RecepcionError,
)
from tui_recepcion.secrets import Secret

if TYPE_CHECKING:
    from tui_recepcion.oauth.token_cache import TokenStore

# Consider a cached access token expired this long before it really is, so that a token
# never runs out between being handed over and the server checking it.
EXPIRY_MARGIN_SECONDS = 300

# Token-endpoint errors (RFC 6749 §5.2, OpenID Connect) that mean the stored grant is gone.
REVOKED_GRANT_ERRORS = frozenset(
    {"invalid_grant", "interaction_required", "consent_required", "login_required"}
)
# Errors that mean the application registration or its configuration is wrong.
CLIENT_ERRORS = frozenset(
    {"invalid_client", "unauthorized_client", "invalid_scope", "unsupported_grant_type"}
)


class AuthorizationUI(Protocol):
    """What an interactive flow needs from the screen; the CLI and the TUI implement it.

    Methods are called from the thread running the flow (a worker thread in the TUI).
    """

    def show_device_code(self, url: str, code: str, expires_in: int) -> None:
        """Tell the technician to open `url` on any device and type `code` (valid `expires_in` s)."""

    def ask_redirect_url(self, auth_url: str, received: threading.Event) -> str | None:
        """Show `auth_url` and wait.

        Return the redirect address the technician pasted (the browser ran on another
        machine, so its redirect to 127.0.0.1 failed to load), or None as soon as
        `received` is set (the local redirect catcher got it) or the technician cancels.
        """

    def ask_secret(self, label: str) -> Secret:
        """Ask for a secret without echoing it (e.g. a Google client secret stored once)."""

    def cancelled(self) -> bool:
        """True once the technician asked to stop waiting; flows poll it."""


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: Secret
    refreshed: bool  # True when the identity provider issued it just now (not from the cache)


@dataclass(frozen=True, slots=True)
class Authorization:
    """The outcome of an interactive authorization."""

    signed_in_as: str | None  # the identity that consented, when the provider says so
    stored_in: str  # where the token state was saved, in Spanish (e.g. "el archivo /ruta")


class OAuthFlow(Protocol):
    """How one provider obtains and refreshes tokens (returned by `recepcion_oauth_flow`)."""

    scopes: tuple[str, ...]

    def authorize(self, account: Account, ui: AuthorizationUI, tokens: TokenStore) -> str | None:
        """Run the interactive flow and save the new state in `tokens`; return who signed in.

        Raises `AuthorizationCancelled` when `ui.cancelled()`, `AuthorizationError` when the
        provider refused, `ConnectionProblem` when it could not be reached.
        """

    def access_token(self, account: Account, tokens: TokenStore) -> AccessToken:
        """A valid access token, from the stored state or refreshed (and the new state saved).

        Raises `AuthorizationRequired` when the stored grant is missing, revoked or expired.
        """


class AuthorizationError(RecepcionError):
    """The interactive authorization did not complete (refused, expired, wrong redirect…)."""


class AuthorizationCancelled(AuthorizationError):
    """The technician cancelled the interactive authorization."""

    def __init__(self) -> None:
        super().__init__("Autorización cancelada: no se guardó ningún token.")


def client_id(account: Account) -> str:
    """The account's application (client) id, or a ConfigError saying where to put it."""
    value = account.oauth.client_id if account.oauth is not None else None
    if not value:
        raise ConfigError(
            f"La cuenta «{account.id}» usa OAuth2 pero no indica la aplicación: agregue "
            f'[cuentas.{account.id}.oauth2] con client_id = "…" (el ID de la aplicación '
            "registrada; vea la sección OAuth2 del README)."
        )
    return value


def first_line(text: str) -> str:
    """A provider's error description, short and on one line (Microsoft appends trace ids)."""
    return " ".join(text.strip().splitlines()[:1])[:200]


def authorize_again(account: Account) -> str:
    return f"Ejecute «tui-recepcion autorizar --cuenta {account.id}» para autorizarla de nuevo."


def missing_authorization(account: Account, detail: str = "") -> AuthorizationRequired:
    why = f" ({detail})" if detail else ""
    return AuthorizationRequired(
        "sin_autorizacion",
        f"La cuenta «{account.id}» no tiene una autorización OAuth2 guardada{why}. {authorize_again(account)}",
    )


def token_error(account: Account, provider: str, error: str, description: str = "") -> ConnectionProblem:
    """The exception for an error answer from a token endpoint while refreshing.

    A revoked or expired grant needs a new authorization; a rejected application needs its
    registration fixed; anything else (the provider is busy or failing) may pass by itself.
    """
    detail = f"{error}: {first_line(description)}" if description else error
    if error in REVOKED_GRANT_ERRORS:
        return AuthorizationRequired(
            "token_revocado",
            f"{provider} ya no acepta la autorización guardada de la cuenta «{account.id}» ({detail}): "
            "se revocó, venció por inactividad o cambió la contraseña del buzón. " + authorize_again(account),
        )
    if error in CLIENT_ERRORS:
        return AuthenticationFailed(
            f"{provider} rechazó la aplicación de la cuenta «{account.id}» ({detail}). Revise el "
            f"client_id de [cuentas.{account.id}.oauth2] y el registro de la aplicación (permisos, "
            f"flujos de cliente público) y autorice de nuevo: tui-recepcion autorizar --cuenta {account.id}"
        )
    return ConnectionProblem(
        "protocolo",
        f"{provider} no pudo renovar el token de la cuenta «{account.id}» ({detail}); se reintentará más tarde.",
        transient=True,
    )
