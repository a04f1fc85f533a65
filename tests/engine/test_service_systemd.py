"""The service under systemd: readiness, watchdog pings, reload on SIGHUP, stop within 5 s.

The test plays systemd's part: it binds the notification socket, starts `procesar` with
`NOTIFY_SOCKET` and `WATCHDOG_USEC` as systemd would, and reads what the service reports.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.support.engine_support import sample_mailbox, write_account

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(tmp_path / "notify"))
        listener.settimeout(30)  # a bound on each wait, not a pause
        yield listener


def states_until(listener: socket.socket, wanted: str) -> list[str]:
    """Every state received until `wanted` arrives (socket.timeout if it never does)."""
    seen: list[str] = []
    while wanted not in seen:
        seen += listener.recv(4096).decode().split("\n")
    return seen


def test_ready_watchdog_reload_and_stop(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, notify_socket: socket.socket
) -> None:
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in sample_mailbox(good=3)])
    account = write_account(tmp_path, clean_dovecot, tls_certs)
    service = subprocess.Popen(
        [sys.executable, "-m", "tui_recepcion", "procesar", "--config", str(account.config_path)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "400000"},
    )
    try:
        assert "READY=1" in states_until(notify_socket, "READY=1")
        pings = 0
        while pings < 3:
            pings += states_until(notify_socket, "WATCHDOG=1").count("WATCHDOG=1")

        service.send_signal(signal.SIGHUP)
        reloaded = states_until(notify_socket, "RELOADING=1")
        assert "RELOADING=1" in reloaded
        assert "READY=1" in states_until(notify_socket, "READY=1")
        assert service.poll() is None  # a reload is not a stop

        service.send_signal(signal.SIGTERM)
        out, err = service.communicate(timeout=5)  # the promise: SIGTERM stops it within 5 s
    finally:
        if service.poll() is None:
            service.kill()
            service.communicate()
    assert service.returncode == 0, err
    assert "Traceback" not in out + err
    assert "configuración recargada: 1 cuenta(s)" in err
    assert "STOPPING=1" in states_until(notify_socket, "STOPPING=1")
