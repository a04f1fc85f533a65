"""The form in a real terminal (tmux, 80×24), with a person's keys: Ctrl+Q with unsaved
changes asks before anything is lost (issue 14, scenario 8)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.support.terminal import Terminal, tmux_server
from tests.ui.support import write_config


def test_ctrl_q_with_unsaved_changes_asks_and_descartar_quits_without_writing(tmp_path: Path) -> None:
    config = write_config(tmp_path)  # no account yet: the TUI opens on the form, focus on the name
    before = config.read_text(encoding="utf-8")
    command = f"{Path(sys.executable).parent / 'tui-recepcion'} --config {config}"
    with tmux_server(tmp_path) as tmux:
        terminal = Terminal(tmux, command)
        # The footer lists the form's keys once the form is mounted (and its focus set).
        terminal.wait_for_text("^t Probar")
        terminal.keys(*"sucursal")  # «principal» is selected on focus: typing replaces it
        terminal.wait_for_text("sucursal")
        terminal.keys("C-q")
        screen = terminal.wait_for_text("Cambios sin guardar")
        assert "Guardar" in screen and "Descartar" in screen and "Cancelar" in screen
        assert all(len(line) <= 80 for line in screen.splitlines())
        terminal.keys("Escape")  # as Cancelar: back to the form, nothing lost
        terminal.wait(lambda: "Cambios sin guardar" not in terminal.screen(), "cerrar la pregunta")
        assert terminal.alive() and "sucursal" in terminal.screen()
        terminal.keys("C-q")
        terminal.wait_for_text("Cambios sin guardar")
        terminal.keys("Tab", "Enter")  # from Guardar to Descartar
        terminal.wait(lambda: not terminal.alive(), "salir")
    assert config.read_text(encoding="utf-8") == before
