"""save_company: the [empresa] table saved as a merge, with save_account's snapshot rules."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tui_recepcion.config import ConfigChangedOnDisk, load_config_or_empty, save_company, take_snapshot

SOFTWARE_ID = "fa326ca7-c1f8-40d3-a6fc-24d7c1040607"


def _write(tmp_path: Path) -> Path:
    certificate = tmp_path / "empresa.p12"
    certificate.write_bytes(b"\x30\x82")
    path = tmp_path / "config.toml"
    path.write_text(
        "# Configuración de la empresa\n[general]\nintervalo_minutos = 5\n\n"
        "# Quien envía los eventos\n[empresa]\n"
        'nit = "900373979-1"  # del RUT\n'
        'razon_social = "Mi Empresa S.A.S."\n'
        f'certificado = "{certificate}"\n'
        'clave_certificado = "env:CLAVE_P12"\n'
        f'software_id = "{SOFTWARE_ID}"\n'
        'pin = "env:PIN"\n'
        'ambiente = "habilitacion"\n'
        "acuse_automatico = true\n"
        'clave_propia = "se conserva"\n',
        encoding="utf-8",
    )
    return path


def test_only_the_edited_key_changes_and_comments_and_other_keys_stay(tmp_path: Path) -> None:
    path = _write(tmp_path)
    before = path.read_text(encoding="utf-8")
    config = load_config_or_empty(path)
    assert config.company is not None
    saved = save_company(path, replace(config.company, name="Otra Empresa S.A.S."), snapshot=take_snapshot(path))
    after = path.read_text(encoding="utf-8")
    assert saved.changed == ("empresa.razon_social",)
    assert after == before.replace('"Mi Empresa S.A.S."', '"Otra Empresa S.A.S."')
    assert saved.config.company is not None and saved.config.company.name == "Otra Empresa S.A.S."
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_key_changed_on_disk_since_the_snapshot_is_a_conflict(tmp_path: Path) -> None:
    path = _write(tmp_path)
    config = load_config_or_empty(path)
    assert config.company is not None
    snapshot = take_snapshot(path)
    path.write_text(path.read_text(encoding="utf-8").replace("Mi Empresa", "Cambiada a mano"), encoding="utf-8")
    on_disk = path.read_text(encoding="utf-8")
    with pytest.raises(ConfigChangedOnDisk) as raised:
        save_company(path, replace(config.company, name="Del formulario"), snapshot=snapshot)
    assert "razon_social" in str(raised.value)
    assert path.read_text(encoding="utf-8") == on_disk  # nothing written


def test_a_file_without_empresa_gets_the_whole_table_at_the_end(tmp_path: Path) -> None:
    path = _write(tmp_path)
    config = load_config_or_empty(path)
    assert config.company is not None
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("# Quien")], encoding="utf-8")
    saved = save_company(path, config.company, snapshot=take_snapshot(path))
    written = path.read_text(encoding="utf-8")
    assert written.startswith("# Configuración de la empresa\n[general]\nintervalo_minutos = 5\n")
    assert saved.config.company == config.company
    assert "empresa.software_id" in saved.changed
