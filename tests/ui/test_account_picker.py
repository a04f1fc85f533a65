"""Many accounts (issue 16): the account picker searches by name, user and NIT, in the form
(where choosing loads the account, never losing unsaved edits) and on the dashboard, which
shows one panel whatever the number of accounts."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, OptionList

from tests.ui.support import SIZE, many_accounts, pick_account, type_into, wait_until, write_config
from tui_recepcion.config import load_config
from tui_recepcion.events import MessageHandled
from tui_recepcion.ui.account_picker import AccountPicker, account_entry, matches
from tui_recepcion.ui.app import create_app
from tui_recepcion.ui.dashboard import AccountPanel, DashboardScreen
from tui_recepcion.ui.dialogs import ChoiceDialog
from tui_recepcion.ui.form import NEW_ACCOUNT, FormScreen

# Among 300 accounts: one with an accented-looking name, one with a NIT written on the RUT.
NORTE = 'usuario = "recepcion@norte.co"\nnit_receptor = "901234567"\n'
SPECIAL = {"empresa0150": 'usuario = "facturación.sur@empresa.co"\nnit_receptor = "811000111"\n',
           "empresa0233": NORTE}


def config_of(tmp_path: Path, count: int = 300) -> Path:
    return write_config(tmp_path, many_accounts(count, **SPECIAL))


def test_words_match_names_and_users_without_case_or_accents_and_nits_by_their_digits(tmp_path: Path) -> None:
    accounts = load_config(config_of(tmp_path, 240)).accounts
    norte, sur = account_entry(accounts["empresa0233"]), account_entry(accounts["empresa0150"])
    for query in ("901234567", "901.234.567", "901.234.567-7", "901 234 567", "234.567"):
        assert matches(norte, query), query
        assert not matches(sur, query), query
    assert matches(sur, "FACTURACION") and matches(sur, "Facturación Sur") and matches(sur, "empresa0150")
    assert not matches(sur, "facturacion norte")  # every word must match
    assert not matches(norte, "901.234.568")
    assert not matches(norte, "901-234x")  # not a NIT as written: matched as text only


async def open_picker(pilot) -> AccountPicker:
    """Ctrl+F, as from any field of the form or the dashboard."""
    await pilot.press("ctrl+f")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, AccountPicker), what="abrir el buscador")
    return pilot.app.screen


async def open_form(pilot) -> FormScreen:
    await pilot.press("f2")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, FormScreen), what="abrir el formulario")
    return pilot.app.screen


def form_shows(form: FormScreen, server: str, user: str) -> bool:
    return (form.query_one("#f-servidor", Input).value, form.query_one("#f-usuario", Input).value) == (server, user)


@pytest.mark.parametrize(("query", "account", "server", "user"), [
    ("Facturación", "empresa0150", "imap150.ejemplo.co", "facturación.sur@empresa.co"),  # by user, with accent
    ("empresa0042", "empresa0042", "imap42.ejemplo.co", "facturas42@empresa42.co"),  # by name
    ("recepcion@NORTE", "empresa0233", "imap233.ejemplo.co", "recepcion@norte.co"),  # by user
    ("901.234.567", "empresa0233", "imap233.ejemplo.co", "recepcion@norte.co"),  # by NIT, as on the RUT
    ("901234567", "empresa0233", "imap233.ejemplo.co", "recepcion@norte.co"),  # by NIT, digits only
], ids=["usuario-con-tilde", "nombre", "usuario", "nit-con-puntos", "nit-digitos"])
async def test_the_form_finds_an_account_by_search_and_loads_it(tmp_path: Path, query: str, account: str,
                                                                server: str, user: str) -> None:
    app = create_app(config_of(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        assert form_shows(form, "imap0.ejemplo.co", "facturas0@empresa0.co")
        picker = await open_picker(pilot)
        # 300 accounts: the list is bounded, «Nueva cuenta…» is always in it.
        assert len(picker.shown) == 201 and picker.shown[-1] == NEW_ACCOUNT
        assert str(picker.query_one(".picker-summary").render()) == "300 cuentas; se muestran 200: escriba para acotar."
        await pilot.press(*query)
        await wait_until(pilot, lambda: picker.shown == [account, NEW_ACCOUNT], what=f"filtrar «{query}»")
        assert str(picker.query_one(".picker-summary").render()) == "1 de 300 cuentas coincide."
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is form and form_shows(form, server, user),
                         what=f"cargar {account}")
        assert form.account_id == account
        assert account in str(form.query_one("#f-selector").label)
        assert not form.unsaved_changes()


async def test_enter_on_cuenta_opens_the_picker_and_nueva_cuenta_is_always_reachable(tmp_path: Path) -> None:
    app = create_app(config_of(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        form.query_one("#f-selector").focus()
        await pilot.pause()
        await pick_account(pilot, NEW_ACCOUNT, "sin coincidencias", key="enter")
        await wait_until(pilot, lambda: form.query_one("#f-cuenta", Input).has_focus, what="escribir el nombre")
        assert form.account_id == "" and form.query_one("#f-usuario", Input).value == ""


async def test_esc_cancels_the_picker_and_gives_the_focus_back(tmp_path: Path) -> None:
    app = create_app(config_of(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        await type_into(pilot, "#f-servidor", "otro.ejemplo.co")
        await open_picker(pilot)
        await pilot.press(*"empresa0007", "escape")
        await wait_until(pilot, lambda: app.screen is form, what="cerrar el buscador")
        assert app.focused is form.query_one("#f-servidor", Input)
        assert form.account_id == "empresa0000" and form.query_one("#f-servidor", Input).value == "otro.ejemplo.co"


async def test_switching_with_unsaved_changes_asks_first_and_cancel_keeps_them(tmp_path: Path) -> None:
    config = config_of(tmp_path)
    before = config.read_text(encoding="utf-8")
    app = create_app(config)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        await type_into(pilot, "#f-servidor", "editado.ejemplo.co")
        assert form.unsaved_changes()
        await pick_account(pilot, "empresa0233", "901234567")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="preguntar por los cambios")
        assert "empresa0000" in " ".join(app.screen.lines) and "sin guardar" in " ".join(app.screen.lines)
        await pilot.press("enter")  # Cancelar is the default: nothing is lost
        await wait_until(pilot, lambda: app.screen is form, what="volver al formulario")
        assert form_shows(form, "editado.ejemplo.co", "facturas0@empresa0.co") and form.unsaved_changes()

        await pick_account(pilot, "empresa0233", "901234567")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="preguntar otra vez")
        await pilot.click("#descartar")
        await wait_until(pilot, lambda: app.screen is form and form_shows(form, "imap233.ejemplo.co", "recepcion@norte.co"),
                         what="descartar y cargar la otra cuenta")
        assert not form.unsaved_changes()
    assert config.read_text(encoding="utf-8") == before


def handled(account: str, subject: str) -> MessageHandled:
    return MessageHandled(account=account, source_key=subject, message_id=None, subject=subject, status="fallido",
                          reason="sin_adjuntos", reason_detail=None, destination="Fallidos")


def table_senders(dashboard: DashboardScreen) -> list[str]:
    table = dashboard.query_one(AccountPanel).query_one(DataTable)
    return [str(table.get_row_at(index)[1]) for index in range(table.row_count)]


async def test_the_dashboard_of_300_accounts_has_one_panel_and_shows_each_accounts_own_rows(tmp_path: Path) -> None:
    app = create_app(config_of(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="abrir el tablero")
        dashboard = app.screen
        assert len(dashboard.boards) == 300
        assert len(dashboard.query(AccountPanel)) == 1  # not one per account
        for account, subject in [("empresa0000", "primero"), ("empresa0233", "del norte"), ("empresa0000", "segundo"),
                                 ("empresa0299", "el último")]:
            dashboard.bridge.emit(handled(account, subject))
        await wait_until(pilot, lambda: table_senders(dashboard) == ["primero", "segundo"], what="pintar empresa0000")
        assert dashboard.boards["empresa0233"].failed == 1  # counted while not shown

        await pick_account(pilot, "empresa0233", "901.234.567-7")
        await wait_until(pilot, lambda: table_senders(dashboard) == ["del norte"], what="mostrar empresa0233")
        tab = str(dashboard.query_one("#accounts").get_tab("cuenta").label)
        assert tab == "empresa0233 · 234 de 300"
        dashboard.bridge.emit(handled("empresa0233", "otro del norte"))
        await wait_until(pilot, lambda: table_senders(dashboard) == ["del norte", "otro del norte"],
                         what="seguir empresa0233 en vivo")

        await pilot.press("ctrl+left")  # 233 → 232: nothing there
        await wait_until(pilot, lambda: dashboard.shown == "empresa0232" and table_senders(dashboard) == [],
                         what="cuenta anterior")
        await pilot.press("ctrl+right", "ctrl+right")
        await wait_until(pilot, lambda: dashboard.shown == "empresa0234", what="cuenta siguiente")
        dashboard.show_account("empresa0299")
        await pilot.press("ctrl+right")  # the last wraps around to the first
        await wait_until(pilot, lambda: dashboard.shown == "empresa0000"
                         and table_senders(dashboard) == ["primero", "segundo"], what="volver a la primera")
        assert len(dashboard.query(AccountPanel)) == 1

        # I starts the account shown, not another one.
        await pick_account(pilot, "empresa0042", "empresa0042")
        assert dashboard._visible_account().id == "empresa0042"


async def test_the_dashboard_picker_esc_keeps_the_account_shown(tmp_path: Path) -> None:
    app = create_app(config_of(tmp_path, 3))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="abrir el tablero")
        dashboard = app.screen
        picker = await open_picker(pilot)
        assert picker.shown == ["empresa0000", "empresa0001", "empresa0002"]  # no «Nueva cuenta…» here
        assert picker.query_one(OptionList).highlighted == 0  # the account shown
        await pilot.press("down", "escape")
        await wait_until(pilot, lambda: app.screen is dashboard, what="cerrar el buscador")
        assert dashboard.shown == "empresa0000"
