"""`tui-recepcion procesar [--cuenta ID] [--una-vez]`: headless processing.

With `--una-vez` it makes one pass per account and exits; without it, it runs as a service
(one thread per account) until SIGTERM or Ctrl+C, which stop it cleanly between messages.
One line per message goes to standard output; logs go to standard error in a form journald
keeps readable (journald adds its own timestamps).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from tui_recepcion.alerts import Alerts
from tui_recepcion.commands._common import load_accounts
from tui_recepcion.config import Account, Config
from tui_recepcion.errors import RecepcionError
from tui_recepcion.mail.events import AlertSent, Event, MessageHandled, PassFinished
from tui_recepcion.mail.service import AccountProcessor, Engine
from tui_recepcion.oauth.health import report_token_health

log = logging.getLogger("tui_recepcion")


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


def configure_logging() -> None:
    under_journald = "JOURNAL_STREAM" in os.environ
    fmt = "%(levelname)s %(name)s: %(message)s" if under_journald else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=logging.INFO, format=fmt, stream=sys.stderr)


@dataclass
class Printer:
    """Prints one line per message and keeps the totals for the summary (thread-safe)."""

    config: Config
    out: TextIO = field(default_factory=lambda: sys.stdout)
    processed: int = 0
    failed: int = 0
    duplicates: int = 0
    remaining: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: Event) -> None:
        if isinstance(event, MessageHandled):
            self._message(event)
        elif isinstance(event, AlertSent):
            with self._lock:
                print(f"Alerta «{event.alert}» de la cuenta «{event.account}» enviada a {event.recipient}.", file=self.out, flush=True)
        elif isinstance(event, PassFinished):
            with self._lock:
                self.duplicates += event.duplicates
                self.remaining += event.remaining

    def _message(self, event: MessageHandled) -> None:
        account = self.config.accounts.get(event.account)
        moment = event.at.astimezone(account.tzinfo) if account else event.at
        if event.documents:
            first = event.documents[0]
            who, number = first.nombre_emisor[:28], ", ".join(document.numero for document in event.documents)
        else:
            who, number = (event.subject or "(sin asunto)")[:28], "-"
        outcome = f"→ {event.destination}" if event.status == "procesado" else f"{event.reason} → {event.destination}"
        line = f"{moment:%H:%M:%S}  {event.account:<10.10}  {who:<28}  {number:<14}  {event.status:<9}  {outcome}"
        with self._lock:
            self.processed += event.status == "procesado"
            self.failed += event.status == "fallido"
            print(line, file=self.out, flush=True)

    def summary(self) -> str:
        return (
            f"Resumen: {self.processed} procesados, {self.failed} fallidos, "
            f"{self.duplicates} documentos duplicados, {self.remaining} pendientes."
        )


def run(args: argparse.Namespace) -> int:
    loaded = load_accounts(args, all_by_default=True)
    if loaded is None:
        return 1
    config, accounts = loaded
    configure_logging()
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
            status = _serve(engine, accounts, printer)
    print(printer.summary())
    return status


def _one_pass(engine: Engine, accounts: list[Account], printer: Printer) -> int:
    cancel = threading.Event()
    status = 0
    with _stop_on_signals(cancel.set):
        for account in accounts:
            if cancel.is_set():
                break
            alerts = Alerts(engine.store, emit=printer)
            try:
                AccountProcessor(engine, account, emit=printer, cancel=cancel, alerts=alerts).run_pass()
            except RecepcionError as error:
                print(f"Error en la cuenta «{account.id}»: {error}", file=sys.stderr)
                status = 1
            alerts.evaluate([account])
    return status


def _serve(engine: Engine, accounts: list[Account], printer: Printer) -> int:
    cancel = threading.Event()
    processors = [
        AccountProcessor(engine, account, emit=printer, cancel=cancel, alerts=Alerts(engine.store, emit=printer))
        for account in accounts
    ]
    threads = [
        threading.Thread(target=processor.serve, name=f"cuenta-{processor.account.id}", daemon=True)
        for processor in processors
    ]
    with _stop_on_signals(cancel.set):
        log.info("servicio iniciado para %d cuenta(s): %s", len(accounts), ", ".join(a.id for a in accounts))
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.5)  # short joins keep the main thread able to take signals
    log.info("servicio detenido")
    return 0


class _stop_on_signals:
    """Route SIGTERM and SIGINT to `stop` so processing ends between messages."""

    def __init__(self, stop: Callable[[], None]) -> None:
        self.stop = stop
        self.previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: object) -> None:
        log.info("señal %s recibida: se detiene al terminar el mensaje en curso", signal.Signals(signum).name)
        self.stop()

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self.previous[signum] = signal.signal(signum, self._handle)

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
