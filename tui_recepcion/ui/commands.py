"""The command palette (Ctrl+P) in Spanish: every screen and the main actions by name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tui_recepcion.ui.app import RecepcionApp


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    help: str
    run: Callable[[], object]


def app_commands(app: RecepcionApp) -> Iterator[Command]:
    def go(mode: str, action: str | None = None) -> Callable[[], object]:
        return lambda: app.run_in_mode(mode, action)

    yield Command("Ir al formulario de cuentas", "Crear o editar un buzón de recepción (F2)", go("formulario"))
    yield Command("Ir al tablero", "Procesamiento en vivo de cada cuenta (F3)", go("tablero"))
    yield Command("Ir a documentos", "Documentos electrónicos guardados: buscar, ver, exportar (F4)", go("documentos"))
    yield Command("Ir a mensajes", "Registro de correos procesados y fallidos, con su motivo (F5)", go("mensajes"))
    yield Command("Iniciar procesamiento", "Procesar la cuenta del tablero como servicio", go("tablero", "start"))
    yield Command("Detener procesamiento", "Detener el procesamiento de la cuenta del tablero",
                  go("tablero", "stop"))
    yield Command("Probar conexión", "Probar el inicio de sesión de la cuenta del formulario",
                  go("formulario", "test_connection"))
    yield Command("Guardar la cuenta", "Guardar la cuenta del formulario en config.toml", go("formulario", "save"))
    yield Command("Autorizar la cuenta (OAuth2)",
                  "Iniciar sesión con la cuenta del buzón del formulario y guardar su token (Ctrl+O)",
                  app.authorize_in_form)
    yield Command("Nueva cuenta", "Configurar otro buzón de recepción", go("formulario", "new_account"))
    yield Command("Exportar documentos a CSV", "Guardar los documentos filtrados en un archivo CSV",
                  go("documentos", "export"))
    yield Command("Reprocesar mensaje fallido", "Devolver a la bandeja el mensaje fallido seleccionado",
                  go("mensajes", "reprocess"))
    yield Command("Salir", "Cerrar tui-recepcion (Ctrl+Q)", app.action_quit)


class RecepcionCommands(Provider):
    @property
    def _commands(self) -> list[Command]:
        return list(app_commands(cast("RecepcionApp", self.app)))

    async def discover(self) -> Hits:
        for command in self._commands:
            yield DiscoveryHit(command.name, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands:
            score = matcher.match(command.name)
            if score > 0:
                yield Hit(score, matcher.highlight(command.name), command.run, help=command.help)
