"""Microsoft (Outlook.com, Microsoft 365): msal's device-code flow and silent refresh.

The device-code flow suits a terminal over SSH: the technician opens a short address on
any device, types a code and signs in there. The msal token cache (refresh token
included) is serialized into the account's `TokenStore` and written back whenever msal
changes it, because Microsoft rotates refresh tokens. msal is imported only here, and
only when an OAuth2 account is actually used.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from tui_recepcion.config import Account
from tui_recepcion.errors import ConfigError, ConnectionProblem
from tui_recepcion.oauth.flows import (
    AccessToken,
    AuthorizationCancelled,
    AuthorizationError,
    AuthorizationUI,
    client_id,
    first_line,
    missing_authorization,
    token_error,
)
from tui_recepcion.oauth.token_cache import TokenStore
from tui_recepcion.secrets import Secret

PROVIDER_NAME = "Microsoft"
AUTHORITY_HOST = "https://login.microsoftonline.com"
# Delegated Exchange Online permissions. msal adds offline_access (the refresh token),
# openid and profile by itself and refuses them here ("reserved scopes").
SCOPES: tuple[str, ...] = (
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "https://outlook.office.com/POP.AccessAsUser.All",
    "https://outlook.office.com/SMTP.Send",
)
CONSUMER_DOMAINS = frozenset({"outlook.com", "hotmail.com", "live.com", "msn.com"})
_WELL_KNOWN_TENANTS = frozenset({"common", "consumers", "organizations"})


def authority_url(account: Account) -> tuple[str, bool]:
    """The account's authority URL, and whether it is a custom one (not Microsoft's host).

    `autoridad` is "consumers" (Outlook.com, Hotmail), "organizations", "common", a tenant
    id or domain, or a full https URL (sovereign clouds; the tests' local stand-in). When
    it is absent, personal domains get "consumers" and every other domain "organizations".
    """
    configured = account.oauth.authority if account.oauth is not None else None
    if not configured:
        domain = account.username.rpartition("@")[2].lower()
        configured = "consumers" if domain in CONSUMER_DOMAINS else "organizations"
    if configured.startswith("https://"):
        url = configured.rstrip("/")
        return url, urlsplit(url).hostname != urlsplit(AUTHORITY_HOST).hostname
    tenant = configured.strip()
    if tenant.lower() in _WELL_KNOWN_TENANTS or (tenant and all(c.isalnum() or c in ".-" for c in tenant)):
        return f"{AUTHORITY_HOST}/{tenant}", False
    raise ConfigError(
        f'La autoridad «{configured}» de la cuenta «{account.id}» no es válida: use "consumers", '
        '"organizations", el ID del inquilino (tenant) o una dirección https://.'
    )


class MicrosoftFlow:
    """Device code to authorize, `acquire_token_silent` afterwards; state in the TokenStore.

    `http_client` (a requests.Session) replaces msal's own; tests use it to trust their CA.
    """

    scopes = SCOPES

    def __init__(self, *, http_client: Any = None, timeout: float = 30.0) -> None:
        self._http_client = http_client
        self._timeout = timeout

    # -- the msal application ---------------------------------------------------------

    def _application(self, account: Account, cache: Any) -> Any:
        import msal
        import requests

        url, custom = authority_url(account)
        options: dict[str, Any] = {"validate_authority": False, "instance_discovery": False} if custom else {}
        try:
            return msal.PublicClientApplication(
                client_id(account),
                authority=url,
                token_cache=cache,
                http_client=self._http_client,
                timeout=self._timeout,
                **options,
            )
        except requests.RequestException as error:
            raise _unreachable(account, error) from None
        except ValueError:  # msal: the authority answered 4xx or nonsense to discovery
            raise ConfigError(
                f"Microsoft no reconoce la autoridad «{url}» de la cuenta «{account.id}»: revise "
                f'autoridad en [cuentas.{account.id}.oauth2] ("consumers", "organizations" o el '
                "ID del inquilino)."
            ) from None

    # -- interactive ------------------------------------------------------------------

    def authorize(self, account: Account, ui: AuthorizationUI, tokens: TokenStore) -> str | None:
        import msal
        import requests

        cache = msal.SerializableTokenCache()  # a new authorization replaces the old state
        app = self._application(account, cache)
        try:
            flow = app.initiate_device_flow(scopes=list(self.scopes))
            if "user_code" not in flow:
                raise _refused(account, flow)
            ui.show_device_code(flow["verification_uri"], flow["user_code"], int(flow.get("expires_in", 900)))
            result = app.acquire_token_by_device_flow(
                flow, exit_condition=lambda f: ui.cancelled() or f.get("expires_at", 0) < time.time()
            )
        except requests.RequestException as error:
            raise _unreachable(account, error) from None
        if ui.cancelled():
            raise AuthorizationCancelled()
        if "access_token" not in result:
            if result.get("error") in ("authorization_pending", "expired_token", "code_expired"):
                raise AuthorizationError(
                    "El código venció antes de que se completara el inicio de sesión. Intente de nuevo."
                )
            raise _refused(account, result)
        tokens.save(Secret(cache.serialize()))
        claims = result.get("id_token_claims") or {}
        return claims.get("preferred_username") or claims.get("upn")

    # -- silent -----------------------------------------------------------------------

    def access_token(self, account: Account, tokens: TokenStore) -> AccessToken:
        import msal
        import requests

        state = tokens.load()
        if state is None:
            raise missing_authorization(account)
        cache = msal.SerializableTokenCache()
        try:
            cache.deserialize(state.reveal())
        except ValueError:
            raise missing_authorization(
                account, f"lo guardado en {tokens.describe()} no es un caché de tokens"
            ) from None
        app = self._application(account, cache)
        accounts = app.get_accounts(username=account.username) or app.get_accounts()
        if not accounts:
            raise missing_authorization(account, f"{tokens.describe()} no tiene ninguna sesión de Microsoft")
        try:
            result = app.acquire_token_silent_with_error(list(self.scopes), account=accounts[0])
        except requests.RequestException as error:
            raise _unreachable(account, error) from None
        finally:
            # Refresh tokens rotate: a new one must be saved even if this call then fails.
            if cache.has_state_changed:
                tokens.save(Secret(cache.serialize()))
        if not result:
            raise missing_authorization(account, "no hay token de renovación")
        if "access_token" not in result:
            raise token_error(
                account,
                PROVIDER_NAME,
                result.get("error", "desconocido"),
                result.get("error_description", ""),
            )
        return AccessToken(Secret(result["access_token"]), refreshed=result.get("token_source") != "cache")


def _unreachable(account: Account, error: Exception) -> ConnectionProblem:
    host = urlsplit(authority_url(account)[0]).netloc
    return ConnectionProblem(
        "conexion_perdida",
        f"No se pudo contactar a Microsoft ({host}) para obtener el token: {type(error).__name__}. "
        "Revise la conexión a internet; se reintentará más tarde.",
        transient=True,
    )


def _refused(account: Account, answer: dict[str, Any]) -> AuthorizationError:
    error = answer.get("error", "desconocido")
    description = first_line(str(answer.get("error_description", "")))
    hint = ""
    if error in ("invalid_client", "unauthorized_client"):
        hint = (
            " Revise que el client_id sea el de la aplicación registrada en Microsoft Entra ID y que "
            "tenga activado «Permitir flujos de clientes públicos»."
        )
    elif error == "invalid_scope":
        hint = " Revise los permisos delegados IMAP.AccessAsUser.All, POP.AccessAsUser.All y SMTP.Send."
    elif error in ("access_denied", "authorization_declined"):
        hint = " El inicio de sesión se rechazó o se canceló en el navegador."
    return AuthorizationError(
        f"Microsoft no autorizó la cuenta «{account.id}» ({error}: {description}).{hint}"
    )
