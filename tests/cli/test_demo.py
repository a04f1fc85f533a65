"""`tui-recepcion demo`: headless summary, and the live dashboard in a real terminal (tmux)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.terminal import tmux_server
from tui_recepcion.cli import main

DEADLINE = 60.0


def test_demo_without_tui_prints_processed_failed_and_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--sin-tui", "--correos", "20"]) == 0
    out = capsys.readouterr().out
    assert "Procesados: 20" in out
    assert "Fallidos: 30" in out  # three of each of the ten failure reasons
    assert re.search(r"^\s+receptor_no_coincide\s+3\s+El documento está dirigido", out, re.MULTILINE)
    assert "Documentos guardados: 20 (" in out
    assert "Alertas de vencimiento de la contraseña enviadas a tecnico@miradorandes.co: 1" in out


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[list[str]]:
    """tmux on a server of the test's own (`-S`): nobody else's sessions, and nobody else's
    `tmux kill-server`, can touch it."""
    with tmux_server(tmp_path) as command:
        yield command


def test_demo_shows_the_dashboard_processing_at_80x24(tmux: list[str]) -> None:
    session = f"demo-{uuid.uuid4().hex[:8]}"
    # Exactly the README's demo: its default mailbox is large enough to use worker processes.
    command = f"{Path(sys.executable).parent / 'tui-recepcion'} demo"
    subprocess.run([*tmux, "new-session", "-d", "-x", "80", "-y", "24", "-s", session, command], check=True)
    try:
        pane = ""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            pane = subprocess.run([*tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True,
                                  check=True).stdout
            counters = re.search(r"Procesados (\d+)\s+En Fallidos (\d+) \(historial \d+\)\s+Pendientes (\d+)", pane)
            finished = counters and int(counters[1]) > 0 and int(counters[2]) > 0 and int(counters[3]) == 0
            # The expiry banner: the demo's alert goes to its outbox once the pass ends.
            if finished and "alerta enviada" in pane:
                break
            time.sleep(0.2)  # polling the terminal for a real condition, with a deadline
        else:
            pytest.fail(f"el tablero no mostró contadores a tiempo:\n{pane}")
        assert "Tablero" in pane and "F2 Cuentas" in pane
        assert "Estado:" in pane and "Pendientes" in pane
        assert all(len(line) <= 80 for line in pane.splitlines())
        subprocess.run([*tmux, "send-keys", "-t", session, "C-q"], check=True)
    finally:
        subprocess.run([*tmux, "kill-session", "-t", session], capture_output=True)
