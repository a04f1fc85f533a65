"""Preparing outcomes inline and in worker processes gives the same results."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tui_recepcion.dian.samples import SampleFactory
from tui_recepcion.mail.prepare import POOL_THRESHOLD, Preparer, PrepareSettings


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
        expected = inline.map(batch)
    with Preparer(PrepareSettings("a", None, tmp_path / "pool"), workers=2) as pool:
        got = pool.map(batch)
    assert summary(got) == summary(expected)
    assert all(outcome.extraction.files == {} for outcome in got)  # file bytes stay in the worker
    written = sorted(p.relative_to(tmp_path / "pool") for p in (tmp_path / "pool").rglob("*") if p.is_file())
    assert written == sorted(p.relative_to(tmp_path / "inline") for p in (tmp_path / "inline").rglob("*") if p.is_file())
    assert written  # the good documents' XML and PDF


def test_a_dead_worker_does_not_fail_the_pass(tmp_path: Path) -> None:
    batch = items()
    with Preparer(PrepareSettings("a", None, tmp_path), workers=2) as preparer:
        preparer.map(batch[:2])  # start the workers
        for pid in list(preparer._pool._processes):  # type: ignore[union-attr]
            os.kill(pid, signal.SIGKILL)
        outcomes = preparer.map(batch)
    assert [outcome.source_key for outcome in outcomes] == [key for key, _raw in batch]


def test_small_passes_stay_inline() -> None:
    assert Preparer.workers_for(POOL_THRESHOLD - 1) == 1
    assert Preparer.workers_for(POOL_THRESHOLD) >= 1
