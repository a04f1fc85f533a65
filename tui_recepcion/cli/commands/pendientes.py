"""`tui-recepcion pendientes`: received invoices that still need the company's action
(acuse, recibo del bien, aceptar o reclamar) while the claim window is open, by deadline."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from tui_recepcion.cli.commands._common import add_database_argument, add_format_argument, config_for, fail, open_store
from tui_recepcion.dian.deadlines import rules_for
from tui_recepcion.dian.radian import state_label
from tui_recepcion.errors import RecepcionError
from tui_recepcion.output import Column, render
from tui_recepcion.store import DocumentFilter
from tui_recepcion.store.radian_events import BOGOTA, DocumentRadian
from tui_recepcion.store.rows import DocumentRow

TABLE = (
    Column("vence_tabla", "Vence", 10),
    Column("dias_habiles_reclamo", "Días", 4, ">"),
    Column("numero", "Número", 13),
    Column("nombre_emisor", "Emisor", 16),
    Column("siguiente_paso", "Qué falta", 31),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("pendientes", help="facturas recibidas que esperan acuse, recibo, aceptación o reclamo",
                                   description="Lista las facturas recibidas cuyo plazo para reclamar sigue abierto "
                                               "y lo que falta hacer, de la que vence primero a la última.")
    add_format_argument(parser)
    parser.add_argument("--cuenta", metavar="ID", help="solo los documentos de esta cuenta")
    add_database_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        rules = rules_for(config_for(args).general)
        with open_store(args) as store:
            rows = store.documents(DocumentFilter(account=args.cuenta))
            radian = store.radian_of(rows, today=datetime.now(BOGOTA).date(), rules=rules)
    except RecepcionError as error:
        return fail(str(error))
    pending = sorted(((row, info) for row, info in zip(rows, radian, strict=True) if info.status.open),
                     key=lambda pair: (pair[1].status.deadline, pair[0].document.issue_date))
    render([pending_record(row, info) for row, info in pending], args.formato, TABLE, sys.stdout,
           empty="No hay facturas pendientes: ninguna espera acuse, recibo, aceptación o reclamo.")
    return 0


def pending_record(row: DocumentRow, info: DocumentRadian) -> dict[str, Any]:
    document, status = row.document, info.status
    assert status.deadline is not None  # only open windows are pending
    return {
        "cufe": document.cufe,
        "numero": document.number,
        "fecha_emision": document.issue_date.isoformat(),
        "nit_emisor": document.supplier.nit,
        "nombre_emisor": document.supplier.name,
        "total": str(document.total),
        "estado_radian": status.state.value,
        "estado": state_label(status.state),
        "vence_reclamo": status.deadline.isoformat(),
        "vence_tabla": f"{status.deadline:%d/%m/%Y}",
        "dias_habiles_reclamo": status.days_left,
        "plazo": status.phrase(),
        "siguiente_paso": status.next_step(),
        "firma_emisor": info.firma_emisor,
        "firma_dian": info.firma_dian,
        "cuenta": row.account,
    }
