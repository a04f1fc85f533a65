"""A tiny threaded HTTP(S) server on loopback for identity-provider stand-ins.

Each stand-in is a function `(request) -> Reply`; the server parses the request (method,
path, query, form body) and writes the reply as JSON or HTML. TLS uses the test CA's
server certificate (`localhost`, 127.0.0.1), so clients verify it like a real one.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers.certs import ServerCertificate
from tests.servers.net import LOOPBACK


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]  # an application/x-www-form-urlencoded body, one value per key


@dataclass(frozen=True, slots=True)
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)  # JSON-encoded unless it is str (sent as HTML)


Handler = Callable[[Request], Reply]


def _single(values: dict[str, list[str]]) -> dict[str, str]:
    return {key: items[-1] for key, items in values.items()}


class HttpServer:
    """Serves `handler` on a free loopback port; `start()` and `stop()` (or `with`)."""

    def __init__(self, handler: Handler, cert: ServerCertificate | None = None) -> None:
        outer = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                request = Request(
                    self.command, url.path, _single(parse_qs(url.query)), _single(parse_qs(body))
                )
                with outer._lock:
                    outer.requests.append(request)
                reply = handler(request)
                is_html = isinstance(reply.body, str)
                data = (reply.body if is_html else json.dumps(reply.body)).encode("utf-8")
                self.send_response(reply.status)
                self.send_header(
                    "Content-Type", "text/html; charset=utf-8" if is_html else "application/json"
                )
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((LOOPBACK, 0), RequestHandler)
        self._server.daemon_threads = True
        if cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert.cert, cert.key)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port: int = self._server.server_address[1]
        self.scheme = "https" if cert is not None else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    @property
    def base_url(self) -> str:
        host = "localhost" if self.scheme == "https" else LOOPBACK  # the certificate names localhost
        return f"{self.scheme}://{host}:{self.port}"

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def start(self) -> HttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
