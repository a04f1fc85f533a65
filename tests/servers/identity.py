"""Local HTTPS stand-ins for Microsoft's and Google's OAuth2 endpoints.

`MicrosoftStandIn` serves what msal needs for an authority `https://localhost:PORT/TENANT`
(OpenID configuration, device code, token) and plays the user: `approve()` is the
technician finishing the sign-in on another device. Each refresh issues a NEW refresh
token (Microsoft rotates them); `revoke()` makes every refresh answer `invalid_grant`.

`GoogleStandIn` serves a token endpoint for the installed-app flow; `consent(auth_url)` is
the user accepting in the browser and returns the address Google would redirect to. It
checks PKCE, the redirect URI and the client secret like Google does.

Access tokens they issue can be registered in a `TokenRegistry`, so the mail servers of
the tests accept them: the whole chain runs for real.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.servers.certs import ServerCertificate
from tests.servers.http import HttpServer, Reply, Request
from tests.servers.oauth import TokenRegistry

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
VERIFICATION_URI = "https://microsoft.com/devicelogin"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unsigned_jwt(claims: dict[str, object]) -> str:
    header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64url(json.dumps(claims).encode())}.firma"


class _TokenIssuer:
    """Numbered tokens; valid refresh tokens tracked; access tokens registered for a user."""

    def __init__(self, prefix: str, username: str, registry: TokenRegistry | None) -> None:
        self._numbers = itertools.count(1)
        self._prefix = prefix
        self.username = username
        self.registry = registry
        self.lock = threading.Lock()
        self.valid_refresh: set[str] = set()
        self.refresh_tokens: list[str] = []  # in issue order
        self.access_tokens: list[str] = []

    def access(self) -> str:
        token = f"{self._prefix}-at-{next(self._numbers)}"
        self.access_tokens.append(token)
        if self.registry is not None:
            self.registry.issue(token, self.username)
        return token

    def refresh(self) -> str:
        token = f"{self._prefix}-rt-{next(self._numbers)}"
        self.refresh_tokens.append(token)
        self.valid_refresh.add(token)
        return token

    def revoke(self) -> None:
        with self.lock:
            self.valid_refresh.clear()


class MicrosoftStandIn:
    def __init__(
        self,
        cert: ServerCertificate,
        username: str,
        *,
        tenant: str = "inquilino-prueba",
        access_lifetime: int = 3600,
        device_code_lifetime: int = 900,
        approve_on_poll: int | None = None,
        registry: TokenRegistry | None = None,
    ) -> None:
        self.tenant = tenant
        self.access_lifetime = access_lifetime
        self.device_code_lifetime = device_code_lifetime
        self.approve_on_poll = approve_on_poll  # approve by itself at that poll (1 = at once)
        self.approved = threading.Event()
        self.polls = 0
        self.tokens = _TokenIssuer("ms", username, registry)
        self.device_codes: dict[str, str] = {}  # device code -> the scopes asked for
        self.server = HttpServer(self._answer, cert)

    @property
    def authority(self) -> str:
        return f"{self.server.base_url}/{self.tenant}"

    def path(self, name: str) -> str:
        return f"/{self.tenant}/oauth2/v2.0/{name}"

    def approve(self) -> None:
        self.approved.set()

    def revoke(self) -> None:
        self.tokens.revoke()

    def token_requests(self, grant_type: str) -> list[Request]:
        return [
            r for r in self.server.requests_to(self.path("token")) if r.form.get("grant_type") == grant_type
        ]

    # -- endpoints ------------------------------------------------------------------

    def _answer(self, request: Request) -> Reply:
        if request.path == f"/{self.tenant}/v2.0/.well-known/openid-configuration":
            base = f"{self.server.base_url}/{self.tenant}/oauth2/v2.0"
            return Reply(
                200,
                {
                    "issuer": f"{self.server.base_url}/{self.tenant}/v2.0",
                    "authorization_endpoint": f"{base}/authorize",
                    "token_endpoint": f"{base}/token",
                    "device_authorization_endpoint": f"{base}/devicecode",
                },
            )
        if request.method == "POST" and request.path == self.path("devicecode"):
            return self._device_code(request)
        if request.method == "POST" and request.path == self.path("token"):
            with self.tokens.lock:
                return self._token(request)
        return Reply(404, {"error": "not_found"})

    def _device_code(self, request: Request) -> Reply:
        code = f"dc-{len(self.device_codes) + 1}"
        self.device_codes[code] = request.form.get("scope", "")
        return Reply(
            200,
            {
                "device_code": code,
                "user_code": "ABCD-EFGH",
                "verification_uri": VERIFICATION_URI,
                "expires_in": self.device_code_lifetime,
                "interval": 1,
                "message": f"To sign in, use a web browser to open {VERIFICATION_URI} and enter ABCD-EFGH.",
            },
        )

    def _token(self, request: Request) -> Reply:
        grant = request.form.get("grant_type")
        if grant == DEVICE_GRANT:
            if request.form.get("device_code") not in self.device_codes:
                return Reply(
                    400, {"error": "invalid_grant", "error_description": "AADSTS70000: unknown device code"}
                )
            self.polls += 1
            if self.approve_on_poll is not None and self.polls >= self.approve_on_poll:
                self.approved.set()
            if not self.approved.is_set():
                return Reply(
                    400, {"error": "authorization_pending", "error_description": "AADSTS70016: pending"}
                )
            return self._issue(request, self.device_codes[request.form["device_code"]])
        if grant == "refresh_token":
            if request.form.get("refresh_token") not in self.tokens.valid_refresh:
                return Reply(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "AADSTS700082: The refresh token has expired due to inactivity.\r\nTrace ID: 1",
                    },
                )
            return self._issue(request, request.form.get("scope", ""))
        return Reply(400, {"error": "unsupported_grant_type"})

    def _issue(self, request: Request, asked: str) -> Reply:
        username = self.tokens.username
        granted = [scope for scope in asked.split() if scope not in ("openid", "profile", "offline_access")]
        return Reply(
            200,
            {
                "token_type": "Bearer",
                "scope": " ".join(granted),
                "expires_in": self.access_lifetime,
                "ext_expires_in": self.access_lifetime,
                "access_token": self.tokens.access(),
                "refresh_token": self.tokens.refresh(),
                "id_token": _unsigned_jwt(
                    {
                        "iss": f"{self.server.base_url}/{self.tenant}/v2.0",
                        "aud": request.form.get("client_id"),
                        "sub": "sujeto-1",
                        "oid": "objeto-1",
                        "tid": self.tenant,
                        "preferred_username": username,
                    }
                ),
                "client_info": _b64url(json.dumps({"uid": "objeto-1", "utid": self.tenant}).encode()),
            },
        )


class GoogleStandIn:
    TOKEN_PATH = "/token"

    def __init__(
        self,
        cert: ServerCertificate,
        username: str,
        *,
        client_id: str,
        client_secret: str,
        access_lifetime: int = 3599,
        registry: TokenRegistry | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_lifetime = access_lifetime
        self.tokens = _TokenIssuer("g", username, registry)
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (PKCE challenge, redirect_uri)
        self.server = HttpServer(self._answer, cert)

    @property
    def token_endpoint(self) -> str:
        return self.server.base_url + self.TOKEN_PATH

    def consent(self, auth_url: str, *, deny: bool = False) -> str:
        """The user accepts (or denies) in the browser: the address the browser is sent to."""
        query = {key: values[-1] for key, values in parse_qs(urlsplit(auth_url).query).items()}
        assert query["client_id"] == self.client_id and query["code_challenge_method"] == "S256"
        if deny:
            return f"{query['redirect_uri']}?{urlencode({'error': 'access_denied', 'state': query['state']})}"
        code = f"4/codigo-{len(self.codes) + 1}"
        self.codes[code] = (query["code_challenge"], query["redirect_uri"])
        answer = {"state": query["state"], "code": code, "scope": query["scope"]}
        return f"{query['redirect_uri']}?{urlencode(answer)}"

    def revoke(self) -> None:
        self.tokens.revoke()

    def _answer(self, request: Request) -> Reply:
        if request.method != "POST" or request.path != self.TOKEN_PATH:
            return Reply(404, {"error": "not_found"})
        form = request.form
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return Reply(
                401, {"error": "invalid_client", "error_description": "The OAuth client was not found."}
            )
        with self.tokens.lock:
            if form.get("grant_type") == "authorization_code":
                return self._exchange(form)
            if form.get("grant_type") == "refresh_token":
                if form.get("refresh_token") not in self.tokens.valid_refresh:
                    return Reply(
                        400,
                        {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
                    )
                return Reply(200, self._access())
        return Reply(400, {"error": "unsupported_grant_type"})

    def _exchange(self, form: dict[str, str]) -> Reply:
        challenge, redirect_uri = self.codes.pop(form.get("code", ""), ("", ""))
        verifier = form.get("code_verifier", "")
        if not challenge or _b64url(hashlib.sha256(verifier.encode()).digest()) != challenge:
            return Reply(400, {"error": "invalid_grant", "error_description": "Bad code or verifier."})
        if form.get("redirect_uri") != redirect_uri:
            return Reply(400, {"error": "redirect_uri_mismatch"})
        return Reply(200, {**self._access(), "refresh_token": self.tokens.refresh()})

    def _access(self) -> dict[str, object]:
        return {
            "access_token": self.tokens.access(),
            "expires_in": self.access_lifetime,
            "scope": "https://mail.google.com/",
            "token_type": "Bearer",
        }
