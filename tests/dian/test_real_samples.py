"""Optional check against real DIAN files in the shared samples folder, when present.

The project's own fixtures are generated (see tui_recepcion/dian/samples.py); this test
only adds evidence on real-world files when the folder exists next to the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui_recepcion.cli import main

# file, tipo, numero, fecha_emision, nit_emisor, nit_receptor, total, moneda (samples README table)
EXPECTED = [
    ("ad08909038580072500605276.xml", "01", "FVNB605276", "2025-07-24", "890903858", "805007280", "100884.00", "COP"),
    ("AttachmentDocument-900181067-RINC430.xml", "01", "RINC430", "2025-08-09", "900181067", "805007280",
     "34201361.60", "COP"),
    ("dian-test-invoice.xml", "01", "SETP990000002", "2019-06-20", "800197268", "900108281", "14024.07", "COP"),
    ("dian-test-creditnote.xml", "91", "NC3", "2019-06-21", "800197268", "900108281", "14994.07", "USD"),
    ("dian-test-debitnote.xml", "92", "ND1", "2019-06-21", "800197268", "900108281", "14994.07", "USD"),
]
_CANDIDATES = [Path("/work/shared/samples"), Path(__file__).resolve().parents[2].parent / "shared" / "samples"]
SAMPLES = next((path for path in _CANDIDATES if path.is_dir()), None)
PRESENT = [row for row in EXPECTED if SAMPLES is not None and (SAMPLES / row[0]).is_file()]


@pytest.mark.parametrize("row", PRESENT or [None], ids=[row[0] for row in PRESENT] or ["sin-muestras"])
def test_real_sample_values(row, tmp_path: Path, capsys) -> None:
    if row is None:
        pytest.skip("La carpeta shared/samples no está presente: no hay muestras reales que comprobar.")
    name, tipo, numero, fecha, nit_emisor, nit_receptor, total, moneda = row
    database = ["--base-datos", str(tmp_path / "r.db")]
    assert main(["importar", str(SAMPLES / name), "--carpeta-documentos", str(tmp_path / "d"), *database]) == 0
    assert "1 documento(s) nuevo(s)" in capsys.readouterr().out
    assert main(["documentos", "--formato", "json", *database]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert (record["tipo"], record["numero"], record["fecha_emision"], record["nit_emisor"],
            record["nit_receptor"], record["total"], record["moneda"]) == (
        tipo, numero, fecha, nit_emisor, nit_receptor, total, moneda)
    assert len(record["cufe"]) == 96
    if name.startswith("dian-test"):
        assert record["es_prueba"] and record["validacion_dian"] is None
    else:
        assert record["validacion_dian"] == "02" and not record["es_prueba"]
