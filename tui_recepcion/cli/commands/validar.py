"""`tui-recepcion validar`: every problem of the configuration file, with key and line."""

from __future__ import annotations

import argparse
import sys

from tui_recepcion.config import printable, resolve_config_path, validate_config
from tui_recepcion.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validar",
        help="valida el archivo de configuración",
        description=(
            "Valida el archivo de configuración y muestra cada problema con su clave y su línea. "
            "También revisa, en el entorno donde se ejecuta, que cada variable env: esté definida y que "
            "cada archivo: de secreto sea un archivo regular, privado (chmod 600) y legible."
        ),
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    path = resolve_config_path(args.config)
    try:
        problems = validate_config(path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    shown = printable(str(path))
    for problem in problems:
        print(problem)
    errors = [problem for problem in problems if not problem.warning]
    if not errors:
        warned = f" ({len(problems)} advertencia{'s' if len(problems) != 1 else ''})" if problems else ""
        print(f"{shown}: configuración válida{warned}.")
        return 0
    count = len(errors)
    print(f"{count} problema{'s' if count != 1 else ''} en {shown}.", file=sys.stderr)
    return 1
