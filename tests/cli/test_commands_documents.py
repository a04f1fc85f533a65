"""`importar`, `documentos` and `mensajes` through the real CLI entry point."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tui_recepcion.cli import main
from tui_recepcion.demo.samples import OTHER_RECEIVER, SUPPLIERS, SampleFactory, build_zip


@pytest.fixture
def db(store_location: Path | str) -> list[str]:
    """The store on each backend: these commands behave the same on SQLite and PostgreSQL."""
    return ["--base-datos", str(store_location)]


@pytest.fixture
def inbox(tmp_path: Path, factory: SampleFactory) -> dict[str, object]:
    """A folder of files to import: a zip, a bare container, an email, a note, a bad file."""
    folder = tmp_path / "entrada"
    (folder / "sub").mkdir(parents=True)
    invoice = factory.document(supplier=SUPPLIERS[2])
    note = factory.document("CreditNote", supplier=SUPPLIERS[0])
    other = factory.document(customer=OTHER_RECEIVER)
    mail = factory.document_email(supplier=SUPPLIERS[1])
    (folder / "FACTURA.ZIP").write_bytes(build_zip([("ad.xml", factory.container(invoice)),
                                                    ("ad.pdf", factory.pdf(invoice))]))
    (folder / "sub" / "nota.xml").write_bytes(factory.container(note))
    (folder / "sub" / "correo.eml").write_bytes(mail.raw)
    (folder / "sub" / "otro.xml").write_bytes(factory.container(other))
    (folder / "roto.zip").write_bytes(b"PK\x03\x04 roto")
    (folder / "leeme.txt").write_text("no se importa")
    return {"folder": folder, "invoice": invoice, "note": note, "mail": mail, "other": other}


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_import_folder_then_query(capsys, db, inbox, factory, tmp_path: Path) -> None:
    code, out = run(capsys, "importar", str(inbox["folder"]), "--nit-receptor", factory.receiver.nit,
                    "--carpeta-documentos", str(tmp_path / "docs"), *db)
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 6  # five files and the summary; leeme.txt is not a candidate
    assert any("FACTURA.ZIP: importado — 1 documento(s) nuevo(s)" in line for line in lines)
    assert any("roto.zip: fallido — zip_corrupto" in line for line in lines)
    assert any("otro.xml: fallido — receptor_no_coincide" in line for line in lines)
    assert lines[-1] == ("Archivos: 5 · documentos nuevos: 3 · duplicados: 0 · fallidos: 2 · ya importados: 0")

    code, out = run(capsys, "documentos", "--formato", "json", *db)
    assert code == 0
    records = json.loads(out)
    by_number = {record["numero"]: record for record in records}
    invoice = inbox["invoice"]
    record = by_number[invoice.number]
    for key in ("cuenta", "cufe", "tipo", "numero", "fecha_emision", "nit_emisor", "nombre_emisor", "nit_receptor",
                "moneda", "subtotal", "impuestos", "total", "validacion_dian", "message_id"):
        assert key in record
    assert record["cuenta"] == "importados"
    assert record["cufe"] == invoice.cufe
    assert record["total"] == f"{invoice.total:.2f}" and isinstance(record["total"], str)
    assert record["impuestos"] == f"{invoice.tax_total:.2f}"
    assert record["subtotal"] == f"{invoice.subtotal:.2f}"
    assert record["validacion_dian"] == "02"
    assert Path(record["archivo_pdf"]).is_file()
    assert by_number[inbox["note"].number]["tipo"] == "91"
    assert by_number[inbox["note"].number]["referencia"] is not None
    mail_record = next(r for r in records if r["cufe"] == inbox["mail"].cufes[0])
    assert mail_record["message_id"].startswith("<")

    code, out = run(capsys, "documentos", "--formato", "csv", *db)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {row["numero"] for row in rows} == set(by_number)
    assert {row["total"] for row in rows} == {r["total"] for r in records}

    code, out = run(capsys, "documentos", *db)
    assert code == 0
    table = out.splitlines()
    assert table[0].startswith("Fecha") and len(table) == 2 + 3
    assert max(len(line) for line in table) <= 80
    assert any(invoice.number in line for line in table)


def test_import_twice_is_idempotent_and_duplicates_count(capsys, db, factory, tmp_path: Path) -> None:
    generated = factory.document()
    container = factory.container(generated)
    (tmp_path / "a.xml").write_bytes(container)
    (tmp_path / "b.zip").write_bytes(build_zip([("copia.xml", container)]))
    run(capsys, "importar", str(tmp_path / "a.xml"), *db)
    code, out = run(capsys, "importar", str(tmp_path / "a.xml"), str(tmp_path / "b.zip"), *db)
    assert code == 0
    assert "a.xml: ya importado antes (procesado)" in out
    assert "b.zip: importado — 1 duplicado(s)" in out
    _, out = run(capsys, "documentos", "--formato", "json", *db)
    assert len(json.loads(out)) == 1


def test_document_filters(capsys, db, inbox, factory) -> None:
    run(capsys, "importar", str(inbox["folder"]), "--cuenta", "empresa", *db)
    invoice, note = inbox["invoice"], inbox["note"]

    def numbers(*args: str) -> set[str]:
        code, out = run(capsys, "documentos", "--formato", "json", *args, *db)
        assert code == 0
        return {record["numero"] for record in json.loads(out)}

    assert numbers("--tipo", "91") == {note.number}
    assert numbers("--tipo", "1") == numbers("--tipo", "01")
    assert invoice.number in numbers("--emisor", "los alamos")
    assert numbers("--emisor", invoice.supplier.nit) == {invoice.number}
    assert numbers("--cuenta", "nadie") == set()
    assert len(numbers("--cuenta", "empresa")) == 4
    assert numbers("--desde", "2100-01-01") == set()
    day = invoice.issue.date().isoformat()
    assert invoice.number in numbers("--desde", day, "--hasta", day)


def test_bad_filter_values_are_usage_errors(capsys, db) -> None:
    cases = ((["--desde", "ayer"], "use AAAA-MM-DD"), (["--tipo", "factura"], "tipo inválido"),
             (["--formato", "xml"], "--formato"))
    for argv, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            main(["documentos", *argv, *db])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_mensajes(capsys, db, inbox) -> None:
    run(capsys, "importar", str(inbox["folder"]), "--nit-receptor", "901234567", *db)
    code, out = run(capsys, "mensajes", "--formato", "json", *db)
    assert code == 0
    records = json.loads(out)
    assert len(records) == 5
    assert set(records[0]) >= {"cuenta", "message_id", "asunto", "estado", "motivo", "destino", "cufes"}
    failed = [r for r in records if r["estado"] == "fallido"]
    assert sorted(r["motivo"] for r in failed) == ["receptor_no_coincide", "zip_corrupto"]
    assert all(r["cufes"] == [] for r in failed)
    email_record = next(r for r in records if r["asunto"])
    assert email_record["message_id"] == inbox["mail"].raw.split(b"Message-ID: ")[1].split(b"\n")[0].decode().strip()

    _, out = run(capsys, "mensajes", "--formato", "json", "--estado", "fallido", *db)
    assert len(json.loads(out)) == 2
    _, out = run(capsys, "mensajes", "--estado", "procesado", *db)
    assert max(len(line) for line in out.splitlines()) <= 80
    assert len(out.splitlines()) == 2 + 3
    _, out = run(capsys, "mensajes", "--formato", "csv", *db)
    assert out.splitlines()[0].startswith("cuenta,message_id,asunto")


def test_unreadable_database_exits_1(capsys, tmp_path: Path, factory) -> None:
    bad = tmp_path / "malo.db"
    bad.write_bytes(b"no es una base de datos" * 50)
    (tmp_path / "f.xml").write_bytes(factory.container(factory.document()))
    for argv in (["importar", str(tmp_path / "f.xml")], ["documentos"], ["mensajes"]):
        assert main([*argv, "--base-datos", str(bad)]) == 1
        assert "Error:" in capsys.readouterr().err


def test_missing_path_is_reported(capsys, db, tmp_path: Path) -> None:
    assert main(["importar", str(tmp_path / "no-existe.zip"), *db]) == 2
    assert "no existe" in capsys.readouterr().err


def test_empty_store_messages(capsys, db) -> None:
    assert run(capsys, "documentos", *db) == (0, "No hay documentos que coincidan.\n")
    assert run(capsys, "mensajes", "--formato", "json", *db) == (0, "[]\n")
