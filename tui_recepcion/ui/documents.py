from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer, Header

from tui_recepcion.ui.screen import RecepcionScreen


class DocumentsScreen(RecepcionScreen):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Footer()

    def stop_all(self) -> None:
        pass

    def accounts_changed(self) -> None:
        pass
