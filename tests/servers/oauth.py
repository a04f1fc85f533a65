"""OAuth2 on the mail-server side: Dovecot's token introspection endpoint, an XOAUTH2 SMTP.

Dovecot's `oauth2` passdb POSTs each XOAUTH2 token to `TokenIntrospection` (RFC 7662
style), which answers `{"active": "true", "username": ...}` for the tokens a test issued
and `{"active": "false"}` for any other (an invalid or expired one). `XOAuth2Smtp` is an
aiosmtpd server whose XOAUTH2 mechanism checks tokens against the same kind of registry.
"""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from tests.servers.certs import ServerCertificate
from tests.servers.dovecot import DovecotOptions
from tests.servers.http import HttpServer, Reply, Request
from tests.servers.smtp import SmtpServer, _Recorder

INTROSPECTION_PATH = "/introspeccion"


class TokenRegistry:
    """Which access tokens are valid, and for which mailbox user (thread-safe)."""

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def issue(self, token: str, username: str) -> str:
        with self._lock:
            self._tokens[token] = username
        return token

    def revoke(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def owner(self, token: str) -> str | None:
        with self._lock:
            return self._tokens.get(token)


class TokenIntrospection:
    """The HTTP endpoint Dovecot asks whether a token is active."""

    def __init__(self, registry: TokenRegistry) -> None:
        self.registry = registry
        self.server = HttpServer(self._answer)

    def _answer(self, request: Request) -> Reply:
        if request.method != "POST" or request.path != INTROSPECTION_PATH:
            return Reply(404, {"error": "not_found"})
        username = self.registry.owner(request.form.get("token", ""))
        if username is None:
            return Reply(200, {"active": "false"})
        return Reply(200, {"active": "true", "username": username})

    @property
    def url(self) -> str:
        return self.server.base_url + INTROSPECTION_PATH


def dovecot_oauth2_options(introspection_url: str, directory: Path) -> DovecotOptions:
    """A Dovecot variant that accepts XOAUTH2/OAUTHBEARER tokens checked by introspection."""
    settings = directory / "dovecot-oauth2.conf.ext"
    settings.write_text(
        f"introspection_mode = post\n"
        f"introspection_url = {introspection_url}\n"
        "username_attribute = username\n"
        "active_attribute = active\n"
        "active_value = true\n"
    )
    return DovecotOptions(
        name="dovecot-oauth2",
        auth_mechanisms="plain login xoauth2 oauthbearer",
        extra_passdbs=(
            f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {settings}\n}}",
        ),
    )


def xoauth2_response(username: str, token: str) -> bytes:
    """The XOAUTH2 initial client response (before base64), as a test client sends it."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01".encode()


class _XOAuth2Recorder(_Recorder):
    """The recording handler plus an XOAUTH2 mechanism that checks tokens in a registry."""

    def __init__(self, registry: TokenRegistry) -> None:
        super().__init__()
        self.registry = registry

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) > 1:
            response: object = base64.b64decode(args[1])
        else:
            response = await server.challenge_auth("")
        if not isinstance(response, bytes):  # the client aborted or sent bad base64: answered already
            return AuthResult(success=False, handled=True)
        fields = dict(
            part.split("=", 1) for part in response.decode(errors="replace").split("\x01") if "=" in part
        )
        username, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        if self.registry.owner(token) == username:
            return AuthResult(success=True, auth_data=username.encode())
        # Like Gmail: an error challenge the client answers with an empty line, then 535.
        error = json.dumps({"status": "401", "schemes": "Bearer", "scope": "https://mail.google.com/"})
        await server.challenge_auth(error)
        return AuthResult(success=False, handled=False)


class XOAuth2Smtp(SmtpServer):
    """SMTP submission with STARTTLS that accepts AUTH XOAUTH2 (and nothing else) for `registry` tokens."""

    def __init__(self, cert: ServerCertificate, registry: TokenRegistry) -> None:
        self.registry = registry
        super().__init__(cert, implicit_tls=False, users=())

    def _make_recorder(self) -> _Recorder:
        return _XOAuth2Recorder(self.registry)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        return AuthResult(success=False, handled=False)  # no passwords here: tokens only
