"""`tui-recepcion probar [--cuenta ID]`: log in, inspect the mailbox, test the SMTP route; change nothing.

The mailbox and the SMTP route are reported separately; each test ends within 15 s and
Ctrl+C cancels it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from tui_recepcion.cli.commands._common import load_accounts
from tui_recepcion.engine.connection_test import PROBE_SECONDS, probe_account
from tui_recepcion.providers.guardrails import basic_auth_warning


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "probar",
        help="prueba el inicio de sesión, las carpetas del buzón y el servidor SMTP",
        description="Se conecta al buzón con el protocolo y la seguridad configurados, verifica el "
        "certificado, inicia sesión, revisa carpetas y capacidades, y cierra la sesión. Prueba también "
        "el servidor SMTP de la cuenta (conexión, TLS e inicio de sesión, sin enviar nada), obligatorio "
        f"con POP3. No mueve ni borra ningún correo. Cada prueba termina en {PROBE_SECONDS:g} s como máximo.",
    )
    parser.add_argument("--cuenta", metavar="ID", help="cuenta a probar (por defecto, todas)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    loaded = load_accounts(args, all_by_default=True)
    if loaded is None:
        return 1
    _config, accounts = loaded
    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set()) if threading.current_thread() is threading.main_thread() else None
    failed = 0
    try:
        for account in accounts:
            if cancel.is_set():
                break
            print(f"Cuenta «{account.id}» ({account.protocol.upper()} {account.host}:{account.port}, {account.username})")
            warning = basic_auth_warning(account.provider, account.host, account.auth_type)
            if warning:
                print(f"  Advertencia: {warning}")
            report = probe_account(account, cancel=cancel, progress=lambda line: print(f"  … {line}", flush=True))
            for line in report.lines():
                print(f"  {line}", file=sys.stdout if report.ok else sys.stderr)
            if report.ok:
                print("  Prueba exitosa.")
            else:
                failed += 1
                print("  Prueba cancelada." if report.cancelled else "  La prueba falló.", file=sys.stderr)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return 1 if failed else 0
