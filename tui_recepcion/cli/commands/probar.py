"""`tui-recepcion probar [--cuenta ID]`: log in, inspect the mailbox, log out; change nothing."""

from __future__ import annotations

import argparse
import sys

from tui_recepcion.accounts import account_endpoint, credentials_for
from tui_recepcion.cli.commands._common import load_accounts
from tui_recepcion.errors import RecepcionError
from tui_recepcion.mailbox.probe import probe


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "probar",
        help="prueba el inicio de sesión y las carpetas del buzón",
        description="Se conecta al buzón con el protocolo y la seguridad configurados, verifica el "
        "certificado, inicia sesión, revisa carpetas y capacidades, y cierra la sesión. No mueve "
        "ni borra ningún correo.",
    )
    parser.add_argument("--cuenta", metavar="ID", help="cuenta a probar (por defecto, todas)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    loaded = load_accounts(args, all_by_default=True)
    if loaded is None:
        return 1
    _config, accounts = loaded
    failed = 0
    for account in accounts:
        print(f"Cuenta «{account.id}» ({account.protocol.upper()} {account.host}:{account.port}, {account.username})")
        try:
            report = probe(
                account_endpoint(account),
                account.protocol,
                credentials_for(account),  # a password, or an OAuth2 token
                folders=(account.processed_folder, account.failed_folder),
            )
        except RecepcionError as error:
            failed += 1
            print(f"  Error: {error}", file=sys.stderr)
            continue
        for line in report.lines():
            print(f"  {line}")
        print("  Prueba exitosa.")
    return 1 if failed else 0
