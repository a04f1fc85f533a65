"""Worker processes die with the service and never see its secrets (docs/architecture.md, «Security»).

A real engine pass over a Maildir backlog large enough for worker processes runs in a
subprocess with a marker variable in its environment (as an `env:` password would be). At
chosen points of the pass the test records every descendant (resource tracker, fork server,
workers), checks that none was started with the marker, kills the main process with
SIGKILL, and requires every recorded descendant to be gone within a bound.

Linux only: the test reads /proc, and dying with the parent relies on prctl.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.support.engine_support import wait_for
from tui_recepcion.config import load_config, write_config
from tui_recepcion.demo import prepare_demo
from tui_recepcion.engine.prepare import POOL_THRESHOLD

REPO = Path(__file__).resolve().parents[2]
MARKER_VARIABLE = "SECRETO_DE_PRUEBA"
GOOD_MAILS = POOL_THRESHOLD + 20  # with the failing ones, a backlog that gets worker processes
START_DEADLINE = 90.0  # seconds for the runner to import, open the store and start its workers
GONE_DEADLINE = 10.0  # the bound within which every helper process must have died

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="lee /proc y usa prctl (Linux)")


@dataclass(frozen=True, slots=True)
class Proc:
    pid: int
    parent: int
    started: int  # clock ticks after boot: with the pid, tells a process from a later one reusing the pid
    command: str


def stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a live process, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[19])


def children(pid: int) -> list[int]:
    found: list[int] = []
    for tasks in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in tasks.read_text().split()]
        except OSError:  # the thread ended meanwhile
            pass
    return found


def descendants(root: int) -> list[Proc]:
    found: list[Proc] = []
    pending = [root]
    while pending:
        parent = pending.pop()
        for child in children(parent):
            info = stat(child)
            if info is None:
                continue
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            found.append(Proc(child, info[1], info[2], command))
            pending.append(child)
    return found


def alive(proc: Proc) -> bool:
    info = stat(proc.pid)
    # A zombie has released its memory and environment; only its exit status waits to be read.
    return info is not None and info[0] != "Z" and info[2] == proc.started


def environment_of(pid: int) -> bytes:
    return Path(f"/proc/{pid}/environ").read_bytes()


def workers_of(main: int, tree: list[Proc]) -> list[Proc]:
    """The fork server's children: the descendants whose parent is not the main process."""
    return [proc for proc in tree if proc.parent != main]


def handled(folder: Path) -> int:
    """Messages the pass has disposed of so far (moved out of the inbox)."""
    return sum(
        1 for sub in (".Procesados", ".Fallidos") for entry in (folder / "Maildir" / sub / "cur").iterdir()
        if entry.is_file()
    ) if (folder / "Maildir" / ".Fallidos" / "cur").exists() else 0


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    demo = prepare_demo(tmp_path_factory.mktemp("demo"), good=GOOD_MAILS, failing_each=1)
    return demo.folder


@pytest.mark.parametrize("mode", ["procesar", "hilo"])
@pytest.mark.parametrize("moment", [0.0, 0.3, 0.7], ids=["al-iniciar", "a-un-tercio", "casi-al-final"])
def test_helper_processes_die_with_the_service_and_hold_no_secret(
    tmp_path: Path, demo_folder: Path, mode: str, moment: float
) -> None:
    folder = tmp_path / "pasada"
    shutil.copytree(demo_folder / "Maildir", folder / "Maildir")
    config = load_config(demo_folder / "config.toml")  # its own database and documents, empty
    general = replace(config.general, database=folder / "recepcion.db", documents_dir=folder / "documentos")
    write_config(replace(config, path=folder / "config.toml", general=general), folder / "config.toml")
    total = sum(1 for _ in (folder / "Maildir" / "new").iterdir())
    assert total >= POOL_THRESHOLD
    (tmp_path / "tmp").mkdir()
    marker = f"{uuid.uuid4()}".encode()
    environment = dict(os.environ, **{MARKER_VARIABLE: marker.decode()}, TMPDIR=str(tmp_path / "tmp"))
    with (tmp_path / "salida.txt").open("wb") as output:
        runner = subprocess.Popen(
            [sys.executable, "-m", "tests.support.worker_runner", str(folder), mode],
            cwd=REPO, env=environment, stdout=output, stderr=subprocess.STDOUT,
        )
    tree: list[Proc] = []
    try:
        wait_for(lambda: bool(workers_of(runner.pid, descendants(runner.pid))), START_DEADLINE, runner,
                 "tener procesos de extracción")
        wait_for(lambda: handled(folder) >= moment * total, START_DEADLINE, runner, f"{moment:.0%} de la pasada")
        tree = descendants(runner.pid)
        workers = workers_of(runner.pid, tree)
        assert workers, "the pass had no worker process left at the kill point"
        assert len(tree) > len(workers)  # the fork server (and the resource tracker) too
        assert marker in environment_of(runner.pid)  # the check below can fail
        assert [proc.command for proc in tree if marker in environment_of(proc.pid)] == []

        runner.kill()
        assert runner.wait(timeout=GONE_DEADLINE) == -signal.SIGKILL
        assert handled(folder) < total  # killed mid-pass, not after it

        end = time.monotonic() + GONE_DEADLINE
        while any(alive(proc) for proc in tree) and time.monotonic() < end:
            time.sleep(0.05)
        survivors = [proc.command for proc in tree if alive(proc)]
        assert survivors == [], f"sobreviven {len(survivors)} de {len(tree)} procesos auxiliares"
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        for proc in tree + descendants(runner.pid):
            if alive(proc):  # a failed run must not leave processes behind on a shared machine
                os.kill(proc.pid, signal.SIGKILL)
