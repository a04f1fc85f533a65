"""One row of the reception form: label, control, "?" help and the inline error under it.

The row that holds the focus says so without colour: its label gets a "»" marker and reverse
video (`-focused`), so the technician types into the field the label names even on an
8-colour terminal; at most one row is `-focused` at a time (the focus is in one place).
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Label, Static

FOCUS_MARK = "» "  # not «▶»: Textual's Collapsible uses it for «click to open»
NO_MARK = "  "


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
            yield Label(self._label_text(focused=False), classes="field-label")
            yield self.control
            yield HelpMark(self)
        yield Label("", classes="field-error")

    def _label_text(self, *, focused: bool) -> Content:
        return Content((FOCUS_MARK if focused else NO_MARK) + self.label + ("*" if self.required else ""))

    def _mark_focus(self, focused: bool) -> None:
        if self.has_class("-focused") == focused:
            return
        self.set_class(focused, "-focused")
        self.query_one(".field-label", Label).update(self._label_text(focused=focused))

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self._mark_focus(True)

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        # The focus may move to another part of this same row (a Select's list): check.
        self._mark_focus(self.screen.focused is not None and self in self.screen.focused.ancestors)

    def show_error(self, message: str | None) -> None:
        if (message or "") == self.error:
            return  # the form revalidates on every key: repaint only what changed
        self.error = message or ""
        self.query_one(".field-error", Label).update(Content(self.error))
        self.set_class(bool(self.error), "-invalid")
