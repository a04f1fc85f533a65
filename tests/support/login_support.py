"""Helpers for the login-fault and interrupt tests: sessions through a FaultProxy, and their bytes."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass

from tests.servers.dovecot import RECEPCION
from tests.servers.faultproxy import FaultProxy
from tui_recepcion.mailbox.transport import (
    Endpoint,
    MailClient,
    close_quietly,
    connect_imap,
    connect_pop3,
    login_imap,
    login_pop3,
)
from tui_recepcion.secrets import Secret

# A relayed connection closes within this bound once the client hangs up (the proxy polls
# its sockets every 0.2 s); it is a bound on a wait, never a pause.
CLOSE_BOUND = 10.0


def connect(protocol: str, endpoint: Endpoint) -> MailClient:
    return connect_imap(endpoint) if protocol == "imap" else connect_pop3(endpoint)


def log_in(protocol: str, client: MailClient) -> None:
    login = login_imap if protocol == "imap" else login_pop3
    login(client, RECEPCION.address, Secret(RECEPCION.password))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Bytes:
    down: int  # what the server sent
    up: int  # what the client sent


def session_bytes(proxy: FaultProxy, session: Callable[[], MailClient]) -> Bytes:
    """Run `session` (which returns a live client) through `proxy`, hang up, and count its bytes.

    The client hangs up without a goodbye (no LOGOUT, no TLS close_notify), so the counts
    are exactly what the session itself exchanged; they are read once the proxy has seen the
    connection end, when its counters no longer move.
    """
    before = len(proxy.connections)
    client = session()
    close_quietly(client)
    stats = proxy.connections[before]
    assert stats.closed.wait(CLOSE_BOUND), "the proxy did not see the connection end"
    return Bytes(stats.down, stats.up)


def login_phase(proxy: FaultProxy, protocol: str, endpoint: Endpoint) -> tuple[Bytes, Bytes]:
    """Bytes of a clean connect, and of a clean connect + login, through `proxy`."""
    connected = session_bytes(proxy, lambda: connect(protocol, endpoint))

    def logged_in() -> MailClient:
        client = connect(protocol, endpoint)
        log_in(protocol, client)
        return client

    both = session_bytes(proxy, logged_in)
    assert both.down > connected.down and both.up > connected.up
    return connected, both


def wake_accepter(proxy: FaultProxy) -> None:
    """Let `proxy.stop()` finish at once instead of after its 5 s join bound.

    Closing a listening socket does not wake a thread blocked in accept() on Linux, so
    FaultProxy.stop() waits out its join timeout; shutting the listener down does wake it.
    (A fix belongs in FaultProxy.stop itself; this keeps the suite fast meanwhile.)
    """
    try:
        proxy._listener.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
