"""The `tui-recepcion` command line: global options and subcommand dispatch.

Each subcommand lives in its own module under `tui_recepcion.cli.commands` and exposes
`register(subparsers)`; that function adds its parser and sets `run` as the handler.
Textual is imported only by the commands that open the TUI.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from tui_recepcion import __version__
from tui_recepcion.cli import spanish as cli_spanish

EXIT_OK = 0
EXIT_FAILURE = 1
DEBUG_VARIABLE = "TUI_RECEPCION_DEPURAR"


def _command_modules() -> tuple[ModuleType, ...]:
    from tui_recepcion.cli.commands import (
        alertas,
        almacen,
        autorizar,
        demo,
        documentos,
        eventos,
        importar,
        mensajes,
        pendientes,
        probar,
        procesar,
        proveedores,
        validar,
    )

    return (demo, validar, probar, procesar, alertas, autorizar, proveedores, importar, documentos, mensajes,
            eventos, pendientes, almacen)


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
    for command in commands_of(parser):
        # Also after the command (`tui-recepcion probar --config X`, `almacen estado --config X`);
        # SUPPRESS keeps a value given before the command when this one is absent.
        command.add_argument("--config", metavar="RUTA", default=argparse.SUPPRESS,
                             help="archivo de configuración (también antes del comando)")
    return parser


def commands_of(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every subcommand's parser, nested ones (`almacen estado`) included."""
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in dict.fromkeys(action.choices.values()):  # aliases share a parser
                found.append(command)
                found.extend(commands_of(command))
    return found


def open_tui(args: argparse.Namespace) -> int:
    """No subcommand: the TUI (the form when no account exists yet, else the dashboard)."""
    from tui_recepcion.config import resolve_config_path
    from tui_recepcion.errors import RecepcionError

    try:
        from tui_recepcion.ui.app import create_app  # Textual is imported only here and by `demo`

        app = create_app(resolve_config_path(args.config))
    except RecepcionError as error:
        print(f"No se puede abrir tui-recepcion:\n{error}\nRevise el archivo con «tui-recepcion validar».",
              file=sys.stderr)
        return EXIT_FAILURE
    try:
        app.run()
    finally:
        app.services.engine.close()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "run", None) or open_tui
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("Interrumpido.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error; silence the flush at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:  # a bug: say so in one line; the detail only on request
        if os.environ.get(DEBUG_VARIABLE):
            raise
        print(f"Error interno inesperado ({type(error).__name__}). Para ver el detalle, repita el comando "
              f"con {DEBUG_VARIABLE}=1 y reporte el resultado.", file=sys.stderr)
        return EXIT_FAILURE
