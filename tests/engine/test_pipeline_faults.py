"""The pipeline contains faults: unforeseen exceptions, stalls past the pass bound, messages
the server will not deliver, mail too large to process and forwards refused for good.

A scripted source stands in for the server here (the real protocols are faulted through a
TCP proxy in the integration suites); the store is the real one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory
from tui_recepcion.engine.pipeline import MAX_ATTEMPTS, Pipeline
from tui_recepcion.errors import ConnectionProblem, InternalFault
from tui_recepcion.events import Event, MessageHandled, MessageKept
from tui_recepcion.mailbox.source import KEPT, Decision, Disposal, Unreadable
from tui_recepcion.store import MessageFilter, Store

ACCOUNT = "guiada"


class ScriptedSource:
    """An in-memory mailbox whose faults a test chooses."""

    name = "guion"
    reads_one_at_a_time = True
    key_prefix = ""

    def __init__(self, raws: dict[str, bytes], *, pop3: bool = False) -> None:
        self.raws = dict(raws)
        self.pop3 = pop3
        self.disposal_commits_at_finish = pop3
        self.keeps_unreadable = pop3
        self.refuse: set[str] = set()  # fetch answers "no" for these
        self.refuse_forward: set[str] = set()  # the relay refuses these for good
        self.sizes: dict[str, int] = {}
        self.fetch_error: Exception | None = None
        self.block = threading.Event()  # set: fetch blocks until interrupted
        self.blocked = threading.Event()
        self._interrupted = threading.Event()
        self.disposed: dict[str, str] = {}
        self.fetched: list[str] = []
        self.aborted = 0

    def open(self, deadline: float | None = None) -> None:
        self._interrupted.clear()

    def list_keys(self) -> list[str]:
        return sorted(key for key in self.raws if key not in self.disposed)

    def size(self, key: str) -> int | None:
        return self.sizes.get(key, len(self.raws[key]))

    def fetch(self, keys: Sequence[str]) -> Iterator[tuple[str, bytes | Unreadable]]:
        for key in keys:
            if self.block.is_set():
                self.blocked.set()
                self._interrupted.wait(30)
                raise ConnectionProblem("conexion_perdida", "conexión cortada", transient=True)
            if self.fetch_error is not None:
                raise self.fetch_error
            self.fetched.append(key)
            yield key, Unreadable("NO [SERVERBUG] no se puede leer") if key in self.refuse else self.raws[key]

    def destination(self, status: str) -> str:
        return "respaldo" if self.pop3 else ("Procesados" if status == "procesado" else "Fallidos")

    def dispose(self, decisions: Sequence[Decision], on_forwarded: Callable[[str], None]) -> Disposal:
        disposal = Disposal(done=[])
        for decision in decisions:
            if self.pop3 and not decision.forwarded:
                if decision.key in self.refuse_forward:
                    disposal.refused[decision.key] = "El servidor SMTP rechazó el envío: 552 demasiado grande"
                    continue
                on_forwarded(decision.key)
            self.disposed[decision.key] = decision.destination
            disposal.done.append(decision.key)
        return disposal

    def finish(self) -> None:
        return None

    def abort(self) -> None:
        self.aborted += 1

    def interrupt(self) -> None:
        self._interrupted.set()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "recepcion.db", tmp_path / "documentos") as opened:
        yield opened


@pytest.fixture(scope="module")
def raws() -> dict[str, bytes]:
    mails = SampleFactory(seed=31, pdf_size=1_000).mailbox(good=6, failing_each=0)
    return {f"k{index:02d}": mail.raw for index, mail in enumerate(mails)}


def pipeline(source: ScriptedSource, store: Store, events: list[Event] | None = None, **options) -> Pipeline:
    return Pipeline(ACCOUNT, source, store, receiver_nit=DEFAULT_RECEIVER.nit, batch_size=3,
                    emit=events.append if events is not None else (lambda event: None), **options)


def ledger(store: Store) -> dict[str, tuple[str, str | None, str | None]]:
    return {entry.source_key: (entry.status, entry.reason, entry.destination)
            for entry in store.messages(MessageFilter(account=ACCOUNT))}


def test_an_unforeseen_exception_leaves_the_pass_as_an_internal_fault(
    store: Store, raws, caplog: pytest.LogCaptureFixture
) -> None:
    source = ScriptedSource(raws)
    source.fetch_error = KeyError("parser state")
    with caplog.at_level(logging.DEBUG, logger="tui_recepcion.engine.pipeline"), pytest.raises(InternalFault) as raised:
        pipeline(source, store).run_pass()
    assert raised.value.transient
    # The technician reads where it happened; the exception's type and text go to the DEBUG log.
    assert "KeyError" not in str(raised.value) and "parser state" not in str(raised.value)
    assert "«guiada»" in str(raised.value)
    assert any(record.exc_info and record.exc_info[0] is KeyError for record in caplog.records)
    assert source.aborted == 1
    assert source.disposed == {}  # nothing moved that was not recorded


def test_a_pass_past_its_bound_is_cut_off_as_a_transient_timeout(store: Store, raws) -> None:
    source = ScriptedSource(raws)
    source.block.set()
    with pytest.raises(ConnectionProblem) as raised:
        pipeline(source, store, deadline_seconds=0.3).run_pass()
    assert raised.value.code == "tiempo_agotado" and raised.value.transient
    assert "0,3 s" in str(raised.value)


def test_interrupting_a_cancelled_pass_ends_it_quietly(store: Store, raws) -> None:
    source = ScriptedSource(raws)
    source.block.set()
    cancel = threading.Event()
    runner = pipeline(source, store, cancel=cancel)
    results = []
    thread = threading.Thread(target=lambda: results.append(runner.run_pass()))
    thread.start()
    assert source.blocked.wait(10)
    cancel.set()
    runner.interrupt()
    thread.join(10)
    assert not thread.is_alive()
    assert results[0].cancelled and results[0].remaining == len(raws)


def test_a_message_the_server_will_not_deliver_is_isolated_and_never_blocks_the_others(
    store: Store, raws
) -> None:
    source = ScriptedSource(raws)
    poison = sorted(raws)[1]
    source.refuse.add(poison)
    events: list[Event] = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result = pipeline(source, store, events).run_pass()
        if attempt == 1:  # every other message is processed in the first pass
            assert set(source.disposed) == set(raws) - {poison}
        if attempt < MAX_ATTEMPTS:
            assert poison not in source.disposed and result.remaining == 1
    assert source.disposed[poison] == "Fallidos"
    assert ledger(store)[poison] == ("fallido", "no_se_pudo_leer", "Fallidos")
    assert source.fetched.count(poison) == MAX_ATTEMPTS
    handled = [event for event in events if isinstance(event, MessageHandled) and event.source_key == poison]
    assert [event.reason for event in handled] == ["no_se_pudo_leer"]


def test_mail_over_the_size_bound_is_isolated_without_being_fetched(store: Store, raws) -> None:
    source = ScriptedSource(raws)
    huge = sorted(raws)[0]
    source.sizes[huge] = 41 * 1024 * 1024
    pipeline(source, store).run_pass()
    assert huge not in source.fetched
    assert ledger(store)[huge] == ("fallido", "mensaje_demasiado_grande", "Fallidos")
    assert set(source.disposed) == set(raws)


def test_a_forward_refused_for_good_keeps_the_message_and_later_passes_skip_it(store: Store, raws) -> None:
    source = ScriptedSource(raws, pop3=True)
    refused = sorted(raws)[2]
    source.refuse_forward.add(refused)
    events: list[Event] = []
    first = pipeline(source, store, events).run_pass()
    assert set(source.disposed) == set(raws) - {refused}
    assert first.remaining == 1
    status, reason, destination = ledger(store)[refused]
    assert (status, reason) == ("fallido", "reenvio_rechazado")
    assert destination in (None, KEPT)
    assert [event.source_key for event in events if isinstance(event, MessageKept)] == [refused]

    source.fetched.clear()
    again = pipeline(source, store).run_pass()
    assert source.fetched == [] and refused not in source.disposed  # skipped, not retried
    assert again.remaining == 1


def test_a_message_refused_on_pop3_stays_on_the_server(store: Store, raws) -> None:
    source = ScriptedSource(raws, pop3=True)
    poison = sorted(raws)[0]
    source.refuse.add(poison)
    for _ in range(MAX_ATTEMPTS):
        pipeline(source, store).run_pass()
    assert poison not in source.disposed
    assert ledger(store)[poison] == ("fallido", "no_se_pudo_leer", KEPT)
    source.fetched.clear()
    pipeline(source, store).run_pass()
    assert poison not in source.fetched
