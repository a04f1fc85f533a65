"""Saving from the form never loses, reverts or ignores a change (issue 14), at 80×24.

A new account never takes an existing name; Ctrl+S merges into config.toml and, when the
file changed on disk since the form loaded it, says which keys changed and lets the
technician reload, overwrite or cancel; Ctrl+Q asks before unsaved changes are lost; status
lines belong to one account; dates read and show DD/MM/AAAA, and a past one is confirmed.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

from tests.ui.support import SIZE, pick_account, row, type_into, wait_until, write_config
from tui_recepcion.ui.app import create_app
from tui_recepcion.ui.dialogs import ChoiceDialog, ConfirmDialog
from tui_recepcion.ui.form import NEW_ACCOUNT, FormScreen

PRINCIPAL = (
    "[cuentas.principal]\n"
    'proveedor = "generic"\ntipo_servidor = "basica"\nprotocolo = "imap"\n'
    'servidor = "imap.empresa.co"\npuerto = 993\nseguridad = "ssl"\n'
    'usuario = "recepcion@empresa.co"\nsecreto = "env:CLAVE_PRINCIPAL"\n'
    'nit_receptor = "901234567"\n'
    "fecha_expiracion = 2027-03-31\n"
    'correo_notificacion = "tecnico@empresa.co"\n'
)


def status(form: FormScreen) -> str:
    return str(form.query_one("#form-status").render())


def saved(config: Path) -> dict:
    return tomllib.loads(config.read_text(encoding="utf-8"))


async def open_form(pilot) -> FormScreen:
    await pilot.press("f2")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, FormScreen), what="abrir el formulario")
    return pilot.app.screen


async def test_a_new_account_cannot_take_an_existing_name(tmp_path: Path) -> None:
    config = write_config(tmp_path, PRINCIPAL)
    before = config.read_text(encoding="utf-8")
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        await pick_account(pilot, NEW_ACCOUNT)
        name = form.query_one("#f-cuenta")
        assert name.value == ""
        assert name.placeholder != "principal"  # the example never names an existing account
        await type_into(pilot, "#f-cuenta", "principal")
        await type_into(pilot, "#f-servidor", "otro.empresa.co")
        await type_into(pilot, "#f-usuario", "otra@empresa.co")
        await type_into(pilot, "#f-contrasena", "x")
        await type_into(pilot, "#f-confirmacion", "x")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "ya existe una cuenta «principal»" in row(app, "cuenta").error
        assert app.focused is name
    assert config.read_text(encoding="utf-8") == before


async def test_ctrl_s_after_a_hand_edit_names_the_changed_keys_and_overwrites_only_on_request(
        tmp_path: Path) -> None:
    config = write_config(tmp_path, PRINCIPAL)
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        await type_into(pilot, "#f-nit_receptor", "900.123.456-8")
        # While the form is open, the technician follows an error's advice and edits the file.
        text = config.read_text(encoding="utf-8").replace('usuario = "recepcion@empresa.co"\n',
                                                           f'usuario = "recepcion@empresa.co"\ncertificados_ca = "{ca}"\n')
        config.write_text(text, encoding="utf-8")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="avisar del cambio en el disco")
        dialog = app.screen
        assert [choice for choice, _label in dialog.choices] == ["recargar", "sobrescribir", "cancelar"]
        assert "  • cuentas.principal.certificados_ca" in dialog.lines
        await pilot.click("#cancelar")
        await wait_until(pilot, lambda: app.screen is form, what="cancelar")
        assert saved(config)["cuentas"]["principal"]["nit_receptor"] == "901234567"  # nothing written

        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="avisar otra vez")
        await pilot.click("#sobrescribir")
        await wait_until(pilot, lambda: "guardada" in status(form), what="sobrescribir")
    account = saved(config)["cuentas"]["principal"]
    assert (account["nit_receptor"], account["dv_receptor"]) == ("900123456", "8")
    assert account["certificados_ca"] == str(ca)  # the hand edit survives the save


async def test_recargar_shows_the_file_as_it_is_now_and_writes_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path, PRINCIPAL)
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        await type_into(pilot, "#f-correo_notificacion", "otro@empresa.co")
        edited = config.read_text(encoding="utf-8").replace('"901234567"', '"800197268"')
        config.write_text(edited, encoding="utf-8")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="avisar del cambio en el disco")
        assert "  • cuentas.principal.nit_receptor" in app.screen.lines
        await pilot.click("#recargar")
        await wait_until(pilot, lambda: app.screen is form, what="recargar")
        assert form.query_one("#f-nit_receptor").value == "800.197.268"
        assert form.query_one("#f-correo_notificacion").value == "tecnico@empresa.co"
        assert not form.unsaved_changes()
    assert config.read_text(encoding="utf-8") == edited


async def test_ctrl_q_with_unsaved_changes_asks_and_cancelar_keeps_them(tmp_path: Path) -> None:
    config = write_config(tmp_path, PRINCIPAL)
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        await pilot.press("f3")
        await pilot.press("ctrl+q")  # nothing changed: no question
        await wait_until(pilot, lambda: not app.is_running, what="salir sin preguntar")

    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        await type_into(pilot, "#f-correo_notificacion", "otro@empresa.co")
        await pilot.press("f3")  # from another screen too: the form is shown and asks
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="preguntar antes de salir")
        assert [choice for choice, _label in app.screen.choices] == ["guardar", "descartar", "cancelar"]
        await pilot.click("#cancelar")
        await wait_until(pilot, lambda: app.screen is form, what="volver al formulario")
        assert app.is_running
        assert form.query_one("#f-correo_notificacion").value == "otro@empresa.co"

        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="preguntar otra vez")
        await pilot.click("#guardar")
        await wait_until(pilot, lambda: not app.is_running, what="guardar y salir")
    assert saved(config)["cuentas"]["principal"]["correo_notificacion"] == "otro@empresa.co"


async def test_status_lines_belong_to_one_account(tmp_path: Path) -> None:
    config = write_config(tmp_path, PRINCIPAL)
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        await type_into(pilot, "#f-correo_notificacion", "otro@empresa.co")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "guardada" in status(form), what="guardar")
        await pick_account(pilot, NEW_ACCOUNT)
        assert status(form) == ""  # «guardada» was about «principal», not this blank form


async def test_an_account_whose_provider_is_not_installed_opens_and_keeps_its_provider(tmp_path: Path) -> None:
    # A plugin removed since, or a name written by hand: the form shows the account as it is.
    config = write_config(tmp_path, PRINCIPAL.replace('proveedor = "generic"', 'proveedor = "proveedor-retirado"'))
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        assert form.query_one("#f-proveedor").value == "proveedor-retirado"
        assert str(form.query_one("#f-servidor").value) == "imap.empresa.co"
        assert "«proveedor-retirado» de esta cuenta no está instalado" in status(form)
        await type_into(pilot, "#f-correo_notificacion", "otro@empresa.co")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "guardada" in status(form), what="guardar")
    account = saved(config)["cuentas"]["principal"]
    assert account["proveedor"] == "proveedor-retirado" and account["correo_notificacion"] == "otro@empresa.co"


async def test_dates_are_shown_and_read_as_dd_mm_aaaa_and_a_past_one_is_confirmed(tmp_path: Path) -> None:
    config = write_config(tmp_path, PRINCIPAL)
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        assert form.query_one("#f-fecha_expiracion").value == "31/03/2027"
        await type_into(pilot, "#f-fecha_expiracion", "05/12/2030")
        assert row(app, "fecha_expiracion").error == ""
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "guardada" in status(form), what="guardar")
        assert saved(config)["cuentas"]["principal"]["fecha_expiracion"] == date(2030, 12, 5)

        await type_into(pilot, "#f-fecha_expiracion", "2020-01-15")  # AAAA-MM-DD is read too
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="confirmar la fecha pasada")
        assert "15/01/2020 ya pasó" in app.screen.question
        await pilot.click("#no")
        await wait_until(pilot, lambda: app.screen is form, what="no guardar")
        assert saved(config)["cuentas"]["principal"]["fecha_expiracion"] == date(2030, 12, 5)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="confirmar otra vez")
        await pilot.click("#si")
        await wait_until(pilot, lambda: "guardada" in status(form), what="guardar la fecha pasada")
    assert saved(config)["cuentas"]["principal"]["fecha_expiracion"] == date(2020, 1, 15)
