"""Rendering records as a table (80 columns), CSV, JSON or an Excel workbook, and the
Spanish JSON fields.

Amounts are always decimal strings ("34201361.60") in CSV and JSON, never floats; the table
alone uses the Colombian thousands format for reading. The Excel format is a real .xlsx
(XlsxWriter): amounts are number cells and dates date cells, so Excel in any language and
regional setting reads them as numbers and dates (a CSV is read by the regional setting:
in es-CO, `,` separators and `.` decimals land in one column as text).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, BinaryIO, TextIO

import xlsxwriter  # type: ignore[import-untyped]  # XlsxWriter ships no type information

from tui_recepcion.dian.codes import document_type_name
from tui_recepcion.dian.model import Tax
from tui_recepcion.store import DocumentRow, LedgerEntry

FORMATS = ("tabla", "csv", "json")
EXCEL = "excel"
DOCUMENT_FORMATS = (*FORMATS, EXCEL)
# The fields of `document_record` that Excel gets as numbers and as dates.
DOCUMENT_AMOUNTS = frozenset({"subtotal", "base_gravable", "impuestos", "retenciones", "total"})
DOCUMENT_DATES = frozenset({"fecha_emision", "fecha_vencimiento", "vence_reclamo"})


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: str
    width: int
    align: str = "<"


def render(records: Sequence[dict[str, Any]], fmt: str, columns: Sequence[Column], out: TextIO,
           *, empty: str = "Sin resultados.") -> None:
    if fmt == "json":
        json.dump(list(records), out, ensure_ascii=False, indent=2)
        out.write("\n")
    elif fmt == "csv":
        _render_csv(records, out)
    else:
        _render_table(records, columns, out, empty)


# OWASP's CSV injection rule: a spreadsheet may run a cell that starts with one of these
# as a formula (`=HYPERLINK(…)`, `=cmd|' /C calc'!A0`, `@SUM(…)`, `+1+1`). LF is added
# to OWASP's list: some spreadsheets strip leading line breaks before they look.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
# A negative decimal amount such as "-1500.00" (as `str(Decimal)` writes it) is a number,
# not a formula, and stays as it is so it still sums. ASCII digits only, the whole cell.
_NEGATIVE_AMOUNT = re.compile(r"-[0-9]+(?:\.[0-9]+)?")


def _render_csv(records: Sequence[dict[str, Any]], out: TextIO) -> None:
    if not records:
        return
    writer = csv.writer(out, lineterminator="\n")
    keys = list(records[0])
    writer.writerow([csv_safe(key) for key in keys])
    for record in records:
        writer.writerow([csv_safe(_csv_value(record[key])) for key in keys])


def render_excel(records: Sequence[dict[str, Any]], out: BinaryIO, *, sheet: str = "Documentos",
                 amounts: Collection[str] = DOCUMENT_AMOUNTS, dates: Collection[str] = DOCUMENT_DATES) -> None:
    """`records` as an .xlsx workbook: the keys as headers, `amounts` as number cells with two
    decimals, `dates` (AAAA-MM-DD) as date cells shown DD/MM/AAAA, everything else as text
    cells (never a formula, whatever it starts with)."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                            "strings_to_numbers": False, "strings_to_urls": False})
    header = workbook.add_format({"bold": True})
    money_cell = workbook.add_format({"num_format": "#,##0.00"})
    date_cell = workbook.add_format({"num_format": "dd/mm/yyyy"})
    # A text cell Excel keeps as text even when someone edits it (its own «'» prefix).
    quoted = workbook.add_format({"quote_prefix": True})
    worksheet = workbook.add_worksheet(sheet)
    keys = list(records[0]) if records else []
    for column, key in enumerate(keys):
        worksheet.write_string(0, column, key, header)
    for row, record in enumerate(records, start=1):
        for column, key in enumerate(keys):
            value = record[key]
            if value is None:
                continue
            if key in amounts:
                worksheet.write_number(row, column, float(Decimal(value)), money_cell)
            elif key in dates:
                worksheet.write_datetime(row, column, date.fromisoformat(value), date_cell)
            else:
                text = _csv_value(value)
                worksheet.write_string(row, column, text, quoted if text.startswith(_FORMULA_STARTS) else None)
    if records:
        worksheet.autofilter(0, 0, len(records), len(keys) - 1)
        worksheet.freeze_panes(1, 0)
    workbook.close()
    out.write(buffer.getvalue())


def csv_safe(text: str) -> str:
    """`text` as a CSV cell no spreadsheet reads as a formula: a cell that starts with
    `=`, `+`, `-`, `@`, tab, CR or LF gets a leading single quote (OWASP), except a plain
    negative decimal number."""
    if text.startswith(_FORMULA_STARTS) and not _NEGATIVE_AMOUNT.fullmatch(text):
        return "'" + text
    return text


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "si" if value else "no"
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return " ".join(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _render_table(records: Sequence[dict[str, Any]], columns: Sequence[Column], out: TextIO, empty: str) -> None:
    if not records:
        out.write(empty + "\n")
        return
    out.write(" ".join(_cell(column.header, column) for column in columns).rstrip() + "\n")
    out.write(" ".join("─" * column.width for column in columns) + "\n")
    for record in records:
        out.write(" ".join(_cell(record.get(column.key), column) for column in columns).rstrip() + "\n")


def _cell(value: Any, column: Column) -> str:
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    if len(text) > column.width:
        text = text[: column.width - 1] + "…"
    return f"{text:{column.align}{column.width}}"


def money(value: str | None) -> str:
    """"34201361.60" → "34.201.361,60" (for the table only)."""
    if value is None:
        return ""
    formatted = f"{Decimal(value):,.2f}"
    return formatted.replace(",", "_").replace(".", ",").replace("_", ".")


# ---- Spanish records (docs/architecture.md, «Contracts») ---------------------------------------


def document_record(row: DocumentRow) -> dict[str, Any]:
    doc = row.document
    return {
        "cuenta": row.account,
        "cufe": doc.cufe,
        "tipo": doc.tipo,
        "nombre_tipo": document_type_name(doc.tipo) or None,
        "numero": doc.number,
        "fecha_emision": doc.issue_date.isoformat(),
        "hora_emision": doc.issue_time,
        "fecha_vencimiento": doc.due_date.isoformat() if doc.due_date else None,
        "nit_emisor": doc.supplier.nit,
        "dv_emisor": doc.supplier.dv,
        "nombre_emisor": doc.supplier.name,
        "nit_receptor": doc.customer.nit,
        "nombre_receptor": doc.customer.name,
        "moneda": doc.currency,
        "subtotal": _amount(doc.subtotal),
        "base_gravable": _amount(doc.tax_base),
        "impuestos": _amount(doc.tax_total),
        "detalle_impuestos": _taxes(doc.taxes),
        "retenciones": _amount(doc.withholding_total),
        "detalle_retenciones": _taxes(doc.withholdings),
        "total": _amount(doc.total),
        "validacion_dian": doc.dian_validation,
        "ambiente": doc.environment,
        "es_prueba": doc.is_test,
        "referencia": (
            {
                "numero": doc.reference.number,
                "cufe": doc.reference.cufe,
                "fecha": doc.reference.issue_date.isoformat() if doc.reference.issue_date else None,
            }
            if doc.reference
            else None
        ),
        "message_id": row.message_id,
        "archivo_xml": str(row.xml_path) if row.xml_path else None,
        "archivo_pdf": str(row.pdf_path) if row.pdf_path else None,
    }


def message_record(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "cuenta": entry.account,
        "message_id": entry.message_id,
        "asunto": entry.subject,
        "remitente": entry.sender,
        "estado": entry.status,
        "motivo": entry.reason,
        "detalle": entry.detail,
        "destino": entry.destination,
        "cufes": list(entry.cufes),
        "origen": entry.source_key,
        "registrado": entry.created_at.isoformat(),
        "reenviado": entry.forwarded_at.isoformat() if entry.forwarded_at else None,
        "dispuesto": entry.disposed_at.isoformat() if entry.disposed_at else None,
        "discrepancias_asunto": list(entry.subject_mismatches),
    }


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _taxes(taxes: Sequence[Tax]) -> list[dict[str, str]]:
    return [{"codigo": tax.code, "nombre": tax.name, "valor": str(tax.amount)} for tax in taxes]
