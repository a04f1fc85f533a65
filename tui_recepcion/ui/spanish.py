"""Textual's own texts in Spanish: the command palette, the keys its widgets show in the
footer, and the system commands.

Textual writes these in English («esc Dismiss menu», «No matches found», «Search for
commands…»). Textual is pinned to one exact version (pyproject.toml), so the private names
used here are checked by the snapshot tests and by tests/ui/test_spanish_walk.py on every
upgrade.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from rich.align import Align
from rich.text import Text
from textual.binding import Binding
from textual.command import CommandList, CommandPalette
from textual.dom import DOMNode
from textual.widgets import Button, DataTable, Select
from textual.widgets._select import SelectOverlay
from textual.widgets._toggle_button import ToggleButton
from textual.widgets.option_list import Option

PLACEHOLDER = "Buscar comandos…"
NO_MATCHES = "Ningún comando coincide"

# (widget class, action, Spanish description, shown in the footer while it has the focus)
WIDGET_KEYS: tuple[tuple[type[DOMNode], str, str, bool], ...] = (
    (SelectOverlay, "dismiss", "Cerrar la lista", True),
    (Select, "show_overlay", "Abrir la lista", True),
    (ToggleButton, "toggle_button", "Marcar o desmarcar", True),
    (Button, "press", "Pulsar", True),
    (DataTable, "select_cursor", "Detalle", True),  # every table of ours opens the row's detail
)


class SpanishCommandPalette(CommandPalette):
    """Textual's palette with its own words in Spanish."""

    BINDINGS = [Binding("escape", "escape", "Cerrar los comandos")]

    def __init__(self) -> None:
        super().__init__(placeholder=PLACEHOLDER, id="--command-palette")

    def _start_no_matches_countdown(self, search_value: str) -> None:
        # Textual's version writes «No matches found» from inside a closure: the same logic,
        # in Spanish.
        self._stop_no_matches_countdown()

        def show_no_matches() -> None:
            if search_value:
                self.query_one(CommandList).add_option(
                    Option(Align.center(Text(NO_MATCHES, style="not bold")), disabled=True, id=self._NO_MATCHES))
                self._list_visible = True
            else:
                self._list_visible = False

        self._no_matches_timer = self.set_timer(self._NO_MATCHES_COUNTDOWN, show_no_matches)


def translate_widget_keys(keys: Iterable[tuple[type[DOMNode], str, str, bool]] = WIDGET_KEYS) -> None:
    """Give Textual's widgets Spanish key descriptions (and show the useful ones in the footer).

    Idempotent; subclasses defined later inherit the translation through BINDINGS.
    """
    for widget, action, description, show in keys:
        bindings: list[Binding] = []
        for binding in Binding.make_bindings(widget.BINDINGS):
            if binding.action == action:
                # The footer names the first key only («enter», not «down» or «space»).
                first = not any(other.action == action for other in bindings)
                binding = replace(binding, description=description, show=show and first)
            bindings.append(binding)
        widget.BINDINGS = list(bindings)
        widget._merged_bindings = widget._merge_bindings()
        for subclass in _subclasses(widget):
            subclass._merged_bindings = subclass._merge_bindings()


def _subclasses(widget: type[DOMNode]) -> Iterable[type[DOMNode]]:
    for subclass in widget.__subclasses__():
        yield subclass
        yield from _subclasses(subclass)
