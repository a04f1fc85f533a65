"""`tui-recepcion procesar [--cuenta ID] [--una-vez]`: headless processing.

With `--una-vez` it makes one pass per account and exits; without it, it runs as a service
(one thread per account, supervised) until SIGTERM or Ctrl+C, which cut the connections in
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
    parser.set_defaults(run=run)


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
            status = _one_pass(engine, accounts, printer)
        else:
            printer.problems = True
            status = _serve(engine, service, printer, path, args.cuenta)
    print(printer.summary())
    return status


def _one_pass(engine: Engine, accounts: list[Account], printer: Printer) -> int:
    cancel = threading.Event()
    current: list[AccountProcessor] = []

    def stop() -> None:
        cancel.set()
        for processor in current:
            processor.interrupt()

    status = 0
    with _stop_on_signals(stop):
        for account in accounts:
            if cancel.is_set():
                break
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
    """Runs every account's loop on its own thread and watches them until a signal.

    A thread that ends unexpectedly is restarted. The configuration is followed: when
    config.toml changes (checked every `WATCH_SECONDS`) or on SIGHUP (`systemctl reload`), the
    new file is validated first; an invalid one is logged (file, key, line) and the running
    configuration kept. A valid one is applied between passes: an account whose settings
    changed finishes the message at hand, and its loop starts again with the new settings;
    an unchanged account keeps running. Each account's version is recorded in the event log
    (`ConfigApplied`). SIGTERM/SIGINT stop everything.
    """

    def __init__(self, engine: Engine, service: ServiceConfig, printer: Printer, path: Path,
                 account_id: str | None) -> None:
        self.engine = engine
        self.printer = printer
        self.path = path
        self.account_id = account_id
        self.follower = ConfigFollower(engine.store, path, account_id, service)
        # Set from signal handlers; the main thread only polls them (it never waits on their
        # locks, which a handler running on the same thread could then never take).
        self.stopping = threading.Event()
        self.reload_requested = threading.Event()
        self.processors: dict[str, AccountProcessor] = {}
        self.threads: dict[str, threading.Thread] = {}
        self.retiring: list[tuple[AccountProcessor, threading.Thread]] = []  # finishing their message
        self.waiting: dict[str, Account] = {}  # to start once the account's old loop has ended
        for account in service.accounts:
            self._start_account(account)
        log.info("servicio iniciado para %d cuenta(s): %s (configuración %s)", len(service.accounts),
                 ", ".join(a.id for a in service.accounts), self.follower.version)

    def _start_account(self, account: Account) -> None:
        processor = AccountProcessor(self.engine, account, emit=self.printer, cancel=threading.Event(),
                                     alerts=Alerts(self.engine.store, emit=self.printer))
        self.processors[account.id] = processor
        self.threads[account.id] = _start(processor)
        self.follower.applied([account.id])

    def _all(self) -> list[AccountProcessor]:
        return list(self.processors.values()) + [processor for processor, _thread in self.retiring]

    def stop(self) -> None:
        """From the signal handler: stop now, cutting the connections in use."""
        self.stopping.set()
        for processor in self._all():
            processor.cancel.set()
            processor.interrupt()  # a pass blocked on a slow server must not hold up the stop

    def request_reload(self) -> None:
        self.reload_requested.set()

    def _join(self) -> None:
        deadline = time.monotonic() + STOP_SECONDS
        for thread in list(self.threads.values()) + [thread for _processor, thread in self.retiring]:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

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
                    log.info("el archivo %s cambió: se revisa la configuración nueva", self.path)
                    self._reload_now(forced=False)
            self._start_waiting()
            self._restart_dead_threads()
            if ping_every is not None and time.monotonic() >= next_ping:
                stuck = [processor.account.id for processor in self.processors.values() if processor.stuck()]
                if stuck:
                    log.error("cuentas sin respuesta: %s; se deja de avisar al vigilante de systemd", ", ".join(stuck))
                else:
                    systemd.notify("WATCHDOG=1")
                    next_ping = time.monotonic() + ping_every
        systemd.notify("STOPPING=1")
        self._join()
        log.info("servicio detenido")
        return 0

    def _restart_dead_threads(self) -> None:
        for account_id, processor in self.processors.items():
            if not self.threads[account_id].is_alive() and not processor.cancel.is_set():
                log.error("el hilo de la cuenta «%s» terminó; se reinicia", account_id)
                self.threads[account_id] = _start(processor)

    def _retire(self, account_id: str) -> None:
        """Let the account's loop finish the message at hand and end (no connection is cut)."""
        processor = self.processors.pop(account_id)
        processor.cancel.set()
        self.retiring.append((processor, self.threads.pop(account_id)))

    def _start_waiting(self) -> None:
        self.retiring = [(processor, thread) for processor, thread in self.retiring if thread.is_alive()]
        busy = {processor.account.id for processor, _thread in self.retiring}
        for account_id in [account_id for account_id in self.waiting if account_id not in busy]:
            self._start_account(self.waiting.pop(account_id))

    def _reload_now(self, *, forced: bool) -> None:
        systemd.notify("RELOADING=1")
        try:
            self._apply(forced=forced)
        finally:
            systemd.notify("READY=1")

    def _apply(self, *, forced: bool) -> None:
        service = self.follower.reload(self.processors, forced=forced)
        if service is None:  # unchanged, or invalid (logged and recorded; the old one stays)
            return
        if (paths.database_path(service.config), paths.documents_dir(service.config)) != (
                paths.database_path(self.engine.config), paths.documents_dir(self.engine.config)):
            log.warning("base_datos o carpeta_documentos cambiaron: se aplicarán al reiniciar el servicio "
                        "(systemctl restart tui-recepcion); mientras tanto se sigue usando el almacén abierto")
        self.engine.config = service.config
        self.printer.config = service.config
        wanted = {account.id: account for account in service.accounts}
        for account_id in [account_id for account_id in self.processors if account_id not in wanted]:
            self._retire(account_id)
        unchanged = [account_id for account_id, account in wanted.items()
                     if account_id in self.processors and self.processors[account_id].account == account]
        self.follower.applied(unchanged)  # they keep running, now on the new version
        for account_id, account in wanted.items():
            if account_id in unchanged:
                continue
            if account_id in self.processors:
                self._retire(account_id)
            self.waiting[account_id] = account
        self._start_waiting()
        log.info("configuración recargada: %d cuenta(s) (versión %s)", len(wanted), self.follower.version)


def _serve(engine: Engine, service: ServiceConfig, printer: Printer, path: Path, account_id: str | None) -> int:
    supervisor = _Supervisor(engine, service, printer, path, account_id)
    with _stop_on_signals(supervisor.stop, reload=supervisor.request_reload):
        return supervisor.run()


def _start(processor: AccountProcessor) -> threading.Thread:
    thread = threading.Thread(target=processor.serve, name=f"cuenta-{processor.account.id}", daemon=True)
    thread.start()
    return thread


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
