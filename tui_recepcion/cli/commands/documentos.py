"""`tui-recepcion documentos`: the stored documents as a table, CSV, JSON or an Excel workbook."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime
from typing import Any

from tui_recepcion.cli.commands._common import (
    add_database_argument,
    add_format_argument,
    config_for,
    fail,
    iso_date,
    open_store,
)
from tui_recepcion.dian.codes import STORED_DOCUMENT_TYPES
from tui_recepcion.dian.deadlines import rules_for
from tui_recepcion.dian.model import Document
from tui_recepcion.dian.signature import TrustedRoots, chain_status, nit_matches, valid_at_signing
from tui_recepcion.dian.ubl import DIAN_NIT
from tui_recepcion.errors import RecepcionError
from tui_recepcion.output import DOCUMENT_FORMATS, EXCEL, Column, document_record, money, render, render_excel
from tui_recepcion.store import DocumentFilter
from tui_recepcion.store.radian_events import BOGOTA

TABLE = (
    Column("fecha_emision", "Fecha", 10),
    Column("tipo", "Tipo", 4),
    Column("numero", "Número", 13),
    Column("nit_emisor", "NIT emisor", 10),
    Column("nombre_emisor", "Emisor", 17),
    Column("total_tabla", "Total", 15, ">"),
    Column("moneda", "Mon", 3),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("documentos", help="consulta los documentos almacenados",
                                   description="Lista los documentos electrónicos almacenados.")
    add_format_argument(parser, DOCUMENT_FORMATS,
                        "formato de salida: tabla (80 columnas), csv (RFC 4180, para programas), json, o excel "
                        "(un archivo .xlsx: rediríjalo, p. ej. > documentos.xlsx)")
    parser.add_argument("--desde", type=iso_date, metavar="FECHA", help="fecha de emisión desde (AAAA-MM-DD)")
    parser.add_argument("--hasta", type=iso_date, metavar="FECHA", help="fecha de emisión hasta (AAAA-MM-DD)")
    parser.add_argument("--emisor", metavar="NIT_O_NOMBRE", help="NIT del emisor o parte de su nombre")
    parser.add_argument("--tipo", type=_tipo, metavar="TIPO", help=f"código de tipo: {', '.join(STORED_DOCUMENT_TYPES)}…")
    parser.add_argument("--cuenta", metavar="ID", help="solo los documentos de esta cuenta")
    add_database_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.formato == EXCEL and sys.stdout.isatty():
        print("Error: el formato excel es un archivo .xlsx, no texto: rediríjalo a un archivo, p. ej. "
              "tui-recepcion documentos --formato excel > documentos.xlsx", file=sys.stderr)
        return 2
    filters = DocumentFilter(account=args.cuenta, since=args.desde, until=args.hasta,
                             supplier=args.emisor, tipo=args.tipo)
    try:
        general = config_for(args).general
        roots = TrustedRoots.load(general.signing_roots) if general.signing_roots else None
        with open_store(args) as store:
            rows = store.documents(filters)
            radian = store.radian_of(rows, today=datetime.now(BOGOTA).date(), rules=rules_for(general))
    except RecepcionError as error:
        return fail(str(error))
    except ValueError as error:  # certificados_firma unreadable: the message names the file
        return fail(f"certificados_firma: {error}")
    records = [{**document_record(row), **info.as_json(), **_signature_details(row.document, roots)}
               for row, info in zip(rows, radian, strict=True)]
    if args.formato == EXCEL:
        sys.stdout.flush()
        render_excel(records, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return 0
    if args.formato == "tabla":
        records = [{**record, "total_tabla": money(record["total"])} for record in records]
    render(records, args.formato, TABLE, sys.stdout, empty="No hay documentos que coincidan.")
    return 0


def _tipo(text: str) -> str:
    if not re.fullmatch(r"\d{1,3}", text):
        raise argparse.ArgumentTypeError(f"tipo inválido «{text}»; use un código como 01 o 91")
    return text.zfill(2)


def _signature_details(document: Document, roots: TrustedRoots | None) -> dict[str, Any]:
    """Who signed, per signature: certificate subject and issuer, validity, NIT, chain."""
    details: dict[str, Any] = {}
    for key, check, nit in (("firma_emisor_detalle", document.issuer_signature, document.supplier.nit),
                            ("firma_dian_detalle", document.dian_signature, DIAN_NIT)):
        if check is None or check.subject is None:
            details[key] = None
            continue
        details[key] = {
            "detalle": check.detail,
            "sujeto": check.subject,
            "emisor_certificado": check.issuer,
            "valido_desde": check.not_before.isoformat() if check.not_before else None,
            "valido_hasta": check.not_after.isoformat() if check.not_after else None,
            "vigente_al_firmar": valid_at_signing(check),
            "nit_certificado": check.certificate_nit,
            "nit_coincide": nit_matches(check, nit),
            "cadena": chain_status(check.certificate, roots),
        }
    return details
