"""Network fault injection (issue 12): `procesar --una-vez` through a TCP fault proxy.

Between the engine and Dovecot (IMAPS, POP3S) and aiosmtpd (the POP3 forwards), a
`FaultProxy` cuts, resets, stalls or trickles the conversation. A clean pass through the
proxy on an identical mailbox gives the byte counts; the faults are placed at fractions of
them, spread over the whole pass, plus at the turn boundaries of the login phase.

Every run must end the documented way (exit 0 or 1, a Spanish «Error en la cuenta» line on
1, never a traceback), and one clean rerun must converge: every message in exactly one
place (IMAP: INBOX empty, Procesados the good mail, Fallidos the bad, byte for byte; POP3:
INBOX empty, every message forwarded, a second copy only when the SMTP side was faulted and
then with the same Resent-Message-ID), every good document stored once.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers.certs import TestCertificates
from tests.servers.dovecot import DEFAULT, RECEPCION, DovecotServer
from tests.servers.faultproxy import ConnectionStats, Fault, FaultProxy
from tests.servers.smtp import SmtpServer
from tests.support.engine_support import crlf
from tests.support.fault_support import (
    ERROR_LINE,
    REPO,
    Completed,
    Rig,
    assert_all_gone,
    assert_clean_rerun,
    assert_documented_exit,
    assert_imap_converged,
    assert_store_converged,
    auth_incidents,
    bad_of,
    descendants,
    folder_bytes,
    good_of,
    kill_tree,
    mailbox,
    poll_until,
    procesar_command,
    procesar_env,
    run_procesar,
    stored_cufes,
    write_proxied_account,
)
from tui_recepcion.accounts import DEFAULT_TIMEOUT

GOOD = 12  # + one bad mail of each failure reason: 22 messages, ~430 KB through the proxy
BOUNDED = {"TUI_RECEPCION_PASADA_MAX_SEGUNDOS": "3"}
BOUND_SECONDS = 20.0  # a pass bounded to 3 s must end well within this (the run is killed past it)
# Server turns of the login phase: the TLS handshake (two), the greeting or capabilities, the
# answer to the login command, the next answer. `login_offsets()[-4]` is where the login
# answer starts: the server accepted the credentials and the client hears nothing.
LOGIN_TURNS = 5


@dataclass
class CleanPass:
    """What a fault-free pass carried on each proxied connection."""

    mail: ConnectionStats
    smtp: ConnectionStats | None

    def stats(self, target: str) -> ConnectionStats:
        stats = self.mail if target == "mail" else self.smtp
        assert stats is not None
        return stats

    def login_offsets(self) -> list[int]:
        """Down offsets in the login phase: where each server turn starts, and its middle."""
        marks = [down for _up, down in self.mail.turns()]
        starts = sorted(set(marks))[: LOGIN_TURNS + 1]
        offsets = set(starts[:-1])
        offsets.update((a + b) // 2 for a, b in zip(starts, starts[1:], strict=False))
        return sorted(offsets)


def _build_rig(tmp_path: Path, dovecot: DovecotServer, certs: TestCertificates, smtp: SmtpServer | None,
               protocol: str, mails: list, general: dict | None = None) -> Iterator[Rig]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    dovecot.reset()
    if smtp is not None:
        smtp.clear()
    dovecot.deliver(RECEPCION, [mail.raw for mail in mails])
    mail_proxy = FaultProxy(dovecot.ports.port_for(protocol, "ssl")).start()
    smtp_proxy = FaultProxy(smtp.port).start() if protocol == "pop3" and smtp is not None else None
    proxies = [p for p in (mail_proxy, smtp_proxy) if p is not None]
    try:
        account = write_proxied_account(
            tmp_path, dovecot, certs, mail_proxy, protocol=protocol,
            smtp=smtp if protocol == "pop3" else None, smtp_proxy=smtp_proxy, general=general,
        )
        yield Rig(protocol, dovecot, mails, mail_proxy, smtp_proxy, smtp if protocol == "pop3" else None,
                  account.config_path, account.database, proxies)
    finally:
        for proxy in proxies:
            proxy.stop()


_CLEAN: dict[tuple[str, int], CleanPass] = {}


@pytest.fixture(scope="module")
def measure(dovecot: DovecotServer, tls_certs: TestCertificates, smtp_server: SmtpServer,
            tmp_path_factory: pytest.TempPathFactory):
    """`measure(protocol, good)`: the byte counts of a clean pass of that mailbox (cached)."""

    def clean(protocol: str, good: int = GOOD) -> CleanPass:
        if (protocol, good) not in _CLEAN:
            tmp_path = tmp_path_factory.mktemp(f"limpia-{protocol}")
            for rig in _build_rig(tmp_path, dovecot, tls_certs, smtp_server, protocol, list(mailbox(good))):
                assert_documented_exit(run_procesar(rig.config_path), codes=(0,))
                rig.assert_converged()
                [mail] = rig.mail_proxy.connections  # one session per pass: faults below hit that one
                smtp = rig.smtp_proxy.connections[0] if rig.smtp_proxy else None
                _CLEAN[(protocol, good)] = CleanPass(mail, smtp)
        return _CLEAN[(protocol, good)]

    return clean


@pytest.fixture
def rig_for(tmp_path: Path, clean_dovecot: DovecotServer, tls_certs: TestCertificates, smtp_server: SmtpServer):
    made: list[Iterator[Rig]] = []

    def make(protocol: str, good: int = GOOD, general: dict | None = None) -> Rig:
        mails = mailbox(good, pdf_size=BIG_PDF) if good == BIG else mailbox(good)
        generator = _build_rig(tmp_path / f"{protocol}-{len(made)}", clean_dovecot, tls_certs, smtp_server,
                               protocol, list(mails), general)
        made.append(generator)
        return next(generator)

    yield make
    for generator in made:
        generator.close()


def _assert_faulted_then_converges(rig: Rig, run: Completed, *, smtp_faulted: bool = False) -> None:
    assert_documented_exit(run)
    assert sum(proxy.fired() for proxy in rig.proxies) >= 1, "the fault never fired: the test proved nothing"
    rig.disarm()
    assert_clean_rerun(rig.config_path)
    rig.assert_converged(smtp_faulted=smtp_faulted)


# --- cuts and resets spread over the pass -----------------------------------------------

SPREAD = [round(0.02 + 0.95 * i / 19, 3) for i in range(20)]  # 20 offsets, 2 % … 97 % of the pass


def _cases(protocol: str) -> list:
    cases = [pytest.param("cut", "mail", "down", f, id=f"cut-down-{f * 100:02.0f}") for f in SPREAD]
    cases += [pytest.param("cut", "mail", "up", f, id=f"cut-up-{f * 100:02.0f}") for f in (0.35, 0.8)]
    cases += [pytest.param("reset", "mail", "down", f, id=f"reset-down-{f * 100:02.0f}") for f in (0.15, 0.6)]
    if protocol == "pop3":  # the forward's side: a cut before «250» is the documented resend window
        cases += [pytest.param("cut", "smtp", "up", 0.5, id="smtp-cut-up-50")]
        cases += [pytest.param("cut", "smtp", "down", f, id=f"smtp-cut-down-{f * 100:02.0f}") for f in (0.55, 0.9)]
        cases += [pytest.param("reset", "smtp", "up", 0.7, id="smtp-reset-up-70")]
    return cases


def _spread_fault(clean: CleanPass, action: str, target: str, direction: str, fraction: float) -> Fault:
    offset = int(clean.stats(target).passed(direction) * fraction)  # type: ignore[arg-type]
    return Fault(action, offset, direction)  # type: ignore[arg-type]


@pytest.mark.parametrize(("action", "target", "direction", "fraction"), _cases("imap"))
def test_imap_fault_mid_pass_then_converges(measure, rig_for, action, target, direction, fraction) -> None:
    clean = measure("imap")
    rig = rig_for("imap")
    rig.proxy(target).arm(_spread_fault(clean, action, target, direction, fraction))
    _assert_faulted_then_converges(rig, run_procesar(rig.config_path))


@pytest.mark.parametrize(("action", "target", "direction", "fraction"), _cases("pop3"))
def test_pop3_fault_mid_pass_then_converges(measure, rig_for, action, target, direction, fraction) -> None:
    clean = measure("pop3")
    rig = rig_for("pop3")
    rig.proxy(target).arm(_spread_fault(clean, action, target, direction, fraction))
    _assert_faulted_then_converges(rig, run_procesar(rig.config_path), smtp_faulted=target == "smtp")


# --- the login phase ---------------------------------------------------------------------

LOGIN_CASES = 6  # of the LOGIN_TURNS turn starts and the middles between them, from the login answer back


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
@pytest.mark.parametrize("index", range(LOGIN_CASES))
def test_cut_during_login_is_a_transient_problem(measure, rig_for, protocol: str, index: int) -> None:
    offsets = measure(protocol).login_offsets()
    assert len(offsets) >= LOGIN_CASES, f"login phase too short to place cuts: {offsets}"
    offset = offsets[-1 - index]
    rig = rig_for(protocol)
    rig.mail_proxy.arm(Fault.cut(offset, "down"))
    run = run_procesar(rig.config_path)
    assert_documented_exit(run)
    # A dropped connection is not a refused password: no such message, no authentication incident.
    assert "rechazó el usuario" not in run.stderr and "contraseña" not in run.stderr, run.describe()
    assert auth_incidents(rig.database) == [], run.describe()
    _assert_faulted_then_converges(rig, run)


# --- stalls and trickles: the pass bound ------------------------------------------------


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
@pytest.mark.parametrize("where", ["login", "mid-pass"])
def test_a_stall_ends_the_pass_within_its_bound(measure, rig_for, protocol: str, where: str) -> None:
    clean = measure(protocol)
    offset = clean.login_offsets()[-4] if where == "login" else int(clean.mail.down * 0.4)
    rig = rig_for(protocol)
    rig.mail_proxy.arm(Fault.stall(offset, "down"))
    run = run_procesar(rig.config_path, env=BOUNDED, timeout=BOUND_SECONDS)
    assert_documented_exit(run, codes=(1,))
    _assert_faulted_then_converges(rig, run)


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_a_trickling_server_cannot_keep_a_pass_alive(measure, rig_for, protocol: str) -> None:
    clean = measure(protocol)
    rig = rig_for(protocol)
    # 1 KiB/s after 10 % of the pass: the rest would take minutes.
    rig.mail_proxy.arm(Fault.trickle(int(clean.mail.down * 0.1), bytes_per_second=1024))
    run = run_procesar(rig.config_path, env=BOUNDED, timeout=BOUND_SECONDS)
    assert_documented_exit(run, codes=(1,))
    _assert_faulted_then_converges(rig, run)


# --- the server goes away mid-pass -------------------------------------------------------


def _start_pass(config_path: Path, env: dict | None = None, *, pipes: bool = True) -> subprocess.Popen:
    """A `--una-vez` run in the background. Without `pipes` its output goes to files: after a
    SIGKILL, surviving descendants would hold a pipe open and block whoever reads it."""
    if pipes:
        out = err = subprocess.PIPE
    else:
        out = (config_path.parent / "procesar.out").open("wb")
        err = (config_path.parent / "procesar.err").open("wb")
    return subprocess.Popen(
        procesar_command(config_path, once=True), cwd=REPO, env=procesar_env(env), text=True,
        stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True,
    )


def _finish(process: subprocess.Popen, started: float, timeout: float = BOUND_SECONDS) -> Completed:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(process.pid)
        out, err = process.communicate()
        raise AssertionError(f"procesar no terminó en {timeout} s\n{out[-2000:]}\n{err[-4000:]}") from None
    return Completed(process.returncode, out, err, time.monotonic() - started)


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_server_drops_every_connection_mid_pass(measure, rig_for, protocol: str) -> None:
    clean = measure(protocol)
    rig = rig_for(protocol)
    # Hold the session at 30 % of the pass (so the drop lands mid-pass, not after it), then drop it.
    rig.mail_proxy.arm(Fault.stall(int(clean.mail.down * 0.3), "down"))
    started = time.monotonic()
    process = _start_pass(rig.config_path)
    try:
        poll_until(lambda: rig.mail_proxy.fired() == 1, BOUND_SECONDS, "the pass reached 30 %")
        rig.mail_proxy.drop_all()
        run = _finish(process, started)
    finally:
        kill_tree(process.pid) if process.poll() is None else None
    _assert_faulted_then_converges(rig, run)


@pytest.fixture(scope="module")
def own_dovecot(tls_certs: TestCertificates) -> Iterator[DovecotServer]:
    """A Dovecot of this module's own, so restarting it disturbs no other test."""
    server = DovecotServer(DEFAULT, tls_certs.server)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_dovecot_restart_mid_pass(own_dovecot: DovecotServer, tls_certs, smtp_server, tmp_path, protocol) -> None:
    mails = list(mailbox(GOOD))
    for rig in _build_rig(tmp_path, own_dovecot, tls_certs, smtp_server, protocol, mails):
        rig.mail_proxy.arm(Fault.stall(100_000, "down"))  # a quarter of the pass: hold it there
        started = time.monotonic()
        process = _start_pass(rig.config_path)
        try:
            poll_until(lambda: rig.mail_proxy.fired() == 1, BOUND_SECONDS, "the pass reached 100 KB")  # noqa: B023
            own_dovecot.stop(remove=False)  # SIGTERM: Dovecot ends its sessions, as on a restart
            own_dovecot.start()
            # A session the restart leaves open (POP3 mail processes may outlive the master) is a
            # stall to the client: its operation timeout ends it.
            run = _finish(process, started, timeout=DEFAULT_TIMEOUT + BOUND_SECONDS)
        finally:
            kill_tree(process.pid) if process.poll() is None else None
        _assert_faulted_then_converges(rig, run)


# --- a full disk -------------------------------------------------------------------------


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "datos"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k,mode=0700", "tmpfs", str(mount_point)],
                   check=True, capture_output=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False, capture_output=True)


def test_a_full_disk_stops_the_pass_and_loses_nothing(small_tmpfs: Path, clean_dovecot, tls_certs, tmp_path) -> None:
    # 40 invoices with 60 KB PDFs: ~5 MB of documents for a 400 KiB file system.
    mails = list(mailbox(30, seed=11, pdf_size=60_000))
    general = {"base_datos": str(small_tmpfs / "recepcion.db"), "carpeta_documentos": str(small_tmpfs / "documentos")}
    for rig in _build_rig(tmp_path, clean_dovecot, tls_certs, None, "imap", mails, general):
        run = run_procesar(rig.config_path)
        assert_documented_exit(run, codes=(1,))
        assert any(line.startswith(ERROR_LINE) for line in run.stderr.splitlines()), run.describe()
        # Nothing lost or misfiled: each message in INBOX or in its right folder with its document stored.
        inbox = folder_bytes(clean_dovecot, "INBOX")
        processed = folder_bytes(clean_dovecot, "Procesados")
        failed = folder_bytes(clean_dovecot, "Fallidos")
        good = {crlf(mail.raw): mail for mail in good_of(mails)}
        bad = {crlf(mail.raw) for mail in bad_of(mails)}
        assert sorted(inbox + processed + failed) == sorted(crlf(mail.raw) for mail in mails)
        assert set(failed) <= bad, "a good message went to Fallidos because the disk was full"
        assert set(processed) <= set(good), "a bad message went to Procesados"
        assert len(inbox) > 0, "the disk never filled: the test proved nothing"
        cufes = set(stored_cufes(rig.database))
        assert all(set(good[raw].cufes) <= cufes for raw in processed), "moved to Procesados without its document"
        subprocess.run(["mount", "-o", "remount,size=64m", str(small_tmpfs)], check=True, capture_output=True)
        assert_clean_rerun(rig.config_path)
        assert_imap_converged(clean_dovecot, mails, rig.database)


# --- SIGKILL at random moments, and orphans ----------------------------------------------

BIG = 213  # + 10 bad = 223 messages: past the pool threshold (200), so worker processes run
BIG_PDF = 1_000
KILL_SEED = 20250612


def _kill_during_pass(rig: Rig, delay: float) -> list:
    """Start a pass, SIGKILL it `delay` s after its first byte; the descendants it had then."""
    process = _start_pass(rig.config_path, pipes=False)
    try:
        poll_until(lambda: rig.mail_proxy.total("both") > 0 or process.poll() is not None, 30,
                   "the pass connected", interval=0.005)
        first_byte = time.monotonic()
        poll_until(lambda: time.monotonic() - first_byte >= delay or process.poll() is not None, 30,
                   "the kill moment came", interval=0.005)
        family = descendants(process.pid)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            kill_tree(process.pid)
    return family


def _clean_duration(rig_for, protocol: str) -> float:
    """How long a clean pass of the big mailbox runs after its first byte (measured once)."""
    key = ("duración", protocol)
    if key not in _DURATIONS:
        rig = rig_for(protocol, good=BIG)
        process = _start_pass(rig.config_path)
        poll_until(lambda: rig.mail_proxy.total("both") > 0, 30, "the pass connected", interval=0.005)
        first_byte = time.monotonic()
        assert_documented_exit(_finish(process, first_byte, timeout=120), codes=(0,))
        _DURATIONS[key] = time.monotonic() - first_byte
    return _DURATIONS[key]


_DURATIONS: dict[tuple[str, str], float] = {}
KILLS = [("imap", n) for n in range(5)] + [("pop3", n) for n in range(5)]


@pytest.mark.parametrize(("protocol", "n"), KILLS, ids=[f"{p}-{n}" for p, n in KILLS])
def test_sigkill_at_a_random_moment_leaves_no_orphan_and_converges(rig_for, protocol: str, n: int) -> None:
    duration = _clean_duration(rig_for, protocol)
    delay = random.Random(KILL_SEED + n + (100 if protocol == "pop3" else 0)).uniform(0.02, 0.95) * duration
    rig = rig_for(protocol, good=BIG)
    family = _kill_during_pass(rig, delay)
    assert_all_gone(family, 10.0, f"descendants of procesar killed {delay:.2f} s into the pass")
    assert_clean_rerun(rig.config_path)
    # A kill between the relay's 250 and the ledger commit may resend: with the same Resent-Message-ID.
    rig.assert_converged(smtp_faulted=True)


def test_sigkill_with_workers_running_leaves_no_orphan(rig_for) -> None:
    rig = rig_for("imap", good=BIG)
    process = _start_pass(rig.config_path, pipes=False)
    family: list = []
    try:
        def workers_running() -> bool:
            nonlocal family
            family = descendants(process.pid)
            return len(family) >= 2 or process.poll() is not None

        poll_until(workers_running, 60, "procesar started its worker processes", interval=0.01)
        assert process.poll() is None, "the pass ended before its workers could be seen"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            kill_tree(process.pid)
    assert_all_gone(family, 10.0, "worker processes of a killed procesar")
    assert_clean_rerun(rig.config_path)
    assert_store_converged(rig.database, rig.mails)
