"""Support for the provider tests: fabricated plugin packages, test certificates,
loopback mail listeners that speak just enough IMAP/POP3/SMTP to be probed, and a
table-driven DNS resolver (the seam discovery uses)."""

from __future__ import annotations

import itertools
import socket
import ssl
import subprocess
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tui_recepcion.providers import SrvRecord

# ---------------------------------------------------------------------------------------
# Fabricated third-party plugins: a module plus a dist-info directory on sys.path, so the
# real `importlib.metadata.entry_points(group="tui_recepcion")` finds them.

_counter = itertools.count()


@dataclass(frozen=True)
class FabricatedPlugin:
    entry_point: str
    distribution: str
    version: str
    module: str


@pytest.fixture
def fabricate_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., FabricatedPlugin]:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def fabricate(
        entry_point: str, code: str, *, distribution: str | None = None, version: str = "1.0"
    ) -> FabricatedPlugin:
        # Unique module names: sys.modules outlives a test.
        module = f"complemento_fabricado_{next(_counter)}"
        distribution = distribution or f"fabricado-{entry_point}"
        (site / f"{module}.py").write_text(textwrap.dedent(code), encoding="utf-8")
        dist_info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n", encoding="utf-8"
        )
        (dist_info / "entry_points.txt").write_text(
            f"[tui_recepcion]\n{entry_point} = {module}\n", encoding="utf-8"
        )
        return FabricatedPlugin(entry_point, distribution, version, module)

    return fabricate


PROVIDER_CODE = """
from tui_recepcion.providers import Provider, ServerDefaults, hookimpl

def make(provider_id, port=993):
    return Provider(
        id=provider_id,
        name="Proveedor " + provider_id,
        auth_types=("basica",),
        imap=ServerDefaults("imap." + provider_id + ".example", port, "ssl"),
        username_hint="La dirección completa.",
        guidance_md="Use la dirección de correo completa y la contraseña de la cuenta para el servidor.",
    )
"""


def provider_plugin_code(*provider_ids: str, extra: str = "") -> str:
    """Source of a plugin module registering valid providers with the given ids."""
    return (
        PROVIDER_CODE
        + "\n@hookimpl\ndef recepcion_register_providers():\n"
        + f"    return [make(pid) for pid in {list(provider_ids)!r}]\n"
        + textwrap.dedent(extra)
    )


# ---------------------------------------------------------------------------------------
# Test PKI made with openssl: a CA, a server certificate for the *.ejemplo.test names
# discovery probes, and one for an unrelated name.

SERVER_NAMES = (
    "imap.ejemplo.test",
    "pop.ejemplo.test",
    "pop3.ejemplo.test",
    "mail.ejemplo.test",
    "smtp.ejemplo.test",
    "correo.ejemplo.test",
    "respaldo.ejemplo.test",
)


@dataclass(frozen=True)
class TestPki:
    ca_file: Path
    cert: Path
    key: Path
    wrong_cert: Path  # valid chain, but only for otro.invalido.test
    wrong_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _issue(directory: Path, name: str, names: tuple[str, ...]) -> tuple[Path, Path]:
    ext = directory / f"{name}.ext"
    ext.write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
        f"subjectAltName={','.join('DNS:' + n for n in names)}\n"
    )
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={names[0]}",
        cwd=directory,
    )
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-sha256", "-extfile", ext.name, "-out", f"{name}.pem",
        cwd=directory,
    )
    return directory / f"{name}.pem", directory / f"{name}.key"


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    directory = tmp_path_factory.mktemp("pki")
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=CA de pruebas",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )
    cert, key = _issue(directory, "servidor", SERVER_NAMES)
    wrong_cert, wrong_key = _issue(directory, "otro", ("otro.invalido.test",))
    return TestPki(directory / "ca.pem", cert, key, wrong_cert, wrong_key)


# ---------------------------------------------------------------------------------------
# Loopback listeners: greet, optionally negotiate STARTTLS, complete the TLS handshake.

GREETINGS = {"imap": b"* OK servidor de pruebas listo", "pop3": b"+OK listo", "smtp": b"220 prueba ESMTP"}


@dataclass
class MailListener:
    protocol: str
    security: str  # "ssl" or "starttls"
    context: ssl.SSLContext
    greeting: bytes
    starttls_reply: bytes | None  # None: the protocol's normal acceptance
    sock: socket.socket = field(init=False)
    connections: int = 0
    handshakes: int = 0

    def __post_init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            with conn:
                if self.security == "ssl":
                    with self.context.wrap_socket(conn, server_side=True) as tls:
                        self.handshakes += 1
                        tls.sendall(self.greeting + b"\r\n")
                        tls.recv(1)  # until the client closes
                    return
                conn.sendall(self.greeting + b"\r\n")
                reader = conn.makefile("rb")
                if self.protocol == "smtp":
                    reader.readline()  # EHLO
                    conn.sendall(b"250-prueba\r\n250 STARTTLS\r\n")
                reader.readline()  # STARTTLS / STLS
                normal = {"imap": b"A1 OK comience TLS", "pop3": b"+OK", "smtp": b"220 listo"}
                reply = self.starttls_reply or normal[self.protocol]
                conn.sendall(reply + b"\r\n")
                if reply == normal[self.protocol]:
                    with self.context.wrap_socket(conn, server_side=True) as tls:
                        self.handshakes += 1
                        tls.recv(1)
        except (OSError, ssl.SSLError):
            pass  # the client refused our certificate or hung up: that is what tests check

    def close(self) -> None:
        self._stop.set()
        # close() alone does not wake a thread blocked in accept(); shutdown() does.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(timeout=5)


@pytest.fixture
def mail_listener(pki: TestPki) -> Iterator[Callable[..., MailListener]]:
    listeners: list[MailListener] = []

    def start(
        protocol: str,
        security: str,
        *,
        wrong_certificate: bool = False,
        greeting: bytes | None = None,
        starttls_reply: bytes | None = None,
    ) -> MailListener:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if wrong_certificate:
            context.load_cert_chain(pki.wrong_cert, pki.wrong_key)
        else:
            context.load_cert_chain(pki.cert, pki.key)
        listener = MailListener(
            protocol, security, context, greeting or GREETINGS[protocol], starttls_reply
        )
        listeners.append(listener)
        return listener

    yield start
    for listener in listeners:
        listener.close()


# ---------------------------------------------------------------------------------------
# The DNS seam, answered from tables. Records every question so tests can see what
# discovery asked.


@dataclass
class TableResolver:
    srv_records: dict[str, list[SrvRecord]] = field(default_factory=dict)
    hosts: dict[tuple[str, int], list[tuple[str, int]]] = field(default_factory=dict)
    asked: list[tuple[str, int]] = field(default_factory=list)

    def srv(self, name: str) -> list[SrvRecord]:
        return list(self.srv_records.get(name, []))

    def addresses(self, host: str, port: int) -> list[tuple[str, int]]:
        self.asked.append((host, port))
        return list(self.hosts.get((host, port), []))

    def point(self, host: str, port: int, listener: MailListener) -> None:
        """Make `host:port` reach `listener` on loopback."""
        self.hosts[(host, port)] = [("127.0.0.1", listener.port)]


@pytest.fixture
def resolver() -> TableResolver:
    return TableResolver()


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]
