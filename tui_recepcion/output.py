"""Rendering records as a table (80 columns), CSV or JSON, and the Spanish JSON fields.

Amounts are always decimal strings ("34201361.60"), never floats; the table alone uses
the Colombian thousands format for reading.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TextIO

from tui_recepcion.dian.model import Tax
from tui_recepcion.store import DocumentRow, LedgerEntry

FORMATS = ("tabla", "csv", "json")


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


# ---- Spanish records (docs/architecture.md) ---------------------------------------------------


def document_record(row: DocumentRow) -> dict[str, Any]:
    doc = row.document
    return {
        "cuenta": row.account,
        "cufe": doc.cufe,
        "tipo": doc.tipo,
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
