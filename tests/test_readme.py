"""The README stays true to the code: reason codes, commands and the quick start."""

from __future__ import annotations

import re
from pathlib import Path

from tui_recepcion import cli
from tui_recepcion.dian import REASONS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_failure_reason_is_documented() -> None:
    for code, description in REASONS.items():
        assert f"| `{code}` | {description} |" in README


def test_every_command_is_documented() -> None:
    subparsers = next(action for action in cli.build_parser()._actions if action.dest == "command")
    for name in subparsers.choices:
        assert f"`tui-recepcion {name}" in README, name


def test_quick_start_has_exactly_two_commands() -> None:
    section = README.split("## Inicio rápido", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    commands = [line for line in block.group(1).splitlines() if line.strip()]
    assert [command.split()[0] for command in commands] == ["./scripts/demo", "./scripts/test"]
