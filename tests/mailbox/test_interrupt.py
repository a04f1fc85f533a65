"""`interrupt(client)`: a call blocked on a stalled server returns at once, from another thread.

The engine calls it on SIGTERM and when a pass exceeds its wall-time bound. Here a real
server sits behind the fault proxy, which stalls the connection as the client sends its
next command; the blocked call must end in a transient ConnectionProblem soon after
interrupt() — long before the endpoint's 60 s timeout could explain it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.servers.certs import TestCertificates
from tests.servers.dovecot import DovecotServer
from tests.servers.endpoints import TEST_HOST
from tests.servers.faultproxy import Fault, FaultProxy
from tests.servers.smtp import SMTP_USER, SmtpServer
from tests.support.login_support import Bytes, connect, log_in, session_bytes, wake_accepter
from tui_recepcion.errors import AuthenticationFailed, ConnectionProblem
from tui_recepcion.mailbox.transport import (
    Endpoint,
    MailClient,
    close_quietly,
    connect_smtp,
    connection_errors,
    interrupt,
    login_smtp,
)
from tui_recepcion.secrets import Secret

LONG_TIMEOUT = 60.0  # far beyond the bounds below: only interrupt() can end the wait
RETURN_BOUND = 5.0  # how long the blocked thread may take to return after interrupt()
STALL_BOUND = 10.0  # how long the blocked call may take to reach the stalled server


def _mail_session(protocol: str, endpoint: Endpoint, *, logged_in: bool) -> Callable[[], MailClient]:
    def session() -> MailClient:
        if protocol == "smtp":
            client: MailClient = connect_smtp(endpoint)
            if logged_in:
                login_smtp(client, SMTP_USER.username, Secret(SMTP_USER.password))
            return client
        client = connect(protocol, endpoint)
        if logged_in:
            log_in(protocol, client)
        return client

    return session


def _noop(client: MailClient) -> None:
    client.noop()


def _login(protocol: str) -> Callable[[MailClient], None]:
    def login(client: MailClient) -> None:
        if protocol == "smtp":
            login_smtp(client, SMTP_USER.username, Secret(SMTP_USER.password))  # type: ignore[arg-type]
        else:
            log_in(protocol, client)

    return login


CASES = [("imap", "ssl"), ("imap", "starttls"), ("imap", "ninguna"), ("pop3", "ssl"), ("smtp", "starttls")]


@pytest.fixture
def upstream(request: pytest.FixtureRequest, tls_certs: TestCertificates) -> Iterator[tuple[str, FaultProxy, Endpoint]]:
    protocol, security = request.param
    if protocol == "smtp":
        server: SmtpServer = request.getfixturevalue("clean_smtp")
        port = server.port
    else:
        dovecot: DovecotServer = request.getfixturevalue("clean_dovecot")
        port = dovecot.ports.port_for(protocol, security)
    with FaultProxy(port) as proxy:
        endpoint = Endpoint(
            TEST_HOST, proxy.port, security, ca_file=tls_certs.ca_file,
            allow_plaintext=security == "ninguna", timeout=LONG_TIMEOUT,
        )
        yield protocol, proxy, endpoint
        wake_accepter(proxy)


def _blocked_then_interrupted(proxy: FaultProxy, client: MailClient, call: Callable[[MailClient], None],
                              protocol: str, endpoint: Endpoint) -> BaseException | None:
    """Run `call` on a thread until it is stuck on the stalled proxy, interrupt, return its outcome."""
    stats = proxy.connections[-1]
    outcome: list[BaseException] = []
    finished = threading.Event()

    def blocked() -> None:
        try:
            with connection_errors(endpoint, protocol.upper()):
                call(client)
        except BaseException as exc:  # everything is looked at, not only ConnectionProblem
            outcome.append(exc)
        finally:
            finished.set()

    thread = threading.Thread(target=blocked, name="llamada-bloqueada", daemon=True)
    thread.start()
    # The stall fires when the proxy holds back the call's first bytes: from then on the call
    # can only wait for an answer that never comes. (`finished` doubles as the poll's tick, so
    # a call that returned early is seen at once.)
    deadline = time.monotonic() + STALL_BOUND
    while not stats.fired and not finished.is_set():
        assert time.monotonic() < deadline, "the call never reached the stalled server"
        finished.wait(0.01)
    assert not finished.is_set(), f"the call returned before interrupt(): {outcome!r}"

    interrupt(client)
    thread.join(timeout=RETURN_BOUND)
    assert not thread.is_alive(), "interrupt() did not make the blocked call return"
    close_quietly(client)
    return outcome[0] if outcome else None


def _assert_lost_connection(outcome: BaseException | None) -> None:
    assert isinstance(outcome, ConnectionProblem), repr(outcome)
    assert not isinstance(outcome, AuthenticationFailed), repr(outcome)
    assert outcome.transient and outcome.code == "conexion_perdida", repr(outcome)


@pytest.mark.parametrize("upstream", CASES, indirect=True, ids=[f"{p}-{s}" for p, s in CASES])
def test_interrupt_ends_a_call_blocked_on_a_stalled_server(upstream: tuple[str, FaultProxy, Endpoint]) -> None:
    protocol, proxy, endpoint = upstream
    clean: Bytes = session_bytes(proxy, _mail_session(protocol, endpoint, logged_in=True))
    proxy.arm(Fault.stall(clean.up, "up"))  # the next command after the login is held back
    client = _mail_session(protocol, endpoint, logged_in=True)()
    _assert_lost_connection(_blocked_then_interrupted(proxy, client, _noop, protocol, endpoint))


@pytest.mark.parametrize("upstream", CASES, indirect=True, ids=[f"{p}-{s}" for p, s in CASES])
def test_interrupt_during_login_is_not_a_wrong_password(upstream: tuple[str, FaultProxy, Endpoint]) -> None:
    protocol, proxy, endpoint = upstream
    connected = session_bytes(proxy, _mail_session(protocol, endpoint, logged_in=False))
    proxy.arm(Fault.stall(connected.up, "up"))  # the login's first command is held back
    client = _mail_session(protocol, endpoint, logged_in=False)()
    _assert_lost_connection(_blocked_then_interrupted(proxy, client, _login(protocol), protocol, endpoint))


def test_interrupt_is_harmless_on_a_closed_or_unconnected_client(clean_dovecot: DovecotServer) -> None:
    endpoint = Endpoint(TEST_HOST, clean_dovecot.ports.imap, "ninguna", allow_plaintext=True, timeout=5)
    client = connect("imap", endpoint)
    log_in("imap", client)
    client.logout()
    interrupt(client)  # closed already: nothing happens, nothing is raised
    pop = connect("pop3", Endpoint(TEST_HOST, clean_dovecot.ports.pop3, "ninguna", allow_plaintext=True))
    pop.close()  # poplib drops its socket: sock is None
    interrupt(pop)
