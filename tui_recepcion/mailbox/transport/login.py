"""What logging in means on every protocol: whose refusal it is, and what is refused before sending.

Only an explicit refusal of the credentials is AuthenticationFailed: an IMAP tagged NO to
LOGIN or AUTHENTICATE, a POP3 -ERR to USER, PASS or AUTH, an SMTP 5xx verdict on AUTH
(535, 534, 530, 538...). Everything else during a login is what it is: a dropped, reset or
stalled connection is a transient conexion_perdida or tiempo_agotado; an IMAP BAD or an
answer the library cannot parse is a transient protocol problem (no verdict on the
credentials, and retrying it cannot lock the account); "try later" response codes
([UNAVAILABLE], 4xx) are transient too.

OAuth2 accounts log in with SASL XOAUTH2 (the mechanism Microsoft and Google accept); a
refused token raises the same `AuthenticationFailed` as a refused password, with a reason
that says to authorise again.
"""

from __future__ import annotations

import smtplib
from typing import NoReturn

from tui_recepcion.errors import AuthenticationFailed, ConnectionProblem
from tui_recepcion.mailbox.transport.client import MailClient, socket_of
from tui_recepcion.mailbox.transport.faults import TEMPORARY_MARKERS, Peer
from tui_recepcion.secrets import Secret


def client_peer(client: MailClient, protocol: str) -> Peer:
    """Where a connected client talks to, with its socket's timeout for the messages."""
    sock = socket_of(client)
    timeout = None
    port: int = getattr(client, "port", 0)
    try:
        if sock is not None:
            timeout = sock.gettimeout()
            if isinstance(client, smtplib.SMTP):
                port = sock.getpeername()[1]
    except OSError:  # the socket closed already; the message just says less
        pass
    host: str = getattr(client, "_host", "?") if isinstance(client, smtplib.SMTP) else client.host
    return Peer(protocol, host, port, timeout)


def rejected_login(peer: Peer, username: str, text: str, *, token: bool = False) -> NoReturn:
    """Raise for a login the server refused; call it from the `except` that caught the refusal.

    `token` marks an OAuth2 (XOAUTH2) login, whose remedy is a new authorization.
    """
    upper = text.upper()
    if any(marker in upper for marker in TEMPORARY_MARKERS):
        raise ConnectionProblem(
            "protocolo",
            f"El servidor {peer.where} no pudo iniciar la sesión de «{username}» por un problema "
            f"temporal ({text}); se reintentará más tarde.",
            transient=True,
        ) from None
    if "[PRIVACYREQUIRED]" in upper:
        raise ConnectionProblem(
            "protocolo",
            f"El servidor {peer.where} exige una conexión cifrada para iniciar sesión ({text}).",
            transient=False,
        ) from None
    # `from None`: the library's exception is not kept, so no traceback repeats the exchange.
    if token:
        raise AuthenticationFailed(
            f"El servidor {peer.where} rechazó el token OAuth2 de «{username}»: el token no es "
            f"válido o venció (respuesta: {text}). Ejecute «tui-recepcion autorizar» para "
            "autorizar de nuevo la cuenta (con el mismo usuario del buzón); no se reintentará "
            "automáticamente."
        ) from None
    raise AuthenticationFailed(
        f"El servidor {peer.where} rechazó el usuario «{username}» o la contraseña "
        f"(respuesta: {text}). "
        "Revise ambos; no se reintentará automáticamente para no bloquear la cuenta."
    ) from None


def usable_password(secret: Secret, username: str) -> str:
    """The secret's value, refused before any server sees it if it cannot be sent."""
    password = secret.reveal()
    if any(c in password for c in "\r\n\0"):
        raise AuthenticationFailed(
            f"La contraseña de «{username}» contiene saltos de línea u otros caracteres de "
            "control; revise cómo se guardó (por ejemplo, un salto de línea al final del archivo)."
        )
    return password


def needs_utf8(username: str, password: str) -> bool:
    # LOGIN (IMAP) and smtplib's AUTH only carry ASCII; SASL PLAIN carries UTF-8.
    return not (username + password).isascii()


def no_plain_for_utf8(peer: Peer) -> ConnectionProblem:
    return ConnectionProblem(
        "protocolo",
        f"El usuario o la contraseña tienen caracteres fuera de ASCII (tildes, ñ) y el servidor "
        f"{peer.where} no ofrece AUTH PLAIN, el único método que los transmite.",
        transient=False,
    )


def no_xoauth2(peer: Peer) -> ConnectionProblem:
    return ConnectionProblem(
        "protocolo",
        f"El servidor {peer.where} no ofrece autenticación OAuth2 (XOAUTH2); revise el servidor "
        "y el puerto, o use autenticación básica si el proveedor la permite.",
        transient=False,
    )
