"""Run one processing pass and die with SIGKILL at a chosen checkpoint (for crash tests).

    python -m tests.support.crash_runner CONFIG POINT OCCURRENCE

Nothing is flushed or cleaned up: SIGKILL is what a power cut or the OOM killer does.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from tui_recepcion.config import load_config
from tui_recepcion.engine import pipeline
from tui_recepcion.engine.service import AccountProcessor, Engine

CRASH_BATCH_SIZE = 4  # several batches, so crashes land between and inside them


def main(config_path: str, point: str, occurrence: str) -> int:
    remaining = int(occurrence)

    def checkpoint(name: str) -> None:
        nonlocal remaining
        if name == point:
            remaining -= 1
            if remaining == 0:
                os.kill(os.getpid(), signal.SIGKILL)

    pipeline.BATCH_SIZE = CRASH_BATCH_SIZE
    config = load_config(Path(config_path))
    with Engine.open(config) as engine:
        AccountProcessor(engine, next(iter(config.accounts.values())), checkpoint=checkpoint).run_pass()
    return 3  # the checkpoint was never reached: the test asked for an impossible point


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
