"""Modal dialogs: field help, results, confirmations, the secret store choice, a file path."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from tui_recepcion.secrets import parse_secret_ref


class Dialog(ModalScreen):
    """A centred box with a title; Esc closes it without an answer."""

    BINDINGS = [Binding("escape", "close", "Cerrar")]

    def __init__(self, title: str, *, classes: str = "") -> None:
        super().__init__(classes=classes)
        self.title_text = title

    def compose_box(self) -> ComposeResult:
        yield from ()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Content(self.title_text), classes="dialog-title")
            yield from self.compose_box()

    def action_close(self) -> None:
        self.dismiss(None)


class MessageDialog(Dialog):
    """Text to read (help, a connection report); Enter, Esc or F1 close it."""

    BINDINGS = [Binding("escape,enter,f1", "close", "Cerrar")]

    def __init__(self, title: str, lines: Sequence[str], *, error: bool = False) -> None:
        super().__init__(title, classes="-error" if error else "")
        self.lines = tuple(lines)

    def compose_box(self) -> ComposeResult:
        with VerticalScroll(classes="dialog-body"):
            yield Static(Content("\n".join(self.lines)))
        with Horizontal(classes="dialog-buttons"):
            yield Button("Cerrar", variant="primary", id="cerrar")

    def on_mount(self) -> None:
        self.query_one("#cerrar", Button).focus()

    @on(Button.Pressed, "#cerrar")
    def _close(self) -> None:
        self.dismiss(None)


class ConfirmDialog(Dialog):
    """A yes/no question; the answer is True only when the technician confirms."""

    def __init__(self, title: str, question: str, confirm: str) -> None:
        super().__init__(title)
        self.question = question
        self.confirm = confirm

    def compose_box(self) -> ComposeResult:
        yield Static(Content(self.question), classes="dialog-body")
        with Horizontal(classes="dialog-buttons"):
            yield Button(self.confirm, variant="warning", id="si")
            yield Button("Cancelar", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _answer(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "si")


class ChoiceDialog(Dialog):
    """A question with several answers (buttons); returns the chosen id, or None on Esc."""

    def __init__(self, title: str, lines: Sequence[str], choices: Sequence[tuple[str, str]], *,
                 default: str) -> None:
        super().__init__(title)
        self.lines = tuple(lines)
        self.choices = tuple(choices)  # (id, label)
        self.default = default

    def compose_box(self) -> ComposeResult:
        with VerticalScroll(classes="dialog-body"):
            yield Static(Content("\n".join(self.lines)))
        with Horizontal(classes="dialog-buttons"):
            for choice, label in self.choices:
                yield Button(label, variant="primary" if choice == self.default else "default", id=choice)

    def on_mount(self) -> None:
        self.query_one(f"#{self.default}", Button).focus()

    @on(Button.Pressed)
    def _answer(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)


class PathDialog(Dialog):
    """Asks for a file path to write, with a default; returns the path or None."""

    def __init__(self, title: str, prompt: str, default: Path) -> None:
        super().__init__(title)
        self.prompt = prompt
        self.default = default

    def compose_box(self) -> ComposeResult:
        yield Static(Content(self.prompt), classes="dialog-body")
        yield Input(str(self.default), id="ruta")
        yield Label("", classes="field-error", id="ruta-error")
        with Horizontal(classes="dialog-buttons"):
            yield Button("Guardar", variant="primary", id="guardar")
            yield Button("Cancelar", id="cancelar")

    @on(Input.Submitted)
    @on(Button.Pressed, "#guardar")
    def _accept(self) -> None:
        text = self.query_one("#ruta", Input).value.strip()
        path = Path(text).expanduser() if text else None
        if path is None or path.is_dir():
            self.query_one("#ruta-error", Label).update("Escriba la ruta de un archivo, no de una carpeta.")
            return
        self.dismiss(path)

    @on(Button.Pressed, "#cancelar")
    def _cancel(self) -> None:
        self.dismiss(None)


class SecretStoreDialog(Dialog):
    """The keyring cannot be used: the technician chooses a 0600 file or an env variable.

    Returns the `secreto` value ("archivo:/ruta" or "env:VARIABLE"), or None if cancelled.
    Nothing is chosen silently: this dialog is the only way past an unusable keyring. An
    OAuth2 account (`oauth`) stores a token that is rewritten on refresh: a file only.
    """

    def __init__(self, account_id: str, reason: str, suggested_file: Path, *, oauth: bool = False) -> None:
        super().__init__("¿Dónde guardar el token?" if oauth else "¿Dónde guardar la contraseña?")
        self.account_id = account_id
        self.reason = reason
        self.suggested_file = suggested_file
        self.allow_env = not oauth

    @property
    def suggested_variable(self) -> str:
        return "TUI_RECEPCION_SECRETO_" + re.sub(r"[^A-Z0-9]", "_", self.account_id.upper())

    def compose_box(self) -> ComposeResult:
        explanation = (
            f"No se puede usar el llavero del sistema: {self.reason}.\n"
            f"Elija dónde guardar el secreto de la cuenta «{self.account_id}». "
            "Nunca se escribe en config.toml."
        )
        yield Static(Content(explanation), classes="dialog-body")
        with RadioSet(id="destino"):
            yield RadioButton("Archivo solo legible por usted (0600)", value=True, id="archivo")
            if self.allow_env:
                yield RadioButton("Variable de entorno (la define usted)", id="env")
        yield Input(str(self.suggested_file), id="valor")
        yield Label("", classes="field-error", id="valor-error")
        with Horizontal(classes="dialog-buttons"):
            yield Button("Usar", variant="primary", id="usar")
            yield Button("Cancelar", id="cancelar")

    def on_mount(self) -> None:
        self.query_one("#valor", Input).focus()

    @property
    def kind(self) -> str:
        pressed = self.query_one(RadioSet).pressed_button
        return "env" if pressed is not None and pressed.id == "env" else "archivo"

    @on(RadioSet.Changed)
    def _kind_changed(self) -> None:
        value = self.query_one("#valor", Input)
        value.value = self.suggested_variable if self.kind == "env" else str(self.suggested_file)
        self.query_one("#valor-error", Label).update("")

    @on(Input.Submitted)
    @on(Button.Pressed, "#usar")
    def _accept(self) -> None:
        text = self.query_one("#valor", Input).value.strip()
        reference = f"{self.kind}:{text}"
        try:
            parsed = parse_secret_ref(reference)
        except ValueError as error:
            self.query_one("#valor-error", Label).update(Content(str(error)))
            return
        self.dismiss(str(parsed))  # "~" expanded: the service may run with another HOME

    @on(Button.Pressed, "#cancelar")
    def _cancel(self) -> None:
        self.dismiss(None)
