"""The dialogs of the Documentos actions that send RADIAN events to DIAN.

Acceptance (033) is irrevocable: its dialog returns a confirmation only when the person types
that document's own number, so no key press by habit, and no selection of many, can accept.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from tui_recepcion.dian.radian import CLAIM_REASONS
from tui_recepcion.radian.sender import AcceptanceConfirmation
from tui_recepcion.ui.dialogs import Dialog


class AcceptanceDialog(Dialog):
    """033 for one document: returns `AcceptanceConfirmation` or None (cancelled)."""

    def __init__(self, cufe: str, number: str, supplier: str) -> None:
        super().__init__("Aceptar la factura (033)")
        self.cufe = cufe
        self.number = number
        self.supplier = supplier

    def compose_box(self) -> ComposeResult:
        yield Static(Content(
            f"La aceptación expresa de la factura {self.number} de {self.supplier} es irrevocable: la factura "
            "queda aceptada ante la DIAN y ya no admite reclamo. Para confirmar, escriba el número de la factura."),
            classes="dialog-body")
        yield Input(placeholder=f"Número de la factura ({self.number})", id="numero-confirmacion")
        yield Label("", classes="field-error", id="confirmacion-error")
        with Horizontal(classes="dialog-buttons"):
            yield Button("Aceptar la factura", variant="warning", id="aceptar")
            yield Button("Cancelar", id="cancelar")

    def on_mount(self) -> None:
        self.query_one("#numero-confirmacion", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#aceptar")
    def _confirm(self) -> None:
        typed = self.query_one("#numero-confirmacion", Input).value.strip()
        if typed != self.number:
            self.query_one("#confirmacion-error", Label).update(
                f"Escriba exactamente el número de la factura ({self.number}) para aceptarla.")
            return
        self.dismiss(AcceptanceConfirmation(self.cufe, typed))

    @on(Button.Pressed, "#cancelar")
    def _cancel(self) -> None:
        self.dismiss(None)


class ClaimDialog(Dialog):
    """031 for one document: returns the claim reason (01–04) or None."""

    def __init__(self, number: str) -> None:
        super().__init__(f"Reclamar la factura {number} (031)")

    def compose_box(self) -> ComposeResult:
        yield Static(Content("Elija el concepto del reclamo:"), classes="dialog-body")
        with RadioSet(id="concepto"):
            for code, name in CLAIM_REASONS.items():
                yield RadioButton(f"{code} {name}", value=code == "01", id=f"concepto-{code}")
        with Horizontal(classes="dialog-buttons"):
            yield Button("Reclamar", variant="warning", id="reclamar")
            yield Button("Cancelar", id="cancelar")

    @on(Button.Pressed, "#reclamar")
    def _claim(self) -> None:
        pressed = self.query_one("#concepto", RadioSet).pressed_button
        self.dismiss(str(pressed.id).removeprefix("concepto-") if pressed is not None else None)

    @on(Button.Pressed, "#cancelar")
    def _cancel(self) -> None:
        self.dismiss(None)
