"""One row of the reception form: label, control, "?" help and the inline error under it."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Label, Static


class HelpMark(Static):
    """The "?" beside a field. Not focusable: the keyboard route is F1 on the field itself."""

    class Pressed(Message):
        def __init__(self, row: FieldRow) -> None:
            super().__init__()
            self.row = row

    def __init__(self, row: FieldRow) -> None:
        super().__init__("?", classes="help-mark")
        self.row = row
        self.tooltip = "Ayuda de este campo (F1)"

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(self.Pressed(self.row))


class FieldRow(Vertical):
    """A labelled control. `key` names the field for validation messages and help."""

    def __init__(
        self,
        key: str,
        label: str,
        help_text: str,
        control: Widget,
        *,
        required: bool = False,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id or f"row-{key}", classes="field-row")
        self.key = key
        self.label = label
        self.default_help = help_text
        self.help_text = help_text
        self.required = required
        self.control = control
        self.error = ""

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field-line"):
            yield Label(Content(self.label + ("*" if self.required else "")), classes="field-label")
            yield self.control
            yield HelpMark(self)
        yield Label("", classes="field-error")

    def show_error(self, message: str | None) -> None:
        if (message or "") == self.error:
            return  # the form revalidates on every key: repaint only what changed
        self.error = message or ""
        self.query_one(".field-error", Label).update(Content(self.error))
        self.set_class(bool(self.error), "-invalid")
