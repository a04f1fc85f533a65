"""A private Dovecot 2.3 for integration tests: IMAP and POP3, plaintext, STARTTLS and TLS.

Each `DovecotServer` runs `dovecot -F` as root from its own temporary directory with a
generated `dovecot.conf` (see docs/architecture.md, «Tests», for why each setting is there). The configuration
is built from `DovecotOptions` by small section functions so that variants (no MOVE, no
STARTTLS, a namespace prefix, later OAuth2) differ only in options.

Test helpers talk to the mailbox the way a test needs: `deliver` writes Maildir files
directly (fast enough for thousands of messages), `append` goes through IMAP, and
`messages`/`folders` read back through IMAP on the plaintext port.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from pathlib import Path

from imapclient import IMAPClient

from tests.servers.certs import ServerCertificate
from tests.servers.net import free_port, wait_until_listening

HOST = "127.0.0.1"
START_TIMEOUT = 15.0


class DovecotError(RuntimeError):
    """Dovecot is missing or did not start; the message carries the log tail."""


@dataclass(frozen=True, slots=True)
class MailUser:
    address: str
    password: str


RECEPCION = MailUser("recepcion@prueba.co", "Clave-Recepcion-7f3a!")
RESPALDO = MailUser("respaldo@prueba.co", "Clave-Respaldo-92c1!")
# Spanish passwords have ñ and tildes: LOGIN cannot carry them, SASL PLAIN (UTF-8) can.
TILDES = MailUser("tildes@prueba.co", "Contraseña-Añejo-ü9")


@dataclass(frozen=True, slots=True)
class DovecotOptions:
    """What makes one Dovecot variant different from another."""

    name: str = "dovecot"
    tls: bool = True  # False: `ssl = no`, so no imaps/pop3s and no STARTTLS offered
    imap_capability: str | None = None  # replaces the post-login CAPABILITY list
    namespace_prefix: str = ""
    separator: str = "/"
    auth_mechanisms: str = "plain login"
    extra_passdbs: tuple[str, ...] = ()  # full `passdb { ... }` blocks tried before passwd-file
    pop3_uidl_format: str | None = None  # e.g. "%f": the Maildir file name is the UIDL
    extra: tuple[str, ...] = ()  # any further configuration, appended verbatim


DEFAULT = DovecotOptions()
SIN_MOVE = DovecotOptions(
    name="dovecot-sin-move",
    imap_capability="IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE UIDPLUS NAMESPACE",
)
SIN_STARTTLS = DovecotOptions(name="dovecot-sin-starttls", tls=False)
CON_PREFIJO = DovecotOptions(name="dovecot-con-prefijo", namespace_prefix="INBOX.", separator=".")
# POP3 UIDL = the Maildir base file name (`%f`), so a test that delivers a new message under
# a deleted message's file name makes the server reuse that UIDL for other content.
UIDL_POR_ARCHIVO = DovecotOptions(name="dovecot-uidl-archivo", pop3_uidl_format="%f")


@dataclass(frozen=True, slots=True)
class DovecotPorts:
    imap: int
    pop3: int
    imaps: int | None  # None when the variant has no TLS
    pop3s: int | None

    def port_for(self, protocol: str, security: str) -> int:
        """The port for `protocol` ("imap"/"pop3") and `security` ("ssl"/"starttls"/"ninguna")."""
        if security == "ssl":
            port = self.imaps if protocol == "imap" else self.pop3s
        else:  # STARTTLS and plaintext share the ordinary port
            port = self.imap if protocol == "imap" else self.pop3
        if port is None:
            raise ValueError(f"esta variante de Dovecot no tiene {protocol} con {security}")
        return port

    def all(self) -> tuple[int, ...]:
        return tuple(p for p in (self.imap, self.pop3, self.imaps, self.pop3s) if p is not None)


@dataclass(frozen=True, slots=True)
class DovecotPaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def users(self) -> Path:
        return self.root / "users"

    @property
    def log(self) -> Path:
        return self.root / "dovecot.log"

    @property
    def stderr(self) -> Path:
        return self.root / "stderr.log"

    def home(self, user: MailUser) -> Path:
        return self.root / "home" / user.address

    def maildir(self, user: MailUser) -> Path:
        return self.home(user) / "Maildir"


@dataclass(frozen=True, slots=True)
class StoredMessage:
    uid: int
    flags: frozenset[str]
    raw: bytes


# --- configuration -------------------------------------------------------------------


def _base_section(paths: DovecotPaths, mail_uid: int) -> str:
    return f"""\
base_dir = {paths.root / "run"}
state_dir = {paths.root / "state"}
log_path = {paths.log}
listen = {HOST}
protocols = imap pop3
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = {mail_uid}
auth_verbose = yes
# Test speed: no 2 s pause after a wrong password, no fsync on a throwaway mailbox.
auth_failure_delay = 0
mail_fsync = never
"""


def _ssl_section(options: DovecotOptions, cert: ServerCertificate) -> str:
    if not options.tls:
        return "ssl = no\n"
    return f"""\
ssl = yes
ssl_cert = <{cert.cert}
ssl_key = <{cert.key}
ssl_min_protocol = TLSv1.2
"""


def _auth_section(options: DovecotOptions, paths: DovecotPaths) -> str:
    passdbs = "".join(block.rstrip() + "\n" for block in options.extra_passdbs)
    return f"""\
disable_plaintext_auth = no
auth_mechanisms = {options.auth_mechanisms}
{passdbs}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {paths.users}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {paths.users}
}}
"""


def _mail_section(options: DovecotOptions) -> str:
    return f"""\
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = {options.separator}
  prefix = {options.namespace_prefix}
}}
"""


def _listener(name: str, port: int | None, tls: bool = False) -> str:
    if port is None:
        return ""
    return (
        f"  inet_listener {name} {{\n    port = {port}\n    ssl = {'yes' if tls else 'no'}\n  }}\n"
    )


def _services_section(ports: DovecotPorts) -> str:
    # Login processes and anvil refuse to chroot into a directory root does not own.
    return (
        "service imap-login {\n  chroot =\n"
        + _listener("imap", ports.imap)
        + _listener("imaps", ports.imaps, tls=True)
        + "}\nservice pop3-login {\n  chroot =\n"
        + _listener("pop3", ports.pop3)
        + _listener("pop3s", ports.pop3s, tls=True)
        # mode 0 on this socket disables the auth penalty, which would delay every
        # login from 127.0.0.1 for seconds after one wrong-password test.
        + "}\nservice anvil {\n  chroot =\n"
        + "  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}\n"
    )


def _protocol_section(options: DovecotOptions) -> str:
    section = ""
    if options.imap_capability is not None:
        section += f"protocol imap {{\n  imap_capability = {options.imap_capability}\n}}\n"
    if options.pop3_uidl_format is not None:
        section += f"protocol pop3 {{\n  pop3_uidl_format = {options.pop3_uidl_format}\n}}\n"
    return section


def render_config(
    options: DovecotOptions,
    paths: DovecotPaths,
    ports: DovecotPorts,
    cert: ServerCertificate,
    mail_uid: int,
) -> str:
    sections = [
        _base_section(paths, mail_uid),
        _ssl_section(options, cert),
        _auth_section(options, paths),
        _mail_section(options),
        _services_section(ports),
        _protocol_section(options),
        *options.extra,
    ]
    return "\n".join(s for s in sections if s)


def render_users(users: Iterable[MailUser], paths: DovecotPaths, uid: int, gid: int) -> str:
    return "".join(
        f"{u.address}:{{PLAIN}}{u.password}:{uid}:{gid}::{paths.home(u)}::\n" for u in users
    )


# --- the server ----------------------------------------------------------------------

# Maildir info flags, in the alphabetical order the spec requires.
_MAILDIR_FLAGS = {
    "\\Draft": "D",
    "\\Flagged": "F",
    "\\Answered": "R",
    "\\Seen": "S",
    "\\Deleted": "T",
}


def _require_dovecot() -> tuple[str, int, int]:
    """The dovecot binary and the mail user's uid/gid, or a DovecotError saying what to install."""
    # Debian installs it in /usr/sbin, which a non-login PATH may lack.
    binary = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    try:
        owner = pwd.getpwnam("dovecot")
    except KeyError:
        owner = None
    if binary is None or owner is None:
        raise DovecotError(
            "Dovecot no está instalado (falta el binario `dovecot` o el usuario `dovecot`): "
            "instale dovecot-imapd y dovecot-pop3d; las pruebas de integración lo necesitan."
        )
    return binary, owner.pw_uid, owner.pw_gid


class DovecotServer:
    """One running Dovecot variant; `start()` then `stop()` (fixtures do both)."""

    host = HOST

    def __init__(
        self,
        options: DovecotOptions,
        cert: ServerCertificate,
        users: tuple[MailUser, ...] = (RECEPCION, RESPALDO, TILDES),
        directory: Path | None = None,
    ) -> None:
        self.options = options
        self.users = users
        self._cert = cert
        self._binary, self._uid, self._gid = _require_dovecot()
        self._process: subprocess.Popen[bytes] | None = None
        self._log_mark = 0
        self._names = count()
        # `directory`: where its folder goes (default: the temporary folder).
        self.paths = DovecotPaths(Path(tempfile.mkdtemp(prefix=f"{options.name}-", dir=directory)))
        # mkdtemp makes 0700; mail processes run as `dovecot` and must reach the homes.
        self.paths.root.chmod(0o755)
        self.ports = self._pick_ports()

    def _pick_ports(self) -> DovecotPorts:
        tls = self.options.tls
        return DovecotPorts(
            imap=free_port(),
            pop3=free_port(),
            imaps=free_port() if tls else None,
            pop3s=free_port() if tls else None,
        )

    # lifecycle

    def start(self) -> None:
        for user in self.users:
            self._make_dir(self.paths.home(user))
        self.paths.users.write_text(render_users(self.users, self.paths, self._uid, self._gid))
        self.paths.config.write_text(
            render_config(self.options, self.paths, self.ports, self._cert, self._uid)
        )
        with self.paths.stderr.open("wb") as stderr:
            self._process = subprocess.Popen(
                [self._binary, "-F", "-c", str(self.paths.config)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
            )
        try:
            wait_until_listening(HOST, self.ports.all(), START_TIMEOUT, self._process)
        except RuntimeError as exc:
            self.stop(remove=False)
            raise DovecotError(
                f"Dovecot ({self.options.name}) no arrancó: {exc}\n"
                f"configuración: {self.paths.config}\n{self.diagnostics()}"
            ) from None

    def request_stop(self) -> None:
        """Send SIGTERM without waiting; Dovecot takes about a second to wind down."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()

    def stop(self, remove: bool = True) -> None:
        self.request_stop()
        if self._process is not None:
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if remove:
            shutil.rmtree(self.paths.root, ignore_errors=True)

    def reset(self) -> None:
        """Empty every user's mailbox (all folders, indexes and UIDVALIDITY state)."""
        for user in self.users:
            shutil.rmtree(self.paths.maildir(user), ignore_errors=True)
        self._log_mark = self._log_size()

    # diagnostics

    def _log_size(self) -> int:
        try:
            return self.paths.log.stat().st_size
        except FileNotFoundError:
            return 0

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.paths.log.read_text(errors="replace")
        except FileNotFoundError:
            return "(sin registro de Dovecot)"
        return "\n".join(text.splitlines()[-lines:])

    def log_since_reset(self) -> str:
        try:
            with self.paths.log.open("rb") as log:
                log.seek(self._log_mark)
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def diagnostics(self) -> str:
        try:
            stderr = self.paths.stderr.read_text(errors="replace").strip()
        except FileNotFoundError:
            stderr = ""
        return (
            f"--- salida de dovecot ---\n{stderr}\n--- registro de dovecot ---\n{self.log_tail()}"
        )

    # names

    def mailbox_name(self, folder: str) -> str:
        """The server-visible name of `folder` (`a/b` nests): `INBOX.Procesados` with a prefix."""
        if folder.upper() == "INBOX":
            return "INBOX"
        return self.options.namespace_prefix + folder.replace("/", self.options.separator)

    def _folder_dir(self, user: MailUser, mailbox: str) -> Path:
        # Maildir++ stores `a<sep>b` as `.a.b` whatever the namespace separator is.
        if mailbox.upper() == "INBOX":
            return self.paths.maildir(user)
        prefix = self.options.namespace_prefix
        if prefix and not mailbox.startswith(prefix):
            raise ValueError(f"{mailbox!r} no está bajo el prefijo {prefix!r}")
        relative = mailbox[len(prefix) :]
        return self.paths.maildir(user) / ("." + relative.replace(self.options.separator, "."))

    # delivery and inspection

    def _make_dir(self, path: Path) -> None:
        """mkdir -p, giving every directory it creates to the mail user."""
        for directory in reversed([path, *path.parents]):
            if not directory.exists():
                directory.mkdir(mode=0o700)
                os.chown(directory, self._uid, self._gid)

    def deliver(
        self,
        user: MailUser,
        messages: Iterable[bytes],
        mailbox: str = "INBOX",
        flags: Iterable[str] = (),
        names: Iterable[str] | None = None,
    ) -> int:
        """Write raw messages straight into the Maildir; returns how many were written.

        `mailbox` is the server-visible name (see `mailbox_name`); a missing folder is
        created. Messages without flags land in `new/`, unseen, as an MTA delivers them.
        `names` gives the Maildir base file names (one per message) instead of generated ones.
        """
        chosen = iter(names) if names is not None else None
        folder = self._folder_dir(user, mailbox)
        for sub in ("cur", "new", "tmp"):
            self._make_dir(folder / sub)
        if folder != self.paths.maildir(user) and not (folder / "maildirfolder").exists():
            (folder / "maildirfolder").touch()
            os.chown(folder / "maildirfolder", self._uid, self._gid)
        info = "".join(sorted(_MAILDIR_FLAGS[f] for f in flags))
        target = folder / ("cur" if info else "new")
        stamp, pid, written = int(time.time()), os.getpid(), 0
        for raw in messages:
            if chosen is not None:
                name = next(chosen)
            else:
                name = f"{stamp}.M{next(self._names)}P{pid}.harness,S={len(raw)}"
            if info:
                name += f":2,{info}"
            fd = os.open(target / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.fchown(fd, self._uid, self._gid)
                os.write(fd, raw)
            finally:
                os.close(fd)
            written += 1
        return written

    @contextmanager
    def imap(self, user: MailUser) -> Iterator[IMAPClient]:
        """A logged-in IMAP session on the plaintext port, for the test side."""
        client = IMAPClient(HOST, self.ports.imap, ssl=False, timeout=10)
        try:
            client.plain_login(user.address, user.password)
            yield client
        finally:
            try:
                client.logout()
            except Exception:  # the test already has its answer; a dead session is fine
                client.shutdown()

    def append(
        self, user: MailUser, message: bytes, mailbox: str = "INBOX", flags: Iterable[str] = ()
    ) -> None:
        with self.imap(user) as client:
            if not client.folder_exists(mailbox):
                client.create_folder(mailbox)
            client.append(mailbox, message, flags=tuple(flags))

    def create_folder(self, user: MailUser, mailbox: str) -> None:
        with self.imap(user) as client:
            client.create_folder(mailbox)

    def folders(self, user: MailUser) -> list[str]:
        with self.imap(user) as client:
            return sorted(name for _flags, _delim, name in client.list_folders())

    def messages(self, user: MailUser, mailbox: str = "INBOX") -> list[StoredMessage]:
        """Every message in `mailbox` with its flags and raw bytes, by UID; leaves flags alone."""
        with self.imap(user) as client:
            client.select_folder(mailbox, readonly=True)
            data = client.fetch(client.search(), ["FLAGS", "BODY.PEEK[]"])
        return [
            StoredMessage(
                uid=uid,
                # \Recent only says this session is the first to look; it is noise here.
                flags=frozenset(f.decode() for f in item[b"FLAGS"]) - {"\\Recent"},
                raw=item[b"BODY[]"],
            )
            for uid, item in sorted(data.items())
        ]


class DovecotPool:
    """Starts each variant the first time it is asked for and stops them all together."""

    def __init__(self, cert: ServerCertificate, directory: Path | None = None) -> None:
        self._cert = cert
        self._directory = directory
        self._servers: dict[DovecotOptions, DovecotServer] = {}

    def get(self, options: DovecotOptions) -> DovecotServer:
        if options not in self._servers:
            self._servers[options] = self._start(options)
        return self._servers[options]

    def _start(self, options: DovecotOptions) -> DovecotServer:
        attempts_left = 3
        while True:
            server = DovecotServer(options, self._cert, directory=self._directory)
            try:
                server.start()  # DovecotError carries the log tail
                return server
            except DovecotError as exc:
                # Another process may take a "free" port before Dovecot binds it: new ports.
                attempts_left -= 1
                if "Address already in use" not in str(exc) or not attempts_left:
                    raise
                server.stop()

    def stop_all(self) -> None:
        servers = list(self._servers.values())
        self._servers.clear()
        for server in servers:  # signal all first so their shutdowns overlap
            server.request_stop()
        for server in servers:
            server.stop()
