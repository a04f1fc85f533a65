"""OAuth2 in the reception form, keyboard only at 80×24: its fields, saving, and authorizing
against the local HTTPS stand-ins of Microsoft and Google, then testing the connection."""

from __future__ import annotations

import ssl
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual import events

from tests.oauth.conftest import GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, MICROSOFT_CLIENT_ID, google_stand_in
from tests.servers.certs import TestCertificates
from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.servers.endpoints import TEST_HOST
from tests.servers.identity import VERIFICATION_URI, GoogleStandIn, MicrosoftStandIn
from tests.servers.oauth import TokenRegistry
from tests.ui.support import (
    SIZE,
    choose,
    notifications,
    row,
    screen_text,
    type_into,
    wait_until,
    write_config,
)
from tui_recepcion.config import OAUTH_FIELDS
from tui_recepcion.engine.service import Engine
from tui_recepcion.oauth.google import google_flow
from tui_recepcion.providers import DEFAULT_PLUGINS, hookimpl, load_registry
from tui_recepcion.store import Store
from tui_recepcion.ui.app import create_app
from tui_recepcion.ui.authorize import DeviceCodeDialog, RedirectDialog, SecretDialog
from tui_recepcion.ui.dialogs import MessageDialog, SecretStoreDialog
from tui_recepcion.ui.form import FormScreen

LABELS = {spec.key: spec.label for spec in OAUTH_FIELDS}


def status(app) -> str:
    """The form's status line (also while a dialog covers the form)."""
    return str(app.mode_screens["formulario"].query_one("#form-status").render())


def oauth_account(tmp_path: Path, provider: str, port: int, ca_file: Path, oauth: str) -> str:
    return (
        "[cuentas.principal]\n"
        f'proveedor = "{provider}"\ntipo_servidor = "oauth2"\nprotocolo = "imap"\n'
        f'servidor = "{TEST_HOST}"\npuerto = {port}\nseguridad = "ssl"\n'
        f'usuario = "{RECEPCION.address}"\nsecreto = "archivo:{tmp_path / "principal.token"}"\n'
        f'certificados_ca = "{ca_file}"\n\n[cuentas.principal.oauth2]\n{oauth}'
    )


async def open_form(pilot) -> FormScreen:
    await pilot.press("f2")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, FormScreen), what="abrir el formulario")
    return pilot.app.screen


def showing(app, dialog: type) -> bool:
    """A dialog of that type is on top, composed and mounted (its keys work)."""
    return isinstance(app.screen, dialog) and app.screen.is_mounted


def no_token_shown(app, tokens: list[str]) -> None:
    shown = screen_text(app) + "\n".join(notifications(app)) + status(app)
    assert tokens and not any(token in shown for token in tokens)


# --- the fields ----------------------------------------------------------------------------


async def test_choosing_oauth2_shows_its_fields_and_saving_writes_the_oauth2_table_and_no_secret(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path)
    token_file = tmp_path / "secretos" / "principal.token"
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, "#f-usuario", "facturas@empresa.co")
        await choose(pilot, "#f-proveedor", "gmail")
        assert row(app, "contrasena").display and not row(app, "oauth2-client_id").display

        await choose(pilot, "#f-tipo_servidor", "oauth2")
        # Google signs in with a client secret; the password pair is gone.
        assert not row(app, "contrasena").display and not row(app, "confirmacion").display
        assert row(app, "oauth2-client_id").display and row(app, "oauth2-secreto_cliente").display
        assert not row(app, "oauth2-autoridad").display
        assert app.screen.query_one("#autorizar").display
        assert row(app, "oauth2-secreto_cliente").label == LABELS["secreto_cliente"]
        # parse_account checks the store reference inline, like `validar` would.
        await type_into(pilot, "#f-oauth2-secreto_cliente", "cajon:/tmp/x")
        assert row(app, "oauth2-secreto_cliente").error.startswith('debe ser "keyring", "env:VARIABLE"')

        await choose(pilot, "#f-proveedor", "outlook")
        assert row(app, "oauth2-autoridad").display and not row(app, "oauth2-secreto_cliente").display
        assert (row(app, "oauth2-client_id").label, row(app, "oauth2-autoridad").label) == (
            LABELS["client_id"], LABELS["autoridad"])
        assert "consumers" in row(app, "oauth2-autoridad").help_text  # the automatic default, explained

        await pilot.press("ctrl+s")
        await pilot.pause()
        assert row(app, "oauth2-client_id").error == "falta este campo obligatorio"
        await type_into(pilot, "#f-oauth2-client_id", MICROSOFT_CLIENT_ID)
        await type_into(pilot, "#f-oauth2-autoridad", "organizations")
        await pilot.press("ctrl+s")
        # No usable keyring over SSH: the technician chooses a file for the token, never a variable.
        await wait_until(pilot, lambda: showing(app, SecretStoreDialog), what="elegir dónde guardar")
        assert app.screen.title_text == "¿Dónde guardar el token?"
        assert not app.screen.query("#env")
        await type_into(pilot, "#valor", str(token_file))
        await pilot.press("enter")
        await wait_until(pilot, lambda: "guardada" in status(app), what="guardar")
        assert "Autorizar (Ctrl+O)" in status(app)

    saved = tomllib.loads(config.read_text(encoding="utf-8"))["cuentas"]["principal"]
    assert saved["tipo_servidor"] == "oauth2" and saved["proveedor"] == "outlook"
    assert saved["secreto"] == f"archivo:{token_file}"
    assert saved["oauth2"] == {"client_id": MICROSOFT_CLIENT_ID, "autoridad": "organizations"}
    assert not token_file.exists()  # nothing to store until the account is authorized


# --- Microsoft: the device code ----------------------------------------------------------


@pytest.fixture
def trust_test_ca(tls_certs: TestCertificates, monkeypatch: pytest.MonkeyPatch) -> None:
    """msal's own requests session trusts what REQUESTS_CA_BUNDLE names: the test CA here."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_certs.ca_file))


@pytest.fixture
def microsoft(tls_certs: TestCertificates, oauth_tokens: TokenRegistry) -> Iterator[MicrosoftStandIn]:
    stand_in = MicrosoftStandIn(tls_certs.server, RECEPCION.address, registry=oauth_tokens)
    with stand_in.server:
        yield stand_in


async def test_authorizing_with_the_device_code_then_testing_the_connection(
    tmp_path: Path, tls_certs: TestCertificates, dovecot_oauth2: DovecotServer, microsoft: MicrosoftStandIn,
    trust_test_ca: None,
) -> None:
    dovecot_oauth2.reset()
    account = oauth_account(tmp_path, "outlook", dovecot_oauth2.ports.port_for("imap", "ssl"), tls_certs.ca_file,
                            f'client_id = "{MICROSOFT_CLIENT_ID}"\nautoridad = "{microsoft.authority}"\n')
    config = write_config(tmp_path, account)
    config_before = config.read_text()
    token_file = tmp_path / "principal.token"
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: showing(app, DeviceCodeDialog), what="mostrar el código")
        await pilot.pause()  # painted
        shown = screen_text(app)
        assert VERIFICATION_URI in shown and "ABCD-EFGH" in shown and "el código vence en 14:" in shown
        assert not token_file.exists()

        microsoft.approve()  # the technician signs in on their phone
        expected = (f"Cuenta «principal» autorizada como {RECEPCION.address}. "
                    f"El token se guardó en el archivo {token_file}.")
        await wait_until(pilot, lambda: any(expected in notice for notice in notifications(app)), timeout=30,
                         what="autorizar")
        assert app.screen is form  # the dialog closed by itself
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert microsoft.tokens.refresh_tokens[-1] in token_file.read_text()
        no_token_shown(app, microsoft.tokens.refresh_tokens + microsoft.tokens.access_tokens)

        # Probar conexión logs in with the stored token (XOAUTH2), like `probar` does.
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: showing(app, MessageDialog), timeout=30, what="probar")
        assert f"Inicio de sesión: correcto como {RECEPCION.address}" in [line.strip() for line in app.screen.lines]
        no_token_shown(app, microsoft.tokens.refresh_tokens + microsoft.tokens.access_tokens)

    assert config.read_text() == config_before  # the account had been saved: nothing to save again
    with Store.open(tmp_path / "recepcion.db") as store:
        health = store.token_health("principal")
    assert health is not None and health.healthy  # recorded like `autorizar` and `procesar` do


async def test_authorize_saves_a_changed_account_first_and_cancel_stops_the_flow(
    tmp_path: Path, tls_certs: TestCertificates, microsoft: MicrosoftStandIn, trust_test_ca: None,
) -> None:
    account = oauth_account(tmp_path, "outlook", 993, tls_certs.ca_file,
                            f'client_id = "antiguo"\nautoridad = "{microsoft.authority}"\n')
    config = write_config(tmp_path, account)
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        await type_into(pilot, "#f-oauth2-client_id", MICROSOFT_CLIENT_ID)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: showing(app, DeviceCodeDialog), what="mostrar el código")
        assert app.focused is app.screen.query_one("#cancelar")
        await pilot.press("escape")  # like Cancelar; the stand-in never approves
        # The notice comes when the flow's worker has ended: it stopped waiting for the sign-in.
        await wait_until(pilot, lambda: any("cancelada" in notice for notice in notifications(app)),
                         timeout=15, what="cancelar")
        assert app.screen is form
        assert "Autorizar: Autorización cancelada: no se guardó ningún token." in notifications(app)
        assert not any("no se completó" in notice for notice in notifications(app))  # not reported as a failure
        assert not [worker for worker in app.workers if worker.group == "autorizar"]
    saved = tomllib.loads(config.read_text(encoding="utf-8"))["cuentas"]["principal"]["oauth2"]
    assert saved["client_id"] == MICROSOFT_CLIENT_ID  # the flow ran with what the form showed
    [request] = microsoft.server.requests_to(microsoft.path("devicecode"))
    assert request.form["client_id"] == MICROSOFT_CLIENT_ID
    assert not (tmp_path / "principal.token").exists()


# --- Google: the pasted redirect and the client secret -----------------------------------------


class GoogleAtTheStandIn:
    """A provider plugin that points Gmail's flow at the local stand-in (it overrides the built-in)."""

    def __init__(self, stand_in: GoogleStandIn, certs: TestCertificates) -> None:
        self.flow = google_flow(token_endpoint=stand_in.token_endpoint,
                                ssl_context=ssl.create_default_context(cafile=str(certs.ca_file)))

    @hookimpl
    def recepcion_oauth_flow(self, provider_id: str) -> object | None:
        return self.flow if provider_id == "gmail" else None


async def test_authorizing_gmail_asks_the_client_secret_and_takes_a_pasted_redirect(
    tmp_path: Path, tls_certs: TestCertificates, oauth_tokens: TokenRegistry,
) -> None:
    google = google_stand_in(tls_certs, registry=oauth_tokens)
    client_secret_file = tmp_path / "cliente.secreto"
    account = oauth_account(tmp_path, "gmail", 993, tls_certs.ca_file,
                            f'client_id = "{GOOGLE_CLIENT_ID}"\nsecreto_cliente = "archivo:{client_secret_file}"\n')
    registry = load_registry(plugins=[*DEFAULT_PLUGINS, GoogleAtTheStandIn(google, tls_certs)], entry_points=[])
    token_file = tmp_path / "principal.token"
    with google.server:
        app = create_app(write_config(tmp_path, account), engine_factory=lambda config: Engine.open(config, registry))
        async with app.run_test(size=SIZE) as pilot:
            form = await open_form(pilot)
            assert row(app, "oauth2-secreto_cliente").display and not row(app, "oauth2-autoridad").display
            await pilot.press("ctrl+o")
            # The client secret is not stored yet: asked once, without echo.
            await wait_until(pilot, lambda: showing(app, SecretDialog), what="pedir el secreto")
            assert app.screen.query_one("#secreto").password
            await pilot.press(*GOOGLE_CLIENT_SECRET, "enter")
            await wait_until(pilot, lambda: showing(app, RedirectDialog), what="mostrar la dirección")
            dialog = app.screen
            assert dialog.query_one("#direccion").text == dialog.auth_url
            # The browser ran on another machine: its redirect to 127.0.0.1 failed, the address is pasted.
            redirect = google.consent(dialog.auth_url)
            app.focused.post_message(events.Paste(redirect))
            await wait_until(pilot, lambda: dialog.query_one("#redireccion").value == redirect, what="pegar")
            await pilot.press("enter")
            await wait_until(pilot, lambda: "autorizada" in status(app), timeout=30, what="autorizar")
            assert app.screen is form
            assert f"El token se guardó en el archivo {token_file}." in status(app)
            no_token_shown(app, google.tokens.refresh_tokens + google.tokens.access_tokens + [GOOGLE_CLIENT_SECRET])

    assert google.tokens.refresh_tokens[-1] in token_file.read_text()
    assert client_secret_file.read_text() == GOOGLE_CLIENT_SECRET
    assert stat.S_IMODE(client_secret_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


async def test_the_command_palette_authorizes_from_any_screen_and_explains_basic_accounts(tmp_path: Path) -> None:
    account = ('[cuentas.principal]\nproveedor = "generic"\ntipo_servidor = "basica"\nprotocolo = "imap"\n'
               'servidor = "imap.empresa.co"\npuerto = 993\nseguridad = "ssl"\nusuario = "recepcion@empresa.co"\n'
               'secreto = "env:CLAVE"\n')
    app = create_app(write_config(tmp_path, account))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not isinstance(app.screen, FormScreen)  # the dashboard: an account exists
        await pilot.press("ctrl+p")
        await pilot.press(*"Autorizar la cuenta")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Solo las cuentas OAuth2 se autorizan" in status(app), what="explicar")
        assert isinstance(app.screen, FormScreen)
        assert "^o Autorizar" not in screen_text(app)  # Ctrl+O is offered only for OAuth2 accounts
