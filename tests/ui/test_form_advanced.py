"""What a first installation needs, in the form at 80×24 (issue 14): the «Avanzado» section
(CA certificate, IMAP folders, SMTP with its own secret), the SMTP route a POP3 account
cannot do without, provider guardrails next to the field, and connection tests that show
their progress, can be cancelled with Esc and report the mailbox and SMTP apart."""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.widgets import Collapsible, LoadingIndicator

from tests.servers.certs import TestCertificates
from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.servers.smtp import SMTP_USER, SmtpServer
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
from tui_recepcion.ui.dialogs import MessageDialog
from tui_recepcion.ui.form import ConnectionTestProgress, FormScreen

PASSWORD = "Clave-Secreta-123!"


def status(form: FormScreen) -> str:
    return str(form.query_one("#form-status").render())


async def open_advanced(pilot) -> None:
    """Keyboard only: the section's title takes the focus, Enter opens it."""
    await focus(pilot, "#advanced CollapsibleTitle")
    await pilot.press("enter")
    advanced = pilot.app.screen.query_one("#advanced", Collapsible)
    await wait_until(pilot, lambda: not advanced.collapsed, what="abrir Avanzado")


async def fill_pop3(pilot) -> None:
    await choose(pilot, "#f-protocolo", "pop3")
    await type_into(pilot, "#f-servidor", "pop.empresa.co")
    await type_into(pilot, "#f-usuario", "recepcion@empresa.co")
    await type_into(pilot, "#f-contrasena", PASSWORD)
    await type_into(pilot, "#f-confirmacion", PASSWORD)
    await type_into(pilot, "#f-correo_respaldo", "respaldo@empresa.co")


async def test_a_pop3_account_needs_an_smtp_route_and_the_advanced_section_gives_it(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    secret = tmp_path / "principal.secreto"
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        form = app.screen
        advanced = form.query_one("#advanced", Collapsible)
        assert advanced.collapsed  # out of the way until needed
        await fill_pop3(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        # Generic POP3 has no SMTP server of its own: refused, and the section opens to say why.
        assert "hace falta un servidor SMTP" in row(app, "smtp-servidor").error
        assert not advanced.collapsed
        assert app.focused is form.query_one("#f-smtp-servidor")
        assert "[cuentas" not in config.read_text(encoding="utf-8")

        await type_into(pilot, "#f-smtp-servidor", "smtp.empresa.co")
        await type_into(pilot, "#f-smtp-puerto", "587")
        await type_into(pilot, "#f-smtp-usuario", "envios@empresa.co")
        await type_into(pilot, "#f-smtp-contrasena", "otra-clave")
        await type_into(pilot, "#f-certificados_ca", str(tmp_path / "no-existe.pem"))
        assert "no existe" in row(app, "certificados_ca").error  # the PEM path is checked
        await type_into(pilot, "#f-certificados_ca", str(ca))
        assert row(app, "certificados_ca").error == ""
        assert row(app, "smtp-servidor").error == ""
        assert not row(app, "carpeta_procesados").display  # POP3 has no folders
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen is not form, what="elegir dónde guardar el secreto")
        await type_into(pilot, "#valor", str(secret))
        await pilot.press("enter")
        await wait_until(pilot, lambda: "guardada" in status(form), what="guardar")

    account = tomllib.loads(config.read_text(encoding="utf-8"))["cuentas"]["principal"]
    smtp_secret = tmp_path / "principal-smtp.secreto"
    assert account["certificados_ca"] == str(ca)
    assert account["smtp"] == {"servidor": "smtp.empresa.co", "puerto": 587, "seguridad": "starttls",
                               "usuario": "envios@empresa.co", "secreto": f"archivo:{smtp_secret}",
                               "autenticar": True}
    assert smtp_secret.read_text(encoding="utf-8") == "otra-clave"  # its own secret, 0600, never in config
    assert "otra-clave" not in config.read_text(encoding="utf-8")


async def test_imap_folder_names_are_edited_in_the_advanced_section(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        form = app.screen
        await type_into(pilot, "#f-servidor", "imap.empresa.co")
        await type_into(pilot, "#f-usuario", "recepcion@empresa.co")
        await type_into(pilot, "#f-contrasena", PASSWORD)
        await type_into(pilot, "#f-confirmacion", PASSWORD)
        await open_advanced(pilot)
        await type_into(pilot, "#f-carpeta_fallidos", "INBOX")
        assert row(app, "carpeta_fallidos").error == "no puede ser la bandeja de entrada"
        await type_into(pilot, "#f-carpeta_fallidos", "Facturas con error")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen is not form, what="elegir dónde guardar el secreto")
        await type_into(pilot, "#valor", str(tmp_path / "clave"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: "guardada" in status(form), what="guardar")
    account = tomllib.loads(config.read_text(encoding="utf-8"))["cuentas"]["principal"]
    assert account["carpeta_fallidos"] == "Facturas con error"
    assert "smtp" not in account  # IMAP needs none: no empty table written


async def test_outlook_with_basic_auth_warns_next_to_the_field(tmp_path: Path) -> None:
    app = create_app(write_config(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        warning = app.screen.query_one("#auth-warning")
        assert not warning.display
        await choose(pilot, "#f-proveedor", "outlook")
        assert not warning.display  # Outlook starts with OAuth2
        await choose(pilot, "#f-tipo_servidor", "basica")
        assert warning.display
        text = str(warning.render())
        assert "Microsoft rechaza la Autenticación Básica" in text and "OAuth2" in text and "Ctrl+O" in text


async def test_a_connection_test_shows_its_progress_and_esc_cancels_it(silent_port: int, tmp_path: Path) -> None:
    account = silent_account(silent_port)
    app = create_app(write_config(tmp_path, account))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="abrir el formulario")
        form = app.screen
        await type_into(pilot, "#f-contrasena", "x")
        await type_into(pilot, "#f-confirmacion", "x")
        await pilot.press("ctrl+t")
        progress = form.query_one(ConnectionTestProgress)
        step = form.query_one("#probe-step")
        await wait_until(pilot, lambda: "Conectando" in str(step.render()), what="mostrar el paso en curso")
        assert progress.display and progress.query_one(LoadingIndicator).display
        assert "Esc cancela" in str(step.render())
        await pilot.press("escape")
        await pilot.pause()
        assert status(form) == "Prueba de conexión cancelada."
        assert not progress.display
        assert isinstance(app.screen, FormScreen)  # no dialog of a test nobody waits for


async def test_probar_reports_the_mailbox_and_smtp_apart(clean_dovecot: DovecotServer, tls_certs: TestCertificates,
                                                        smtp_server: SmtpServer, tmp_path: Path) -> None:
    account = dovecot_account(clean_dovecot, tls_certs, tmp_path, password=RECEPCION.password,
                              username=RECEPCION.address)
    # SMTP with STARTTLS and its own user; its password is typed in the form, not stored yet.
    account += (f'\n[cuentas.principal.smtp]\nservidor = "localhost"\npuerto = {smtp_server.port}\n'
                f'seguridad = "starttls"\nusuario = "{SMTP_USER.username}"\n'
                f'secreto = "archivo:{tmp_path / "clave-smtp"}"\n')
    app = create_app(write_config(tmp_path, account))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="abrir el formulario")
        form = app.screen
        await open_advanced(pilot)
        await type_into(pilot, "#f-smtp-contrasena", SMTP_USER.password)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog), what="terminar la prueba")
        lines = app.screen.lines
        assert any(line.strip().startswith("Inicio de sesión: correcto") for line in lines)
        assert any(line.startswith("SMTP") for line in lines)
        text = status(form)
        assert "IMAP" in text and "SMTP" in text and "correcto" in text
        assert "None" not in "\n".join(lines)


async def test_a_port_answering_as_the_other_protocol_gets_a_hint(clean_dovecot: DovecotServer,
                                                                  tls_certs: TestCertificates, tmp_path: Path) -> None:
    account = dovecot_account(clean_dovecot, tls_certs, tmp_path, password=RECEPCION.password,
                              username=RECEPCION.address)
    pop3s = clean_dovecot.ports.port_for("pop3", "ssl")
    account = account.replace(f"puerto = {clean_dovecot.ports.port_for('imap', 'ssl')}", f"puerto = {pop3s}")
    app = create_app(write_config(tmp_path, account))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="abrir el formulario")
        form = app.screen
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog), what="terminar la prueba")
        report = "\n".join(app.screen.lines)
        assert f"el puerto {pop3s} respondió como POP3" in report
        assert f"el puerto {pop3s} respondió como POP3" in status(form)  # under the form too
        assert "None" not in report and "Error(" not in report
