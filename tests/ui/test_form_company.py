"""The form's «Empresa (eventos RADIAN)» section (issue 19): [empresa] typed from the keyboard,
saved as a merge, its certificate password and PIN stored apart and never in config.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.widgets import Collapsible

from tests.ui.support import SIZE, focus, row, screen_text, type_into, wait_until, write_config
from tests.ui.test_form_advanced import open_advanced
from tui_recepcion.config import check_digit
from tui_recepcion.secrets import secret_store
from tui_recepcion.ui.app import create_app
from tui_recepcion.ui.dialogs import MessageDialog

SOFTWARE_ID = "fa326ca7-c1f8-40d3-a6fc-24d7c1040607"
CLAVE = "Clave-P12-Secreta!"
PIN = "Pin-Software-9876"
NIT = "900373979"


def status(app) -> str:
    return str(app.screen.query_one("#empresa-status").render())


async def open_company(pilot) -> None:
    """Keyboard only: inside «Avanzado», each section's title takes the focus, Enter opens it."""
    await open_advanced(pilot)
    await focus(pilot, "#empresa CollapsibleTitle")
    await pilot.press("enter")
    section = pilot.app.screen.query_one("#empresa", Collapsible)
    await wait_until(pilot, lambda: not section.collapsed, what="abrir Empresa")


async def save_company(pilot) -> None:
    await focus(pilot, "#guardar-empresa")
    await pilot.press("enter")
    await pilot.pause()


def certificate(tmp_path: Path) -> Path:
    path = tmp_path / "empresa.p12"
    path.write_bytes(b"\x30\x82")
    return path


async def test_the_company_typed_in_the_form_is_saved_and_its_secrets_stored_apart(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    p12 = certificate(tmp_path)
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        await open_company(pilot)
        typed = {
            "nit": f"{NIT}-{check_digit(NIT)}", "razon_social": "Mi Empresa S.A.S.", "certificado": str(p12),
            "clave_certificado-valor": CLAVE, "software_id": SOFTWARE_ID, "pin-valor": PIN,
            "set_pruebas": "1234abcd-set", "persona_nombre": "Ana", "persona_apellido": "Pérez",
            "persona_tipo_documento": "13", "persona_documento": "1020304050", "persona_cargo": "Contadora",
            "persona_area": "Contabilidad",
        }
        for key, value in typed.items():
            await type_into(pilot, f"#e-{key}", value)
        await save_company(pilot)
        await wait_until(pilot, lambda: "Empresa guardada" in status(app), what=status(app))
    text = config.read_text(encoding="utf-8")
    assert CLAVE not in text and PIN not in text
    empresa = tomllib.loads(text)["empresa"]
    for key, value in typed.items():
        if not key.endswith("-valor"):
            assert empresa[key] == value, key
    assert empresa["ambiente"] == "habilitacion"
    assert empresa["clave_certificado"] == f"archivo:{tmp_path / 'empresa-clave-certificado.secreto'}"
    assert secret_store(empresa["clave_certificado"], "empresa", "clave_certificado").read().reveal() == CLAVE
    assert secret_store(empresa["pin"], "empresa", "pin").read().reveal() == PIN
    assert (tmp_path / "empresa-pin.secreto").stat().st_mode & 0o777 == 0o600
    assert str(tmp_path / "recepcion.db") in text  # [general] untouched


async def test_a_wrong_check_digit_shows_the_expected_one_and_nothing_is_saved(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    before = config.read_text(encoding="utf-8")
    wrong = str((int(check_digit(NIT)) + 1) % 10)
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        await open_company(pilot)
        await type_into(pilot, "#e-nit", f"{NIT}-{wrong}")
        await save_company(pilot)
        assert f"es {check_digit(NIT)}, no {wrong}" in row(app, "e-nit").error
        assert "No se guardó" in status(app)
    assert config.read_text(encoding="utf-8") == before


async def test_f1_on_a_company_field_says_where_dian_shows_the_value(tmp_path: Path) -> None:
    app = create_app(write_config(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await open_company(pilot)
        await focus(pilot, "#e-software_id")
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog), what="abrir la ayuda")
        assert "Identificador del software" in screen_text(app) and "Habilitación" in screen_text(app)


async def test_editing_one_key_keeps_the_others_and_the_comments(tmp_path: Path) -> None:
    p12 = certificate(tmp_path)
    config = write_config(tmp_path)
    config.write_text(config.read_text(encoding="utf-8") + (
        "# Quien envía los eventos a la DIAN\n[empresa]\n"
        f'nit = "{NIT}"  # sin DV\nrazon_social = "Mi Empresa S.A.S."\ncertificado = "{p12}"\n'
        'clave_certificado = "env:CLAVE_P12"\n'
        f'software_id = "{SOFTWARE_ID}"\npin = "env:PIN_DIAN"\nambiente = "habilitacion"\n'
        "acuse_automatico = true\n"), encoding="utf-8")
    before = config.read_text(encoding="utf-8")
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        await open_company(pilot)
        assert app.screen.query_one("#e-razon_social").value == "Mi Empresa S.A.S."
        assert not app.screen.unsaved_changes()
        await type_into(pilot, "#e-razon_social", "Empresa Renombrada S.A.S.")
        assert app.screen.unsaved_changes()  # Ctrl+Q asks before losing it
        await save_company(pilot)
        await wait_until(pilot, lambda: "Empresa guardada" in status(app), what=status(app))
        assert not app.screen.unsaved_changes()
    assert config.read_text(encoding="utf-8") == before.replace("Mi Empresa S.A.S.", "Empresa Renombrada S.A.S.")
