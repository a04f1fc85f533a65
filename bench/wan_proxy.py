"""A TCP proxy on loopback that behaves like a WAN link: delay and bandwidth, each way.

    proxy = WanProxy(upstream_port, rtt_ms=100, mbit=50).start()
    ... connect to 127.0.0.1:proxy.port ...
    proxy.stop()

Each direction of each connection is a link of its own: a chunk read from one side leaves
the link after the chunks before it have been serialised at `mbit` (a token bucket whose
rate is the bandwidth; the bucket holds one chunk, so there are no bursts above the rate),
and arrives `rtt_ms / 2` later at the other side. Bytes keep their order. What a link holds
is bounded (`max_queued` bytes), so a sender faster than the link is held back by TCP, as
on a real network, and memory stays bounded.

Used by `bench_engine.py --rtt-ms/--mbit`: the raw bound and the engine go through the
same proxy in the same run, so their ratio does not depend on how exact the model is.
"""

from __future__ import annotations

import collections
import socket
import threading
import time

LOOPBACK = "127.0.0.1"
CHUNK = 16 * 1024


class _Link:
    """One direction: reads from `source`, delivers to `target` delayed and paced."""

    def __init__(self, source: socket.socket, target: socket.socket, delay: float, rate: float, max_queued: int) -> None:
        self.source, self.target = source, target
        self.delay, self.rate, self.max_queued = delay, rate, max_queued
        self._queue: collections.deque[tuple[float, bytes]] = collections.deque()  # (delivery time, bytes)
        self._queued = 0
        self._closed = False
        self._changed = threading.Condition()
        self._line_free_at = 0.0  # when the link finishes serialising what it already took

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._read, daemon=True), threading.Thread(target=self._write, daemon=True)]
        for thread in threads:
            thread.start()
        return threads

    def _read(self) -> None:
        try:
            while True:
                with self._changed:
                    while self._queued >= self.max_queued and not self._closed:
                        self._changed.wait()
                data = self.source.recv(CHUNK)
                if not data:
                    break
                now = time.monotonic()
                # Serialisation at the link's rate, after what is already on the line.
                self._line_free_at = max(now, self._line_free_at) + len(data) / self.rate
                with self._changed:
                    self._queue.append((self._line_free_at + self.delay, data))
                    self._queued += len(data)
                    self._changed.notify_all()
        except OSError:
            pass
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _write(self) -> None:
        try:
            while True:
                with self._changed:
                    while not self._queue and not self._closed:
                        self._changed.wait()
                    if not self._queue:
                        break
                    due, data = self._queue[0]
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                self.target.sendall(data)
                with self._changed:
                    self._queue.popleft()
                    self._queued -= len(data)
                    self._changed.notify_all()
        except OSError:
            pass
        # The far side hears the end of the stream only after everything sent before it.
        try:
            self.target.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class WanProxy:
    """Relays 127.0.0.1:`port` to 127.0.0.1:`upstream_port` through two `_Link`s per connection."""

    def __init__(self, upstream_port: int, *, rtt_ms: float, mbit: float, max_queued: int = 4 * 1024 * 1024) -> None:
        self.upstream = (LOOPBACK, upstream_port)
        self.delay = rtt_ms / 2000.0
        self.rate = mbit * 1_000_000 / 8
        self.max_queued = max_queued
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._stopping = False
        self.connections = 0

    def start(self) -> WanProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sockets += [client, server]
            self.connections += 1
            _Link(client, server, self.delay, self.rate, self.max_queued).start()
            _Link(server, client, self.delay, self.rate, self.max_queued).start()

    def stop(self) -> None:
        self._stopping = True
        self._listener.close()
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass
