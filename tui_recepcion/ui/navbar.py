"""The top line of every screen: where you are, and the keys that lead elsewhere."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Label

# (mode, key, label) in the order the F keys go.
DESTINATIONS: tuple[tuple[str, str, str], ...] = (
    ("formulario", "F2", "Cuentas"),
    ("tablero", "F3", "Tablero"),
    ("documentos", "F4", "Documentos"),
    ("mensajes", "F5", "Mensajes"),
)


class TitleBar(Horizontal):
    """The top line of a screen that leads nowhere else (the guide): its title, and `hint`."""

    def __init__(self, title: str, hint: str = "Esc: volver") -> None:
        super().__init__(id="navbar")
        self.title_text = title
        self.hint = hint

    def compose(self) -> ComposeResult:
        yield Label(Content(self.title_text), id="nav-title")
        yield Label(Content(self.hint), id="nav-keys")


class NavBar(Horizontal):
    def __init__(self, title: str, mode: str) -> None:
        super().__init__(id="navbar")
        self.title_text = title
        self.mode = mode

    def compose(self) -> ComposeResult:
        yield Label(Content(self.title_text), id="nav-title")
        parts = []
        for mode, key, label in DESTINATIONS:
            style = "reverse" if mode == self.mode else "dim"
            parts.append(Content.from_markup(f"[bold]{key}[/bold] [{style}]{label}[/{style}]"))
        yield Label(Content("  ").join(parts), id="nav-keys")
