"""Engine throughput against bounds measured on the same mailbox, in the same run.

    python bench/bench_engine.py [--protocolo imap|pop3] [--n 2000 [300 40 ...]]
    python bench/bench_engine.py --rtt-ms 100 --mbit 50 --n 300 40 2000   # a WAN link

Starts a private Dovecot (and, for POP3, an SMTP server for the backup copies) with the
test harness, fills the mailbox with N generated DIAN emails (~65 KB each), and measures:

- the raw batched bound: IMAP = `UID FETCH BODY.PEEK[]` + `UID MOVE`, 200 messages a batch,
  with plain imaplib; POP3 = RETR + SMTP send to the backup + DELE, waiting for every reply,
  with plain poplib/smtplib;
- on loopback, the raw+extraction floor (IMAP): the raw bound plus, in the same process,
  the extraction no implementation can skip (base64 of the attachment, inflating the zip,
  lxml on the container, its embedded document and DIAN's response);
- the engine: `tui-recepcion procesar --una-vez` in a child process. Its rate is that of the
  pass as the engine records it (`PassFinished.seconds`: connect, log in, list, read,
  extract, store, dispose, log out: what the raw bound does, plus the work), which a service
  repeats; the whole command (configuration, plugins, opening the store, once per process)
  and the interpreter's start are printed beside it. Also its peak memory: PSS and RSS
  summed over the main process and its extraction workers (sampled), and the main
  process's own peak.

With `--rtt-ms`/`--mbit` the mail server (IMAPS or POP3S) is reached through a proxy of the
bench's own (`wan_proxy.py`) that adds `rtt-ms / 2` of delay each way and paces each
direction at `mbit`; the raw bound and the engine go through the same proxy. The SMTP
server for POP3's backup copies stays on loopback.

It also prints how many CPU-bound processes the machine really runs at once: shared
virtual machines vary a lot from run to run.

Goals (issue 17): over 100 ms / 50 Mbit, IMAP engine ≥ 0.9 × raw batched bound (300, 40
and 2000 messages) and POP3 engine ≥ 5 × the wait-every-reply loop; on loopback, engine ≥
0.8 × the raw+extraction floor at 2000; peak memory under 200 MB at N = 10000. Run as root
(Dovecot must run as root here) from the repository root.
"""

from __future__ import annotations

import argparse
import imaplib
import json
import os
import poplib
import re
import resource
import smtplib
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.servers.certs import make_test_certificates  # noqa: E402
from tests.servers.dovecot import DEFAULT, RECEPCION, RESPALDO, DovecotPool, DovecotServer  # noqa: E402
from tests.servers.smtp import SMTP_USER, SmtpServer  # noqa: E402
from tests.support.engine_support import write_account  # noqa: E402
from tui_recepcion.demo.samples import SampleFactory  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from bench_extraction import Inputs, c_floor  # noqa: E402
from wan_proxy import WanProxy  # noqa: E402

BATCH = 200  # the raw bound's messages per round trip


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


def raw_imap(port: int, ca_file: Path, on_message: Callable[[bytes], None] | None = None) -> int:
    """The raw batched bound: FETCH BODY.PEEK[] and MOVE, BATCH messages a round trip.
    `on_message` (the floor's extraction) runs on each body in this same process."""
    client = imaplib.IMAP4_SSL("localhost", port, ssl_context=tls_context(ca_file))
    client.login(RECEPCION.address, RECEPCION.password)
    client.create("RawMovidos")
    client.select("INBOX")
    _, data = client.uid("SEARCH", "ALL")
    uids = data[0].split()
    for start in range(0, len(uids), BATCH):
        batch = b",".join(uids[start : start + BATCH])
        _, fetched = client.uid("FETCH", batch, "(BODY.PEEK[])")
        if on_message is not None:
            for item in fetched:
                if isinstance(item, tuple):
                    on_message(item[1])
        client.uid("MOVE", batch, "RawMovidos")
    client.logout()
    return len(uids)


def raw_pop3(port: int, smtp: SmtpServer, ca_file: Path) -> int:
    """RETR, forward, DELE, each waiting for its reply: what a peer without pipelining does."""
    pop = poplib.POP3_SSL("localhost", port, context=tls_context(ca_file))
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


_ZIP_PART = b"Content-Type: application/zip"


def unavoidable_extraction(raw: bytes) -> None:
    """What no implementation can skip: find the zip's base64, decode it, inflate it, and parse
    the container, its embedded document and DIAN's response (bench_extraction's C floor)."""
    part = raw.index(_ZIP_PART)
    body = raw.index(b"\r\n\r\n", part) + 4
    end = raw.index(b"\r\n--", body)
    c_floor(Inputs(raw[body:end].replace(b"\r\n", b""), b""))


# Run the CLI in a fresh interpreter that reports its own peak RSS. That peak is VmHWM, not
# RUSAGE_SELF: Linux carries maxrss across exec, so RUSAGE_SELF would report the pages of this
# process (large: it fills the mailbox), which spawned it.
ENGINE_RUNNER = """
import re, sys, time
from tui_recepcion.cli import main
import tui_recepcion.engine.service, tui_recepcion.engine.pipeline  # imported before the clock starts
started = time.perf_counter()
status = main(sys.argv[1:])
seconds = time.perf_counter() - started
peak = re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)
print(f"{seconds} {peak}", file=sys.stderr)
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
    seconds: float  # the pass (PassFinished.seconds): connect, log in, read, extract, store, dispose
    command: float  # the whole command, once the program is imported (config, store, plugins too)
    with_startup: float  # including the interpreter's start and the imports
    main_peak: int  # bytes: the main process's VmHWM
    tree_rss_peak: int  # bytes: sum over the engine's processes, sampled
    tree_pss_peak: int


def pass_seconds(database: Path) -> float:
    """The pass's own duration, as the engine recorded it in its event log."""
    with sqlite3.connect(database) as connection:
        (payload,) = connection.execute(
            "SELECT payload FROM events WHERE kind = 'pasada_terminada' ORDER BY id DESC LIMIT 1").fetchone()
    return float(json.loads(payload)["seconds"])


def run_engine(config_path: Path, database: Path) -> EngineRun:
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
    command_seconds, own_text = text.strip().splitlines()[-1].split()
    own = int(own_text)
    return EngineRun(pass_seconds(database), float(command_seconds), seconds, own * 1024, max(rss_peak, own) * 1024,
                     max(pss_peak, own) * 1024)


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


def file_creation_microseconds(folder: Path, count: int = 300) -> float:
    """What creating one small file costs on the store's disk now: high right after many
    deletions (see `mail_server_directory`), which the engine's document files would pay."""
    folder.mkdir()
    started = time.perf_counter()
    for index in range(count):
        descriptor = os.open(folder / f"f{index}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(descriptor, b"x" * 4096)
        os.close(descriptor)
    return (time.perf_counter() - started) / count * 1e6


@dataclass(frozen=True)
class Figures:
    n: int
    raw_seconds: float
    engine: EngineRun
    engine_cpu: float
    raw_cpu: float
    leftover: int
    floor_seconds: float | None = None


def measure(root: Path, dovecot: DovecotServer, smtp: SmtpServer, certs, protocol: str, n: int,
            proxy: WanProxy | None) -> Figures:
    """One mailbox size: the raw bound, (on loopback, IMAP) the floor, and the engine."""
    server_port = dovecot.ports.imaps if protocol == "imap" else dovecot.ports.pop3s
    port = proxy.port if proxy is not None else server_port

    dovecot.reset()
    fill(dovecot, n, seed=1)
    started, cpu_before = time.perf_counter(), busy_cpu_seconds()
    raw_count = raw_imap(port, certs.ca_file) if protocol == "imap" else raw_pop3(port, smtp, certs.ca_file)
    raw_seconds, raw_cpu = time.perf_counter() - started, busy_cpu_seconds() - cpu_before
    assert raw_count == n, raw_count

    floor_seconds = None
    if proxy is None and protocol == "imap":
        dovecot.reset()
        fill(dovecot, n, seed=3)
        started = time.perf_counter()
        assert raw_imap(port, certs.ca_file, on_message=unavoidable_extraction) == n
        floor_seconds = time.perf_counter() - started

    dovecot.reset()
    smtp.clear()
    fill(dovecot, n, seed=2)
    work = root / f"motor-{protocol}-{n}-{time.monotonic_ns()}"
    work.mkdir()
    account = write_account(work, dovecot, certs, protocol=protocol, smtp=smtp if protocol == "pop3" else None,
                            extra={"puerto": port})
    cpu_before = busy_cpu_seconds()
    engine = run_engine(account.config_path, account.database)
    engine_cpu = busy_cpu_seconds() - cpu_before
    leftover = len(dovecot.messages(RECEPCION))
    return Figures(n, raw_seconds, engine, engine_cpu, raw_cpu, leftover, floor_seconds)


def report(protocol: str, figures: Figures, proxy: WanProxy | None, rtt_ms: float, mbit: float) -> None:
    n = figures.n
    raw_rate = n / figures.raw_seconds
    engine_rate = n / figures.engine.seconds
    where = f"red simulada de {rtt_ms:g} ms ida y vuelta y {mbit:g} Mbit/s" if proxy is not None else "loopback"
    print(f"\n== {protocol.upper()}, {n} mensajes, {where}   (pendientes al final: {figures.leftover})")
    bound = "límite crudo por lotes" if protocol == "imap" else "crudo esperando cada respuesta"
    print(f"{bound + ':':34s} {raw_rate:8.1f} mensajes/s  ({figures.raw_seconds:.2f} s)")
    print(f"{'motor (la pasada):':34s} {engine_rate:8.1f} mensajes/s  ({figures.engine.seconds:.2f} s; la orden "
          f"entera {figures.engine.command:.2f} s, {figures.engine.with_startup:.2f} s con el arranque del intérprete)")
    if protocol == "imap":
        goal = "meta ≥ 0.90" if proxy is not None else "informativa"
        print(f"razón motor/crudo: {engine_rate / raw_rate:.2f}   ({goal})")
    else:
        goal = "meta ≥ 5" if proxy is not None else "informativa"
        print(f"razón motor/crudo: {engine_rate / raw_rate:.2f}   ({goal})")
    if figures.floor_seconds is not None:
        floor_rate = n / figures.floor_seconds
        print(f"{'piso crudo + extracción (1 proceso):':34s} {floor_rate:8.1f} mensajes/s  ({figures.floor_seconds:.2f} s)")
        print(f"razón motor/piso: {engine_rate / floor_rate:.2f}   (meta ≥ 0.80 con N = 2000)")
    print(f"CPU de la máquina por mensaje (incluye Dovecot): crudo {figures.raw_cpu / n * 1000:.2f} ms, "
          f"motor {figures.engine_cpu / n * 1000:.2f} ms")
    engine = figures.engine
    print(f"memoria máxima del motor: {engine.tree_pss_peak / 2**20:.0f} MB (PSS de todos sus procesos; "
          f"RSS sumado {engine.tree_rss_peak / 2**20:.0f} MB, proceso principal {engine.main_peak / 2**20:.0f} MB)"
          f"   (meta < 200 MB con N = 10000)")


def mail_server_directory() -> Path | None:
    """Where the bench's Dovecot keeps its mail: in memory (/dev/shm) where there is one.

    The reception mailbox really lives on another machine (Outlook, Gmail), whose disk the
    engine never shares. Here each measurement deletes thousands of mail files before the
    next, and on ext4 without a journal the kernel then avoids reusing those inodes for a
    minute or more, scanning past them on every file it creates: the engine's document files
    would pay for the stand-in server's deletions (~1 ms per file measured here). The engine's
    own store and files stay on the ordinary disk."""
    memory = Path("/dev/shm")
    return memory if memory.is_dir() and os.access(memory, os.W_OK) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocolo", choices=("imap", "pop3"), default="imap")
    parser.add_argument("--n", type=int, nargs="+", default=[2000], help="tamaños de buzón, uno o varios")
    parser.add_argument("--rtt-ms", type=float, default=None, help="ida y vuelta simulada (ms); sin ella, loopback")
    parser.add_argument("--mbit", type=float, default=50.0, help="ancho de banda simulado en cada sentido")
    args = parser.parse_args()

    print(f"núcleos de CPU: {os.cpu_count()} declarados, {effective_cores():.2f} efectivos para trabajo en paralelo")
    with tempfile.TemporaryDirectory(prefix="bench-motor-") as scratch:
        root = Path(scratch)
        certs = make_test_certificates(root / "certs")
        print(f"crear un archivo en el disco del almacén: {file_creation_microseconds(root / 'prueba-disco'):.0f} µs "
              "(más de ~200 µs: el disco viene de borrar muchos archivos; espere un par de minutos)")
        pool = DovecotPool(certs.server, directory=mail_server_directory())
        smtp = SmtpServer(certs.server, implicit_tls=False)
        smtp.start()
        proxy = None
        try:
            dovecot = pool.get(DEFAULT)
            if args.rtt_ms is not None:
                upstream = dovecot.ports.imaps if args.protocolo == "imap" else dovecot.ports.pop3s
                proxy = WanProxy(upstream, rtt_ms=args.rtt_ms, mbit=args.mbit).start()
            for n in args.n:
                figures = measure(root, dovecot, smtp, certs, args.protocolo, n, proxy)
                report(args.protocolo, figures, proxy, args.rtt_ms or 0, args.mbit)
        finally:
            if proxy is not None:
                proxy.stop()
            smtp.stop()
            pool.stop_all()
    print(f"\nRSS máximo de este proceso: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
