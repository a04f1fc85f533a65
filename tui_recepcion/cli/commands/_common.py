"""Options and helpers shared by the commands that read or write the store."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from tui_recepcion import paths
from tui_recepcion.config import Account, Config, load_config, load_config_or_empty, resolve_config_path
from tui_recepcion.errors import ConfigError
from tui_recepcion.output import FORMATS
from tui_recepcion.store import Store


def add_database_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base-datos", metavar="RUTA",
                        help="archivo SQLite del almacén o URL postgresql://… (por defecto, "
                             "$TUI_RECEPCION_BASE_DATOS, base_datos de [general] o el directorio de datos del usuario)")


def add_format_argument(parser: argparse.ArgumentParser, formats: tuple[str, ...] = FORMATS,
                        help: str = "formato de salida: tabla (80 columnas), csv o json") -> None:
    parser.add_argument("--formato", choices=formats, default="tabla", help=help)


def config_for(args: argparse.Namespace) -> Config:
    """The configuration named by --config or the environment; an absent file is empty.

    Raises ConfigError (with every problem) when the file exists but is invalid.
    """
    return load_config_or_empty(resolve_config_path(args.config))


def open_store(args: argparse.Namespace, *, with_documents: bool = False) -> Store:
    """Open the store named by the arguments or the config; raises a RecepcionError subclass."""
    config = config_for(args)
    documents = paths.documents_dir(config, getattr(args, "carpeta_documentos", None)) if with_documents else None
    return Store.open(paths.database_path(config, getattr(args, "base_datos", None)), documents)


def iso_date(text: str) -> date:
    """argparse type for AAAA-MM-DD dates."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"fecha inválida «{text}»; use AAAA-MM-DD") from None


def fail(message: str) -> int:
    print(f"Error: {message}", file=sys.stderr)
    return 1


def load_accounts(args: argparse.Namespace, *, all_by_default: bool) -> tuple[Config, list[Account]] | None:
    """The valid config and the account named by --cuenta (or every account, or the only one).

    Prints the Spanish problem and returns None when the config or the account is unusable.
    """
    try:
        config = load_config(resolve_config_path(args.config))
        if args.cuenta is None and all_by_default:
            return config, list(config.accounts.values())
        return config, [config.account(args.cuenta)]
    except ConfigError as error:
        print(error, file=sys.stderr)
        return None
