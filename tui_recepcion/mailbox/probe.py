"""`probar`: connect, log in, look around, log out, and say what was found in Spanish.

The mailbox (`probe`) and the SMTP route (`probe_smtp`: connect, TLS, AUTH; nothing is sent)
are tested apart. Each step is announced to `progress`; each connected client is handed to
`on_client`, so the caller can cut it short (a cancel, the overall deadline). A port that
answers with another protocol is named («el puerto 995 respondió como POP3»).
"""

from __future__ import annotations

import logging
import poplib
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from imapclient import IMAPClient  # type: ignore[import-untyped]  # IMAPClient ships no py.typed

from tui_recepcion.errors import ConfigError, ConnectionProblem
from tui_recepcion.mailbox.credentials import Credentials
from tui_recepcion.mailbox.imap_folders import ImapNamespace, folder_exists, imap_namespace
from tui_recepcion.mailbox.transport import (
    Endpoint,
    MailClient,
    TlsInfo,
    close_quietly,
    connect_imap,
    connect_pop3,
    connect_smtp,
    connection_errors,
    negotiated_tls,
    tls_context,
)
from tui_recepcion.vocabulary import MailboxProtocol, Security

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
OnClient = Callable[[MailClient], None]
SmtpLogin = Callable[[smtplib.SMTP], None]
SNIFF_BYTES = 512


def _ignore(_value: object) -> None:
    return None


@dataclass(frozen=True, slots=True)
class FolderStatus:
    name: str  # as configured, e.g. "Procesados"
    server_name: str  # under the namespace, e.g. "INBOX.Procesados"
    exists: bool


@dataclass(frozen=True, slots=True)
class ImapDetails:
    capabilities: tuple[str, ...]
    namespace: ImapNamespace
    folders: tuple[str, ...]  # every folder the server lists
    wanted: tuple[FolderStatus, ...]
    inbox_messages: int

    @property
    def has_move(self) -> bool:
        return "MOVE" in self.capabilities

    @property
    def has_uidplus(self) -> bool:
        return "UIDPLUS" in self.capabilities

    @property
    def has_idle(self) -> bool:
        return "IDLE" in self.capabilities


@dataclass(frozen=True, slots=True)
class Pop3Details:
    capabilities: tuple[str, ...] | None  # None when the server does not answer CAPA
    message_count: int
    mailbox_size: int  # bytes
    uidl_count: int | None  # None when the server does not support UIDL


@dataclass(frozen=True, slots=True)
class ProbeReport:
    protocol: MailboxProtocol
    endpoint: Endpoint
    username: str
    tls: TlsInfo | None
    imap: ImapDetails | None = None
    pop3: Pop3Details | None = None

    def lines(self) -> list[str]:
        """The report in Spanish, one fact per line, for the CLI and the TUI."""
        lines = [
            f"Servidor: {self.protocol.upper()} {self.endpoint.host}:{self.endpoint.port}",
            f"Conexión: {_connection_text(self.endpoint, self.tls)}",
            f"Inicio de sesión: correcto como {self.username}",
        ]
        if self.imap is not None:
            lines += _imap_lines(self.imap)
        if self.pop3 is not None:
            lines += _pop3_lines(self.pop3)
        return lines


# --- wording ----------------------------------------------------------------------


def _yes_no(value: bool) -> str:
    return "sí" if value else "no"


def _count(n: int, singular: str, plural: str) -> str:
    return f"{n} {singular if n == 1 else plural}"


def _size_text(size: int) -> str:
    if size < 1024:
        return _count(size, "byte", "bytes")
    scaled = f"{size / 1024:.1f} KB" if size < 1024**2 else f"{size / 1024**2:.1f} MB"
    return scaled.replace(".", ",")  # decimal comma, as written in Colombia


# How the report names each security mode (the form's labels say "Ninguno"; a report says
# what it found).
_SECURITY_LABELS: dict[Security, str] = {"ssl": "SSL/TLS", "starttls": "STARTTLS", "ninguna": "sin cifrado"}


def _connection_text(endpoint: Endpoint, tls: TlsInfo | None) -> str:
    label = _SECURITY_LABELS[endpoint.security]
    return f"{label} ({tls.version}, {tls.cipher})" if tls else label


def _imap_lines(imap: ImapDetails) -> list[str]:
    lines = [
        f"Capacidades: MOVE {_yes_no(imap.has_move)}, UIDPLUS {_yes_no(imap.has_uidplus)}, "
        f"IDLE {_yes_no(imap.has_idle)}",
    ]
    if not imap.has_move and imap.has_uidplus:
        lines.append("Sin MOVE: los mensajes se moverán con COPY y UID EXPUNGE (UIDPLUS).")
    elif not imap.has_move:
        lines.append(
            "Advertencia: el servidor no ofrece MOVE ni UIDPLUS; no se pueden retirar mensajes "
            "de la bandeja sin arriesgar los de otros programas."
        )
    if not imap.has_idle:
        lines.append("Sin IDLE: el servicio revisará el buzón cada intervalo.")
    prefix = f"«{imap.namespace.prefix}»" if imap.namespace.prefix else "vacío"
    delimiter = f"«{imap.namespace.delimiter}»" if imap.namespace.delimiter else "ninguno"
    lines.append(f"Espacio de nombres: prefijo {prefix}, separador {delimiter}")
    lines.append(f"Bandeja de entrada: {_count(imap.inbox_messages, 'mensaje', 'mensajes')}")
    lines.append(f"Carpetas en el servidor: {len(imap.folders)}")
    for folder in imap.wanted:
        renamed = folder.server_name != folder.name
        if folder.exists:
            where = f" ({folder.server_name})" if renamed else ""
            lines.append(f"Carpeta {folder.name}: existe{where}")
        else:
            where = f" como {folder.server_name}" if renamed else ""
            lines.append(f"Carpeta {folder.name}: no existe (se creará al procesar{where})")
    return lines


def _pop3_lines(pop3: Pop3Details) -> list[str]:
    capabilities = (
        ", ".join(pop3.capabilities) if pop3.capabilities else "el servidor no responde a CAPA"
    )
    lines = [
        f"Capacidades: {capabilities}",
        f"Mensajes en el buzón: {pop3.message_count} ({_size_text(pop3.mailbox_size)})",
    ]
    if pop3.uidl_count is None:
        lines.append(
            "Advertencia: el servidor no ofrece UIDL; sin él no se puede saber qué mensajes "
            "ya se procesaron."
        )
    else:
        lines.append(f"Identificadores UIDL: {pop3.uidl_count}")
    return lines


# --- probing ----------------------------------------------------------------------


@contextmanager
def _session(client: IMAPClient | poplib.POP3) -> Iterator[None]:
    """Log out after success; after a failure just close, keeping the first error."""
    try:
        yield
    except BaseException:
        close_quietly(client)
        raise
    try:
        if isinstance(client, IMAPClient):
            client.logout()
        else:
            client.quit()  # nothing was marked for deletion, so QUIT changes nothing
    except Exception:  # everything asked was answered; a rude goodbye changes nothing
        log.debug("Error al cerrar la sesión", exc_info=True)
        close_quietly(client)


def _inspect_imap(client: IMAPClient, folders: tuple[str, ...]) -> ImapDetails:
    capabilities = tuple(c.decode(errors="replace").upper() for c in client.capabilities())
    namespace = imap_namespace(client)
    existing = tuple(name for _flags, _delimiter, name in client.list_folders())
    wanted = tuple(
        FolderStatus(name, namespace.folder(name), folder_exists(existing, namespace.folder(name)))
        for name in folders
    )
    inbox = client.select_folder("INBOX", readonly=True)  # EXAMINE: flags stay untouched
    return ImapDetails(
        capabilities=capabilities,
        namespace=namespace,
        folders=existing,
        wanted=wanted,
        inbox_messages=int(inbox.get(b"EXISTS", 0)),
    )


def _inspect_pop3(client: poplib.POP3) -> Pop3Details:
    try:
        capabilities: tuple[str, ...] | None = tuple(sorted(client.capa()))
    except poplib.error_proto:
        capabilities = None
    count, size = client.stat()
    try:
        uidl_count: int | None = len(client.uidl()[1])
    except poplib.error_proto:
        uidl_count = None
    return Pop3Details(capabilities, count, size, uidl_count)


def probe(
    endpoint: Endpoint,
    protocol: MailboxProtocol,
    credentials: Credentials,
    folders: tuple[str, ...] = ("Procesados", "Fallidos"),
    *,
    progress: Progress = _ignore,
    on_client: OnClient = _ignore,
) -> ProbeReport:
    """Connect, log in, inspect the mailbox and log out; ConnectionProblem on any failure.

    `credentials` are a password (`PasswordCredentials`) or an account's own, from
    `credentials_for` (its stored password or its OAuth2 token). Nothing on the server
    changes: no folder is created and no message is read or flagged.
    """
    username = credentials.username
    if protocol not in ("imap", "pop3"):
        raise ConfigError(f"El protocolo «{protocol}» no es válido: use imap o pop3.")
    name = protocol.upper()
    progress(f"Conectando con {name} {endpoint.host}:{endpoint.port} ({_SECURITY_LABELS[endpoint.security]})…")
    with _protocol_hint(endpoint, name):
        client: IMAPClient | poplib.POP3 = connect_imap(endpoint) if protocol == "imap" else connect_pop3(endpoint)
    on_client(client)
    with _session(client):
        tls = negotiated_tls(client)
        progress(f"Iniciando sesión como {username}…")
        if isinstance(client, IMAPClient):
            credentials.imap(client)
        else:
            credentials.pop3(client)
        progress("Revisando el buzón…")
        with connection_errors(endpoint, name):
            if isinstance(client, IMAPClient):
                return ProbeReport("imap", endpoint, username, tls, imap=_inspect_imap(client, folders))
            return ProbeReport("pop3", endpoint, username, tls, pop3=_inspect_pop3(client))


# --- SMTP ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SmtpReport:
    endpoint: Endpoint
    tls: TlsInfo | None
    username: str | None  # None: the relay was used without AUTH (autenticar = false)
    extensions: tuple[str, ...]

    def lines(self) -> list[str]:
        login = f"correcto como {self.username}" if self.username else "sin autenticación (relé local)"
        lines = [
            f"Servidor: SMTP {self.endpoint.host}:{self.endpoint.port}",
            f"Conexión: {_connection_text(self.endpoint, self.tls)}",
            f"Inicio de sesión: {login}",
        ]
        size = next((ext for ext in self.extensions if ext.startswith("SIZE")), None)
        if size:
            lines.append(f"Tamaño máximo por correo: {size.removeprefix('SIZE').strip() or 'sin límite declarado'} bytes")
        lines.append("No se envió ningún correo.")
        return lines


def probe_smtp(
    endpoint: Endpoint,
    login: SmtpLogin | None,
    username: str | None,
    *,
    progress: Progress = _ignore,
    on_client: OnClient = _ignore,
) -> SmtpReport:
    """Connect to the SMTP relay, negotiate TLS, authenticate (`login`), and quit: nothing is
    sent. ConnectionProblem (AuthenticationFailed for a refused AUTH) on any failure."""
    progress(f"Conectando con SMTP {endpoint.host}:{endpoint.port} ({_SECURITY_LABELS[endpoint.security]})…")
    with _protocol_hint(endpoint, "SMTP"):
        client = connect_smtp(endpoint)
    on_client(client)
    try:
        tls = negotiated_tls(client)
        if login is not None:
            progress(f"Iniciando sesión SMTP como {username}…")
            login(client)
        extensions = tuple(name.upper() + (f" {value}" if value else "") for name, value in client.esmtp_features.items())
        with connection_errors(endpoint, "SMTP"):
            client.quit()
    except BaseException:
        close_quietly(client)
        raise
    return SmtpReport(endpoint, tls, username if login is not None else None, extensions)


# --- which protocol answered --------------------------------------------------------------

_GREETINGS: tuple[tuple[bytes, str], ...] = ((b"* OK", "IMAP"), (b"* PREAUTH", "IMAP"), (b"+OK", "POP3"),
                                             (b"220", "SMTP"), (b"HTTP/", "HTTP"), (b"SSH-", "SSH"))


def sniff_protocol(endpoint: Endpoint, *, tls: bool | None = None) -> str | None:
    """Which protocol greets on `endpoint` («IMAP», «POP3», «SMTP»…), None when unknown.

    With "ssl" the TLS handshake is made first (a plain greeting then means the port does not
    use TLS, reported as «sin TLS»); nothing but the greeting is read, nothing is sent.
    """
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=min(endpoint.timeout or 5.0, 5.0)) as raw:
            sock: socket.socket = raw
            if (endpoint.security == "ssl") if tls is None else tls:
                try:
                    sock = tls_context(endpoint).wrap_socket(raw, server_hostname=endpoint.host)
                except ssl.SSLError:
                    return None
            greeting = sock.recv(SNIFF_BYTES)
    except (OSError, ValueError):
        return None
    return next((name for prefix, name in _GREETINGS if greeting.startswith(prefix)), None)


@contextmanager
def _protocol_hint(endpoint: Endpoint, expected: str) -> Iterator[None]:
    """An unexpected greeting while connecting becomes a hint naming what did answer."""
    try:
        yield
    except ConnectionProblem as problem:
        if problem.code == "tls_fallido" and endpoint.security == "ssl":
            plain = sniff_protocol(endpoint, tls=False)
            if plain is None:
                raise
            raise ConnectionProblem("tls_fallido", (
                f"El puerto {endpoint.port} de {endpoint.host} no usa SSL/TLS desde el inicio: respondió sin cifrar "
                f"como {plain}. Elija seguridad STARTTLS en este puerto, o el puerto SSL/TLS del servidor"
                + (f" ({plain} usa normalmente {_PORTS[plain]})." if plain in _PORTS else ".")
            ), transient=False) from None
        if problem.code != "protocolo":
            raise
        answered = sniff_protocol(endpoint)
        if answered is not None and answered != expected:
            hint = (f"El servidor {endpoint.host} no respondió como {expected}: el puerto {endpoint.port} respondió "
                    f"como {answered}. Revise el protocolo y el puerto")
            suggestion = _PORTS.get(expected)
            hint += f" ({expected} usa normalmente {suggestion})." if suggestion else "."
        else:
            hint = (f"El servidor {endpoint.host} no respondió como {expected} en el puerto {endpoint.port} "
                    "(respuesta vacía o desconocida). Revise el puerto y la seguridad.")
        raise ConnectionProblem("protocolo", hint, transient=False) from None


_PORTS = {"IMAP": "993 con SSL/TLS o 143 con STARTTLS", "POP3": "995 con SSL/TLS o 110 con STARTTLS",
          "SMTP": "465 con SSL/TLS o 587 con STARTTLS"}
