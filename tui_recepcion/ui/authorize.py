"""OAuth2 authorization in the TUI: the dialogs, and the `AuthorizationUI` the flows drive.

`authorize_account` runs in a thread worker and calls `TuiAuthorizationUI` from that
thread. Each method hands its dialog to the UI thread with `call_from_thread` and waits
for the answer on a queue, polling the cancel flag (and, for the redirect, the local
catcher's event), so the screen keeps answering keys while the flow waits.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Button, Input, Label, Static, TextArea
from textual.worker import NoActiveWorker, get_current_worker

from tui_recepcion.oauth import AuthorizationCancelled
from tui_recepcion.secrets import Secret
from tui_recepcion.ui.dialogs import Dialog

POLL_SECONDS = 0.2
_CANCELLED = object()  # what a dialog answers when the technician pressed Cancelar


def _time_left(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class AuthorizationDialog(Dialog):
    """A dialog of an authorization in progress: Esc and Cancelar stop the whole flow.

    `close()` takes it down when the flow ends by itself; when another screen covers it at
    that moment (the command palette…), it closes as soon as it is shown again.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancelar")]

    def __init__(self, title: str) -> None:
        super().__init__(title, classes="authorization")
        self._close_when_shown = False

    def action_cancel(self) -> None:
        self.dismiss(_CANCELLED)

    @on(Button.Pressed, "#cancelar")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def close(self) -> None:
        if self.app.screen is self:
            self.dismiss(None)
        else:
            self._close_when_shown = True

    def on_screen_resume(self) -> None:
        if self._close_when_shown:
            self.dismiss(None)


class DeviceCodeDialog(AuthorizationDialog):
    """Microsoft's device code: the address and the code, big, with the time left."""

    def __init__(self, url: str, code: str, expires_in: int) -> None:
        super().__init__("Autorizar con OAuth2")
        self.url = url
        self.code = code
        self._deadline = time.monotonic() + expires_in

    def compose_box(self) -> ComposeResult:
        yield Static(Content("En cualquier navegador (este equipo, otro o un teléfono) abra:"))
        yield Static(Content(self.url), classes="authorization-url")
        yield Static(Content("e ingrese este código:"))
        yield Static(Content(self.code), classes="device-code")
        yield Static(Content("Inicie sesión con la cuenta del buzón de recepción; esta ventana se cierra sola "
                             "al terminar."))
        yield Label(self._remaining(), classes="time-left")
        with Horizontal(classes="dialog-buttons"):
            yield Button("Copiar código", id="copiar")
            yield Button("Cancelar", variant="error", id="cancelar")

    def on_mount(self) -> None:
        self.query_one("#cancelar", Button).focus()
        self.set_interval(1, self._tick)

    def _remaining(self) -> Content:
        left = self._deadline - time.monotonic()
        if left <= 0:
            return Content("El código venció: cancele y vuelva a autorizar.")
        return Content(f"Esperando el inicio de sesión… el código vence en {_time_left(left)}")

    def _tick(self) -> None:
        self.query_one(".time-left", Label).update(self._remaining())

    @on(Button.Pressed, "#copiar")
    def _copy(self) -> None:
        self.app.copy_to_clipboard(self.code)
        self.notify("Código copiado al portapapeles.", timeout=3)


class RedirectDialog(AuthorizationDialog):
    """The installed-app flow: the address to open, and where to paste the redirect."""

    def __init__(self, auth_url: str) -> None:
        super().__init__("Autorizar con OAuth2")
        self.auth_url = auth_url

    def compose_box(self) -> ComposeResult:
        yield Static(Content("Abra esta dirección en un navegador e inicie sesión con la cuenta del buzón:"))
        yield TextArea(self.auth_url, read_only=True, soft_wrap=True, show_cursor=False, compact=True,
                       classes="authorization-url", id="direccion")
        yield Static(Content(
            "Si el navegador está en este equipo, la autorización llega sola. Si está en otro, al final verá "
            "una página de http://127.0.0.1:… que no carga: copie la dirección completa de la barra del "
            "navegador y péguela aquí (Enter)."
        ))
        yield Input(placeholder="http://127.0.0.1:…/?state=…&code=…", id="redireccion")
        yield Label("", classes="field-error", id="redireccion-error")
        with Horizontal(classes="dialog-buttons"):
            yield Button("Copiar dirección", id="copiar")
            yield Button("Aceptar", variant="primary", id="aceptar")
            yield Button("Cancelar", variant="error", id="cancelar")

    def on_mount(self) -> None:
        self.query_one("#redireccion", Input).focus()

    @on(Button.Pressed, "#copiar")
    def _copy(self) -> None:
        self.app.copy_to_clipboard(self.auth_url)
        self.notify("Dirección copiada al portapapeles.", timeout=3)

    @on(Input.Submitted)
    @on(Button.Pressed, "#aceptar")
    def _accept(self) -> None:
        pasted = self.query_one("#redireccion", Input).value.strip()
        if not pasted:
            self.query_one("#redireccion-error", Label).update("Pegue la dirección a la que llegó el navegador.")
            return
        self.dismiss(pasted)


class SecretDialog(AuthorizationDialog):
    """A secret the flow needs once (Google's client secret), typed without echo."""

    def __init__(self, label: str) -> None:
        super().__init__("Autorizar con OAuth2")
        self.label = label

    def compose_box(self) -> ComposeResult:
        yield Static(Content(f"{self.label} (no se muestra). Se guarda donde indica «Secreto del cliente»."))
        yield Input(password=True, id="secreto")
        yield Label("", classes="field-error", id="secreto-error")
        with Horizontal(classes="dialog-buttons"):
            yield Button("Aceptar", variant="primary", id="aceptar")
            yield Button("Cancelar", variant="error", id="cancelar")

    def on_mount(self) -> None:
        self.query_one("#secreto", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#aceptar")
    def _accept(self) -> None:
        value = self.query_one("#secreto", Input).value.strip()
        if not value:
            self.query_one("#secreto-error", Label).update("Escriba el secreto, o pulse Cancelar.")
            return
        self.dismiss(value)


class TuiAuthorizationUI:
    """The `AuthorizationUI` of the TUI. Its four methods run in the flow's worker thread;
    `cancel` may be called from any thread, `close` only from the UI thread."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._cancel = threading.Event()
        self._dialog: AuthorizationDialog | None = None  # the one shown; read and written on the UI thread

    # --- called from the flow's thread ---------------------------------------------------

    def show_device_code(self, url: str, code: str, expires_in: int) -> None:
        self._show(DeviceCodeDialog(url, code, expires_in), lambda answer: None)

    def ask_redirect_url(self, auth_url: str, received: threading.Event) -> str | None:
        answers: queue.Queue[object] = queue.Queue()
        self._show(RedirectDialog(auth_url), answers.put)
        try:
            answer = self._wait(answers, received)
        finally:
            self._app.call_from_thread(self.close)  # the local catcher answered: nothing to paste
        return answer if isinstance(answer, str) else None

    def ask_secret(self, label: str) -> Secret:
        answers: queue.Queue[object] = queue.Queue()
        self._show(SecretDialog(label), answers.put)
        answer = self._wait(answers)
        if not isinstance(answer, str):
            self._app.call_from_thread(self.close)
            raise AuthorizationCancelled()
        return Secret(answer)

    def cancelled(self) -> bool:
        if self._cancel.is_set():
            return True
        try:  # the app is closing: Textual cancels its workers
            return get_current_worker().is_cancelled
        except NoActiveWorker:
            return False

    # --- any thread, then the UI thread --------------------------------------------------

    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        """Take down the dialog still shown (the flow ended, succeeded or failed)."""
        dialog, self._dialog = self._dialog, None
        if dialog is not None and dialog.is_attached:
            dialog.close()

    def _show(self, dialog: AuthorizationDialog, answer: Callable[[object], None]) -> None:
        def answered(result: object) -> None:  # the UI thread: the technician closed it
            if self._dialog is dialog:
                self._dialog = None
            if result is _CANCELLED:
                self._cancel.set()
            answer(result)

        def show() -> None:
            self.close()
            self._dialog = dialog
            self._app.push_screen(dialog, answered)

        self._app.call_from_thread(show)

    def _wait(self, answers: queue.Queue[object], received: threading.Event | None = None) -> object:
        while not self.cancelled() and not (received is not None and received.is_set()):
            try:
                return answers.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
        return _CANCELLED if self.cancelled() else None
