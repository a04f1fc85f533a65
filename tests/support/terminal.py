"""A real terminal for end-to-end tests: tmux on a server of the test's own (`-S`), so nobody
else's sessions, and nobody else's `tmux kill-server`, can touch it."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tmux_server(folder: Path) -> Iterator[list[str]]:
    """The `tmux -S SOCKET` command prefix; the server is killed at the end."""
    path = shutil.which("tmux")
    if path is None:
        pytest.fail("tmux no está instalado: scripts/test lo instala (apt-get install tmux)")
    command = [path, "-S", str(folder / "tmux.sock")]
    try:
        yield command
    finally:
        subprocess.run([*command, "kill-server"], capture_output=True)


class Terminal:
    """One 80×24 session running `command`; keys in, screen text out."""

    def __init__(self, tmux: list[str], command: str, *, size: tuple[int, int] = (80, 24)) -> None:
        self.tmux = tmux
        self.session = f"e2e-{uuid.uuid4().hex[:8]}"
        subprocess.run([*tmux, "new-session", "-d", "-x", str(size[0]), "-y", str(size[1]), "-s", self.session,
                        command], check=True)

    def alive(self) -> bool:
        return subprocess.run([*self.tmux, "has-session", "-t", self.session], capture_output=True).returncode == 0

    def screen(self) -> str:
        result = subprocess.run([*self.tmux, "capture-pane", "-p", "-t", self.session], capture_output=True,
                                text=True)
        return result.stdout if result.returncode == 0 else ""

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", self.session, *keys], check=True)

    def wait(self, condition: Callable[[], bool], what: str, deadline: float = 60.0) -> None:
        end = time.monotonic() + deadline
        while not condition():
            if time.monotonic() > end:
                pytest.fail(f"no se cumplió a tiempo: {what}\n{self.screen()}")
            time.sleep(0.2)  # polling the terminal for a real condition, with a deadline

    def wait_for_text(self, text: str, deadline: float = 60.0) -> str:
        self.wait(lambda: text in self.screen(), f"ver «{text}» en la pantalla", deadline)
        return self.screen()
