"""SASL initial client responses: PLAIN (RFC 4616) and XOAUTH2 (Google's and Microsoft's)."""

from __future__ import annotations

import base64

from tui_recepcion.errors import AuthenticationFailed, ConnectionProblem
from tui_recepcion.secrets import Secret


def plain(username: str, password: str, *, authzid: str = "") -> str:
    """PLAIN: authorisation identity (empty: the same as the user), user, password."""
    return f"{authzid}\0{username}\0{password}"


def xoauth2(username: str, token: str) -> str:
    """XOAUTH2: the user and the bearer token, each field ended by ^A, the whole by another."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01"


def encoded(response: str, errors: str = "strict") -> str:
    """A response as it travels: base64 of its UTF-8 bytes."""
    return base64.b64encode(response.encode("utf-8", errors)).decode("ascii")


def xoauth2_response(username: str, token: Secret) -> str:
    """The XOAUTH2 initial client response, refused before any server sees it if it cannot be sent."""
    value = token.reveal()
    if not value or not value.isascii() or any(c.isspace() or c < " " for c in value):
        raise AuthenticationFailed(
            f"El token OAuth2 de «{username}» está vacío o tiene caracteres no válidos; "
            "ejecute «tui-recepcion autorizar» para obtener uno nuevo."
        )
    if not username.isascii() or any(c < " " for c in username):
        raise ConnectionProblem(
            "protocolo",
            f"El usuario «{username}» tiene caracteres fuera de ASCII, que XOAUTH2 no transmite.",
            transient=False,
        )
    return xoauth2(username, value)
