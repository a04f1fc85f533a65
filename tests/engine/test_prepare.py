"""Preparing outcomes inline and in worker processes gives the same results; workers are bound
to the service's life and keep no secrets (the end-to-end proof: test_worker_lifetime)."""

from __future__ import annotations

import ctypes
import multiprocessing.forkserver
import os
import signal
import sys
from pathlib import Path

import pytest

from tui_recepcion.demo.samples import SampleFactory
from tui_recepcion.engine.pipeline import PREPARE_CHUNK
from tui_recepcion.engine.prepare import (
    MIN_TASK_MESSAGES,
    POOL_THRESHOLD,
    Preparer,
    PrepareSettings,
    helper_environment,
    task_size,
)


def items() -> list[tuple[str, bytes]]:
    mails = SampleFactory(seed=21, pdf_size=2_000).mailbox(good=6, failing_each=1)
    return [(f"k{index}", mail.raw) for index, mail in enumerate(mails)]


def summary(outcomes) -> list[tuple]:
    return [
        (o.source_key, o.raw_sha256, o.extraction.cufes, o.extraction.failure,
         {cufe: sorted(kinds) for cufe, kinds in (o.saved_files or {}).items()})
        for o in outcomes
    ]


def test_worker_processes_give_the_inline_results(tmp_path: Path) -> None:
    batch = items()
    with Preparer(PrepareSettings("a", None, tmp_path / "inline")) as inline:
        expected = inline.start(batch)()
    with Preparer(PrepareSettings("a", None, tmp_path / "pool"), workers=2) as pool:
        got = pool.start(batch)()
    assert summary(got) == summary(expected)
    assert all(outcome.extraction.files == {} for outcome in got)  # file bytes stay in the worker
    written = sorted(p.relative_to(tmp_path / "pool") for p in (tmp_path / "pool").rglob("*") if p.is_file())
    assert written == sorted(p.relative_to(tmp_path / "inline") for p in (tmp_path / "inline").rglob("*") if p.is_file())
    assert written  # the good documents' XML and PDF


def test_a_dead_worker_does_not_fail_the_pass(tmp_path: Path) -> None:
    batch = items()
    with Preparer(PrepareSettings("a", None, tmp_path), workers=2) as preparer:
        preparer.start(batch[:2])()  # start the workers
        for pid in list(preparer._pool._processes):  # type: ignore[union-attr]
            os.kill(pid, signal.SIGKILL)
        outcomes = preparer.start(batch)()
    assert [outcome.source_key for outcome in outcomes] == [key for key, _raw in batch]


def test_small_passes_stay_inline() -> None:
    assert Preparer.workers_for(POOL_THRESHOLD - 1) == 1
    assert Preparer.workers_for(POOL_THRESHOLD) >= 1


def test_a_streamed_chunk_goes_to_one_worker_task_and_a_backlog_is_balanced() -> None:
    # A task commits its files in two flushes: the chunks a pass streams in are not split.
    assert PREPARE_CHUNK <= MIN_TASK_MESSAGES
    assert task_size(PREPARE_CHUNK, 2) == MIN_TASK_MESSAGES
    assert task_size(PREPARE_CHUNK, 4) == MIN_TASK_MESSAGES
    # A long list still goes as two tasks per worker.
    assert task_size(2_000, 2) == 500
    assert task_size(2_001, 4) == 251


def test_helper_processes_keep_only_what_python_needs() -> None:
    environ = {
        "PATH": "/usr/bin", "HOME": "/root", "LANG": "es_CO.UTF-8", "LC_ALL": "es_CO.UTF-8", "TZ": "America/Bogota",
        "TMPDIR": "/tmp/x", "VIRTUAL_ENV": "/opt/venv", "PYTHONPATH": "/src",
        "CLAVE_BUZON": "secreto", "TUI_RECEPCION_CONFIG": "/etc/c.toml", "PYTHONSTARTUP": "/x.py", "AWS_SECRET_ACCESS_KEY": "k",
    }
    assert helper_environment(environ) == {
        name: environ[name] for name in ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH")
    }


def parent_death_binding() -> tuple[int, int | None]:
    """Run in a worker: the signal the kernel sends it when its parent dies, and whether it
    still holds the fork server's "alive" pipe."""
    signal_number = ctypes.c_int(0)
    ctypes.CDLL(None, use_errno=True).prctl(2, ctypes.byref(signal_number), 0, 0, 0)  # PR_GET_PDEATHSIG
    return signal_number.value, multiprocessing.forkserver._forkserver._forkserver_alive_fd


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl es de Linux")
def test_workers_are_bound_to_the_fork_server(tmp_path: Path) -> None:
    with Preparer(PrepareSettings("a", None, tmp_path), workers=2) as preparer:
        binding = preparer._pool.submit(parent_death_binding).result()  # type: ignore[union-attr]
    assert binding == (signal.SIGKILL, None)
