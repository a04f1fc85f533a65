"""Engine throughput against the raw protocol lower bound, on the same mailbox, in one run.

    python bench/bench_engine.py [--protocolo imap|pop3] [--n 2000]

Starts a private Dovecot (and, for POP3, an SMTP server for the backup copies) with the
test harness, fills the mailbox with N generated DIAN emails (~65 KB each), and measures:

- the raw bound: IMAP = batched `UID FETCH BODY.PEEK[]` of every message plus `UID MOVE`,
  with plain imaplib; POP3 = RETR + SMTP send to the backup + DELE, with plain poplib/smtplib;
- the engine: `tui-recepcion procesar --una-vez` in a child process (extraction, store,
  disposal, events), its wall time and its peak memory: PSS and RSS summed over the main
  process and its extraction workers (sampled), and the main process's own peak.

It also prints how many CPU-bound processes the machine really runs at once and its CPU
time per message on both sides: shared virtual machines vary a lot from run to run.

Goal (issue 5): engine/raw ≥ 0.5, and peak RSS under 200 MB at N = 10000. Run as root
(Dovecot must run as root here) from the repository root.
"""

from __future__ import annotations

import argparse
import imaplib
import os
import poplib
import re
import resource
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.servers.certs import make_test_certificates  # noqa: E402
from tests.servers.dovecot import DEFAULT, RECEPCION, RESPALDO, DovecotPool, DovecotServer  # noqa: E402
from tests.servers.smtp import SMTP_USER, SmtpServer  # noqa: E402
from tests.support.engine_support import write_account  # noqa: E402
from tui_recepcion.demo.samples import SampleFactory  # noqa: E402

BATCH = 100


def fill(dovecot: DovecotServer, n: int, seed: int) -> float:
    """Deliver n unique documents (invoices, credit and debit notes); returns their mean size."""
    factory = SampleFactory(seed=seed)
    kinds = ("Invoice",) * 8 + ("CreditNote", "DebitNote")
    total = 0
    for index in range(n):
        raw = factory.document_email(kinds[index % len(kinds)]).raw.replace(b"\n", b"\r\n")
        total += len(raw)
        dovecot.deliver(RECEPCION, [raw])
    return total / max(n, 1)


def tls_context(ca_file: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file))
    return context


def raw_imap(dovecot: DovecotServer, ca_file: Path) -> int:
    client = imaplib.IMAP4_SSL("localhost", dovecot.ports.imaps, ssl_context=tls_context(ca_file))
    client.login(RECEPCION.address, RECEPCION.password)
    client.create("RawMovidos")
    client.select("INBOX")
    _, data = client.uid("SEARCH", "ALL")
    uids = data[0].split()
    for start in range(0, len(uids), BATCH):
        batch = b",".join(uids[start : start + BATCH])
        client.uid("FETCH", batch, "(BODY.PEEK[])")
        client.uid("MOVE", batch, "RawMovidos")
    client.logout()
    return len(uids)


def raw_pop3(dovecot: DovecotServer, smtp: SmtpServer, ca_file: Path) -> int:
    pop = poplib.POP3_SSL("localhost", dovecot.ports.pop3s, context=tls_context(ca_file))
    pop.user(RECEPCION.address)
    pop.pass_(RECEPCION.password)
    count, _size = pop.stat()
    sender = smtplib.SMTP("localhost", smtp.port)
    sender.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sender.starttls(context=tls_context(ca_file))
    sender.login(SMTP_USER.username, SMTP_USER.password)
    for number in range(1, count + 1):
        _, lines, _ = pop.retr(number)
        sender.sendmail(SMTP_USER.username, [RESPALDO.address], b"\r\n".join(lines) + b"\r\n")
        pop.dele(number)
    sender.quit()
    pop.quit()
    return count


# Run the CLI in a fresh interpreter that reports its own peak RSS. That peak is VmHWM, not
# RUSAGE_SELF: Linux carries maxrss across exec, so RUSAGE_SELF would report the pages of this
# process (large: it fills the mailbox), which spawned it.
ENGINE_RUNNER = """
import re, sys
from tui_recepcion.cli import main
status = main(sys.argv[1:])
print(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1), file=sys.stderr)
sys.exit(status)
"""


def tree_memory_kib(root: int) -> tuple[int, int]:
    """(RSS, PSS) of `root` and all its descendants, in KiB. The workers descend from
    multiprocessing's fork server, not from the engine, so its rusage never sees them; and
    they share the server's pages, which the RSS sum counts once per process and PSS divides."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit():
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue  # exited meanwhile
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    rss = pss = 0
    for pid in tree:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        rss += int(re.search(r"^Rss:\s+(\d+)", rollup, re.MULTILINE).group(1))
        pss += int(re.search(r"^Pss:\s+(\d+)", rollup, re.MULTILINE).group(1))
    return rss, pss


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy: it counts Dovecot and the engine's worker
    processes alike (the workers descend from multiprocessing's fork server, so the engine's
    own rusage would miss them)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class EngineRun:
    seconds: float
    main_peak: int  # bytes: the main process's VmHWM
    tree_rss_peak: int  # bytes: sum over the engine's processes, sampled
    tree_pss_peak: int


def run_engine(config_path: Path) -> EngineRun:
    """Run `procesar --una-vez` and measure its wall time and memory (sampled 4 times a second)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(
            [sys.executable, "-c", ENGINE_RUNNER, "--config", str(config_path), "procesar", "--una-vez"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        rss_peak = pss_peak = 0
        while child.poll() is None:
            rss, pss = tree_memory_kib(child.pid)
            rss_peak, pss_peak = max(rss_peak, rss), max(pss_peak, pss)
            time.sleep(0.25)
        seconds = time.perf_counter() - started
        errors.seek(0)
        text = errors.read().decode(errors="replace")
    if child.returncode != 0:
        sys.exit(f"procesar falló:\n{text}")
    own = int(text.strip().splitlines()[-1])
    return EngineRun(seconds, own * 1024, max(rss_peak, own) * 1024, max(pss_peak, own) * 1024)


def _burn(count: int) -> float:
    started = time.perf_counter()
    total = 0
    for value in range(count):
        total += value * value
    return time.perf_counter() - started


def effective_cores(workers: int = 2, count: int = 3_000_000) -> float:
    """How many CPU-bound processes really run at once here: the engine's worker processes
    only pay off where this is above 1 (some virtual machines report 2 cores that are one)."""
    import multiprocessing

    alone = _burn(count)
    with multiprocessing.get_context("forkserver").Pool(workers) as pool:
        pool.map(_burn, [count] * workers)  # start the workers before timing
        started = time.perf_counter()
        pool.map(_burn, [count] * workers)
        together = time.perf_counter() - started
    return workers * alone / together


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocolo", choices=("imap", "pop3"), default="imap")
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-motor-") as scratch:
        root = Path(scratch)
        certs = make_test_certificates(root / "certs")
        pool = DovecotPool(certs.server)
        smtp = SmtpServer(certs.server, implicit_tls=False)
        smtp.start()
        try:
            dovecot = pool.get(DEFAULT)
            dovecot.reset()
            started = time.perf_counter()
            size = fill(dovecot, args.n, seed=1)
            print(f"{args.n} correos generados y entregados ({size / 1024:.1f} KB de media) en {time.perf_counter() - started:.1f} s")

            started, cpu_before = time.perf_counter(), busy_cpu_seconds()
            raw_count = raw_imap(dovecot, certs.ca_file) if args.protocolo == "imap" else raw_pop3(dovecot, smtp, certs.ca_file)
            raw_seconds, raw_cpu = time.perf_counter() - started, busy_cpu_seconds() - cpu_before
            assert raw_count == args.n, raw_count

            dovecot.reset()
            smtp.clear()
            fill(dovecot, args.n, seed=2)
            work = root / "motor"
            work.mkdir()
            account = write_account(work, dovecot, certs, protocol=args.protocolo, smtp=smtp if args.protocolo == "pop3" else None)
            cpu_before = busy_cpu_seconds()
            engine = run_engine(account.config_path)
            engine_cpu = busy_cpu_seconds() - cpu_before
            leftover = len(dovecot.messages(RECEPCION))
        finally:
            smtp.stop()
            pool.stop_all()

    raw_rate = args.n / raw_seconds
    engine_rate = args.n / engine.seconds
    print(f"protocolo: {args.protocolo.upper()}   mensajes: {args.n}   pendientes al final: {leftover}")
    print(f"núcleos de CPU: {os.cpu_count()} declarados, {effective_cores():.2f} efectivos para trabajo en paralelo")
    print(f"límite crudo:   {raw_rate:8.0f} mensajes/s  ({raw_seconds:.2f} s)")
    print(f"motor:          {engine_rate:8.0f} mensajes/s  ({engine.seconds:.2f} s, incluye arranque del proceso)")
    print(f"razón motor/crudo: {engine_rate / raw_rate:.2f}   (meta ≥ 0.50)")
    print(f"CPU de la máquina por mensaje (incluye Dovecot): crudo {raw_cpu / args.n * 1000:.2f} ms, "
          f"motor {engine_cpu / args.n * 1000:.2f} ms")
    print(f"memoria máxima del motor: {engine.tree_pss_peak / 2**20:.0f} MB (PSS de todos sus procesos; "
          f"RSS sumado {engine.tree_rss_peak / 2**20:.0f} MB, proceso principal {engine.main_peak / 2**20:.0f} MB)"
          f"   (meta < 200 MB con N = 10000)")
    print(f"RSS máximo de este proceso: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
