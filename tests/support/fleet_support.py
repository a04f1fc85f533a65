"""A fleet on the test servers: one Dovecot with many mailboxes, one account file per
mailbox in cuentas.d, worker processes (`tui-recepcion procesar`), and the checks the fleet
test and bench/bench_fleet.py share: where every message ended, and whether two sessions of
one mailbox ever overlapped, read from Dovecot's own log (microsecond timestamps).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import tomlkit

from tests.servers.certs import ServerCertificate, TestCertificates
from tests.servers.dovecot import DovecotOptions, DovecotServer, MailUser
from tests.servers.endpoints import TEST_HOST
from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory, SampleMail
from tui_recepcion.dian import Reason

PASSWORD = "Clave-Flota-41b7!"
SECRET_VARIABLE = "TUI_RECEPCION_PRUEBA_CLAVE_FLOTA"
# Microsecond timestamps: whether two sessions of one mailbox overlapped is read from here.
FLEET_LOG = ('log_timestamp = "%Y-%m-%d %H:%M:%S.%{usecs} "',)
# Many mailboxes at once: one imap process per connection, so room for a thousand or two.
# With TLS an imap-login process stays as the session's TLS proxy: let each serve many.
MANY_CLIENTS = ("service imap {\n  process_limit = 2000\n}\n",
                "service imap-login {\n  service_count = 0\n  client_limit = 1000\n  process_min_avail = 2\n}\n",
                "default_client_limit = 4000\n")
# Without IDLE the workers poll: every session in the log is then a pass (or a check).
NO_IDLE = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE UIDPLUS NAMESPACE MOVE"


def fleet_users(count: int) -> tuple[MailUser, ...]:
    return tuple(MailUser(f"empresa{number:04d}@flota.co", PASSWORD) for number in range(count))


def account_id(user: MailUser) -> str:
    return user.address.split("@", 1)[0]


def start_fleet_dovecot(cert: ServerCertificate, users: Sequence[MailUser], *, idle: bool = False,
                        name: str = "dovecot-flota") -> DovecotServer:
    options = DovecotOptions(name=name, imap_capability=None if idle else NO_IDLE, extra=FLEET_LOG + MANY_CLIENTS)
    server = DovecotServer(options, cert, users=tuple(users))
    server.start()
    return server


def fleet_mails(seed: int = 16) -> list[SampleMail]:
    """20 messages: 17 documents in assorted styles and 3 that must fail."""
    factory = SampleFactory(seed=seed, pdf_size=2_000)
    styles = ("zip", "zip_upper", "zip_annexes", "fv_name", "cufe_name", "bare_container", "bare_document")
    mails = [factory.document_email(style=styles[index % len(styles)]) for index in range(17)]
    mails += [factory.failing_email(reason) for reason in (Reason.SIN_ADJUNTOS, Reason.ZIP_CORRUPTO, Reason.RECHAZADO_DIAN)]
    return mails


@dataclass(frozen=True)
class Fleet:
    """The configuration of a fleet: config.toml plus one file per account in cuentas.d."""

    root: Path
    config_path: Path
    database: Path | str
    users: tuple[MailUser, ...]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env[SECRET_VARIABLE] = PASSWORD
        env["TUI_RECEPCION_REINTENTO_SEGUNDOS"] = "1"
        if isinstance(self.database, str):
            env["TUI_RECEPCION_BASE_DATOS"] = self.database
        return env


def write_fleet(root: Path, dovecot: DovecotServer, certs: TestCertificates, users: Sequence[MailUser], *,
                database_url: str | None = None, interval_minutes: int = 60) -> Fleet:
    """config.toml with [general] only and cuentas.d/<account>.toml per mailbox."""
    root.mkdir(parents=True, exist_ok=True)
    database: Path | str = database_url or root / "recepcion.db"
    general: dict[str, object] = {"carpeta_documentos": str(root / "documentos"), "intervalo_minutos": interval_minutes}
    if database_url is None:
        general["base_datos"] = str(database)
    config_path = root / "config.toml"
    config_path.write_text(tomlkit.dumps({"general": general}), encoding="utf-8")
    folder = root / "cuentas.d"
    folder.mkdir(exist_ok=True)
    for user in users:
        account = {
            "proveedor": "generic", "tipo_servidor": "basica", "protocolo": "imap", "servidor": TEST_HOST,
            "puerto": dovecot.ports.port_for("imap", "ssl"), "seguridad": "ssl", "usuario": user.address,
            "secreto": f"env:{SECRET_VARIABLE}", "certificados_ca": str(certs.ca_file),
            "nit_receptor": DEFAULT_RECEIVER.nit,
        }
        (folder / f"{account_id(user)}.toml").write_text(tomlkit.dumps(account), encoding="utf-8")
    return Fleet(root, config_path, database, tuple(users))


def deliver_all(dovecot: DovecotServer, users: Iterable[MailUser], mails: Sequence[SampleMail]) -> None:
    raws = [mail.raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") for mail in mails]
    for user in users:
        dovecot.deliver(user, raws)


def start_worker(fleet: Fleet, *extra: str, log_path: Path | None = None) -> subprocess.Popen[bytes]:
    """`tui-recepcion procesar` as a service in its own process group (a worker of the fleet)."""
    command = [sys.executable, "-m", "tui_recepcion", "--config", str(fleet.config_path), "procesar", *extra]
    output = (log_path or fleet.root / f"trabajador-{time.monotonic_ns()}.log").open("wb")
    try:
        return subprocess.Popen(command, env=fleet.environment(), stdout=output, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        output.close()


def stop_workers(workers: Iterable[subprocess.Popen[bytes]], timeout: float = 30) -> None:
    workers = list(workers)
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def wait_for(condition: Callable[[], bool], timeout: float, what: str, *, every: float = 0.25) -> float:
    """Poll `condition` until true (returns the seconds it took) or fail after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"no ocurrió en {timeout:g} s: {what}")
        time.sleep(every)
    return time.monotonic() - started


# --- where every message is ---------------------------------------------------------------


def _count(folder: Path) -> int:
    return sum(1 for sub in ("cur", "new") if (folder / sub).is_dir() for _ in (folder / sub).iterdir())


def folder_counts(dovecot: DovecotServer, user: MailUser) -> dict[str, int]:
    """Messages in INBOX, Procesados and Fallidos, read from the Maildir on disk."""
    maildir = dovecot.paths.maildir(user)
    return {"INBOX": _count(maildir), "Procesados": _count(maildir / ".Procesados"),
            "Fallidos": _count(maildir / ".Fallidos")}


def inbox_total(dovecot: DovecotServer, users: Iterable[MailUser]) -> int:
    return sum(_count(dovecot.paths.maildir(user)) for user in users)


# --- who was connected when (Dovecot's log) ---------------------------------------------------

_STAMP = r"(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}) "
_LOGIN = re.compile(_STAMP + r"imap-login: Info: Login: user=<(?P<user>[^>]*)>.*session=<(?P<session>[^>]+)>")
_END = re.compile(_STAMP + r"imap\((?P<user>[^)]*)\)<\d+><(?P<session>[^>]+)>: Info: "
                  r"(?P<how>Disconnected: Logged out|Disconnected|Connection closed)")
# Dovecot's log process stamps a line when it receives it, so a session's «Logged out» can be
# stamped a few milliseconds after its LOGOUT was answered, and after the next session of the
# mailbox (which waits for that answer) logged in. Only a clean logout gets this allowance: a
# mailbox processed by two owners at once overlaps for a whole pass, hundreds of milliseconds.
LOGOUT_LOG_LAG = timedelta(milliseconds=50)


@dataclass(frozen=True, slots=True)
class Session:
    user: str
    session: str
    start: datetime
    end: datetime | None  # None: still connected when the log was read
    logged_out: bool = False  # ended by LOGOUT, answered before the line was stamped


def sessions(log_text: str) -> dict[str, list[Session]]:
    """Every IMAP session in Dovecot's log, by user, in order of login."""
    starts: dict[str, tuple[str, datetime]] = {}
    ends: dict[str, tuple[datetime, bool]] = {}
    for line in log_text.splitlines():
        if (login := _LOGIN.match(line)) is not None:
            starts[login["session"]] = (login["user"], datetime.fromisoformat(login["at"]))
        elif (end := _END.match(line)) is not None:
            ends.setdefault(end["session"], (datetime.fromisoformat(end["at"]), end["how"].endswith("Logged out")))
    by_user: dict[str, list[Session]] = {}
    for session, (user, start) in starts.items():
        end_at, logged_out = ends.get(session, (None, False))
        by_user.setdefault(user, []).append(Session(user, session, start, end_at, logged_out))
    for items in by_user.values():
        items.sort(key=lambda item: item.start)
    return by_user


def overlapping(by_user: dict[str, list[Session]]) -> list[tuple[Session, Session]]:
    """Pairs of sessions of one mailbox that were open at the same time."""
    found: list[tuple[Session, Session]] = []
    for items in by_user.values():
        for earlier, later in zip(items, items[1:], strict=False):
            lag = LOGOUT_LOG_LAG if earlier.logged_out else timedelta(0)
            if earlier.end is None or later.start < earlier.end - lag:
                found.append((earlier, later))
    return found
