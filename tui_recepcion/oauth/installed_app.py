"""An installed-application OAuth2 flow (RFC 8252): browser, loopback redirect, PKCE.

For providers without a usable device flow (Google refuses it for mail scopes). The token
exchange and refreshes are plain form POSTs to the provider's token endpoint, done with
the standard library. The stored state is a small JSON document with the refresh token
and the last access token; it lives in the account's TokenStore.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from tui_recepcion.config import Account
from tui_recepcion.errors import ConfigError, ConnectionProblem, SecretMissing
from tui_recepcion.oauth.flows import (
    EXPIRY_MARGIN_SECONDS,
    AccessToken,
    AuthorizationCancelled,
    AuthorizationError,
    AuthorizationUI,
    client_id,
    missing_authorization,
    token_error,
)
from tui_recepcion.oauth.redirect import Pkce, RedirectCatcher, new_state, parse_redirect_url
from tui_recepcion.oauth.token_cache import TokenStore
from tui_recepcion.secrets import EnvStore, Secret, SecretStore, secret_store

STATE_VERSION = 1

log = logging.getLogger(__name__)


class InstalledAppFlow:
    """Authorization-code flow with a loopback redirect and PKCE; refresh with the token endpoint.

    `extra_parameters` go into the authorization URL (Google needs access_type=offline and
    prompt=consent to issue a refresh token). `ssl_context` verifies the token endpoint
    (tests pass one that trusts their CA).
    """

    def __init__(
        self,
        *,
        provider_name: str,
        auth_endpoint: str,
        token_endpoint: str,
        scopes: tuple[str, ...],
        extra_parameters: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.provider_name = provider_name
        self.auth_endpoint = auth_endpoint
        self.token_endpoint = token_endpoint
        self.scopes = scopes
        self.extra_parameters = dict(extra_parameters or {})
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._timeout = timeout

    def authorization_url(self, account: Account, redirect_uri: str, state: str, pkce: Pkce) -> str:
        parameters = {
            "client_id": client_id(account),
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(self.scopes),
            "state": state,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
            "login_hint": account.username,
            **self.extra_parameters,
        }
        return f"{self.auth_endpoint}?{urlencode(parameters)}"

    # -- interactive ------------------------------------------------------------------

    def authorize(self, account: Account, ui: AuthorizationUI, tokens: TokenStore) -> str | None:
        client_secret = self._client_secret(account, ui)
        pkce, state = Pkce.new(), new_state()
        with RedirectCatcher(state) as catcher:
            redirect_uri = catcher.redirect_uri
            pasted = ui.ask_redirect_url(
                self.authorization_url(account, redirect_uri, state, pkce), catcher.received
            )
        if ui.cancelled():
            raise AuthorizationCancelled()
        redirect = pasted.strip() if pasted and pasted.strip() else catcher.redirect
        if redirect is None:
            raise AuthorizationError("No se recibió la redirección del navegador: no se guardó ningún token.")
        code = parse_redirect_url(redirect, state)
        answer = self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": client_id(account),
                "client_secret": client_secret.reveal(),
                "code_verifier": pkce.verifier,
            }
        )
        if "access_token" not in answer or not answer.get("refresh_token"):
            error = answer.get("error", "sin token de renovación")
            description = str(answer.get("error_description", ""))[:200]
            raise AuthorizationError(
                f"{self.provider_name} no entregó el token de la cuenta «{account.id}» ({error}"
                f"{': ' + description if description else ''}). Intente de nuevo."
            )
        tokens.save(_state(answer, answer["refresh_token"]))
        return None  # the mail scope alone does not say which account consented

    # -- silent -----------------------------------------------------------------------

    def access_token(self, account: Account, tokens: TokenStore) -> AccessToken:
        stored = tokens.load()
        if stored is None:
            raise missing_authorization(account)
        state = _read_state(stored)
        if state is None:
            raise missing_authorization(
                account, f"lo guardado en {tokens.describe()} no es un token de {self.provider_name}"
            )
        if (
            state.get("access_token")
            and float(state.get("expires_at", 0)) - EXPIRY_MARGIN_SECONDS > time.time()
        ):
            return AccessToken(Secret(state["access_token"]), refreshed=False)
        client_secret = self._client_secret_store(account).read()
        answer = self._token_request(
            {
                "grant_type": "refresh_token",
                "refresh_token": state["refresh_token"],
                "client_id": client_id(account),
                "client_secret": client_secret.reveal(),
            }
        )
        if "access_token" not in answer:
            raise token_error(
                account,
                self.provider_name,
                str(answer.get("error", "desconocido")),
                str(answer.get("error_description", "")),
            )
        # Most providers keep the refresh token; one that sends a new one rotates it.
        tokens.save(_state(answer, answer.get("refresh_token") or state["refresh_token"]))
        return AccessToken(Secret(answer["access_token"]), refreshed=True)

    # -- the client secret ------------------------------------------------------------

    def _client_secret_store(self, account: Account) -> SecretStore:
        reference = account.oauth.client_secret_ref if account.oauth is not None else None
        if reference is None:
            raise ConfigError(
                f"Con {self.provider_name}, la cuenta «{account.id}» necesita el secreto del cliente "
                f'(client_secret) de la aplicación: agregue secreto_cliente = "archivo:/ruta" (o '
                f'"keyring") en [cuentas.{account.id}.oauth2].'
            )
        return secret_store(reference, account.id, f"{account.username}#cliente")

    def _client_secret(self, account: Account, ui: AuthorizationUI) -> Secret:
        """The stored client secret; asked for once and stored when the store is empty."""
        store = self._client_secret_store(account)
        try:
            return store.read()
        except SecretMissing:
            if isinstance(store, EnvStore):
                raise
        value = ui.ask_secret(f"Secreto del cliente (client_secret) de la aplicación de {self.provider_name}")
        if not value.reveal().strip():
            raise AuthorizationError("No se indicó el secreto del cliente: no se guardó ningún token.")
        value = Secret(value.reveal().strip())
        store.write(value)
        return value

    # -- the token endpoint -----------------------------------------------------------

    def _token_request(self, form: dict[str, str]) -> dict[str, Any]:
        """POST to the token endpoint; the JSON answer, error answers included.

        Network failures and server errors (5xx) raise a transient ConnectionProblem.
        """
        request = urllib.request.Request(
            self.token_endpoint,
            data=urlencode(form).encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            method="POST",
        )
        host = urlsplit(self.token_endpoint).netloc
        try:
            with urllib.request.urlopen(
                request, timeout=self._timeout, context=self._ssl_context
            ) as response:
                return _json_object(response.read())
        except urllib.error.HTTPError as error:
            body = _json_object(error.read())
            if error.code >= 500 or "error" not in body:
                raise ConnectionProblem(
                    "protocolo",
                    f"{self.provider_name} ({host}) respondió HTTP {error.code} al pedir el token; se reintentará más tarde.",
                    transient=True,
                ) from None
            return body
        except (urllib.error.URLError, OSError) as error:
            log.debug("no se pudo contactar el servidor de tokens", exc_info=error)
            raise ConnectionProblem(
                "conexion_perdida",
                f"No se pudo contactar a {self.provider_name} ({host}) para obtener el token. "
                "Revise la conexión a internet; se reintentará más tarde.",
                transient=True,
            ) from None


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _state(answer: Mapping[str, Any], refresh_token: str) -> Secret:
    try:
        expires_at = time.time() + float(answer.get("expires_in", 0))
    except (TypeError, ValueError):
        expires_at = 0.0  # unknown lifetime: refresh before the next use
    state = {
        "version": STATE_VERSION,
        "refresh_token": refresh_token,
        "access_token": answer["access_token"],
        "expires_at": expires_at,
        "scope": answer.get("scope", ""),
    }
    return Secret(json.dumps(state))


def _read_state(stored: Secret) -> dict[str, Any] | None:
    try:
        state = json.loads(stored.reveal())
    except ValueError:
        return None
    if (
        not isinstance(state, dict)
        or not isinstance(state.get("refresh_token"), str)
        or not state["refresh_token"]
    ):
        return None
    return state
