"""Every screen, dialog, list and the command palette, as a technician sees them at 80×24:
no English word left over from Textual or from us («esc Dismiss menu», «No matches found»)."""

from __future__ import annotations

import re
from pathlib import Path

from textual.command import CommandPalette
from textual.widgets import Select
from textual.widgets._select import SelectOverlay

from tests.ui.support import BASIC_ACCOUNT, SIZE, screen_text, seed_documents, wait_until
from tui_recepcion.ui.app import create_app
from tui_recepcion.ui.dashboard import DashboardScreen
from tui_recepcion.ui.dialogs import MessageDialog, PathDialog
from tui_recepcion.ui.documents import DocumentsScreen
from tui_recepcion.ui.form import FormScreen
from tui_recepcion.ui.guide import GuideScreen
from tui_recepcion.ui.messages import MessagesScreen

ENGLISH = (
    "Dismiss", "menu", "matches", "found", "Cancel", "Search", "Select", "Quit", "Keys", "Theme", "Screenshot",
    "Maximize", "Minimize", "Copy", "Paste", "Submit", "Next", "Previous", "Exit", "Focus", "Scroll", "Toggle",
    "Show", "Hide", "Close", "Save", "Open", "Help", "Loading", "Press", "button", "command", "commands", "palette",
    "None", "True", "False", "Yes", "OK", "Back", "Bottom", "Top", "Page", "Delete", "Cursor",
)
PATTERN = re.compile(r"\b(" + "|".join(ENGLISH) + r")\b")


def english_in(text: str) -> list[str]:
    return PATTERN.findall(text)


def test_the_word_list_catches_textuals_defaults() -> None:
    assert english_in("esc Dismiss menu") == ["Dismiss", "menu"]
    assert english_in("No matches found") == ["matches", "found"]
    assert english_in("Cancelar · Seleccionar · Buscar comandos… · No se encontró") == []


async def test_no_english_on_any_screen_or_overlay(tmp_path: Path) -> None:
    seen: dict[str, str] = {}
    app_config = seed_documents(tmp_path, BASIC_ACCOUNT)
    app = create_app(app_config)

    def look(where: str) -> None:
        seen[where] = screen_text(app)

    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="abrir el tablero")
        look("tablero")
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog), what="ayuda del tablero")
        look("ayuda del tablero")
        await pilot.press("escape")

        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="abrir el formulario")
        form = app.screen
        look("formulario")
        select = form.query_one("#f-protocolo", Select)
        select.focus()
        # The footer follows the focus: the focused list's own key, in Spanish.
        await wait_until(pilot, lambda: "Abrir la lista" in screen_text(app), what="mostrar la tecla de la lista")
        look("formulario, lista enfocada")
        await pilot.press("enter")
        await wait_until(pilot, lambda: select.query_one(SelectOverlay).display and "Cerrar la lista" in screen_text(app),
                         what="abrir la lista")
        look("formulario, lista abierta")
        await pilot.press("escape")
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: isinstance(app.screen, GuideScreen), what="abrir la guía")
        await wait_until(pilot, lambda: "Outlook" in screen_text(app), what="mostrar la guía")
        look("guía")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is form, what="cerrar la guía")

        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: CommandPalette.is_open(app) and "Ir al tablero" in screen_text(app),
                         what="abrir la paleta")
        look("paleta")
        await pilot.press(*"xyzzy")
        await wait_until(pilot, lambda: "Ningún comando" in screen_text(app), what="paleta sin resultados")
        look("paleta sin resultados")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not CommandPalette.is_open(app), what="cerrar la paleta")

        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, DocumentsScreen) and app.screen.rows,
                         what="mostrar los documentos")
        look("documentos")
        app.screen.query_one("#documents").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog) and "Tipo:" in screen_text(app),
                         what="detalle del documento")
        look("detalle del documento")
        await pilot.press("escape")
        await pilot.press("ctrl+e")
        await wait_until(pilot, lambda: isinstance(app.screen, PathDialog), what="exportar")
        look("exportar")
        await pilot.press("escape")

        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, MessagesScreen), what="abrir los mensajes")
        look("mensajes")

    assert len(seen) == 12
    found = {where: english_in(text) for where, text in seen.items() if english_in(text)}
    assert found == {}, "\n\n".join(f"{where}: {words}\n{seen[where]}" for where, words in found.items())
    assert "Ningún comando coincide" in seen["paleta sin resultados"]
    assert "Buscar comandos…" in seen["paleta sin resultados"] or "xyzzy" in seen["paleta sin resultados"]
    assert "01 Factura" in seen["documentos"], seen["documentos"]
    # DIAN's codes with their meaning, never bare: «Tipo: 92 Nota débito».
    assert re.search(r"Tipo: (01 Factura de venta|91 Nota crédito|92 Nota débito)", seen["detalle del documento"])
