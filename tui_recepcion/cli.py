"""The `tui-recepcion` command line: global options and subcommand dispatch.

Each subcommand lives in its own module under `tui_recepcion.commands` and exposes
`register(subparsers)`; that function adds its parser and sets `run` as the handler.
Textual is imported only by the commands that open the TUI.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from tui_recepcion import __version__, cli_spanish

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def _command_modules() -> tuple[ModuleType, ...]:
    from tui_recepcion.commands import (
        alertas,
        autorizar,
        documentos,
        importar,
        mensajes,
        probar,
        procesar,
        proveedores,
        validar,
    )

    return (validar, probar, procesar, alertas, autorizar, proveedores, importar, documentos, mensajes)


def build_parser() -> argparse.ArgumentParser:
    cli_spanish.install()
    parser = argparse.ArgumentParser(
        prog="tui-recepcion",
        description="Recepción de facturas electrónicas DIAN por correo electrónico.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}", help="muestra la versión y termina")
    parser.add_argument(
        "--config",
        metavar="RUTA",
        help="archivo de configuración (por defecto: $TUI_RECEPCION_CONFIG o el directorio de configuración del usuario)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMANDO", title="comandos")
    for module in _command_modules():
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "run", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("Interrumpido.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error; silence the flush at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
