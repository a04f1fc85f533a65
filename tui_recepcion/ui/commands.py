"""The command palette (Ctrl+P) in Spanish: every screen, and every action a key does, by name.

The named commands below say what they do in a technician's words. Any key of a screen that
has no named command here still gets one, named after the screen and the key's description,
so a key added to a screen is never missing from the palette (tests/ui/test_commands.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui_recepcion.ui.screen import RecepcionScreen

if TYPE_CHECKING:
    from tui_recepcion.ui.app import RecepcionApp

# The palette itself and the keys that only move around inside a screen are not commands.
NOT_COMMANDS = frozenset({"command_palette", "previous_account", "next_account"})
HERE = ""  # the mode of a command that acts on the screen showing, whatever it is


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    help: str
    mode: str | None  # the screen it runs on (HERE: the current one; None: the app itself)
    action: str


NAMED: tuple[Command, ...] = (
    Command("Ir al formulario de cuentas", "Crear o editar un buzón de recepción (F2)", None, "go('formulario')"),
    Command("Ir al tablero", "Procesamiento en vivo de cada cuenta (F3)", None, "go('tablero')"),
    Command("Ir a documentos", "Documentos electrónicos guardados: buscar, ver, exportar (F4)", None,
            "go('documentos')"),
    Command("Ir a mensajes", "Registro de correos procesados y fallidos, con su motivo (F5)", None, "go('mensajes')"),
    Command("Ayuda", "La ayuda de la pantalla o del campo donde está (F1)", HERE, "field_help"),
    Command("Iniciar procesamiento", "Procesar la cuenta del tablero como servicio (I)", "tablero", "start"),
    Command("Detener procesamiento", "Detener el procesamiento de la cuenta del tablero (D)", "tablero", "stop"),
    Command("Probar conexión", "Probar el inicio de sesión de la cuenta del formulario (Ctrl+T)", "formulario",
            "test_connection"),
    Command("Guardar la cuenta", "Guardar la cuenta del formulario en config.toml (Ctrl+S)", "formulario", "save"),
    Command("Autorizar la cuenta (OAuth2)",
            "Iniciar sesión con la cuenta del buzón del formulario y guardar su token (Ctrl+O)", "formulario",
            "authorize"),
    Command("Guía del proveedor", "Cómo preparar el buzón y qué escribir en cada campo (Ctrl+G)", "formulario",
            "toggle_guidance"),
    Command("Nueva cuenta", "Configurar otro buzón de recepción", "formulario", "new_account"),
    Command("Buscar una cuenta en el formulario", "Elegir la cuenta que se edita por nombre, usuario o NIT (Ctrl+F)",
            "formulario", "pick_account"),
    Command("Buscar una cuenta en el tablero", "Mostrar otra cuenta, buscada por nombre, usuario o NIT (Ctrl+F)",
            "tablero", "pick_account"),
    Command("Exportar documentos a Excel", "Guardar los documentos filtrados en un archivo .xlsx (Ctrl+E)",
            "documentos", "export"),
    Command("Actualizar documentos", "Volver a consultar los documentos guardados (Ctrl+R)", "documentos", "refresh"),
    Command("Reprocesar mensaje fallido", "Devolver a la bandeja el mensaje fallido seleccionado (R)", "mensajes",
            "reprocess"),
    Command("Actualizar mensajes", "Volver a consultar el registro de correos (A)", "mensajes", "refresh"),
    Command("Salir", "Cerrar tui-recepcion (Ctrl+Q)", None, "quit"),
)


def key_actions(app: RecepcionApp) -> Iterator[tuple[str | None, str, Binding, str]]:
    """(mode, action, binding, screen title) for every key of the app and of each screen.

    Only our own BINDINGS: Textual's (Tab «Focus Next»…) move the focus, they are no commands.
    """
    for binding in Binding.make_bindings(type(app).BINDINGS):
        yield None, binding.action, binding, app.TITLE
    for binding in Binding.make_bindings(RecepcionScreen.BINDINGS):
        yield HERE, binding.action, binding, app.TITLE
    for mode, screen_class in app.SCREENS_BY_MODE.items():
        for binding in Binding.make_bindings(screen_class.BINDINGS):
            yield mode, binding.action, binding, screen_class.TITLE or mode


def app_commands(app: RecepcionApp) -> list[Command]:
    """The named commands, then one for every other key of the app or a screen."""
    commands = list(NAMED)
    covered = {(command.mode, command.action) for command in commands}
    for mode, action, binding, title in key_actions(app):
        if action in NOT_COMMANDS or (mode, action) in covered or not binding.description:
            continue
        covered.add((mode, action))
        commands.append(Command(f"{title}: {binding.description}", f"Tecla {binding.key}", mode, action))
    return commands


def runner(app: RecepcionApp, command: Command) -> Callable[[], object]:
    if command.mode is None:
        return lambda: app.run_action(command.action)
    if command.mode == HERE:
        return lambda: app.screen.run_action(command.action)
    mode = command.mode
    return lambda: app.run_in_mode(mode, command.action)


class RecepcionCommands(Provider):
    @property
    def _commands(self) -> list[Command]:
        return app_commands(cast("RecepcionApp", self.app))

    async def discover(self) -> Hits:
        app = cast("RecepcionApp", self.app)
        for command in self._commands:
            yield DiscoveryHit(command.name, runner(app, command), help=command.help)

    async def search(self, query: str) -> Hits:
        app = cast("RecepcionApp", self.app)
        matcher = self.matcher(query)
        for command in self._commands:
            score = max(matcher.match(command.name), matcher.match(command.help) * 0.5)
            if score > 0:
                yield Hit(score, matcher.highlight(command.name), runner(app, command), help=command.help)
