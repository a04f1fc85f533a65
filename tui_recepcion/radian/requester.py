"""Who asks for an event, as the sends log records it: the system user at this machine."""

from __future__ import annotations

import getpass
import os
import socket


def requester() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"
