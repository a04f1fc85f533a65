"""`tui-recepcion eventos …`: RADIAN events. `listar` shows the stored ones (received by mail
or recorded by the company), also those whose document is not in the store.

A group of subcommands: the sending ones (`enviar`, `estado`, `generar`, `habilitacion`) live
in `eventos_envio.py` and register here through its `add_commands`.
"""

from __future__ import annotations

import argparse
import re
import sys

from tui_recepcion.cli.commands import eventos_envio
from tui_recepcion.cli.commands._common import add_database_argument, add_format_argument, fail, open_store
from tui_recepcion.dian.radian import claim_reason_name, event_label
from tui_recepcion.errors import RecepcionError
from tui_recepcion.output import Column, render

TABLE = (
    Column("fecha", "Fecha", 10),
    Column("codigo", "Cód", 4),
    Column("evento", "Evento", 18),
    Column("numero_documento", "Documento", 13),
    Column("nit_remitente", "Remitente", 10),
    Column("cufe_corto", "CUFE", 12),
    Column("guardado", "Doc", 3),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("eventos", help="eventos RADIAN (acuse, recibo, aceptación, reclamo)",
                                   description="Eventos RADIAN de los documentos: los recibidos por correo y "
                                               "los que registra la empresa.")
    commands = parser.add_subparsers(dest="eventos_comando", metavar="SUBCOMANDO", title="subcomandos")
    commands.required = True
    _register_listar(commands)
    eventos_envio.add_commands(commands)  # enviar, estado, generar, habilitacion


def _register_listar(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("listar", help="lista los eventos guardados",
                                 description="Lista los eventos RADIAN guardados, en orden, también los de "
                                             "documentos que no están en el almacén.")
    add_format_argument(parser)
    parser.add_argument("--cufe", type=_cufe, metavar="CUFE", help="solo los eventos de este CUFE/CUDE")
    parser.add_argument("--cuenta", metavar="ID", help="solo los eventos recibidos en esta cuenta")
    add_database_argument(parser)
    parser.set_defaults(run=run_listar)


def run_listar(args: argparse.Namespace) -> int:
    try:
        with open_store(args) as store:
            events = store.radian_events(cufe=args.cufe, account=args.cuenta)
    except RecepcionError as error:
        return fail(str(error))
    records = []
    for event in events:
        record = event.as_json()
        record["evento"] = event_label(event.code)
        record["concepto_reclamo_nombre"] = claim_reason_name(event.claim_reason) if event.claim_reason else None
        if args.formato == "tabla":
            record["cufe_corto"] = event.cufe[:11] + "…"
            record["guardado"] = "sí" if event.document_stored else "no"
        records.append(record)
    render(records, args.formato, TABLE, sys.stdout, empty="No hay eventos guardados que coincidan.")
    return 0


def _cufe(text: str) -> str:
    value = text.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{96}", value):
        raise argparse.ArgumentTypeError("CUFE inválido: deben ser 96 caracteres hexadecimales")
    return value
