"""`--config RUTA` is accepted before or after every subcommand (the README promises it)."""

from __future__ import annotations

import argparse

import pytest

from tui_recepcion.cli import build_parser, commands_of


def command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every runnable command as the words that name it: ("probar",), ("almacen", "estado")…"""
    paths: list[tuple[str, ...]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                nested = command_paths(command, (*prefix, name))
                paths.extend(nested or [(*prefix, name)])
    return paths


def command_parser(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> argparse.ArgumentParser:
    for name in path:
        [action] = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
        parser = action.choices[name]
    return parser


CANDIDATES = ("01", "030", "a" * 96, "2025-01-01", "archivo.xml")


def acceptable_value(action: argparse.Action) -> str:
    """A value the argument's own type accepts (a CUFE, a date, an event code…)."""
    for candidate in CANDIDATES:
        try:
            if action.type is not None:
                action.type(candidate)  # type: ignore[operator]
            return candidate
        except (argparse.ArgumentTypeError, ValueError, TypeError):
            continue
    raise AssertionError(f"ningún valor de prueba sirve para {action.dest}")


def required_values(parser: argparse.ArgumentParser) -> list[str]:
    """A value for each positional argument and each required option, so the command line is complete."""
    values: list[str] = []
    # One option of each required group («--cufe | --pendientes»).
    chosen = {group._group_actions[0] for group in parser._mutually_exclusive_groups if group.required}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        value = str(next(iter(action.choices))) if action.choices else acceptable_value(action)
        if not action.option_strings:
            values.append(value)
        elif action.required or action in chosen:
            values += [action.option_strings[0], *([value] if action.nargs != 0 else [])]
    return values


PARSER = build_parser()
PATHS = command_paths(PARSER)


def test_every_command_is_covered() -> None:
    # The list below is the one the parser builds: a new command is tested without editing this file.
    assert {path[0] for path in PATHS} >= {"demo", "validar", "probar", "procesar", "alertas", "autorizar",
                                           "proveedores", "importar", "documentos", "mensajes"}
    assert len(commands_of(PARSER)) >= len(PATHS)


@pytest.mark.parametrize("path", PATHS, ids=" ".join)
def test_config_before_or_after_the_command(path: tuple[str, ...]) -> None:
    rest = required_values(command_parser(PARSER, path))
    after = PARSER.parse_args([*path, *rest, "--config", "/ruta/despues.toml"])
    before = PARSER.parse_args(["--config", "/ruta/antes.toml", *path, *rest])
    neither = PARSER.parse_args([*path, *rest])
    assert after.config == "/ruta/despues.toml"
    assert before.config == "/ruta/antes.toml"
    assert neither.config is None
