"""Reprocessing's store queries behave the same on SQLite and PostgreSQL: what Fallidos holds
now, the history, by reason, and the latest event per account."""

from __future__ import annotations

from tui_recepcion.dian.model import Extraction, Failure
from tui_recepcion.dian.reasons import Reason
from tui_recepcion.store import MessageFilter, Store


def failed(reason: Reason) -> Extraction:
    return Extraction(failure=Failure(reason, "x"))


def test_reprocessed_messages_leave_fallidos_now_and_stay_in_the_history(store: Store) -> None:
    for index, reason in enumerate((Reason.SIN_ADJUNTOS, Reason.SIN_ADJUNTOS, Reason.ZIP_CORRUPTO)):
        store.record_outcome("principal", f"imap:1:{index}", failed(reason), f"h{index}", "Fallidos")
    store.record_outcome("otra", "imap:1:0", failed(Reason.SIN_ADJUNTOS), "h", "Fallidos")
    assert store.failed_now_counts() == {"principal": 3, "otra": 1}

    assert store.mark_reprocessed("principal", ["imap:1:0", "imap:1:2", "imap:1:nada"]) == 2
    assert store.mark_reprocessed("principal", ["imap:1:0"]) == 0  # already reprocessed
    assert store.failed_now_counts() == {"principal": 1, "otra": 1}
    now = store.messages(MessageFilter(account="principal", status="fallido"))
    assert [entry.source_key for entry in now] == ["imap:1:1"]
    history = store.messages(MessageFilter(account="principal", status="fallido", include_reprocessed=True))
    assert [entry.source_key for entry in history] == ["imap:1:0", "imap:1:1", "imap:1:2"]
    assert all(entry.reprocessed_at is not None for entry in history if entry.source_key != "imap:1:1")
    by_reason = store.messages(MessageFilter(status="fallido", reason=str(Reason.SIN_ADJUNTOS)))
    assert [(entry.account, entry.source_key) for entry in by_reason] == [("principal", "imap:1:1"), ("otra", "imap:1:0")]


def test_the_latest_event_of_a_kind_per_account(store: Store) -> None:
    store.append_events([("a", "pasada", {"n": 1}), ("b", "pasada", {"n": 2}), ("a", "pasada", {"n": 3}),
                         ("a", "otro", {"n": 4})])
    assert [(event.account, event.payload["n"]) for event in store.latest_events("pasada")] == [("b", 2), ("a", 3)]
