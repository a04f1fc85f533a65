"""The pipeline over a local Maildir: outcomes, disposal, events and convergence after a crash."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory, SampleMail
from tui_recepcion.engine.pipeline import Pipeline
from tui_recepcion.engine.prepare import Preparer
from tui_recepcion.events import Event, MessageHandled, PassFinished, PassStarted, event_from_payload
from tui_recepcion.mailbox.maildir import MaildirSource
from tui_recepcion.store import MessageFilter, Store

ACCOUNT = "local"


class Crash(BaseException):
    """Stands in for the process dying at a checkpoint (BaseException: nothing may catch it)."""


def deliver(path: Path, mails: list[SampleMail]) -> None:
    box = mailbox.Maildir(path, create=True)
    for mail in mails:
        box.add(mailbox.MaildirMessage(mail.raw))


def files_in(path: Path) -> int:
    return sum(1 for sub in ("new", "cur") for entry in (path / sub).iterdir() if entry.is_file()) if path.exists() else 0


@pytest.fixture(scope="module")
def mails() -> list[SampleMail]:
    return SampleFactory(seed=11).mailbox(good=12, failing_each=1)


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "recepcion.db", tmp_path / "documentos") as opened:
        yield opened


def make_pipeline(path: Path, store: Store, events: list[Event] | None = None, **options) -> Pipeline:
    return Pipeline(
        ACCOUNT,
        MaildirSource(path),
        store,
        receiver_nit=DEFAULT_RECEIVER.nit,
        emit=(events.append if events is not None else lambda event: None),
        batch_size=5,
        **options,
    )


@pytest.mark.parametrize("workers", [1, 2], ids=["en-linea", "procesos"])
def test_every_message_ends_in_its_folder_with_its_outcome(
    tmp_path: Path, store: Store, mails: list[SampleMail], workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With workers, batches are queued for the pool by the reader thread while earlier ones
    # are recorded and disposed of: the outcome must be the same as inline.
    requested: list[int] = []
    monkeypatch.setattr(Preparer, "workers_for", staticmethod(lambda pending: requested.append(workers) or workers))
    inbox = tmp_path / "Maildir"
    deliver(inbox, mails)
    events: list[Event] = []
    result = make_pipeline(inbox, store, events).run_pass()

    good = [mail for mail in mails if mail.expected_reason is None]
    bad = [mail for mail in mails if mail.expected_reason is not None]
    assert (result.processed, result.failed, result.remaining) == (len(good), len(bad), 0)
    assert files_in(inbox) == 0
    assert files_in(inbox / ".Procesados") == len(good)
    assert files_in(inbox / ".Fallidos") == len(bad)

    ledger = store.messages(MessageFilter(account=ACCOUNT))
    assert sorted(entry.reason for entry in ledger if entry.status == "fallido") == sorted(m.expected_reason for m in bad)
    assert all(entry.disposed_at is not None for entry in ledger)
    expected_cufes = {cufe for mail in good for cufe in mail.cufes}
    assert {cufe for entry in ledger for cufe in entry.cufes} == expected_cufes
    assert store.document_count(ACCOUNT) == len(expected_cufes)

    assert isinstance(events[1], PassStarted) and events[1].pending == len(mails)
    handled = [event for event in events if isinstance(event, MessageHandled)]
    assert len(handled) == len(mails)
    assert isinstance(events[-1], PassFinished)

    logged = [event_from_payload(row.kind, row.account, row.payload) for row in store.events_after(0, 10_000)]
    assert logged == events  # the log's JSON form loses nothing
    assert requested == [workers]


def test_processed_mail_is_marked_seen_and_failed_mail_is_not(tmp_path: Path, store: Store, mails: list[SampleMail]) -> None:
    inbox = tmp_path / "Maildir"
    deliver(inbox, mails)
    make_pipeline(inbox, store).run_pass()
    processed = mailbox.Maildir(inbox / ".Procesados", create=False)
    failed = mailbox.Maildir(inbox / ".Fallidos", create=False)
    assert all("S" in message.get_flags() for message in processed)
    assert all("S" not in message.get_flags() for message in failed)


def test_a_second_pass_changes_nothing(tmp_path: Path, store: Store, mails: list[SampleMail]) -> None:
    inbox = tmp_path / "Maildir"
    deliver(inbox, mails)
    make_pipeline(inbox, store).run_pass()
    before = (store.messages(MessageFilter(account=ACCOUNT)), store.document_count(ACCOUNT))
    result = make_pipeline(inbox, store).run_pass()
    assert (result.processed, result.failed) == (0, 0)
    assert (store.messages(MessageFilter(account=ACCOUNT)), store.document_count(ACCOUNT)) == before


@pytest.mark.parametrize(
    ("point", "occurrence"),
    [("after_fetch", 1), ("after_fetch", 3), ("after_commit", 1), ("after_commit", 3),
     ("after_dispose", 1), ("after_dispose", 3), ("before_quit", 1)],
)
def test_a_crash_at_any_point_converges_on_rerun(
    tmp_path: Path, store: Store, mails: list[SampleMail], point: str, occurrence: int
) -> None:
    inbox = tmp_path / "Maildir"
    deliver(inbox, mails)
    seen = {"count": 0}

    def crash_at(name: str) -> None:
        if name == point:
            seen["count"] += 1
            if seen["count"] == occurrence:
                raise Crash(name)

    with pytest.raises(Crash):
        make_pipeline(inbox, store, checkpoint=crash_at).run_pass()
    make_pipeline(inbox, store).run_pass()

    good = [mail for mail in mails if mail.expected_reason is None]
    assert files_in(inbox) == 0
    assert files_in(inbox / ".Procesados") + files_in(inbox / ".Fallidos") == len(mails)
    assert files_in(inbox / ".Fallidos") == len(mails) - len(good)
    ledger = store.messages(MessageFilter(account=ACCOUNT))
    assert len(ledger) == len(mails)
    assert store.document_count(ACCOUNT) == len({cufe for mail in good for cufe in mail.cufes})


def test_an_extractor_that_raises_sends_the_message_to_fallidos(tmp_path: Path, store: Store, mails: list[SampleMail]) -> None:
    inbox = tmp_path / "Maildir"
    deliver(inbox, mails[:3])

    def broken(raw: bytes, **options):
        raise RuntimeError("boom")

    result = make_pipeline(inbox, store, extract=broken).run_pass()
    assert result.failed == 3
    assert {entry.reason for entry in store.messages(MessageFilter(account=ACCOUNT))} == {"error_interno"}
    assert files_in(inbox / ".Fallidos") == 3


def test_cancel_stops_between_batches(tmp_path: Path, store: Store, mails: list[SampleMail]) -> None:
    inbox = tmp_path / "Maildir"
    deliver(inbox, mails)
    pipeline = make_pipeline(inbox, store)

    def cancel_after_first_batch(name: str) -> None:
        if name == "after_dispose":
            pipeline.cancel.set()

    pipeline.checkpoint = cancel_after_first_batch
    result = pipeline.run_pass()
    assert result.cancelled
    assert result.processed + result.failed == 5
    assert result.remaining == len(mails) - 5
    assert files_in(inbox) == len(mails) - 5
