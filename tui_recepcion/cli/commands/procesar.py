"""`tui-recepcion procesar [--cuenta ID] [--una-vez]`: headless processing.

With `--una-vez` it makes one pass per account it can take (one another process owns is
skipped) and exits; without it, it runs as a service (its share of the accounts on a bounded
pool of threads, engine/scheduler.py) until SIGTERM or Ctrl+C, which cut the connections in
use and stop it within seconds; nothing decided is lost (the next run finishes it). Under
systemd it reports readiness and, with `WatchdogSec=`, pings the watchdog while every
account's loop is within its bounds.
One line per message and one per account problem (a refused login, TLS, SMTP down) go to
standard output, with the time in the account's zone and its offset; logs go to standard error
in Spanish, in a form journald keeps readable (journald adds its own timestamps). The service
follows config.toml: see `_Supervisor` and `engine.reload`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from tui_recepcion import paths
from tui_recepcion.alerts import Alerts
from tui_recepcion.cli.commands.service_log import configure_logging, local_time
from tui_recepcion.config import Account, Config, resolve_config_path
from tui_recepcion.engine import systemd
from tui_recepcion.engine.prepare import start_worker_server
from tui_recepcion.engine.reload import WATCH_SECONDS, ConfigFollower, ServiceConfig, load_for_service
from tui_recepcion.engine.scheduler import DEFAULT_WORKERS, Scheduler
from tui_recepcion.engine.service import AccountProcessor, Engine
from tui_recepcion.errors import ConfigError, RecepcionError
from tui_recepcion.events import (
    AlertSent,
    EngineProblem,
    Event,
    MessageHandled,
    MessageKept,
    MessagesDisposed,
    PassFinished,
    PassStarted,
)
from tui_recepcion.oauth.health import report_token_health
from tui_recepcion.vocabulary import BACKUP_DESTINATION, FAILED, PROCESSED

log = logging.getLogger("tui_recepcion")

POLL_SECONDS = 0.2  # how often the supervisor looks at its threads and at the signals' flags
STOP_SECONDS = 4.0  # after SIGTERM, how long the account threads get to finish (systemd waits 90 s)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "procesar",
        help="procesa el buzón sin interfaz (una pasada o como servicio)",
        description="Procesa los correos del buzón de recepción: extrae los documentos DIAN, los "
        "guarda y mueve (IMAP) o reenvía y borra (POP3) cada correo. Sin --una-vez se ejecuta como "
        "servicio hasta recibir SIGTERM.",
    )
    parser.add_argument("--cuenta", metavar="ID", help="cuenta a procesar (por defecto, todas)")
    parser.add_argument("--una-vez", action="store_true", help="una sola pasada y termina")
    parser.add_argument("--max-cuentas", metavar="N", type=_positive,
                        help="como máximo N cuentas en este proceso (el resto queda para los demás procesos)")
    parser.add_argument("--hilos", metavar="N", type=_positive, default=DEFAULT_WORKERS,
                        help=f"pasadas simultáneas en este proceso (por defecto {DEFAULT_WORKERS})")
    parser.set_defaults(run=run)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"«{text}» no es un número entero positivo")
    return value


@dataclass
class Printer:
    """Prints one line per message and per disposal, and keeps the totals for the summary.

    Thread-safe. What is pending is tracked per account from the pass's own events (listed,
    then disposed of), so a pass cut short by a fault still reports what is left on the server.
    """

    config: Config
    out: TextIO = field(default_factory=lambda: sys.stdout)
    problems: bool = False  # a service prints each account problem (one pass reports them as it ends)
    processed: int = 0
    failed: int = 0
    duplicates: int = 0
    _pending: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def remaining(self) -> int:
        return sum(self._pending.values())

    def __call__(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, MessageHandled):
                self._message(event)
            elif isinstance(event, MessageKept):
                self._line(event, f"{(event.subject or '(sin asunto)')[:40]:<40}  retenido en el servidor: {event.reason}")
            elif isinstance(event, MessagesDisposed):
                self._pending[event.account] = self._pending.get(event.account, 0) - event.count
                self._line(event, f"→ {event.count} {_plural(event.count, 'correo', 'correos')} {_disposed(event.destination)}")
            elif isinstance(event, PassStarted):
                self._pending[event.account] = event.pending
            elif isinstance(event, PassFinished):
                self._pending[event.account] = event.remaining
            elif isinstance(event, EngineProblem) and self.problems:  # one line per account problem: journald keeps it
                self._line(event, f"problema: {event.message}")
            elif isinstance(event, AlertSent):
                print(f"Alerta «{event.alert}» de la cuenta «{event.account}» enviada a {event.recipient}.",
                      file=self.out, flush=True)

    def _line(self, event: Event, text: str) -> None:
        account = self.config.accounts.get(event.account)
        moment = local_time(event.at, account.timezone if account else None)
        print(f"{moment}  {event.account:<10.10}  {text}", file=self.out, flush=True)

    def _message(self, event: MessageHandled) -> None:
        if event.documents:
            first = event.documents[0]
            who, number = first.nombre_emisor[:28], ", ".join(document.numero for document in event.documents)
        else:
            who, number = (event.subject or "(sin asunto)")[:28], "-"
        outcome = event.status if event.reason is None else f"{event.status}  {event.reason}"
        self._line(event, f"{who:<28}  {number:<14}  {outcome}")
        self.processed += event.status == PROCESSED
        self.failed += event.status == FAILED
        self.duplicates += sum(document.duplicated for document in event.documents)

    def summary(self) -> str:
        return (
            f"Resumen: {self.processed} procesados, {self.failed} fallidos, "
            f"{self.duplicates} documentos duplicados, {max(0, self.remaining)} pendientes."
        )


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _disposed(destination: str) -> str:
    if destination == BACKUP_DESTINATION:
        return "reenviados a respaldo y borrados del buzón"
    return f"movidos a {destination}"


def run(args: argparse.Namespace) -> int:
    path = resolve_config_path(args.config)
    try:
        service = load_for_service(path, args.cuenta)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    config, accounts = service.config, list(service.accounts)
    configure_logging(config)
    start_worker_server()  # before any pass: helper processes start with a clean environment
    try:
        engine = Engine.open(config)
    except RecepcionError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    printer = Printer(config)
    with engine, report_token_health(engine.store):  # OAuth2 refreshes and failures, per account
        if args.una_vez:
            status = _one_pass(engine, accounts, printer, args.max_cuentas)
        else:
            printer.problems = True
            status = _serve(engine, service, printer, path, args.cuenta, workers=args.hilos,
                            max_accounts=args.max_cuentas)
    print(printer.summary())
    return status


def _one_pass(engine: Engine, accounts: list[Account], printer: Printer, max_accounts: int | None = None) -> int:
    """One pass of each account this process can take: one another process owns is skipped
    (it is being processed), and the account stays ours until the end, so processes run
    together share the accounts instead of processing one twice."""
    cancel = threading.Event()
    current: list[AccountProcessor] = []

    def stop() -> None:
        cancel.set()
        for processor in current:
            processor.interrupt()

    status = 0
    taken = 0
    with _stop_on_signals(stop):
        for account in accounts:
            if cancel.is_set() or (max_accounts is not None and taken >= max_accounts):
                break
            try:
                if not engine.ownership.try_acquire(account.id):
                    print(f"Cuenta «{account.id}»: la procesa otro proceso; se omite.", file=printer.out, flush=True)
                    continue
            except RecepcionError as error:
                print(f"Error en la cuenta «{account.id}»: {error}", file=sys.stderr)
                status = 1
                continue
            taken += 1
            processor = AccountProcessor(engine, account, emit=printer, cancel=cancel,
                                         alerts=Alerts(engine.store, emit=printer))
            current[:] = [processor]
            try:
                processor.run_pass()
            except RecepcionError as error:
                print(f"Error en la cuenta «{account.id}»: {error}", file=sys.stderr)
                status = 1
            processor.evaluate_alerts()
    return status


class _Supervisor:
    """Runs the scheduler (engine/scheduler.py: this process's share of the accounts on a
    bounded pool of threads, taken through `engine.ownership`) and watches it until a signal.

    A scheduler that ends unexpectedly is restarted. The configuration is followed: when
    config.toml or a file of cuentas.d changes (checked every `WATCH_SECONDS`) or on SIGHUP
    (`systemctl reload`), the new configuration is validated first; an invalid one is logged
    (file, key, line) and the running configuration kept. A valid one is applied between
    passes (`Scheduler.update_accounts`): an account whose settings changed gets them after
    its pass in flight, an account gone is released, a new one is taken at the next share.
    Each account's version is recorded in the event log (`ConfigApplied`). SIGTERM/SIGINT
    stop everything.
    """

    def __init__(self, engine: Engine, service: ServiceConfig, printer: Printer, path: Path,
                 account_id: str | None, *, workers: int = DEFAULT_WORKERS, max_accounts: int | None = None) -> None:
        self.engine = engine
        self.printer = printer
        self.path = path
        self.account_id = account_id
        self.workers = workers
        self.max_accounts = max_accounts
        self.accounts = list(service.accounts)
        self.follower = ConfigFollower(engine.store, path, account_id, service)
        # Set from signal handlers; the main thread only polls them (it never waits on their
        # locks, which a handler running on the same thread could then never take).
        self.stopping = threading.Event()
        self.reload_requested = threading.Event()
        self._start_scheduler()
        self.follower.applied([account.id for account in self.accounts])
        log.info("servicio iniciado: %d cuenta(s) configurada(s), %d pasada(s) a la vez%s (configuración %s)",
                 len(self.accounts), workers, f", como máximo {max_accounts} cuenta(s)" if max_accounts else "",
                 self.follower.version)

    def _start_scheduler(self) -> None:
        self.scheduler = Scheduler(self.engine, self.accounts, emit=self.printer,
                                   alerts_for=lambda account: Alerts(self.engine.store, emit=self.printer),
                                   workers=self.workers, max_accounts=self.max_accounts)
        self.thread = threading.Thread(target=self.scheduler.run, name="recepcion-planificador", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """From the signal handler: stop now, cutting the connections in use."""
        self.stopping.set()
        self.scheduler.stop()  # a pass blocked on a slow server must not hold up the stop

    def request_reload(self) -> None:
        self.reload_requested.set()

    def _join(self) -> None:
        self.thread.join(timeout=STOP_SECONDS)

    def run(self) -> int:
        systemd.notify("READY=1")
        ping_every = systemd.watchdog_interval()
        next_ping = 0.0
        next_watch = time.monotonic() + WATCH_SECONDS
        while not self.stopping.is_set():
            time.sleep(POLL_SECONDS)
            if self.stopping.is_set():
                break
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                self._reload_now(forced=True)
            elif time.monotonic() >= next_watch:
                next_watch = time.monotonic() + WATCH_SECONDS
                if self.follower.changed():
                    log.info("la configuración cambió (%s o cuentas.d): se revisa la nueva", self.path)
                    self._reload_now(forced=False)
            self._restart_dead_scheduler()
            if ping_every is not None and time.monotonic() >= next_ping:
                stuck = self.scheduler.stuck()
                if stuck:
                    log.error("cuentas sin respuesta: %s; se deja de avisar al vigilante de systemd", ", ".join(stuck))
                else:
                    systemd.notify("WATCHDOG=1")
                    next_ping = time.monotonic() + ping_every
        systemd.notify("STOPPING=1")
        self._join()
        log.info("servicio detenido")
        return 0

    def _restart_dead_scheduler(self) -> None:
        if not self.thread.is_alive() and not self.stopping.is_set():
            log.error("el planificador de cuentas terminó; se reinicia")
            self._start_scheduler()

    def _reload_now(self, *, forced: bool) -> None:
        systemd.notify("RELOADING=1")
        try:
            self._apply(forced=forced)
        finally:
            systemd.notify("READY=1")

    def _apply(self, *, forced: bool) -> None:
        service = self.follower.reload(self.scheduler.owned(), forced=forced)
        if service is None:  # unchanged, or invalid (logged and recorded; the old one stays)
            return
        if (paths.database_path(service.config), paths.documents_dir(service.config)) != (
                paths.database_path(self.engine.config), paths.documents_dir(self.engine.config)):
            log.warning("base_datos o carpeta_documentos cambiaron: se aplicarán al reiniciar el servicio "
                        "(systemctl restart tui-recepcion); mientras tanto se sigue usando el almacén abierto")
        self.engine.config = service.config
        self.printer.config = service.config
        self.accounts = list(service.accounts)
        self.scheduler.update_accounts(self.accounts)  # changed accounts: after their pass in flight
        self.follower.applied([account.id for account in self.accounts])
        log.info("configuración recargada: %d cuenta(s) (versión %s)", len(self.accounts), self.follower.version)


def _serve(engine: Engine, service: ServiceConfig, printer: Printer, path: Path, account_id: str | None, *,
           workers: int = DEFAULT_WORKERS, max_accounts: int | None = None) -> int:
    supervisor = _Supervisor(engine, service, printer, path, account_id, workers=workers, max_accounts=max_accounts)
    with _stop_on_signals(supervisor.stop, reload=supervisor.request_reload):
        return supervisor.run()


class _stop_on_signals:
    """Route SIGTERM and SIGINT to `stop`, which cuts the connections in use and ends
    processing, and SIGHUP to `reload` when given."""

    def __init__(self, stop: Callable[[], None], reload: Callable[[], None] | None = None) -> None:
        self.stop = stop
        self.reload = reload
        self.previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: object) -> None:
        log.info("señal %s recibida: se detiene el procesamiento", signal.Signals(signum).name)
        self.stop()

    def _handle_reload(self, signum: int, frame: object) -> None:
        log.info("señal SIGHUP recibida: se recarga la configuración")
        if self.reload is not None:
            self.reload()

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self.previous[signum] = signal.signal(signum, self._handle)
            if self.reload is not None:
                self.previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._handle_reload)

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
