"""`documentos --formato excel`: a real .xlsx, read back with an independent reader (openpyxl).

Amounts must arrive as numbers and dates as dates (not text, whatever Excel's regional
setting), accents intact, and a supplier name that looks like a formula stays text.
"""

from __future__ import annotations

import dataclasses
import io
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from tui_recepcion.cli import main
from tui_recepcion.demo.samples import SUPPLIERS, SampleFactory, build_zip
from tui_recepcion.output import render_excel

ACCENTED = "Lácteos del Río Ñandú S.A.S."
FORMULA = "=HYPERLINK(\"http://atacante.example\";\"Ver\")"


@pytest.fixture
def stored(tmp_path: Path, factory: SampleFactory) -> dict[str, object]:
    folder = tmp_path / "entrada"
    folder.mkdir()
    invoice = factory.document(supplier=dataclasses.replace(SUPPLIERS[0], name=ACCENTED))
    note = factory.document("CreditNote", supplier=dataclasses.replace(SUPPLIERS[1], name=FORMULA))
    for index, document in enumerate((invoice, note)):
        (folder / f"f{index}.zip").write_bytes(build_zip([("ad.xml", factory.container(document))]))
    database = tmp_path / "recepcion.db"
    assert main(["importar", str(folder), "--nit-receptor", factory.receiver.nit, "--base-datos", str(database)]) == 0
    return {"database": database, "invoice": invoice, "note": note}


def workbook_rows(data: bytes) -> tuple[list[str], list[dict[str, object]], openpyxl.worksheet.worksheet.Worksheet]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows())
    headers = [str(cell.value) for cell in rows[0]]
    return headers, [dict(zip(headers, row, strict=True)) for row in rows[1:]], sheet


def test_documentos_excel_has_numbers_dates_accents_and_no_formula(stored, capsysbinary) -> None:
    capsysbinary.readouterr()  # what `importar` printed
    assert main(["documentos", "--formato", "excel", "--base-datos", str(stored["database"])]) == 0
    data = capsysbinary.readouterr().out
    assert data.startswith(b"PK")  # a zip container: an .xlsx, not text
    headers, rows, _sheet = workbook_rows(data)
    assert headers[:4] == ["cuenta", "cufe", "tipo", "nombre_tipo"]
    by_cufe = {row["cufe"].value: row for row in rows}
    invoice, note = stored["invoice"], stored["note"]

    cells = by_cufe[invoice.cufe]
    assert cells["total"].data_type == "n" and isinstance(cells["total"].value, (int, float))
    assert Decimal(str(cells["total"].value)).quantize(Decimal("0.01")) == invoice.total
    assert cells["subtotal"].value == pytest.approx(float(invoice.subtotal))
    assert cells["total"].number_format == "#,##0.00"
    assert isinstance(cells["fecha_emision"].value, datetime)
    assert cells["fecha_emision"].value.date() == invoice.issue.date()
    assert cells["fecha_emision"].number_format == "dd/mm/yyyy"
    assert cells["nombre_emisor"].value == ACCENTED
    assert cells["nombre_tipo"].value == "Factura de venta"
    assert cells["nit_emisor"].data_type == "s"  # a NIT is an identifier, not a number to sum

    hostile = by_cufe[note.cufe]["nombre_emisor"]
    assert hostile.value == FORMULA and hostile.data_type == "s"  # text, never a formula
    assert hostile.quotePrefix  # and it stays text when someone edits the cell
    assert by_cufe[note.cufe]["nombre_tipo"].value == "Nota crédito"
    assert not any(cell.data_type == "f" for row in rows for cell in row.values())


def test_csv_stays_rfc4180_for_programs(stored, capsys) -> None:
    capsys.readouterr()
    assert main(["documentos", "--formato", "csv", "--base-datos", str(stored["database"])]) == 0
    out = capsys.readouterr().out
    assert not out.startswith("\ufeff")
    header = out.splitlines()[0]
    assert header.startswith("cuenta,cufe,tipo,nombre_tipo,numero,")
    assert str(stored["invoice"].total) in out  # a dot decimal, as programs expect


def test_excel_refuses_a_terminal(stored, monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert main(["documentos", "--formato", "excel", "--base-datos", str(stored["database"])]) == 2
    assert "> documentos.xlsx" in capsys.readouterr().err


def test_render_excel_without_records_is_an_empty_workbook() -> None:
    out = io.BytesIO()
    render_excel([], out)
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    assert sheet.max_row == 1 and sheet.cell(1, 1).value is None
