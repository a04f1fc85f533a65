"""Loopback stand-ins: free and refused ports, a silent server, a TLS-only and a scripted server."""

from __future__ import annotations

import socket
import socketserver
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port free right now (the caller binds it soon after; collisions are very unlikely)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


@contextmanager
def closed_port() -> Iterator[int]:
    """A port that refuses connections: bound (so no one else takes it) but not listening."""
    with socket.socket() as holder:
        holder.bind((LOOPBACK, 0))
        yield holder.getsockname()[1]


@contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and then never says a word.

    The kernel completes the handshake from the listen backlog, so a client connects
    and then waits for a greeting (or a TLS ServerHello) that never comes.
    """
    with socket.socket() as listener:
        listener.bind((LOOPBACK, 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until_listening(
    host: str, ports: Iterable[int], timeout: float, process: subprocess.Popen[bytes]
) -> None:
    """Poll until every port accepts a connection; RuntimeError if `process` dies or time runs out."""
    pending = set(ports)
    deadline = time.monotonic() + timeout
    while True:
        pending = {port for port in pending if not _accepts(host, port)}
        if not pending:
            return
        if process.poll() is not None:
            raise RuntimeError(f"el proceso terminó con código {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"los puertos {sorted(pending)} no aceptaron conexiones en {timeout} s"
            )
        try:  # the pause between polls, which also notices the process exiting
            process.wait(timeout=0.02)
        except subprocess.TimeoutExpired:
            pass


@contextmanager
def _threaded_server(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """Serve each connection with `handle` on a thread; yields the port."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            try:
                handle(self.request)
            except OSError:
                pass  # the client hanging up first is fine

    with socketserver.ThreadingTCPServer((LOOPBACK, 0), Handler) as server:
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()
            thread.join()


@contextmanager
def tls_handshake_server(cert: Path, key: Path) -> Iterator[int]:
    """A port that only performs a TLS handshake with `cert`, for certificate-failure tests."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def handshake(connection: socket.socket) -> None:
        with context.wrap_socket(connection, server_side=True):
            pass  # ssl.SSLError (an OSError) when the client rejects the certificate

    with _threaded_server(handshake) as port:
        yield port


@contextmanager
def scripted_server(greeting: bytes, answers: Callable[[bytes], bytes | None]) -> Iterator[int]:
    """A line-based server: sends `greeting`, then `answers(line)` for each line; None hangs up."""

    def converse(connection: socket.socket) -> None:
        connection.sendall(greeting)
        with connection.makefile("rb") as lines:
            for line in lines:
                answer = answers(line)
                if answer is None:
                    return
                connection.sendall(answer)

    with _threaded_server(converse) as port:
        yield port


@contextmanager
def hangup_server() -> Iterator[int]:
    """A port that accepts each connection and closes it at once, before any greeting."""
    with _threaded_server(lambda connection: None) as port:
        yield port
