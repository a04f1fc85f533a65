"""`tui-recepcion mensajes`: the message ledger with outcome and reason."""

from __future__ import annotations

import argparse
import sys

from tui_recepcion.cli.commands._common import add_database_argument, add_format_argument, fail, open_store
from tui_recepcion.errors import RecepcionError
from tui_recepcion.output import Column, message_record, render
from tui_recepcion.store import MessageFilter
from tui_recepcion.vocabulary import FAILED, PROCESSED

TABLE = (
    Column("cuenta", "Cuenta", 10),
    Column("estado", "Estado", 9),
    Column("motivo", "Motivo", 22),
    Column("destino", "Destino", 10),
    Column("asunto_tabla", "Asunto u origen", 25),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("mensajes", help="consulta el registro de mensajes procesados",
                                   description="Lista los mensajes procesados, su estado y el motivo de cada fallo.")
    add_format_argument(parser)
    parser.add_argument("--estado", choices=(PROCESSED, FAILED),
                        help="solo mensajes en este estado (fallido: los que siguen en Fallidos)")
    parser.add_argument("--historial", action="store_true",
                        help="con --estado fallido, incluye también los que ya se volvieron a procesar")
    parser.add_argument("--cuenta", metavar="ID", help="solo los mensajes de esta cuenta")
    add_database_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        with open_store(args) as store:
            entries = store.messages(MessageFilter(account=args.cuenta, status=args.estado,
                                                   include_reprocessed=args.historial))
    except RecepcionError as error:
        return fail(str(error))
    records = [message_record(entry) for entry in entries]
    if args.formato == "tabla":  # imported files have no subject: show where they came from
        records = [{**record, "asunto_tabla": record["asunto"] or record["origen"]} for record in records]
    render(records, args.formato, TABLE, sys.stdout, empty="No hay mensajes registrados.")
    return 0
