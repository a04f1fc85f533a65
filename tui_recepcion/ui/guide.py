"""The provider's guide: beside the form on a wide terminal, a full screen on Ctrl+G.

The text is the provider's `guidance_md` (Spanish markdown, written for the form: it names
the form's fields and buttons). At 80×24 there is no room beside the form, so Ctrl+G opens
the guide as a screen of its own; Esc (or Ctrl+G again) closes it and the focus goes back to
the field it came from (Textual keeps each screen's focus).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Markdown

from tui_recepcion.providers import Provider
from tui_recepcion.ui.navbar import TitleBar


def provider_guide(provider: Provider) -> str:
    return provider.guidance_md or f"## {provider.name}\n\nEste proveedor no trae una guía."


class GuidePanel(VerticalScroll):
    """The guide beside the form (wide terminals only; app.tcss hides it when narrow)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.markdown = ""

    def compose(self) -> ComposeResult:
        yield Markdown("", id="guidance-md")

    def show(self, markdown: str) -> None:
        if markdown != self.markdown:
            self.markdown = markdown
            self.query_one(Markdown).update(markdown)


class GuideScreen(Screen[None]):
    """The guide over the whole terminal."""

    BINDINGS = [Binding("escape,ctrl+g", "close", "Volver al formulario")]

    def __init__(self, markdown: str) -> None:
        super().__init__(id="guia")
        self.markdown = markdown

    def compose(self) -> ComposeResult:
        yield TitleBar("Guía del proveedor")
        with VerticalScroll(id="guide-body"):
            yield Markdown(self.markdown, id="guide-md")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#guide-body").focus()  # the arrow keys and PgUp/PgDn scroll the text

    def action_close(self) -> None:
        self.dismiss(None)
