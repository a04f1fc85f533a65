"""The base of every screen: shared services, F1 help, the one place worker errors go, and
how a worker hands its result back (a typed message, Harlequin's pattern)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual import on
from textual.binding import Binding
from textual.dom import DOMNode
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable
from textual.worker import NoActiveWorker, Worker, WorkerState, get_current_worker

from tui_recepcion.engine.lock import AccountBusy
from tui_recepcion.errors import RecepcionError
from tui_recepcion.ui.dialogs import MessageDialog
from tui_recepcion.ui.fields import FieldRow, HelpMark

if TYPE_CHECKING:
    from tui_recepcion.ui.app import RecepcionApp
    from tui_recepcion.ui.services import Services

log = logging.getLogger(__name__)


def describe_error(error: BaseException | None) -> str:
    """A Spanish sentence for a failed worker: never a traceback, never a secret.

    Our own errors carry a message written for the technician; anything else is a bug,
    whose type and text (which could contain anything) go only to the DEBUG log.
    """
    if isinstance(error, AccountBusy):
        return f"{error} Mientras tanto, el tablero muestra el avance de ese proceso."
    if isinstance(error, RecepcionError):
        return str(error)
    log.debug("error inesperado en una tarea de la interfaz", exc_info=error)
    return ("Error inesperado: la operación no se completó "
            "(el detalle se ve con TUI_RECEPCION_DEPURAR=1).")


def first_start_line(config_path: Path) -> str:
    """What the form says before the first account exists: where everything will be kept."""
    return (f"Primera configuración: la cuenta se guardará en {config_path} (se crea al guardar). "
            "Las contraseñas y los tokens nunca van en ese archivo: van al llavero del sistema o, si no "
            "hay uno usable (lo normal por SSH), al archivo 0600 o la variable de entorno que usted elija "
            "al guardar.")


def set_column_widths(table: DataTable, widths: Sequence[int]) -> None:
    """Give a DataTable's columns new widths (a resize), keeping its rows."""
    columns = list(table.columns.values())
    if [column.width for column in columns] == list(widths):
        return
    for column, width in zip(columns, widths, strict=True):
        column.width = width
    # DataTable keeps rendered rows and its virtual size in caches: drop them (Textual 8.2.8).
    table._clear_caches()
    table._require_update_dimensions = True
    table.refresh(layout=True)


class WorkerResult(Message, bubble=False):
    """What a thread worker produced, posted to its screen: one subclass per kind of result,
    so screens dispatch on the type, never on a worker's (Spanish) display name."""


class RecepcionScreen(Screen):
    """Screens of the app. `HELP` is the Spanish text F1 shows away from form fields."""

    HELP = ""
    BINDINGS = [Binding("f1", "field_help", "Ayuda")]

    @property
    def recepcion(self) -> RecepcionApp:
        return cast("RecepcionApp", self.app)

    @property
    def services(self) -> Services:
        return self.recepcion.services

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Worker messages do not bubble: every screen forwards its failures to the app.
        if event.state == WorkerState.ERROR:
            self.recepcion.report_worker_error(event.worker)

    def post_result(self, result: WorkerResult) -> None:
        """From a worker thread: hand `result` to this screen, unless the worker was cancelled
        (an `exclusive` worker that a newer one replaced must not overwrite its answer)."""
        try:
            cancelled = get_current_worker().is_cancelled
        except NoActiveWorker:
            cancelled = False
        if not cancelled:
            self.post_message(result)

    def action_field_help(self) -> None:
        """F1: the focused field's help, or what this screen is for."""
        node: DOMNode | None = self.focused
        while node is not None and not isinstance(node, FieldRow):
            node = node.parent
        if isinstance(node, FieldRow):
            self.show_field_help(node)
        else:
            self.app.push_screen(MessageDialog(f"Ayuda: {self.title or self.app.title}", self.help_lines()))

    def help_lines(self) -> list[str]:
        return [self.HELP]

    @on(HelpMark.Pressed)
    def _help_mark(self, event: HelpMark.Pressed) -> None:
        self.show_field_help(event.row)

    def show_field_help(self, row: FieldRow) -> None:
        self.app.push_screen(MessageDialog(row.label, [row.help_text]))
