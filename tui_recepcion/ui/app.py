"""The Textual application: wires the screens to the engine's services, nothing else.

`create_app` is shared by the CLI and the tests: it loads the configuration, opens the
engine and returns the app. Screens live in `tui_recepcion.ui`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.screen import Screen
from textual.worker import Worker

from tui_recepcion.config import Config, load_config_or_empty
from tui_recepcion.demo import LIVE_PAUSE, Demo
from tui_recepcion.engine.prepare import start_worker_server
from tui_recepcion.engine.service import Engine
from tui_recepcion.oauth.health import report_token_health
from tui_recepcion.secrets import KeyringStatus, probe_keyring
from tui_recepcion.ui.commands import RecepcionCommands
from tui_recepcion.ui.dashboard import DashboardScreen
from tui_recepcion.ui.documents import DocumentsScreen
from tui_recepcion.ui.form import FormScreen
from tui_recepcion.ui.messages import MessagesScreen
from tui_recepcion.ui.screen import RecepcionScreen, describe_error
from tui_recepcion.ui.services import Services, utc_now
from tui_recepcion.ui.spanish import SpanishCommandPalette, translate_widget_keys

EngineFactory = Callable[[Config], Engine]


class RecepcionApp(App):
    TITLE = "tui-recepcion"
    CSS_PATH = "app.tcss"
    COMMANDS = {RecepcionCommands}
    SCREENS_BY_MODE: dict[str, type[RecepcionScreen]] = {
        "formulario": FormScreen,
        "tablero": DashboardScreen,
        "documentos": DocumentsScreen,
        "mensajes": MessagesScreen,
    }
    BINDINGS = [
        # The F keys are shown in each screen's NavBar, not in the footer.
        Binding("f2", "go('formulario')", "Cuentas", show=False),
        Binding("f3", "go('tablero')", "Tablero", show=False),
        Binding("f4", "go('documentos')", "Documentos", show=False),
        Binding("f5", "go('mensajes')", "Mensajes", show=False),
        Binding("ctrl+p", "command_palette", "Comandos", show=False, priority=True),
        Binding("ctrl+q", "quit", "Salir", priority=True),
    ]

    def __init__(self, services: Services) -> None:
        translate_widget_keys()
        super().__init__()
        self.services = services
        self.mode_screens: dict[str, RecepcionScreen] = {}  # each mode's screen, once opened
        self._while_running = ExitStack()
        for mode, screen_class in self.SCREENS_BY_MODE.items():
            self.add_mode(mode, self._opener(mode, screen_class))

    def _opener(self, mode: str, screen_class: type[RecepcionScreen]) -> Callable[[], RecepcionScreen]:
        def open_screen() -> RecepcionScreen:
            screen = self.mode_screens[mode] = screen_class()
            return screen

        return open_screen

    def on_mount(self) -> None:
        # Like `procesar`: OAuth2 token refreshes and failures (processing, tests, authorizing)
        # are recorded in the store while the TUI runs.
        self._while_running.enter_context(report_token_health(self.services.store))
        self.switch_mode("tablero" if self.services.config.accounts else "formulario")

    async def on_unmount(self) -> None:
        # Thread workers cannot be killed: ask processing and authorization to stop so the process can exit.
        dashboard = self.mode_screens.get("tablero")
        if isinstance(dashboard, DashboardScreen):
            dashboard.stop_all()
        form = self.mode_screens.get("formulario")
        if isinstance(form, FormScreen):
            form.stop_authorization()
        self._while_running.close()

    def action_go(self, mode: str) -> None:
        self.switch_mode(mode)

    async def run_in_mode(self, mode: str, action: str) -> None:
        """Show `mode`'s screen and run one of its actions (palette commands).

        Called directly, not through `run_action`: a command chosen by name runs even where
        its key is not offered (the form explains why an account cannot be authorized).
        """
        await self.switch_mode(mode)
        result = getattr(self.screen, f"action_{action}")()
        if inspect.isawaitable(result):
            await result

    def action_command_palette(self) -> None:
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(SpanishCommandPalette())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's own (Theme, Keys, Screenshot, Maximize…) are English and lead to English
        # screens: the palette has ours only (ui/commands.py), «Salir» among them.
        return ()

    async def action_quit(self) -> None:
        """Ctrl+Q: the form asks first when it holds unsaved changes."""
        form = self.mode_screens.get("formulario")
        if isinstance(form, FormScreen) and form.unsaved_changes():
            await self.switch_mode("formulario")
            form.ask_before_quitting()
            return
        self.exit()

    def action_help_quit(self) -> None:
        self.notify("Para salir pulse Ctrl+Q.", title="¿Desea salir?")

    def report_worker_error(self, worker: Worker) -> None:
        """The single place a failed worker is reported: a Spanish notification."""
        self.notify(describe_error(worker.error), title=f"{worker.name}: no se completó", severity="error",
                    timeout=12)

    def accounts_changed(self) -> None:
        """The form saved an account: the dashboard shows the new list."""
        dashboard = self.mode_screens.get("tablero")
        if isinstance(dashboard, DashboardScreen):
            dashboard.accounts_changed()


def create_app(
    config_path: Path,
    *,
    engine_factory: EngineFactory = Engine.open,
    demo: Demo | None = None,
    clock: Callable[[], datetime] = utc_now,
    keyring_probe: Callable[[], KeyringStatus] = probe_keyring,
    probe_timeout: float | None = None,
) -> RecepcionApp:
    """The app for the config at `config_path`; raises ConfigError when it is invalid."""
    start_worker_server()  # before Textual takes over the standard streams
    engine = engine_factory(load_config_or_empty(config_path))
    services = Services(config_path, engine, clock=clock, keyring_probe=keyring_probe)
    if probe_timeout is not None:
        services.probe_timeout = probe_timeout
    if demo is not None:
        services.sources[demo.account_id] = demo.source_factory(LIVE_PAUSE)
        services.send_alert = demo.deliver_alert
        services.autostart = True
    return RecepcionApp(services)
