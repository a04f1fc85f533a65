"""A server that echoes the client's login line never makes the secret show, in any form.

Scripted servers repeat what the client sent in their refusal (NO, BAD, BYE, -ERR, 535):
the secret must appear in none of the forms a login sends or a library writes, neither in
the message, nor in repr(), nor in a formatted traceback, nor anywhere in the exception
chain, and the echo must visibly have been there (masked), so the test cannot pass by the
server saying nothing.
"""

from __future__ import annotations

import base64
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.servers.net import scripted_server
from tui_recepcion.errors import AuthenticationFailed, ConnectionProblem
from tui_recepcion.mailbox.transport import (
    Endpoint,
    close_quietly,
    connect_imap,
    connect_pop3,
    connect_smtp,
    login_imap,
    login_pop3,
    login_smtp,
    oauth2_login_imap,
    oauth2_login_pop3,
    oauth2_login_smtp,
)
from tui_recepcion.secrets import Secret

USER = "recepcion@prueba.co"
PASSWORDS = [
    'comi"llas',
    "barra\\invertida",
    "con espacios  dobles",
    "contraseña-ñandú",
    "todo\\jun\"to 'ñ'  \\\\x",
]
ASCII_PASSWORDS = [p for p in PASSWORDS if p.isascii()]
ACCESS_TOKEN = "ya29.a0AfH6SMBtokenDePrueba-1234567890_abcdef"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _forms(secret: str) -> set[str]:
    """Every form in which the secret could leak (written out here, not taken from the code)."""
    escaped = secret.replace("\\", "\\\\").replace('"', '\\"')  # an IMAP quoted string
    forms = {secret, escaped}
    for form in (secret, escaped):
        forms.add(repr(form)[1:-1])
        forms.add(repr(form.encode())[2:-1])
    forms |= {
        _b64(secret),
        _b64(f"\0{USER}\0{secret}"),
        _b64(f"user={USER}\x01auth=Bearer {secret}\x01\x01"),
    }
    return forms


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [current.__cause__, current.__context__]


def _assert_nothing_leaks(problem: BaseException, secret: str) -> None:
    assert problem.__cause__ is None and problem.__context__ is None
    text = "".join(
        str(e) + repr(e) + "".join(traceback.format_exception(e)) + repr(e.args) for e in _chain(problem)
    )
    flat = " ".join(text.split())
    for form in _forms(secret):
        assert form not in text, form
        assert " ".join(form.split()) not in flat, form
    assert "********" in str(problem), str(problem)  # the echo was there, masked


def _plain(port: int) -> Endpoint:
    return Endpoint("127.0.0.1", port, "ninguna", allow_plaintext=True, timeout=5)


@contextmanager
def _refused(expected: type[ConnectionProblem] = AuthenticationFailed) -> Iterator[list[ConnectionProblem]]:
    caught: list[ConnectionProblem] = []
    with pytest.raises(expected) as info:
        yield caught
    caught.append(info.value)


# --- IMAP -------------------------------------------------------------------------


def _imap_server(capabilities: str, reply: Callable[[bytes, bytes], bytes], seen: list[bytes]):
    """An IMAP server that answers LOGIN, or the SASL response of AUTHENTICATE, with `reply(tag, line)`."""
    pending: list[bytes] = []  # the tag of an AUTHENTICATE waiting for its response

    def answer(line: bytes) -> bytes | None:
        seen.append(line)
        if pending:
            return reply(pending.pop(), line)
        tag, _, rest = line.partition(b" ")
        command = rest.split(b" ", 1)[0].upper().strip()
        if command == b"CAPABILITY":
            return b"* CAPABILITY " + capabilities.encode() + b"\r\n" + tag + b" OK listo\r\n"
        if command == b"LOGIN":
            return reply(tag, line)
        if command == b"AUTHENTICATE":
            pending.append(tag)
            return b"+ \r\n"
        if command == b"LOGOUT":
            return b"* BYE chao\r\n" + tag + b" OK listo\r\n"
        return tag + b" BAD no entiendo\r\n"

    greeting = b"* OK [CAPABILITY " + capabilities.encode() + b"] listo\r\n"
    return scripted_server(greeting, answer)


def _echo_no(tag: bytes, line: bytes) -> bytes:
    return tag + b" NO [AUTHENTICATIONFAILED] eco: " + line.strip() + b"\r\n"


def _echo_decoded_no(tag: bytes, line: bytes) -> bytes:
    try:  # the SASL response, echoed both as sent and decoded
        decoded = base64.b64decode(line.strip()).replace(b"\0", b" ")
    except ValueError:
        decoded = b""
    return tag + b" NO eco: " + line.strip() + b" = " + decoded + b"\r\n"


def _echo_bad(tag: bytes, line: bytes) -> bytes:
    return tag + b" BAD no entiendo: " + line.strip() + b"\r\n"


def _echo_bye(tag: bytes, line: bytes) -> bytes:
    return b"* BYE demasiados intentos: " + line.strip() + b"\r\n"


def _echo_garbage(tag: bytes, line: bytes) -> bytes:
    return b"?? " + line.strip() + b"\r\n"


@pytest.mark.parametrize("password", ASCII_PASSWORDS)
@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (_echo_no, AuthenticationFailed),
        (_echo_bad, ConnectionProblem),
        (_echo_bye, ConnectionProblem),
        (_echo_garbage, ConnectionProblem),
    ],
)
def test_imap_login_echo_never_shows_the_password(password: str, reply, expected) -> None:
    seen: list[bytes] = []
    with _imap_server("IMAP4rev1", reply, seen) as port:
        client = connect_imap(_plain(port))
        with _refused(expected) as caught:
            login_imap(client, USER, Secret(password))
        close_quietly(client)
    problem = caught[0]
    assert any(b" LOGIN " in line for line in seen)  # the quoted password was sent and echoed
    if expected is not AuthenticationFailed:
        assert not isinstance(problem, AuthenticationFailed) and problem.transient
    _assert_nothing_leaks(problem, password)


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("reply", [_echo_no, _echo_decoded_no, _echo_bad])
def test_imap_prefers_authenticate_plain_and_its_echo_never_shows(password: str, reply) -> None:
    seen: list[bytes] = []
    with _imap_server("IMAP4rev1 AUTH=PLAIN", reply, seen) as port:
        client = connect_imap(_plain(port))
        with _refused(AuthenticationFailed if reply is not _echo_bad else ConnectionProblem) as caught:
            login_imap(client, USER, Secret(password))
        close_quietly(client)
    assert not any(b" LOGIN " in line.upper() for line in seen)  # no quoted password on the wire
    assert any(b"AUTHENTICATE PLAIN" in line for line in seen)
    _assert_nothing_leaks(caught[0], password)


def test_imap_xoauth2_echo_never_shows_the_token() -> None:
    seen: list[bytes] = []
    with _imap_server("IMAP4rev1 AUTH=XOAUTH2", _echo_decoded_no, seen) as port:
        client = connect_imap(_plain(port))
        with _refused() as caught:
            oauth2_login_imap(client, USER, Secret(ACCESS_TOKEN))
        close_quietly(client)
    _assert_nothing_leaks(caught[0], ACCESS_TOKEN)


# --- POP3 -------------------------------------------------------------------------


def _pop3_server(reply: Callable[[bytes], bytes]):
    """A POP3 server that answers PASS (or the SASL response of AUTH) with `reply(line)`."""
    authenticating: list[bool] = []

    def answer(line: bytes) -> bytes | None:
        if authenticating:
            authenticating.clear()
            return reply(line)
        command = line.split(b" ", 1)[0].upper().strip()
        if command == b"CAPA":
            return b"+OK\r\nUSER\r\nSASL XOAUTH2 PLAIN\r\n.\r\n"
        if command == b"PASS":
            return reply(line)
        if command == b"AUTH":
            authenticating.append(True)
            return b"+ \r\n"
        if command == b"QUIT":
            return None
        return b"+OK\r\n"

    return scripted_server(b"+OK listo\r\n", answer)


def _pop_echo_err(line: bytes) -> bytes:
    return b"-ERR [AUTH] eco: " + line.strip() + b"\r\n"


def _pop_echo_garbage(line: bytes) -> bytes:
    return b"?? eco: " + line.strip() + b"\r\n"


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize(("reply", "expected"), [(_pop_echo_err, AuthenticationFailed),
                                                 (_pop_echo_garbage, ConnectionProblem)])
def test_pop3_pass_echo_never_shows_the_password(password: str, reply, expected) -> None:
    with _pop3_server(reply) as port:
        client = connect_pop3(_plain(port))
        with _refused(expected) as caught:
            login_pop3(client, USER, Secret(password))
        close_quietly(client)
    _assert_nothing_leaks(caught[0], password)


def test_pop3_xoauth2_echo_never_shows_the_token() -> None:
    with _pop3_server(_pop_echo_err) as port:
        client = connect_pop3(_plain(port))
        with _refused() as caught:
            oauth2_login_pop3(client, USER, Secret(ACCESS_TOKEN))
        close_quietly(client)
    _assert_nothing_leaks(caught[0], ACCESS_TOKEN)


# --- SMTP -------------------------------------------------------------------------


def _smtp_server(mechanisms: str):
    """An SMTP server offering `mechanisms` that refuses every AUTH with 535, echoing the line."""
    in_login: list[bool] = []

    def answer(line: bytes) -> bytes | None:
        if in_login:  # AUTH LOGIN: first the user, then the password, each in base64
            if len(in_login) == 1:
                in_login.append(True)
                return b"334 UGFzc3dvcmQ6\r\n"
            in_login.clear()
            return b"535 5.7.8 eco: " + line.strip() + b"\r\n"
        upper = line.upper()
        if upper.startswith((b"EHLO", b"HELO")):
            return b"250-hola\r\n250 AUTH " + mechanisms.encode() + b"\r\n"
        if upper.startswith(b"AUTH LOGIN"):
            in_login.append(True)
            if len(line.split()) == 2:  # no initial response: ask for the user first
                return b"334 VXNlcm5hbWU6\r\n"
            in_login.append(True)
            return b"334 UGFzc3dvcmQ6\r\n"
        if upper.startswith(b"AUTH"):
            return b"535 5.7.8 eco: " + line.strip() + b"\r\n"
        if upper.startswith(b"QUIT"):
            return None
        return b"250 listo\r\n"

    return scripted_server(b"220 hola\r\n", answer)


# UTF-8 credentials travel only by AUTH PLAIN (smtplib's AUTH LOGIN cannot encode them).
@pytest.mark.parametrize(
    ("password", "mechanisms"),
    [(p, "PLAIN") for p in PASSWORDS] + [(p, "LOGIN") for p in ASCII_PASSWORDS],
)
def test_smtp_auth_echo_never_shows_the_password(password: str, mechanisms: str) -> None:
    with _smtp_server(mechanisms) as port:
        client = connect_smtp(_plain(port))
        with _refused() as caught:
            login_smtp(client, USER, Secret(password))
        close_quietly(client)
    _assert_nothing_leaks(caught[0], password)


def test_smtp_xoauth2_echo_never_shows_the_token() -> None:
    with _smtp_server("XOAUTH2") as port:
        client = connect_smtp(_plain(port))
        with _refused() as caught:
            oauth2_login_smtp(client, USER, Secret(ACCESS_TOKEN))
        close_quietly(client)
    _assert_nothing_leaks(caught[0], ACCESS_TOKEN)
