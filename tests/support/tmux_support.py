"""Reading and typing into a tmux pane by its text (the server: `tests/support/terminal.py`)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import pytest


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
