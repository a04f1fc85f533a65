"""`eventos listar`, `pendientes` and the RADIAN fields of `documentos`, through the real CLI."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.radian_support import certification_authority, event_xml, signed_document
from tui_recepcion.cli import main
from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory
from tui_recepcion.dian.deadlines import claim_deadline
from tui_recepcion.store.radian_events import BOGOTA


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


@pytest.fixture
def stored(tmp_path: Path, capsys) -> dict[str, object]:
    """Three signed invoices (one acknowledged, one received, one accepted) and an orphan event."""
    factory = SampleFactory(seed=21)
    folder = tmp_path / "entrada"
    folder.mkdir()
    cufes = []
    for index in range(3):
        xml, cufe = signed_document(factory, customer=DEFAULT_RECEIVER)
        (folder / f"fv{index}.xml").write_bytes(xml)
        cufes.append(cufe)
    events = {"0": ["030"], "1": ["030", "032"], "2": ["030", "032", "033"]}
    for index, codes in events.items():
        for code in codes:
            (folder / f"ev{index}-{code}.xml").write_bytes(event_xml(code, cufes[int(index)]))
    (folder / "huerfano.xml").write_bytes(event_xml("031", "ee" * 48, reason="04"))
    db = ["--base-datos", str(tmp_path / "recepcion.db")]
    code, out = run(capsys, "importar", str(folder), *db)
    assert code == 0, out
    assert "huerfano.xml: importado — 1 evento(s) RADIAN" in out
    return {"db": db, "cufes": cufes}


def test_documentos_json_gains_the_radian_fields(capsys, stored) -> None:
    code, out = run(capsys, "documentos", "--formato", "json", *stored["db"])
    assert code == 0
    records = {record["cufe"]: record for record in json.loads(out)}
    first, second, third = (records[cufe] for cufe in stored["cufes"])
    today = datetime.now(BOGOTA).date()
    assert first["estado_radian"] == "acusado" and [e["codigo"] for e in first["eventos"]] == ["030"]
    assert first["vence_reclamo"] == claim_deadline(today).isoformat()
    assert first["dias_habiles_reclamo"] == 3
    assert second["estado_radian"] == "recibido"
    assert third["estado_radian"] == "aceptado_expresamente" and third["vence_reclamo"] is None
    assert [e["codigo"] for e in third["eventos"]] == ["030", "032", "033"]
    assert all(record["firma_emisor"] == "valida" and record["firma_dian"] == "ausente" for record in records.values())
    detail = first["firma_emisor_detalle"]
    assert detail["nit_certificado"] == "900373115" and detail["cadena"] == "cadena no verificada"
    assert "Autoridad de Pruebas" in detail["emisor_certificado"] and first["firma_dian_detalle"] is None


def test_documentos_judges_the_chain_against_certificados_firma(capsys, stored, tmp_path: Path) -> None:
    bundle = tmp_path / "raices.pem"
    bundle.write_bytes(certification_authority().cert_pem)
    config = tmp_path / "config.toml"
    config.write_text(f'[general]\ncertificados_firma = "{bundle}"\n', encoding="utf-8")
    code, out = run(capsys, "--config", str(config), "documentos", "--formato", "json", *stored["db"])
    assert code == 0
    assert {record["firma_emisor_detalle"]["cadena"] for record in json.loads(out)} == {"cadena verificada"}
    config.write_text(f'[general]\ncertificados_firma = "{tmp_path / "no-existe.pem"}"\n', encoding="utf-8")
    code = main(["--config", str(config), "documentos", *stored["db"]])
    assert code == 1 and "certificados_firma: No se pudo leer" in capsys.readouterr().err


def test_eventos_listar_shows_every_event_also_without_its_document(capsys, stored) -> None:
    code, out = run(capsys, "eventos", "listar", "--formato", "json", *stored["db"])
    assert code == 0
    events = json.loads(out)
    assert len(events) == 7
    (orphan,) = [e for e in events if e["cufe"] == "ee" * 48]
    assert orphan["documento_guardado"] is False and orphan["concepto_reclamo"] == "04"
    assert orphan["concepto_reclamo_nombre"] == "Servicio no prestado"
    assert {"codigo", "cude", "cufe", "nit_remitente", "fecha"} <= set(orphan)

    code, out = run(capsys, "eventos", "listar", "--cufe", stored["cufes"][1].upper(), *stored["db"])
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("Fecha") and len(lines) == 4
    assert "Acuse de recibo" in lines[2] and "Recibo del bien" in lines[3]
    assert all(len(line) <= 80 for line in lines)

    code, out = run(capsys, "eventos", "listar", "--formato", "csv", *stored["db"])
    assert code == 0 and out.splitlines()[0].startswith("codigo,cude,cufe")


def test_eventos_needs_a_subcommand_and_a_valid_cufe(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["eventos"])
    assert exited.value.code == 2
    with pytest.raises(SystemExit) as exited:
        main(["eventos", "listar", "--cufe", "123"])
    assert exited.value.code == 2
    assert "96 caracteres hexadecimales" in capsys.readouterr().err


def test_pendientes_lists_what_needs_action_by_deadline(capsys, stored) -> None:
    code, out = run(capsys, "pendientes", "--formato", "json", *stored["db"])
    assert code == 0
    pending = json.loads(out)
    assert [p["cufe"] for p in pending] == stored["cufes"][:2]  # the accepted one needs nothing
    assert pending[0]["siguiente_paso"] == "falta el recibo del bien o servicio (032), o reclamar (031)"
    assert pending[1]["siguiente_paso"] == "aceptar (033) o reclamar (031)"
    assert pending[0]["plazo"] == "quedan 3 días hábiles para reclamar"
    code, out = run(capsys, "pendientes", *stored["db"])
    assert code == 0 and "Qué falta" in out.splitlines()[0]
    deadline = claim_deadline(datetime.now(BOGOTA).date())
    assert f"{deadline:%d/%m/%Y}" in out


def test_pendientes_with_the_issue_date_setting(capsys, stored, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[general]\nplazo_reclamo_desde = "emision"\n', encoding="utf-8")
    code, out = run(capsys, "--config", str(config), "pendientes", "--formato", "json", *stored["db"])
    assert code == 0
    # The demo invoices were issued in the past: counted from their issue date, nothing is open.
    assert json.loads(out) == []
