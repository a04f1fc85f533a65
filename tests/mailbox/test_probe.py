"""`probe()` against the real Dovecot: what it reports, and how each failure reads."""

from __future__ import annotations

import pytest

from tests.servers.certs import TestCertificates
from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.servers.endpoints import dovecot_endpoint
from tui_recepcion.errors import AuthenticationFailed, ConfigError, ConnectionProblem
from tui_recepcion.mailbox.credentials import PasswordCredentials
from tui_recepcion.mailbox.imap_folders import ImapNamespace
from tui_recepcion.mailbox.probe import ProbeReport, probe
from tui_recepcion.mailbox.transport import Endpoint
from tui_recepcion.secrets import Secret

PASSWORD = Secret(RECEPCION.password)
MESSAGE = b"From: proveedor@prueba.co\r\nSubject: 900123456;Proveedor;FE-1;01\r\n\r\nfactura\r\n"


def _probe(server: DovecotServer, protocol: str, security: str, ca_file, **options) -> ProbeReport:
    endpoint = dovecot_endpoint(server, protocol, security, ca_file, **options)
    return probe(endpoint, protocol, PasswordCredentials(RECEPCION.address, PASSWORD))


# --- IMAP ---------------------------------------------------------------------------


def test_imap_ssl_report(clean_dovecot: DovecotServer, tls_certs: TestCertificates) -> None:
    report = _probe(clean_dovecot, "imap", "ssl", tls_certs.ca_file)
    assert report.tls is not None and report.tls.version in ("TLSv1.2", "TLSv1.3")
    imap = report.imap
    assert imap is not None and report.pop3 is None
    assert (imap.has_move, imap.has_uidplus, imap.has_idle) == (True, True, True)
    assert imap.namespace == ImapNamespace(prefix="", delimiter="/")
    assert [(f.name, f.server_name, f.exists) for f in imap.wanted] == [
        ("Procesados", "Procesados", False),
        ("Fallidos", "Fallidos", False),
    ]
    lines = report.lines()
    assert f"Conexión: SSL/TLS ({report.tls.version}, {report.tls.cipher})" in lines
    assert "Capacidades: MOVE sí, UIDPLUS sí, IDLE sí" in lines
    assert "Carpeta Procesados: no existe (se creará al procesar)" in lines
    assert f"Inicio de sesión: correcto como {RECEPCION.address}" in lines
    assert clean_dovecot.folders(RECEPCION) == ["INBOX"]  # probing creates nothing


def test_imap_starttls_sees_folders_and_leaves_mail_unread(
    clean_dovecot: DovecotServer, tls_certs: TestCertificates
) -> None:
    clean_dovecot.deliver(RECEPCION, [MESSAGE, MESSAGE])
    clean_dovecot.create_folder(RECEPCION, "Procesados")
    report = _probe(clean_dovecot, "imap", "starttls", tls_certs.ca_file)
    assert report.tls is not None
    assert report.imap is not None and report.imap.inbox_messages == 2
    assert [f.exists for f in report.imap.wanted] == [True, False]
    lines = report.lines()
    assert lines[1].startswith("Conexión: STARTTLS (TLSv1.")
    assert "Carpeta Procesados: existe" in lines
    assert "Bandeja de entrada: 2 mensajes" in lines
    assert all("\\Seen" not in m.flags for m in clean_dovecot.messages(RECEPCION))


def test_imap_without_move(
    clean_dovecot_sin_move: DovecotServer, tls_certs: TestCertificates
) -> None:
    report = _probe(clean_dovecot_sin_move, "imap", "ssl", tls_certs.ca_file)
    assert report.imap is not None and not report.imap.has_move and report.imap.has_uidplus
    assert "Capacidades: MOVE no, UIDPLUS sí, IDLE sí" in report.lines()
    assert any("COPY" in line and "UID EXPUNGE" in line for line in report.lines())


def test_imap_folders_under_namespace_prefix(
    clean_dovecot_con_prefijo: DovecotServer, tls_certs: TestCertificates
) -> None:
    server = clean_dovecot_con_prefijo
    server.create_folder(RECEPCION, "INBOX.Fallidos")
    report = _probe(server, "imap", "ssl", tls_certs.ca_file)
    assert report.imap is not None
    assert report.imap.namespace == ImapNamespace(prefix="INBOX.", delimiter=".")
    assert [(f.server_name, f.exists) for f in report.imap.wanted] == [
        ("INBOX.Procesados", False),
        ("INBOX.Fallidos", True),
    ]
    lines = report.lines()
    assert "Espacio de nombres: prefijo «INBOX.», separador «.»" in lines
    assert "Carpeta Procesados: no existe (se creará al procesar como INBOX.Procesados)" in lines
    assert "Carpeta Fallidos: existe (INBOX.Fallidos)" in lines


def test_plaintext_probe_when_allowed(clean_dovecot: DovecotServer) -> None:
    report = _probe(clean_dovecot, "imap", "ninguna", None, allow_plaintext=True)
    assert report.tls is None
    assert "Conexión: sin cifrado" in report.lines()


# --- POP3 ---------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_pop3_report(
    clean_dovecot: DovecotServer, tls_certs: TestCertificates, security: str
) -> None:
    clean_dovecot.deliver(RECEPCION, [MESSAGE] * 3)
    report = _probe(clean_dovecot, "pop3", security, tls_certs.ca_file)
    pop3 = report.pop3
    assert pop3 is not None and report.imap is None and report.tls is not None
    assert (pop3.message_count, pop3.mailbox_size, pop3.uidl_count) == (3, 3 * len(MESSAGE), 3)
    assert pop3.capabilities is not None and "UIDL" in pop3.capabilities
    lines = report.lines()
    label = "SSL/TLS" if security == "ssl" else "STARTTLS"
    assert lines[1].startswith(f"Conexión: {label} (TLSv1.")
    assert f"Mensajes en el buzón: 3 ({3 * len(MESSAGE)} bytes)" in lines
    assert "Identificadores UIDL: 3" in lines
    # nothing deleted or marked read
    assert [m.flags & {"\\Seen", "\\Deleted"} for m in clean_dovecot.messages(RECEPCION)] == [
        set()
    ] * 3


# --- failures -----------------------------------------------------------------------

PROTOCOLS = pytest.mark.parametrize("protocol", ["imap", "pop3"])


def _failure(endpoint: Endpoint, protocol: str, secret: Secret = PASSWORD) -> ConnectionProblem:
    with pytest.raises(ConnectionProblem) as caught:
        probe(endpoint, protocol, PasswordCredentials(RECEPCION.address, secret))
    return caught.value


@PROTOCOLS
def test_wrong_password(
    clean_dovecot: DovecotServer, tls_certs: TestCertificates, protocol: str
) -> None:
    wrong = Secret("no-es-la-clave-123")
    problem = _failure(
        dovecot_endpoint(clean_dovecot, protocol, "ssl", tls_certs.ca_file), protocol, wrong
    )
    assert isinstance(problem, AuthenticationFailed)
    assert problem.code == "credenciales_invalidas" and not problem.transient
    assert f"rechazó el usuario «{RECEPCION.address}» o la contraseña" in str(problem)
    assert wrong.reveal() not in str(problem) + repr(problem)


@PROTOCOLS
def test_closed_port(closed_port: int, tls_certs: TestCertificates, protocol: str) -> None:
    problem = _failure(
        Endpoint("127.0.0.1", closed_port, "ssl", ca_file=tls_certs.ca_file), protocol
    )
    assert problem.code == "conexion_rechazada" and problem.transient
    assert f"rechazó la conexión {protocol.upper()} en el puerto {closed_port}" in str(problem)


@PROTOCOLS
def test_untrusted_certificate(clean_dovecot: DovecotServer, protocol: str) -> None:
    problem = _failure(dovecot_endpoint(clean_dovecot, protocol, "ssl", None), protocol)
    assert problem.code == "certificado_no_confiable" and not problem.transient
    assert "localhost" in str(problem) and "certificados_ca" in str(problem)


@PROTOCOLS
def test_starttls_not_offered(
    clean_dovecot_sin_starttls: DovecotServer, tls_certs: TestCertificates, protocol: str
) -> None:
    endpoint = dovecot_endpoint(clean_dovecot_sin_starttls, protocol, "starttls", tls_certs.ca_file)
    problem = _failure(endpoint, protocol)
    assert problem.code == "starttls_no_ofrecido" and not problem.transient
    assert "no ofrece STARTTLS" in str(problem)
    # the server saw no login attempt: nothing was sent in the clear
    assert "auth failed" not in clean_dovecot_sin_starttls.log_since_reset()
    assert "Login:" not in clean_dovecot_sin_starttls.log_since_reset()


@PROTOCOLS
def test_unknown_host(protocol: str) -> None:
    problem = _failure(Endpoint("correo.no-existe.invalid", 993, "ssl", timeout=10), protocol)
    assert problem.code == "host_desconocido"
    assert "correo.no-existe.invalid" in str(problem)


@PROTOCOLS
@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_timeout(silent_port: int, protocol: str, security: str) -> None:
    problem = _failure(Endpoint("127.0.0.1", silent_port, security, timeout=0.3), protocol)
    assert problem.code == "tiempo_agotado" and problem.transient
    assert "no respondió en 0,3 s" in str(problem)


@PROTOCOLS
def test_plaintext_not_allowed(clean_dovecot: DovecotServer, protocol: str) -> None:
    endpoint = dovecot_endpoint(clean_dovecot, protocol, "ninguna", None, allow_plaintext=False)
    problem = _failure(endpoint, protocol)
    assert problem.code == "sin_cifrado_no_permitido"


def test_unknown_protocol_is_a_config_error(tls_certs: TestCertificates) -> None:
    with pytest.raises(ConfigError, match="«smtp»"):
        probe(Endpoint("localhost", 993, "ssl"), "smtp", PasswordCredentials(RECEPCION.address, PASSWORD))  # type: ignore[arg-type]


# --- folder names under a namespace (no server) -------------------------------------


@pytest.mark.parametrize(
    ("namespace", "name", "expected"),
    [
        (ImapNamespace("", "/"), "Procesados", "Procesados"),
        (ImapNamespace("INBOX.", "."), "Procesados", "INBOX.Procesados"),
        (ImapNamespace("INBOX.", "."), "Facturas/Procesados", "INBOX.Facturas.Procesados"),
        (ImapNamespace("INBOX.", "."), "INBOX.Fallidos", "INBOX.Fallidos"),
        (ImapNamespace("INBOX.", "."), "inbox", "INBOX"),
        (ImapNamespace("", None), "Facturas/Procesados", "Facturas/Procesados"),
    ],
)
def test_namespace_folder_names(namespace: ImapNamespace, name: str, expected: str) -> None:
    assert namespace.folder(name) == expected
