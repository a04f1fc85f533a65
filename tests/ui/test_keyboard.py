"""Driving the TUI from the keyboard at 80×24: where the focus is, overlays, the palette,
and the documents table after a resize."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from textual.binding import Binding
from textual.command import CommandPalette
from textual.widgets import DataTable, Input

from tests.ui.support import BASIC_ACCOUNT, SIZE, notifications, screen_text, seed_documents, wait_until, write_config
from tui_recepcion.ui.app import create_app
from tui_recepcion.ui.commands import NAMED, NOT_COMMANDS, app_commands, key_actions
from tui_recepcion.ui.dashboard import NARROW_WIDTHS, WIDE_WIDTHS, DashboardScreen
from tui_recepcion.ui.dialogs import MessageDialog, PathDialog
from tui_recepcion.ui.documents import COLUMNS, DocumentsScreen
from tui_recepcion.ui.fields import FOCUS_MARK, FieldRow
from tui_recepcion.ui.form import FormScreen
from tui_recepcion.ui.guide import GuideScreen
from tui_recepcion.ui.messages import MessagesScreen, subject_width
from tui_recepcion.ui.spanish import NO_MATCHES

ACCOUNT = BASIC_ACCOUNT


def focused_rows(app) -> list[FieldRow]:
    return [row for row in app.screen.query(FieldRow) if row.has_class("-focused")]


def marked_labels(app) -> list[str]:
    return [line.strip() for line in screen_text(app).splitlines() if line.strip().startswith(FOCUS_MARK.strip())]


async def test_tab_through_the_form_highlights_exactly_the_focused_fields_label(tmp_path: Path) -> None:
    app = create_app(write_config(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="abrir el formulario")
        seen: list[str] = []
        for _ in range(25):
            await pilot.press("tab")
            await pilot.pause()
            focused = app.screen.focused
            rows = focused_rows(app)
            owner = next((node for node in focused.ancestors if isinstance(node, FieldRow)), None)
            if owner is None:  # a button: no label is highlighted
                assert rows == [], [row.key for row in rows]
                continue
            assert rows == [owner], (owner.key, [row.key for row in rows])
            [marked] = marked_labels(app)  # one «»» on the screen, on the focused field's label
            assert marked.removeprefix(FOCUS_MARK.strip()).strip().startswith(owner.label)
            seen.append(owner.key)
        assert {"usuario", "contrasena", "confirmacion", "servidor", "puerto"} <= set(seen)


async def test_the_guide_opens_full_screen_at_80x24_and_esc_returns_focus(tmp_path: Path) -> None:
    app = create_app(write_config(tmp_path, ACCOUNT))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="abrir el formulario")
        form = app.screen
        form.query_one("#f-usuario", Input).focus()
        await pilot.pause()
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: isinstance(app.screen, GuideScreen), what="abrir la guía")
        assert app.screen.size == app.size  # the whole terminal, nothing of the form behind
        await wait_until(pilot, lambda: "Outlook.com, Hotmail y Microsoft 365" in screen_text(app),
                         what="mostrar la guía de Outlook")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is form, what="cerrar la guía")
        assert form.focused is form.query_one("#f-usuario", Input)


async def test_guide_steps_name_the_forms_fields_and_buttons(tmp_path: Path) -> None:
    app = create_app(write_config(tmp_path, ACCOUNT))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="abrir el formulario")
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: isinstance(app.screen, GuideScreen), what="abrir la guía")
        guide = app.screen.markdown
        assert "**ID de aplicación**" in guide and "**Autorizar**" in guide
        assert "client_id" not in guide and "`tui-recepcion autorizar`" not in guide.split("sin pantalla")[0]


async def test_help_dialog_closes_with_esc_and_focus_comes_back(tmp_path: Path) -> None:
    app = create_app(write_config(tmp_path, ACCOUNT))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="abrir el formulario")
        form = app.screen
        target = form.query_one("#f-servidor", Input)
        target.focus()
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog), what="abrir la ayuda")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is form, what="cerrar la ayuda")
        assert form.focused is target
        assert focused_rows(app) == [form.query_one("#row-servidor", FieldRow)]


def test_every_key_has_a_command_in_the_palette(tmp_path: Path) -> None:
    app = create_app(write_config(tmp_path))
    commands = app_commands(app)
    reachable = {(command.mode, command.action) for command in commands}
    for mode, action, binding, _title in key_actions(app):
        if action not in NOT_COMMANDS:
            assert (mode, action) in reachable, (mode, binding.key, action)
    names = {command.name for command in NAMED}
    for wanted in ("Exportar documentos a Excel", "Reprocesar mensaje fallido", "Guía del proveedor", "Nueva cuenta",
                   "Ayuda"):
        assert wanted in names
    assert len({command.name for command in commands}) == len(commands)  # no two alike
    assert all(isinstance(binding, Binding) for *_rest, binding, _title in key_actions(app))


async def test_palette_runs_the_guide_by_name_and_speaks_spanish_when_nothing_matches(tmp_path: Path) -> None:
    app = create_app(write_config(tmp_path, ACCOUNT))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.screen.id is not None or app.screen is not None, what="arrancar")
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: CommandPalette.is_open(app), what="abrir la paleta")
        await pilot.press(*"zzzqqq")
        await wait_until(pilot, lambda: NO_MATCHES in screen_text(app), what="decir que nada coincide")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not CommandPalette.is_open(app), what="cerrar la paleta")
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: CommandPalette.is_open(app), what="abrir la paleta")
        await pilot.press(*"Guía del proveedor")
        await wait_until(pilot, lambda: "Guía del proveedor" in screen_text(app), what="encontrar el comando")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, GuideScreen), what="abrir la guía desde la paleta")


def total_fits(app) -> bool:
    """Every column up to Total is on screen (the RADIAN ones after it may scroll)."""
    table = app.screen.query_one("#documents", DataTable)
    columns = list(table.columns.values())
    last = [column.key.value for column in columns].index("total")
    return sum(column.get_render_width(table) for column in columns[: last + 1]) <= table.size.width


async def test_documents_columns_follow_a_resize_and_total_stays_visible(tmp_path: Path) -> None:
    app = create_app(seed_documents(tmp_path, ACCOUNT))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, DocumentsScreen) and app.screen.rows,
                         what="mostrar los documentos")
        assert "01 Factura" in screen_text(app)  # the code with its meaning
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: app.screen._laid_out_for == 80, what="recalcular las columnas")
        await pilot.pause()
        assert total_fits(app)
        header = screen_text(app).splitlines()[2]
        assert [column.header for column in COLUMNS][:5] == header.split()[:5]  # Fecha … Total
        assert "01 Factura" in screen_text(app)
        await pilot.resize_terminal(120, 40)
        await wait_until(pilot, lambda: app.screen._laid_out_for == 120, what="recalcular las columnas")
        assert total_fits(app)


async def test_dashboard_columns_follow_a_resize(tmp_path: Path) -> None:
    app = create_app(write_config(tmp_path, ACCOUNT))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="abrir el tablero")
        table = app.screen.query_one("DataTable.messages", DataTable)
        assert [column.width for column in table.columns.values()] == list(WIDE_WIDTHS)
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: [column.width for column in table.columns.values()] == list(NARROW_WIDTHS),
                         what="recalcular las columnas del tablero")
        await pilot.pause()
        assert sum(column.get_render_width(table) for column in table.columns.values()) <= table.size.width
        assert "Destino" in screen_text(app)  # the last column is on screen


async def test_messages_columns_follow_a_resize(tmp_path: Path) -> None:
    app = create_app(write_config(tmp_path, ACCOUNT))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, MessagesScreen), what="abrir los mensajes")
        table = app.screen.query_one("#ledger", DataTable)
        assert list(table.columns.values())[-1].width == subject_width(120)
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: list(table.columns.values())[-1].width == subject_width(80),
                         what="recalcular la columna Asunto")
        await pilot.pause()
        assert sum(column.get_render_width(table) for column in table.columns.values()) <= table.size.width


async def test_the_tui_exports_the_filtered_documents_to_excel(tmp_path: Path) -> None:
    app = create_app(seed_documents(tmp_path, ACCOUNT, count=5))
    target = tmp_path / "exportados" / "documentos.xlsx"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, DocumentsScreen) and app.screen.rows,
                         what="mostrar los documentos")
        await pilot.press("ctrl+e")
        await wait_until(pilot, lambda: isinstance(app.screen, PathDialog), what="preguntar el archivo")
        assert app.screen.query_one("#ruta", Input).value.endswith(".xlsx")
        app.screen.query_one("#ruta", Input).value = str(target)
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("5 documentos exportados" in note for note in notifications(app)),
                         what="exportar")
    sheet = openpyxl.load_workbook(target).active
    headers = [cell.value for cell in next(sheet.iter_rows())]
    totals = [row[headers.index("total")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(totals) == 5 and all(isinstance(total, (int, float)) for total in totals)
