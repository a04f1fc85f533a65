"""The loopback redirect of an installed-app authorization (RFC 8252), and its paste fallback.

`RedirectCatcher` is a one-shot HTTP server on 127.0.0.1 that waits for the browser to
come back with `?state=…&code=…`. Over SSH the browser usually runs on another machine,
where that redirect fails to load; the technician then copies the address from the
browser and pastes it, and `parse_redirect_url` takes the code out of it. Both check
`state`, so an address from another authorization is never accepted.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tui_recepcion.oauth.flows import AuthorizationError

LOOPBACK = "127.0.0.1"

_DONE_PAGE = """<!doctype html><html lang="es"><meta charset="utf-8"><title>tui-recepcion</title>
<body style="font-family:sans-serif;margin:3em"><h1>{title}</h1><p>{text}</p></body></html>"""

_ERRORS = {
    "access_denied": "se negó el acceso (se pulsó Cancelar, o la cuenta no puede autorizar esta aplicación)",
    "invalid_scope": "la aplicación no puede pedir acceso al correo (revise los permisos de la aplicación)",
    "unauthorized_client": "la aplicación no está autorizada para este tipo de acceso",
}


@dataclass(frozen=True, slots=True)
class Pkce:
    """A PKCE pair (RFC 7636, S256): the verifier stays here, the challenge goes in the URL."""

    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(64)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))


def new_state() -> str:
    return secrets.token_urlsafe(24)


def _parameters(text: str) -> dict[str, str]:
    text = text.strip()
    query = urlsplit(text).query if "?" in text else text  # a full address, a path, or a bare query
    return {key: values[-1] for key, values in parse_qs(query).items()}


def parse_redirect_url(text: str, state: str) -> str:
    """The authorization code in a redirect address (or its query); AuthorizationError otherwise."""
    parameters = _parameters(text)
    if not parameters:
        raise AuthorizationError(
            "Lo pegado no es una dirección de redirección: copie la dirección completa de la barra "
            "del navegador (empieza por http://127.0.0.1)."
        )
    if parameters.get("state") != state:
        raise AuthorizationError(
            "La dirección pegada no corresponde a esta autorización (el parámetro state no coincide): "
            "copie la dirección de la última ventana que abrió con este enlace."
        )
    error = parameters.get("error")
    if error:
        reason = _ERRORS.get(error, error)
        raise AuthorizationError(f"El proveedor no autorizó la cuenta: {reason}.")
    code = parameters.get("code")
    if not code:
        raise AuthorizationError("La dirección pegada no trae el código de autorización (parámetro code).")
    return code


class RedirectCatcher:
    """A one-shot loopback HTTP server for the redirect; `with` starts and stops it.

    Only a request carrying the expected `state` completes it (`received` is set and
    `redirect` holds the address); any other request gets an error page and is ignored.
    """

    def __init__(self, state: str, port: int = 0) -> None:
        self.state = state
        self.received = threading.Event()
        self.redirect: str | None = None
        self._lock = threading.Lock()  # two requests at once must not both complete it
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, title, text = catcher._take(self.path)
                page = _DONE_PAGE.format(title=title, text=text).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, format: str, *args: Any) -> None:  # the URL holds the code
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="oauth-redirect",
            daemon=True,
        )

    @property
    def redirect_uri(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}/"

    def _take(self, path: str) -> tuple[int, str, str]:
        parameters = _parameters(path)
        with self._lock:
            if parameters.get("state") != self.state or self.received.is_set():
                return (
                    400,
                    "Dirección no esperada",
                    "Esta dirección no corresponde a la autorización en curso.",
                )
            self.redirect = self.redirect_uri + path.lstrip("/")
            self.received.set()
        if "error" in parameters:
            return 200, "Autorización rechazada", "Vuelva a la terminal para ver el motivo."
        return 200, "Autorización recibida", "Ya puede cerrar esta ventana y volver a la terminal."

    def __enter__(self) -> RedirectCatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
