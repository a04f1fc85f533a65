"""The reception form driven with the keyboard at 80×24: suggestions, validation, saving."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from tests.servers.certs import TestCertificates
from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.ui.support import (
    SIZE,
    choose,
    dovecot_account,
    focus,
    row,
    silent_account,
    type_into,
    wait_until,
    write_config,
)
from tui_recepcion.ui.app import create_app
from tui_recepcion.ui.dialogs import MessageDialog, SecretStoreDialog
from tui_recepcion.ui.form import FormScreen

PASSWORD = "Clave-Secreta-123!"


def value(app, key: str) -> str:
    return str(app.screen.query_one(f"#f-{key}").value)


async def test_new_config_opens_the_form_with_keyboard_focus(tmp_path: Path) -> None:
    app = create_app(write_config(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        assert app.focused is app.screen.query_one("#f-cuenta")
        assert value(app, "cuenta") == "principal"
        assert not row(app, "correo_respaldo").display  # IMAP by default


async def test_outlook_imap_then_pop3_suggests_server_port_and_backup(tmp_path: Path) -> None:
    app = create_app(write_config(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await choose(pilot, "#f-proveedor", "outlook")
        assert (value(app, "servidor"), value(app, "puerto")) == ("outlook.office365.com", "993")
        assert value(app, "seguridad") == "ssl"
        # Outlook prefers OAuth2: the password pair gives way to the authorization action.
        assert value(app, "tipo_servidor") == "oauth2"
        assert not row(app, "contrasena").display and row(app, "oauth2-client_id").display
        guidance = app.screen.query_one("#guidance-md")
        assert "outlook.office365.com" in guidance.source
        assert "Microsoft ya no acepta la contraseña" in row(app, "tipo_servidor").help_text

        await choose(pilot, "#f-protocolo", "pop3")
        assert (value(app, "servidor"), value(app, "puerto")) == ("outlook.office365.com", "995")
        assert row(app, "correo_respaldo").display

        await choose(pilot, "#f-seguridad", "starttls")
        assert value(app, "puerto") == "110"


async def test_a_typed_port_survives_protocol_changes(tmp_path: Path) -> None:
    app = create_app(write_config(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, "#f-puerto", "1993")
        await choose(pilot, "#f-protocolo", "pop3")
        assert value(app, "puerto") == "1993"


async def test_typing_the_address_suggests_the_provider_until_one_is_chosen(tmp_path: Path) -> None:
    app = create_app(write_config(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, "#f-usuario", "facturas@outlook.com")
        assert value(app, "proveedor") == "outlook"
        assert value(app, "servidor") == "outlook.office365.com"
        await choose(pilot, "#f-proveedor", "generic")
        await type_into(pilot, "#f-usuario", "otra@hotmail.com")
        assert value(app, "proveedor") == "generic"  # an explicit choice is never overridden


async def test_mismatched_passwords_block_saving(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, "#f-servidor", "mail.empresa.co")
        await type_into(pilot, "#f-usuario", "recepcion@empresa.co")
        await type_into(pilot, "#f-contrasena", PASSWORD)
        await type_into(pilot, "#f-confirmacion", PASSWORD + "x")
        assert row(app, "confirmacion").error == "Las contraseñas no coinciden"  # inline, while typing
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert row(app, "confirmacion").error == "Las contraseñas no coinciden"
        assert app.focused is app.screen.query_one("#f-confirmacion")
        assert not config.read_text().count("[cuentas")


async def test_required_fields_are_reported_under_each_field_on_save(tmp_path: Path) -> None:
    app = create_app(write_config(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        assert row(app, "usuario").error == ""  # nothing shouts before the technician acts
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert row(app, "servidor").error == "falta este campo obligatorio"
        assert row(app, "usuario").error == "falta este campo obligatorio"
        assert row(app, "contrasena").error == "falta este campo obligatorio"
        await type_into(pilot, "#f-fecha_expiracion", "2027-02-30")
        assert row(app, "fecha_expiracion").error == "2027-02-30 no es una fecha válida: use DD/MM/AAAA, p. ej. 05/12/2026"


async def test_f1_shows_the_focused_fields_help(tmp_path: Path) -> None:
    app = create_app(write_config(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, "#f-puerto", "")
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, MessageDialog)
        assert app.screen.title_text == "Puerto"
        assert any("IMAP 993" in line for line in app.screen.lines)
        await pilot.press("escape")
        assert isinstance(app.screen, FormScreen)


async def test_saving_without_keyring_asks_where_and_writes_no_password(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    secret_file = tmp_path / "secretos" / "principal.secreto"
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        await choose(pilot, "#f-protocolo", "pop3")
        await type_into(pilot, "#f-servidor", "pop.empresa.co")
        await type_into(pilot, "#f-usuario", "recepcion@empresa.co")
        await type_into(pilot, "#f-contrasena", PASSWORD)
        await type_into(pilot, "#f-confirmacion", PASSWORD)
        await type_into(pilot, "#f-fecha_expiracion", "2027-03-31")
        await type_into(pilot, "#f-correo_notificacion", "tecnico@empresa.co")
        await type_into(pilot, "#f-correo_respaldo", "respaldo@empresa.co")
        # POP3 forwards every message to the backup: a generic provider needs its SMTP server.
        await focus(pilot, "#advanced CollapsibleTitle")
        await pilot.press("enter")
        await type_into(pilot, "#f-smtp-servidor", "smtp.empresa.co")
        await type_into(pilot, "#f-smtp-puerto", "587")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretStoreDialog), what="elegir el secreto")
        dialog = app.screen
        assert "no hay ningún llavero" in str(dialog.query_one(".dialog-body").render())
        await type_into(pilot, "#valor", str(secret_file))
        await pilot.press("enter")
        await wait_until(pilot, lambda: "guardada" in str(app.screen.query_one("#form-status").render()),
                         what="guardar")

    saved = tomllib.loads(config.read_text(encoding="utf-8"))
    assert saved["cuentas"]["principal"] == {
        "proveedor": "generic",
        "tipo_servidor": "basica",
        "protocolo": "pop3",
        "servidor": "pop.empresa.co",
        "puerto": 995,
        "seguridad": "ssl",
        "permitir_sin_cifrado": False,
        "usuario": "recepcion@empresa.co",
        "secreto": f"archivo:{secret_file}",
        "fecha_expiracion": tomllib.loads("d = 2027-03-31")["d"],
        "correo_notificacion": "tecnico@empresa.co",
        "correo_respaldo": "respaldo@empresa.co",
        "carpeta_procesados": "Procesados",
        "carpeta_fallidos": "Fallidos",
        "zona_horaria": "America/Bogota",
        "smtp": {"servidor": "smtp.empresa.co", "puerto": 587, "seguridad": "starttls", "autenticar": True},
    }
    assert PASSWORD not in config.read_text(encoding="utf-8")
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert secret_file.read_text(encoding="utf-8") == PASSWORD
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600


@pytest.mark.parametrize(("password", "expected"), [
    (RECEPCION.password, "Conexión correcta."),
    ("clave-equivocada", "rechazó el usuario «recepcion@prueba.co» o la contraseña"),
])
async def test_probar_conexion_against_dovecot(clean_dovecot: DovecotServer, tls_certs: TestCertificates,
                                               tmp_path: Path, password: str, expected: str) -> None:
    account = dovecot_account(clean_dovecot, tls_certs, tmp_path, password="no-se-usa", username=RECEPCION.address)
    app = create_app(write_config(tmp_path, account))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="abrir el formulario")
        form = app.screen
        await type_into(pilot, "#f-contrasena", password)
        await type_into(pilot, "#f-confirmacion", password)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: "Probando" not in str(form.query_one("#form-status").render()),
                         what="terminar la prueba")
        status = str(form.query_one("#form-status").render())
        assert expected in status
        assert password not in status
        # The report opens either way: the mailbox (and SMTP, when the account has one) each say how they went.
        assert isinstance(app.screen, MessageDialog)
        lines = [line.strip() for line in app.screen.lines]
        if password == RECEPCION.password:
            assert f"Inicio de sesión: correcto como {RECEPCION.address}" in lines
        else:
            assert app.screen.has_class("-error")
            assert all(password not in line for line in lines)
            assert all(password not in str(n.message) for n in app._notifications)


async def test_the_form_answers_keys_while_a_connection_test_waits(silent_port: int, tmp_path: Path) -> None:
    account = silent_account(silent_port)
    # A bound far beyond the typing below, so no machine is too slow for it: the test ends by
    # cancelling (the 15 s bound itself is tested with the probe, tests/engine/test_connection_test.py).
    app = create_app(write_config(tmp_path, account), probe_timeout=600)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="abrir el formulario")
        form = app.screen
        await type_into(pilot, "#f-contrasena", "x")
        await type_into(pilot, "#f-confirmacion", "x")
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert "Probando" in str(form.query_one("#form-status").render())
        await type_into(pilot, "#f-nit_receptor", "901234567", clear=False)
        assert value(app, "nit_receptor") == "901234567"
        assert "Probando" in str(form.query_one("#form-status").render())  # the test still waits
        await pilot.press("escape")
        await wait_until(pilot, lambda: "cancelada" in str(form.query_one("#form-status").render()),
                         what="cancelar la prueba")
