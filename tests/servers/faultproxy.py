"""A TCP proxy on loopback that injects network faults between a client and a real server.

The engine connects to the proxy instead of Dovecot or the SMTP server; the proxy relays
bytes both ways and, when a `Fault` is armed, breaks the conversation the way real networks
do: a clean cut or a reset after N bytes, a stall (the connection stays open, nothing more
arrives), or a trickle (bytes keep coming, slowly). TLS passes through untouched, so a cut
in the middle of an IMAPS session is seen by the client as what it is: a broken TLS stream.

Byte counts are per connection and per direction: `down` counts what the server sends,
`up` what the client sends, `both` their sum. A fault applies to the next `times`
connections (then the proxy relays normally again), so one armed cut breaks one session
and the engine's retry gets a clean connection.
"""

from __future__ import annotations

import select
import selectors
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

LOOPBACK = "127.0.0.1"
Direction = Literal["down", "up", "both"]
Action = Literal["cut", "reset", "stall", "trickle"]
_CHUNK = 16 * 1024


@dataclass(frozen=True)
class Fault:
    """What to do once `after` bytes have passed in `direction` on a connection."""

    action: Action
    after: int = 0
    direction: Direction = "down"
    times: int = 1  # how many connections it applies to; 0 = every connection
    bytes_per_second: int = 1024  # for "trickle"

    @classmethod
    def cut(cls, after: int, direction: Direction = "down", times: int = 1) -> Fault:
        return cls("cut", after, direction, times)

    @classmethod
    def reset(cls, after: int, direction: Direction = "down", times: int = 1) -> Fault:
        return cls("reset", after, direction, times)

    @classmethod
    def stall(cls, after: int, direction: Direction = "down", times: int = 1) -> Fault:
        return cls("stall", after, direction, times)

    @classmethod
    def trickle(cls, after: int, bytes_per_second: int = 1024, times: int = 1) -> Fault:
        return cls("trickle", after, "down", times, bytes_per_second)


@dataclass
class ConnectionStats:
    """What one relayed connection carried, and whether a fault fired on it."""

    up: int = 0
    down: int = 0
    fault: Fault | None = None
    fired: bool = False
    closed: threading.Event = field(default_factory=threading.Event)
    # (direction, bytes) of every chunk relayed, in order: where each side's turns begin
    # (e.g. the server's answer to a command starts at the `down` total of the `up` chunk).
    chunks: list[tuple[Direction, int]] = field(default_factory=list)
    # With `FaultProxy(record=True)`: every byte relayed each way, to place a fault at a
    # protocol point of a plaintext conversation (e.g. between two pipelined answers).
    up_bytes: bytearray = field(default_factory=bytearray)
    down_bytes: bytearray = field(default_factory=bytearray)

    def turns(self) -> list[tuple[int, int]]:
        """(up, down) totals at each change of direction: the conversation's turn boundaries."""
        marks: list[tuple[int, int]] = []
        up = down = 0
        previous: Direction | None = None
        for direction, size in self.chunks:
            if direction != previous:
                marks.append((up, down))
                previous = direction
            if direction == "up":
                up += size
            else:
                down += size
        return marks

    def passed(self, direction: Direction) -> int:
        return {"up": self.up, "down": self.down, "both": self.up + self.down}[direction]


class FaultProxy:
    """Relays 127.0.0.1:`port` to 127.0.0.1:`upstream_port`, with an optional armed fault."""

    def __init__(self, upstream_port: int, upstream_host: str = LOOPBACK, *, record: bool = False) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.record = record
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._fault: Fault | None = None
        self._remaining = 0
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: set[socket.socket] = set()
        self.connections: list[ConnectionStats] = []
        self._accepter = threading.Thread(target=self._accept_loop, name="faultproxy-accept", daemon=True)

    # --- control -----------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._accepter.start()
        return self

    def arm(self, fault: Fault | None) -> None:
        """Apply `fault` to the next connections (`fault.times` of them, 0 = all); None disarms."""
        with self._lock:
            self._fault = fault
            self._remaining = fault.times if fault else 0

    def disarm(self) -> None:
        self.arm(None)

    def drop_all(self) -> None:
        """Reset every open connection now (a server restart, as the client sees it)."""
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _reset(sock)

    def total(self, direction: Direction = "down") -> int:
        with self._lock:
            return sum(stats.passed(direction) for stats in self.connections)

    def fired(self) -> int:
        with self._lock:
            return sum(stats.fired for stats in self.connections)

    def stop(self) -> None:
        self._stopping.set()
        self.drop_all()
        try:  # closing alone does not wake a thread blocked in accept(); shutting down does
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        self._accepter.join(timeout=5)
        for thread in list(self._threads):
            thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- relaying ----------------------------------------------------------------------------

    def _next_fault(self) -> Fault | None:
        with self._lock:
            fault = self._fault
            if fault is None:
                return None
            if fault.times:
                self._remaining -= 1
                if self._remaining <= 0:
                    self._fault = None
            return fault

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _reset(client)
                continue
            stats = ConnectionStats(fault=self._next_fault())
            with self._lock:
                self.connections.append(stats)
                self._sockets.update((client, server))
            thread = threading.Thread(
                target=self._relay, args=(client, server, stats), name="faultproxy-relay", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _relay(self, client: socket.socket, server: socket.socket, stats: ConnectionStats) -> None:
        for sock in (client, server):
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peers = {client: (server, "up"), server: (client, "down")}
        selector = selectors.DefaultSelector()
        for sock in peers:
            selector.register(sock, selectors.EVENT_READ)
        try:
            while not self._stopping.is_set():
                for key, _events in selector.select(timeout=0.2):
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    target, direction = peers[source]
                    if not self._pump(source, target, direction, stats):  # type: ignore[arg-type]
                        return
        except OSError:
            return
        finally:
            selector.close()
            with self._lock:
                self._sockets.difference_update((client, server))
            for sock in (client, server):
                sock.close()  # a reset socket is closed already; closing twice is harmless
            stats.closed.set()

    def _pump(self, source: socket.socket, target: socket.socket, direction: Direction, stats: ConnectionStats) -> bool:
        """Relay what `source` has; False when the connection is over."""
        data = source.recv(_CHUNK)
        if not data:
            return False
        fault = stats.fault
        if fault is not None and fault.direction in (direction, "both"):
            budget = fault.after - stats.passed(fault.direction)
            if budget < len(data):
                head, tail = data[: max(0, budget)], data[max(0, budget) :]
                self._send(target, head, direction, stats)
                stats.fired = True
                return self._fire(fault, source, target, tail, direction, stats)
        self._send(target, data, direction, stats)
        return True

    def _send(self, target: socket.socket, data: bytes, direction: Direction, stats: ConnectionStats) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = target.send(view)
            except BlockingIOError:
                select.select([], [target], [], 1.0)  # the receiver's buffer is full: wait for room
                continue
            view = view[sent:]
        if direction == "up":
            stats.up += len(data)
        else:
            stats.down += len(data)
        if data:
            stats.chunks.append((direction, len(data)))
            if self.record:
                (stats.up_bytes if direction == "up" else stats.down_bytes).extend(data)

    def _fire(
        self, fault: Fault, source: socket.socket, target: socket.socket, rest: bytes, direction: Direction,
        stats: ConnectionStats,
    ) -> bool:
        if fault.action == "cut":
            for sock in (source, target):
                _shutdown(sock)
            return False
        if fault.action == "reset":
            for sock in (source, target):
                _reset(sock)
            return False
        if fault.action == "stall":
            # Keep both sockets open and relay nothing more, until the client gives up.
            self._hold(source, target)
            return False
        self._trickle(fault, source, target, rest, direction, stats)
        return False

    def _hold(self, *sockets: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ)
        try:
            while not self._stopping.is_set():
                for key, _events in selector.select(timeout=0.2):
                    sock: socket.socket = key.fileobj  # type: ignore[assignment]
                    if not sock.recv(_CHUNK):  # the client (or server) hung up: the stall is over
                        return
        finally:
            selector.close()

    def _trickle(
        self, fault: Fault, source: socket.socket, target: socket.socket, pending: bytes, direction: Direction,
        stats: ConnectionStats,
    ) -> None:
        """Relay the rest of the session at `bytes_per_second`, in small pieces."""
        peers = {source: target, target: source}
        selector = selectors.DefaultSelector()
        for sock in peers:
            selector.register(sock, selectors.EVENT_READ)
        piece = max(1, fault.bytes_per_second // 20)
        buffered = bytearray(pending)
        try:
            while not self._stopping.is_set():
                for key, _events in selector.select(timeout=0.05):
                    sock: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = sock.recv(_CHUNK)
                    if not data:
                        return
                    if sock is source:
                        buffered += data
                    else:
                        self._send(peers[sock], data, "up" if direction == "down" else "down", stats)
                if buffered:
                    chunk, buffered = bytes(buffered[:piece]), buffered[piece:]
                    self._send(target, chunk, direction, stats)
                    self._stopping.wait(len(chunk) / fault.bytes_per_second)
        finally:
            selector.close()


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0, so the peer gets a TCP RST instead of a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


@contextmanager
def fault_proxy(upstream_port: int) -> Iterator[FaultProxy]:
    with FaultProxy(upstream_port) as proxy:
        yield proxy
