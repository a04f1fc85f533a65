"""A connection that fails during login is a transient problem, never a wrong password.

Only an explicit refusal (IMAP NO, POP3 -ERR, SMTP 5xx) is `AuthenticationFailed`, which
pauses the account for an hour and alerts the technician. A cut, a reset or a stall in the
middle of the login exchange is a transient `ConnectionProblem`: the account retries soon.

The first part uses scripted servers for exact situations; the second cuts, resets and
stalls real Dovecot sessions through the fault proxy at offsets measured inside the login
exchange of a clean session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.certs import TestCertificates
from tests.servers.dovecot import DovecotServer
from tests.servers.endpoints import TEST_HOST
from tests.servers.faultproxy import Fault, FaultProxy
from tests.servers.net import scripted_server
from tests.support.login_support import connect, log_in, login_phase, wake_accepter
from tui_recepcion.errors import AuthenticationFailed, ConnectionProblem
from tui_recepcion.mailbox.transport import (
    Endpoint,
    MailClient,
    close_quietly,
    connect_imap,
    connect_pop3,
    connect_smtp,
    login_imap,
    login_pop3,
    login_smtp,
    oauth2_login_imap,
    oauth2_login_pop3,
)
from tui_recepcion.secrets import Secret

USER = "recepcion@prueba.co"
PASSWORD = Secret("Clave-De-Prueba-1!")
TOKEN = Secret("ya29.token-de-prueba-abcdef0123456789")


def _plain(port: int, timeout: float = 5) -> Endpoint:
    return Endpoint("127.0.0.1", port, "ninguna", allow_plaintext=True, timeout=timeout)


def _transient(problem: ConnectionProblem, *codes: str) -> None:
    assert not isinstance(problem, AuthenticationFailed), repr(problem)
    assert problem.transient, repr(problem)
    if codes:
        assert problem.code in codes, repr(problem)


# --- scripted servers: exactly what happens after the credentials are sent ------------------


def _imap(capabilities: str, after_credentials: bytes | None):
    """IMAP that answers the credentials (LOGIN, or the SASL response) with `after_credentials`."""
    authenticating: list[bytes] = []

    def answer(line: bytes) -> bytes | None:
        if authenticating:
            tag = authenticating.pop()
            return None if after_credentials is None else after_credentials.replace(b"TAG", tag)
        tag, _, rest = line.partition(b" ")
        command = rest.split(b" ", 1)[0].upper().strip()
        if command == b"CAPABILITY":
            return b"* CAPABILITY " + capabilities.encode() + b"\r\n" + tag + b" OK listo\r\n"
        if command == b"AUTHENTICATE":
            authenticating.append(tag)
            return b"+ \r\n"
        if command == b"LOGIN":
            return None if after_credentials is None else after_credentials.replace(b"TAG", tag)
        return tag + b" OK listo\r\n"

    return scripted_server(b"* OK [CAPABILITY " + capabilities.encode() + b"] listo\r\n", answer)


IMAP_CAPABILITIES = ["IMAP4rev1", "IMAP4rev1 AUTH=PLAIN"]  # LOGIN, AUTHENTICATE PLAIN


@pytest.mark.parametrize("capabilities", IMAP_CAPABILITIES)
@pytest.mark.parametrize(
    ("reply", "codes"),
    [
        (None, ("conexion_perdida",)),  # hangs up
        (b"TAG BAD orden mal formada\r\n", ("protocolo",)),
        (b"TAG NO [UNAVAILABLE] intente luego\r\n", ("protocolo",)),
        (b"", ("tiempo_agotado",)),  # never answers
    ],
)
def test_imap_login_without_a_verdict_is_transient(capabilities: str, reply: bytes | None, codes) -> None:
    with _imap(capabilities, reply) as port:
        client = connect_imap(_plain(port, timeout=0.5))
        with pytest.raises(ConnectionProblem) as caught:
            login_imap(client, USER, PASSWORD)
        close_quietly(client)
    _transient(caught.value, *codes)
    if caught.value.code == "tiempo_agotado":  # the login's peer knows the socket's timeout
        assert "no respondió en 0,5 s" in str(caught.value)


@pytest.mark.parametrize("capabilities", IMAP_CAPABILITIES)
def test_imap_tagged_no_is_a_wrong_password(capabilities: str) -> None:
    with _imap(capabilities, b"TAG NO [AUTHENTICATIONFAILED] Authentication failed.\r\n") as port:
        client = connect_imap(_plain(port))
        with pytest.raises(AuthenticationFailed) as caught:
            login_imap(client, USER, PASSWORD)
        close_quietly(client)
    assert "[AUTHENTICATIONFAILED]" in str(caught.value)


@pytest.mark.parametrize(("reply", "verdict"), [(None, False), (b"TAG NO [AUTHENTICATIONFAILED] no\r\n", True)])
def test_imap_xoauth2_only_a_tagged_no_refuses_the_token(reply: bytes | None, verdict: bool) -> None:
    with _imap("IMAP4rev1 AUTH=XOAUTH2", reply) as port:
        client = connect_imap(_plain(port))
        with pytest.raises(ConnectionProblem) as caught:
            oauth2_login_imap(client, USER, TOKEN)
        close_quietly(client)
    assert isinstance(caught.value, AuthenticationFailed) is verdict
    if not verdict:
        _transient(caught.value, "conexion_perdida")


def _pop3(after: dict[bytes, bytes | None]):
    """POP3 that answers each command in `after` as given (None: hangs up); +OK otherwise."""
    sasl: list[bool] = []

    def answer(line: bytes) -> bytes | None:
        command = line.split(b" ", 1)[0].upper().strip()
        if sasl:
            command = b"<respuesta SASL>"
        if command == b"CAPA":
            return b"+OK\r\nUSER\r\nSASL XOAUTH2\r\n.\r\n"
        if command == b"AUTH":
            sasl.append(True)
        if command in after:
            return after[command]
        return b"+ \r\n" if command == b"AUTH" else b"+OK\r\n"

    return scripted_server(b"+OK listo\r\n", answer)


@pytest.mark.parametrize(
    ("after", "codes"),
    [
        ({b"PASS": None}, ("conexion_perdida",)),
        ({b"USER": None}, ("conexion_perdida",)),
        ({b"PASS": b""}, ("tiempo_agotado",)),
        ({b"PASS": b"-ERR [SYS/TEMP] intente luego\r\n"}, ("protocolo",)),
    ],
)
def test_pop3_login_without_a_verdict_is_transient(after: dict[bytes, bytes | None], codes) -> None:
    with _pop3(after) as port:
        client = connect_pop3(_plain(port, timeout=0.5))
        with pytest.raises(ConnectionProblem) as caught:
            login_pop3(client, USER, PASSWORD)
        close_quietly(client)
    _transient(caught.value, *codes)


def test_pop3_err_to_pass_is_a_wrong_password() -> None:
    with _pop3({b"PASS": b"-ERR [AUTH] Authentication failed.\r\n"}) as port:
        client = connect_pop3(_plain(port))
        with pytest.raises(AuthenticationFailed, match=r"\[AUTH\] Authentication failed"):
            login_pop3(client, USER, PASSWORD)
        close_quietly(client)


@pytest.mark.parametrize(("reply", "verdict"), [(None, False), (b"-ERR [AUTH] no\r\n", True)])
def test_pop3_xoauth2_only_an_err_refuses_the_token(reply: bytes | None, verdict: bool) -> None:
    with _pop3({b"<respuesta SASL>": reply}) as port:
        client = connect_pop3(_plain(port))
        with pytest.raises(ConnectionProblem) as caught:
            oauth2_login_pop3(client, USER, TOKEN)
        close_quietly(client)
    assert isinstance(caught.value, AuthenticationFailed) is verdict


def _smtp(auth_reply: bytes | None):
    def answer(line: bytes) -> bytes | None:
        upper = line.upper()
        if upper.startswith(b"EHLO"):
            return b"250-hola\r\n250 AUTH PLAIN\r\n"
        if upper.startswith(b"AUTH"):
            return auth_reply
        return b"250 listo\r\n"

    return scripted_server(b"220 hola\r\n", answer)


@pytest.mark.parametrize(
    ("reply", "verdict", "code", "transient"),
    [
        (None, False, "conexion_perdida", True),
        (b"", False, "tiempo_agotado", True),
        (b"23\r\n", False, "conexion_perdida", True),  # a reply cut short, as smtplib reads it
        (b"454 4.7.0 Temporary authentication failure\r\n", False, "protocolo", True),
        (b"501 5.5.4 Syntax error\r\n", False, "protocolo", False),
        (b"535 5.7.8 Authentication credentials invalid\r\n", True, "credenciales_invalidas", False),
        (b"534 5.7.9 Application-specific password required\r\n", True, "credenciales_invalidas", False),
    ],
)
def test_smtp_only_a_5xx_verdict_is_a_wrong_password(reply, verdict: bool, code: str, transient: bool) -> None:
    with _smtp(reply) as port:
        client = connect_smtp(_plain(port, timeout=0.5))
        with pytest.raises(ConnectionProblem) as caught:
            login_smtp(client, USER, PASSWORD)
        close_quietly(client)
    assert isinstance(caught.value, AuthenticationFailed) is verdict
    assert (caught.value.code, caught.value.transient) == (code, transient)


# --- real Dovecot through the fault proxy -----------------------------------------------

SESSIONS = [
    ("imap", "ssl"),
    ("imap", "starttls"),
    ("pop3", "ssl"),
    ("pop3", "starttls"),
    ("imap", "ninguna"),  # in plaintext a cut can fall inside a line ("+O" of "+OK")
    ("pop3", "ninguna"),
]


@pytest.fixture
def proxied(
    request: pytest.FixtureRequest, clean_dovecot: DovecotServer, tls_certs: TestCertificates
) -> Iterator[tuple[str, FaultProxy, Endpoint]]:
    protocol, security = request.param
    with FaultProxy(clean_dovecot.ports.port_for(protocol, security)) as proxy:
        endpoint = Endpoint(
            TEST_HOST, proxy.port, security, ca_file=tls_certs.ca_file, allow_plaintext=security == "ninguna",
            timeout=10,
        )
        yield protocol, proxy, endpoint
        wake_accepter(proxy)


# A TLS session's length varies by a few bytes from one connection to the next (an ECDSA
# signature's DER length; with STARTTLS, whether the TLS 1.3 session tickets arrive before
# the client returns from connecting), so offsets stay this far inside the login phase.
TLS_JITTER = 8


def _offsets(start: int, end: int, *, tls: bool, every: bool) -> list[int]:
    """Offsets inside [start, end): its edges, and either every byte or six spread between."""
    if tls:
        end -= TLS_JITTER
    if every:
        return list(range(start, end))
    span = end - start
    inner = {start + span * i // 6 for i in range(6)}
    return sorted(inner | {start, start + 1, start + 2, end - 3, end - 2, end - 1})


def _outcome(protocol: str, endpoint: Endpoint) -> BaseException | None:
    """What a connect + login through the proxy ended in (None: it succeeded)."""
    client: MailClient | None = None
    try:
        client = connect(protocol, endpoint)
        log_in(protocol, client)
    except BaseException as exc:  # everything is looked at, not only ConnectionProblem
        return exc
    finally:
        if client is not None:
            close_quietly(client)
    return None


def _judge(outcome: BaseException | None, *codes: str) -> str | None:
    """Why `outcome` is wrong, or None when it is a transient ConnectionProblem with `codes`."""
    if outcome is None:
        return "el inicio de sesión funcionó pese al fallo"
    if not isinstance(outcome, ConnectionProblem):
        return f"excepción fuera de ConnectionProblem: {outcome!r}"
    if isinstance(outcome, AuthenticationFailed):
        return f"tomado por contraseña equivocada: {outcome!r}"
    if not outcome.transient or outcome.code not in codes:
        return f"no transitorio o código inesperado: {outcome!r}"
    return None


@pytest.mark.parametrize("proxied", SESSIONS, indirect=True, ids=[f"{p}-{s}" for p, s in SESSIONS])
def test_cut_or_reset_during_login_is_transient(proxied: tuple[str, FaultProxy, Endpoint]) -> None:
    protocol, proxy, endpoint = proxied
    connected, logged_in = login_phase(proxy, protocol, endpoint)
    every = endpoint.security == "ninguna" and protocol == "pop3"
    wrong: list[str] = []
    runs = 0
    for action in ("cut", "reset"):
        for direction, start, end in (
            ("down", connected.down, logged_in.down),
            ("up", connected.up, logged_in.up),
        ):
            for offset in _offsets(start, end, tls=endpoint.security != "ninguna", every=every):
                proxy.arm(Fault(action, offset, direction))  # type: ignore[arg-type]
                outcome = _outcome(protocol, endpoint)
                runs += 1
                assert proxy.connections[-1].fired, f"{action} {direction} {offset}: the fault did not fire"
                problem = _judge(outcome, "conexion_perdida")
                if problem:
                    wrong.append(f"{action} {direction} tras {offset} bytes: {problem}")
    assert not wrong, f"{len(wrong)} de {runs}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("proxied", SESSIONS[:4], indirect=True, ids=[f"{p}-{s}" for p, s in SESSIONS[:4]])
def test_stall_during_login_is_a_timeout(proxied: tuple[str, FaultProxy, Endpoint]) -> None:
    protocol, proxy, endpoint = proxied
    connected, _logged_in = login_phase(proxy, protocol, endpoint)
    short = Endpoint(endpoint.host, endpoint.port, endpoint.security, ca_file=endpoint.ca_file, timeout=1)
    for direction, after in (("down", connected.down), ("up", connected.up)):
        proxy.arm(Fault.stall(after, direction))  # type: ignore[arg-type]
        outcome = _outcome(protocol, short)
        assert proxy.connections[-1].fired
        assert _judge(outcome, "tiempo_agotado") is None, outcome
        assert "no respondió en 1 s" in str(outcome)
