"""systemd's notification protocol (sd_notify): readiness, watchdog pings, stopping.

A datagram to the socket named by `$NOTIFY_SOCKET` (a path, or `@name` for the abstract
namespace). Eight lines of the protocol do not justify a dependency. Outside systemd (no
variable) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def notify(state: str) -> bool:
    """Send `state` (e.g. "READY=1", "WATCHDOG=1"); True if systemd is listening."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as error:
        log.warning("no se pudo avisar a systemd (%s): %s", state.split("=", 1)[0], error)
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between watchdog pings (half of `WatchdogSec=`), or None without a watchdog."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1_000_000 / 2
