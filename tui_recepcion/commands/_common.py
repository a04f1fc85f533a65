"""Options and helpers shared by the commands that read or write the store."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from tui_recepcion import paths
from tui_recepcion.output import FORMATS
from tui_recepcion.store import Store


def add_database_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base-datos", metavar="RUTA",
                        help="archivo SQLite del almacén (por defecto, en el directorio de datos del usuario)")


def add_format_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--formato", choices=FORMATS, default="tabla",
                        help="formato de salida: tabla (80 columnas), csv o json")


def open_store(args: argparse.Namespace, *, with_documents: bool = False) -> Store:
    """Open the store named by the arguments; raises `StoreError` with a Spanish message."""
    documents = paths.documents_dir(getattr(args, "carpeta_documentos", None)) if with_documents else None
    return Store.open(paths.database_path(args.base_datos), documents)


def iso_date(text: str) -> date:
    """argparse type for AAAA-MM-DD dates."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"fecha inválida «{text}»; use AAAA-MM-DD") from None


def fail(message: str) -> int:
    print(f"Error: {message}", file=sys.stderr)
    return 1
