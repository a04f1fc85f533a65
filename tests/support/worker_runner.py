"""Run one engine pass over a demo folder's Maildir, for the worker lifetime tests.

    python -m tests.support.worker_runner FOLDER MODE

MODE `procesar`: the fork server is started first, from the main thread, as
`tui-recepcion procesar` does; then the pass runs. MODE `hilo`: the pass runs in another
thread and its worker pool starts the fork server itself, as a pass from the TUI would if
nothing had started it. The source hands out messages with the demo's live pacing, so the
pass lasts a few seconds and the test can kill it at chosen points of its progress.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from tui_recepcion.config import load_config
from tui_recepcion.demo import DEMO_ACCOUNT, LIVE_PAUSE, Demo
from tui_recepcion.engine.prepare import start_worker_server
from tui_recepcion.engine.service import AccountProcessor, Engine


def run_pass(folder: Path) -> None:
    demo = Demo(folder, folder / "config.toml", folder / "Maildir", 0)
    config = load_config(demo.config_path)
    with Engine.open(config) as engine:
        account = config.account(DEMO_ACCOUNT)
        AccountProcessor(engine, account, source_factory=demo.source_factory(LIVE_PAUSE)).run_pass()


def main(folder: str, mode: str) -> int:
    if mode == "procesar":
        start_worker_server()
        run_pass(Path(folder))
    elif mode == "hilo":
        thread = threading.Thread(target=run_pass, args=(Path(folder),), name="pasada")
        thread.start()
        thread.join()
    else:
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
