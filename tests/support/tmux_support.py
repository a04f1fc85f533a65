"""A real terminal for TUI tests: tmux on a server of the test's own socket, so no other tmux
session (and nobody else's `tmux kill-server`) can touch it."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tmux_server(folder: Path) -> Iterator[list[str]]:
    """The tmux command line for a server on a socket in `folder`; the server ends with the block."""
    path = shutil.which("tmux")
    if path is None:
        pytest.fail("tmux no está instalado: scripts/test lo instala (apt-get install tmux)")
    command = [path, "-S", str(folder / "tmux.sock")]
    try:
        yield command
    finally:
        subprocess.run([*command, "kill-server"], capture_output=True)


def capture(tmux: list[str], session: str) -> str:
    """The pane's text as the terminal shows it now."""
    return subprocess.run([*tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True,
                          check=True).stdout


def wait_for_pane(tmux: list[str], session: str, condition: Callable[[str], object], *, deadline: float,
                  what: str) -> str:
    """Poll the pane until `condition(text)` holds; fail with the last picture after `deadline` s."""
    pane = ""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        pane = capture(tmux, session)
        if condition(pane):
            return pane
        time.sleep(0.1)  # polling the terminal for a real condition, with a deadline
    pytest.fail(f"no se cumplió a tiempo: {what}\n{pane}")


def send(tmux: list[str], session: str, *keys: str, literal: bool = False) -> None:
    subprocess.run([*tmux, "send-keys", "-t", session, *(["-l"] if literal else []), *keys], check=True)
