"""Shared pieces of the network fault-injection suite (issue 12).

`tui-recepcion procesar` runs as a real subprocess against Dovecot and aiosmtpd through a
`FaultProxy`; these helpers start it (one pass or as a service), check that it ended the
documented way (exit code, no traceback), find its descendants in /proc (orphan checks),
and assert that, after recovery, every message is in exactly one place, each document is
stored once, and each POP3 message was forwarded (at most once, or with equal
`Resent-Message-ID` in the documented window).

Synchronisation is always a poll with a deadline, never a sleep.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import tomlkit

from tests.servers.certs import TestCertificates
from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.servers.faultproxy import FaultProxy
from tests.servers.smtp import SmtpServer
from tests.support.engine_support import ACCOUNT, TestAccount, crlf, original_of, write_account
from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory, SampleMail

REPO = Path(__file__).resolve().parents[2]
PASS_TIMEOUT = 90.0  # a clean one-pass run here takes a few seconds; this only catches hangs
SERVICE_ENV = {"TUI_RECEPCION_REINTENTO_SEGUNDOS": "0.2"}
ERROR_LINE = f"Error en la cuenta «{ACCOUNT}»: "


# --- mail --------------------------------------------------------------------------------


@cache
def mailbox(good: int, seed: int = 5, pdf_size: int = 4_000) -> tuple[SampleMail, ...]:
    """Good mail of every kind plus one bad mail of each failure reason (cached: building
    PDFs and zips costs more than a pass)."""
    factory = SampleFactory(seed=seed, receiver=DEFAULT_RECEIVER, pdf_size=pdf_size)
    return tuple(factory.mailbox(good=good, failing_each=1))


def good_of(mails: Iterable[SampleMail]) -> list[SampleMail]:
    return [mail for mail in mails if mail.expected_reason is None]


def bad_of(mails: Iterable[SampleMail]) -> list[SampleMail]:
    return [mail for mail in mails if mail.expected_reason is not None]


# --- accounts behind proxies -------------------------------------------------------------


def write_proxied_account(
    tmp_path: Path,
    dovecot: DovecotServer,
    certs: TestCertificates,
    mail_proxy: FaultProxy,
    *,
    protocol: str = "imap",
    security: str = "ssl",
    smtp: SmtpServer | None = None,
    smtp_proxy: FaultProxy | None = None,
    general: dict | None = None,
    extra: dict | None = None,
) -> TestAccount:
    """`write_account`, with the mail port (and the SMTP port) pointing at fault proxies."""
    account = write_account(tmp_path, dovecot, certs, protocol=protocol, security=security, smtp=smtp,
                            extra={"puerto": mail_proxy.port, **(extra or {})})
    document = tomllib.loads(account.config_path.read_text(encoding="utf-8"))
    if smtp_proxy is not None:
        document["cuentas"][ACCOUNT]["smtp"]["puerto"] = smtp_proxy.port
    document["general"].update(general or {})
    account.config_path.write_text(tomlkit.dumps(document), encoding="utf-8")
    return TestAccount(account.config_path, Path(document["general"]["base_datos"]))


def documents_dir(account: TestAccount) -> Path:
    document = tomllib.loads(account.config_path.read_text(encoding="utf-8"))
    return Path(document["general"]["carpeta_documentos"])


# --- running procesar --------------------------------------------------------------------


def procesar_command(config_path: Path, *, once: bool) -> list[str]:
    command = [sys.executable, "-m", "tui_recepcion", "--config", str(config_path), "procesar"]
    return [*command, "--una-vez"] if once else command


def procesar_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TUI_RECEPCION_")}
    return {**env, **SERVICE_ENV, **(extra or {})}


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def describe(self) -> str:
        return (f"código {self.returncode} en {self.seconds:.1f} s\n--- stdout ---\n{self.stdout[-4000:]}"
                f"\n--- stderr ---\n{self.stderr[-6000:]}")


def kill_tree(root: int) -> None:
    """SIGKILL `root`'s process group and every descendant we can still find (test cleanup)."""
    family = descendants(root)
    for pid in [root, *(proc.pid for proc in family)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.killpg(root, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_procesar(config_path: Path, *, timeout: float = PASS_TIMEOUT, env: dict[str, str] | None = None,
                 once: bool = True) -> Completed:
    """One `procesar --una-vez` run; a run that outlives `timeout` is killed and fails the test."""
    started = time.monotonic()
    process = subprocess.Popen(
        procesar_command(config_path, once=once), cwd=REPO, env=procesar_env(env), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(process.pid)
        out, err = process.communicate()
        raise AssertionError(
            f"procesar --una-vez no terminó en {timeout:.0f} s (no hay límite de pasada efectivo)\n"
            f"--- stdout ---\n{out[-3000:]}\n--- stderr ---\n{err[-5000:]}"
        ) from None
    finally:
        if process.poll() is None:
            kill_tree(process.pid)
    return Completed(process.returncode, out, err, time.monotonic() - started)


def assert_no_traceback(stdout: str, stderr: str) -> None:
    for name, text in (("stdout", stdout), ("stderr", stderr)):
        assert "Traceback" not in text, f"traceback en {name}:\n{text[-6000:]}"


def assert_documented_exit(run: Completed, codes: tuple[int, ...] = (0, 1)) -> None:
    """Exit 0 (every pass completed) or 1 (a pass was stopped, said in Spanish), never a traceback."""
    assert_no_traceback(run.stdout, run.stderr)
    assert run.returncode in codes, run.describe()
    assert "Resumen:" in run.stdout, run.describe()
    if run.returncode == 1:
        lines = [line for line in run.stderr.splitlines() if line.startswith(ERROR_LINE)]
        assert lines and all(line[len(ERROR_LINE):].strip() for line in lines), run.describe()


def assert_clean_rerun(config_path: Path) -> Completed:
    run = run_procesar(config_path)
    assert_documented_exit(run, codes=(0,))
    return run


# --- the service -------------------------------------------------------------------------


class Service:
    """`procesar` without --una-vez, output to files (a pipe nobody reads would block it)."""

    def __init__(self, config_path: Path, workdir: Path, env: dict[str, str] | None = None) -> None:
        self._out_path, self._err_path = workdir / "servicio.out", workdir / "servicio.err"
        with self._out_path.open("wb") as out, self._err_path.open("wb") as err:
            self.process = subprocess.Popen(
                procesar_command(config_path, once=False), cwd=REPO, env=procesar_env(env),
                stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> tuple[str, str]:
        return (self._out_path.read_text(errors="replace"), self._err_path.read_text(errors="replace"))

    def describe(self) -> str:
        out, err = self.output()
        state = "vivo" if self.alive() else f"terminó con código {self.process.returncode}"
        return f"servicio {state}\n--- stdout ---\n{out[-3000:]}\n--- stderr ---\n{err[-6000:]}"

    def assert_alive(self, when: str) -> None:
        assert self.alive(), f"{when}: {self.describe()}"
        assert_no_traceback(*self.output())

    def terminate(self, within: float = 5.0) -> tuple[int | None, float]:
        """SIGTERM; the exit code (None if it did not exit within `within` s) and the time taken."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            code = None
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.alive():
            kill_tree(self.pid)
            self.process.wait(timeout=10)


# --- polling -----------------------------------------------------------------------------


def poll_until(predicate: Callable[[], bool], timeout: float, what: str, *, interval: float = 0.05,
               describe: Callable[[], str] = lambda: "") -> None:
    """Call `predicate` until it is true; AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: no ocurrió en {timeout:.1f} s\n{describe()}")
        time.sleep(interval)  # the pause between polls, never the synchronisation itself


# --- processes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessId:
    """A pid with its start time, so a recycled pid is never taken for the same process."""

    pid: int
    start: int
    command: str

    def running(self) -> bool:
        stat = _stat(self.pid)
        return stat is not None and stat[1] == self.start and stat[0] != "Z"


def _stat(pid: int) -> tuple[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[19])  # state, starttime (fields 3 and 22 of proc(5))


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def descendants(pid: int) -> list[ProcessId]:
    """Every living descendant of `pid` (children of all its threads, recursively)."""
    found: list[ProcessId] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                pids = [int(word) for word in children.read_text().split()]
            except OSError:
                continue
            for child in pids:
                stat = _stat(child)
                if stat is not None and stat[0] != "Z" and child not in (p.pid for p in found):
                    found.append(ProcessId(child, stat[1], _command(child)))
                    pending.append(child)
    return found


def assert_all_gone(processes: list[ProcessId], timeout: float, what: str) -> None:
    def gone() -> bool:
        return not any(process.running() for process in processes)

    try:
        poll_until(gone, timeout, what, interval=0.1,
                   describe=lambda: "\n".join(f"  {p.pid}: {p.command}" for p in processes if p.running()))
    finally:
        for process in processes:  # they are ours (started by the test): never leave them behind
            if process.running():
                try:
                    os.kill(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


# --- the store ---------------------------------------------------------------------------


def _query(database: Path, sql: str, *params: object) -> list[tuple]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def stored_cufes(database: Path) -> list[str]:
    return sorted(row[0] for row in _query(database, "SELECT cufe FROM documents WHERE account = ?", ACCOUNT))


def stored_files(database: Path) -> list[Path]:
    rows = _query(database, "SELECT xml_path, pdf_path FROM documents WHERE account = ?", ACCOUNT)
    return [Path(path) for row in rows for path in row if path]


def ledger(database: Path) -> list[tuple[str, str | None, str | None]]:
    """(status, reason, disposed_at) of every message row of the account."""
    return _query(database, "SELECT status, reason, disposed_at FROM messages WHERE account = ?", ACCOUNT)


def auth_incidents(database: Path) -> list[tuple]:
    return _query(database, "SELECT kind, key, detail FROM alerts WHERE account = ? AND kind = 'acceso_fallido'",
                  ACCOUNT)


def auth_problem_events(database: Path) -> list[str]:
    rows = _query(database, "SELECT payload FROM events WHERE account = ? AND kind = 'problema'", ACCOUNT)
    return [row[0] for row in rows if "credenciales_invalidas" in row[0]]


def assert_store_converged(database: Path, mails: Iterable[SampleMail]) -> None:
    """Every message has one disposed outcome; every good document is stored once, with its files."""
    mails = list(mails)
    rows = ledger(database)
    disposed = [row for row in rows if row[2] is not None]
    assert len(disposed) == len(mails), f"{len(disposed)} mensajes dispuestos de {len(mails)}: {rows}"
    assert sum(row[0] == "procesado" for row in disposed) == len(good_of(mails)), rows
    expected = sorted(cufe for mail in good_of(mails) for cufe in mail.cufes)
    assert stored_cufes(database) == expected
    missing = [path for path in stored_files(database) if not path.is_file()]
    assert not missing, f"documentos sin archivo: {missing}"


# --- convergence on the servers ----------------------------------------------------------


def folder_bytes(dovecot: DovecotServer, folder: str) -> list[bytes]:
    return sorted(message.raw for message in dovecot.messages(RECEPCION, folder)) \
        if folder == "INBOX" or folder in dovecot.folders(RECEPCION) else []


def assert_imap_converged(dovecot: DovecotServer, mails: Iterable[SampleMail], database: Path) -> None:
    """INBOX empty, Procesados = the good mail, Fallidos = the bad mail (raw bytes), store converged."""
    mails = list(mails)
    assert dovecot.messages(RECEPCION) == [], "quedan mensajes en INBOX"
    assert folder_bytes(dovecot, "Procesados") == sorted(crlf(mail.raw) for mail in good_of(mails))
    assert folder_bytes(dovecot, "Fallidos") == sorted(crlf(mail.raw) for mail in bad_of(mails))
    assert_store_converged(database, mails)


def imap_converged(dovecot: DovecotServer, mails: Iterable[SampleMail], database: Path) -> bool:
    try:
        assert_imap_converged(dovecot, mails, database)
    except (AssertionError, sqlite3.Error):
        return False
    return True


def resent_message_id(forwarded: bytes) -> bytes | None:
    for line in forwarded.split(b"\r\n"):
        if not line.startswith((b"Resent-", b"X-Recepcion-")):
            return None
        if line.lower().startswith(b"resent-message-id:"):
            return line.split(b":", 1)[1].strip()
    return None


def assert_pop3_converged(dovecot: DovecotServer, smtp: SmtpServer, mails: Iterable[SampleMail], database: Path,
                          *, duplicates_allowed: bool) -> None:
    """INBOX empty; every message forwarded; a second copy only where allowed, with the same
    Resent-Message-ID as the first; the store converged."""
    mails = list(mails)
    assert dovecot.messages(RECEPCION) == [], "quedan mensajes en el buzón POP3"
    copies: dict[bytes, list[bytes | None]] = defaultdict(list)
    for message in smtp.messages():
        copies[original_of(message.raw)].append(resent_message_id(message.raw))
    expected = {crlf(mail.raw) for mail in mails}
    assert set(copies) == expected, (f"{len(expected - set(copies))} sin reenviar, "
                                     f"{len(set(copies) - expected)} reenvíos desconocidos")
    repeated = {original: ids for original, ids in copies.items() if len(ids) > 1}
    if not duplicates_allowed:
        assert not repeated, f"{len(repeated)} mensajes reenviados más de una vez sin fallo en SMTP: " \
                             f"{list(repeated.values())}"
    for ids in repeated.values():
        assert ids[0] is not None and len(set(ids)) == 1, f"reenvío repetido con Resent-Message-ID distintos: {ids}"
    assert_store_converged(database, mails)


@dataclass
class Rig:
    """A mailbox delivered, proxies in front of the servers, an account pointing at them."""

    protocol: str
    dovecot: DovecotServer
    mails: list
    mail_proxy: FaultProxy
    smtp_proxy: FaultProxy | None
    smtp: SmtpServer | None
    config_path: Path
    database: Path
    proxies: list[FaultProxy] = field(default_factory=list)

    def proxy(self, target: str) -> FaultProxy:
        proxy = self.mail_proxy if target == "mail" else self.smtp_proxy
        assert proxy is not None
        return proxy

    def disarm(self) -> None:
        for proxy in self.proxies:
            proxy.disarm()

    def assert_converged(self, *, smtp_faulted: bool = False) -> None:
        if self.protocol == "imap":
            assert_imap_converged(self.dovecot, self.mails, self.database)
        else:
            assert self.smtp is not None
            assert_pop3_converged(self.dovecot, self.smtp, self.mails, self.database,
                                  duplicates_allowed=smtp_faulted)
