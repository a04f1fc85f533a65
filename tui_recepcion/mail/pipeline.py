"""One processing pass over one source: source → extract → store → dispose → event.

The order is what makes a crash harmless (design §5): a message's outcome is committed to
the store before the message is moved or forwarded, and a message is forwarded (and that
recorded) before it is deleted. A re-run finds every decided message in the ledger and only
finishes its disposal; documents are unique per CUFE, so nothing is stored twice.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace

from tui_recepcion.dian import Extraction, extract_message
from tui_recepcion.mail.events import (
    DocumentSummary,
    Event,
    MessageHandled,
    MessagesDisposed,
    PassFinished,
    PassStarted,
    StateChanged,
)
from tui_recepcion.mail.prepare import Preparer, PrepareSettings
from tui_recepcion.mail.source import Decision, MessageSource
from tui_recepcion.store import LedgerEntry, Outcome, Store

log = logging.getLogger(__name__)

Emit = Callable[[Event], None]
# Named points where a test can stop the process to prove crash safety (see tests/crash_runner.py).
Checkpoint = Callable[[str], None]

LOOKUP_CHUNK = 500
BATCH_SIZE = 100  # messages per round trip and per transaction, for large backlogs
MIN_BATCH_SIZE = 10


def batch_size_for(pending: int) -> int:
    """Large backlogs go in full batches (throughput); small passes in about 20 batches,
    so whoever watches the dashboard sees them advance."""
    return min(BATCH_SIZE, max(MIN_BATCH_SIZE, pending // 20))


def _no_checkpoint(name: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class PassResult:
    processed: int = 0
    failed: int = 0
    duplicates: int = 0
    remaining: int = 0
    cancelled: bool = False


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Pipeline:
    """Runs passes for one account over one source. Not thread-safe: one pass at a time."""

    def __init__(
        self,
        account_id: str,
        source: MessageSource,
        store: Store,
        *,
        receiver_nit: str | None = None,
        emit: Emit = lambda event: None,
        cancel: threading.Event | None = None,
        checkpoint: Checkpoint = _no_checkpoint,
        batch_size: int | None = None,
        extract: Callable[..., Extraction] = extract_message,
    ) -> None:
        self.account_id = account_id
        self.source = source
        self.store = store
        self.receiver_nit = receiver_nit
        self.cancel = cancel or threading.Event()
        self.checkpoint = checkpoint
        self.batch_size = batch_size
        self._extract = extract
        self._emit_callback = emit
        self._pending_events: list[Event] = []
        self._awaiting_finish: list[tuple[str, str]] = []  # POP3 deletions that QUIT will commit

    # --- events ------------------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        self._pending_events.append(event)
        self._emit_callback(event)

    def _flush_events(self) -> None:
        """Append buffered events to the store's log in one transaction per batch."""
        if self._pending_events:
            self.store.append_events((event.account, event.kind, event.to_payload()) for event in self._pending_events)
            self._pending_events.clear()

    # --- the pass ----------------------------------------------------------------------------

    def run_pass(self) -> PassResult:
        """Process every waiting message once. Connection problems propagate to the caller
        (after the source is aborted); bad messages never do."""
        started = time.monotonic()
        self._awaiting_finish = []
        self._emit(StateChanged(account=self.account_id, state="conectando"))
        self._flush_events()
        try:
            self.source.open()
            result = self._process_all()
            self.checkpoint("before_quit")
            self.source.finish()
        except BaseException:
            self.source.abort()
            self._flush_events()
            raise
        if self.source.disposal_commits_at_finish:
            self._confirm_disposal(self._awaiting_finish)
        self._emit(
            PassFinished(
                account=self.account_id,
                processed=result.processed,
                failed=result.failed,
                duplicates=result.duplicates,
                remaining=result.remaining,
                seconds=round(time.monotonic() - started, 3),
                cancelled=result.cancelled,
            )
        )
        self._flush_events()
        return result

    def _process_all(self) -> PassResult:
        keys = self.source.list_keys()
        known = self._lookup(keys)
        unfinished = [known[key] for key in keys if key in known and known[key].disposed_at is None]
        reappeared = [key for key in keys if key in known and known[key].disposed_at is not None]
        new = [key for key in keys if key not in known]
        if reappeared:
            log.warning("%d mensajes ya dispuestos siguen en el servidor; se revisan de nuevo", len(reappeared))
            new += self._recheck_reappeared(reappeared, known)
        self._emit(PassStarted(account=self.account_id, pending=len(new) + len(unfinished)))
        self._emit(StateChanged(account=self.account_id, state="procesando"))
        self._flush_events()

        # First finish what an interrupted run had decided but not yet disposed of.
        for chunk in _chunks(unfinished, BATCH_SIZE):
            self._dispose([self._decision_from_ledger(entry) for entry in chunk])

        processed = failed = duplicates = 0
        done = 0
        settings = PrepareSettings(self.account_id, self.receiver_nit, self.store.documents_dir, self._extract)
        batches = list(_chunks(new, self.batch_size or batch_size_for(len(new))))
        with Preparer(settings, Preparer.workers_for(len(new))) as preparer, ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="recepcion-lectura"
        ) as reader:
            upcoming = reader.submit(self._fetch_and_prepare, batches[0], preparer) if batches else None
            for index, batch in enumerate(batches):
                if self.cancel.is_set() or upcoming is None:
                    break
                fetched, outcomes = upcoming.result()
                self.checkpoint("after_fetch")
                # Read the next batch from the server, and queue it for preparation, while this
                # one is parsed, recorded and disposed of: the workers never wait for the
                # server. The source is used by one thread at a time: the read finishes
                # before this batch's disposal.
                if index + 1 < len(batches):
                    upcoming = reader.submit(self._fetch_and_prepare, batches[index + 1], preparer)
                else:
                    upcoming = None
                decisions, batch_duplicates = self._record(outcomes(), fetched)
                self.checkpoint("after_commit")
                processed += sum(decision.status == "procesado" for decision in decisions)
                failed += sum(decision.status == "fallido" for decision in decisions)
                duplicates += batch_duplicates
                if upcoming is not None:
                    wait([upcoming])
                self._dispose(decisions)
                done += len(batch)
                self._flush_events()
        return PassResult(processed, failed, duplicates, remaining=len(new) - done, cancelled=self.cancel.is_set())

    def _fetch_and_prepare(self, keys: Sequence[str], preparer: Preparer) -> tuple[dict[str, bytes], Callable[[], list[Outcome]]]:
        fetched = dict(self.source.fetch(keys))
        return fetched, preparer.start(list(fetched.items()))

    def _lookup(self, keys: Sequence[str]) -> dict[str, LedgerEntry]:
        known: dict[str, LedgerEntry] = {}
        for chunk in _chunks(keys, LOOKUP_CHUNK):
            known.update(self.store.lookup_messages(self.account_id, chunk))
        return known

    def _recheck_reappeared(self, keys: Sequence[str], known: dict[str, LedgerEntry]) -> list[str]:
        """A message the ledger says is gone is still listed (a server that ignored DELE, or
        reused a UIDL). The same bytes are only deleted again; different bytes are new mail."""
        fresh: list[str] = []
        for key, raw in self.source.fetch(keys):
            entry = known[key]
            if hashlib.sha256(raw).hexdigest() == entry.raw_sha256:
                self._dispose([self._decision_from_ledger(entry, forwarded=True)])
            else:
                fresh.append(key)
                known.pop(key)
        return fresh

    def _record(self, outcomes: list[Outcome], raws: dict[str, bytes]) -> tuple[list[Decision], int]:
        """Commit a batch's outcomes in one transaction, then emit them; returns the
        decisions to dispose of and how many documents were duplicates."""
        for index, outcome in enumerate(outcomes):
            status = "procesado" if outcome.extraction.failure is None else "fallido"
            outcomes[index] = replace(outcome, destination=self.source.destination(status))
        results = self.store.record_outcomes(self.account_id, outcomes)
        decisions: list[Decision] = []
        duplicates = 0
        for outcome, recorded in zip(outcomes, results, strict=True):
            entry = recorded.entry
            self._emit(self._handled_event(entry, outcome.extraction, recorded.duplicates))
            decisions.append(Decision(entry.source_key, entry.status, entry.reason, entry.destination, raw=raws[entry.source_key]))
            duplicates += len(recorded.duplicates)
        return decisions, duplicates

    def _handled_event(self, entry: LedgerEntry, extraction: Extraction, duplicated: tuple[str, ...]) -> MessageHandled:
        return MessageHandled(
            account=self.account_id,
            source_key=entry.source_key,
            message_id=entry.message_id,
            subject=entry.subject,
            status=entry.status,
            reason=entry.reason,
            reason_detail=entry.detail,
            destination=entry.destination,
            documents=tuple(
                DocumentSummary(
                    cufe=document.cufe,
                    tipo=document.tipo,
                    numero=document.number,
                    nit_emisor=document.supplier.nit,
                    nombre_emisor=document.supplier.name,
                    total=str(document.total),
                    duplicated=document.cufe in duplicated,
                )
                for document in extraction.documents
            ),
        )

    def _decision_from_ledger(self, entry: LedgerEntry, *, forwarded: bool | None = None) -> Decision:
        return Decision(
            entry.source_key,
            entry.status,
            entry.reason,
            entry.destination,
            forwarded=entry.forwarded_at is not None if forwarded is None else forwarded,
        )

    def _dispose(self, decisions: Sequence[Decision]) -> None:
        if not decisions:
            return

        def on_forwarded(key: str) -> None:
            self.store.mark_forwarded(self.account_id, key)
            self.checkpoint("after_forward")

        disposed = set(self.source.dispose(decisions, on_forwarded))
        done = [decision for decision in decisions if decision.key in disposed]
        if self.source.disposal_commits_at_finish:
            self._awaiting_finish += [(decision.key, decision.destination) for decision in done]
        else:
            self._confirm_disposal((decision.key, decision.destination) for decision in done)
        self.checkpoint("after_dispose")

    def _confirm_disposal(self, done: Iterable[tuple[str, str]]) -> None:
        by_destination: dict[str, list[str]] = {}
        for key, destination in done:
            by_destination.setdefault(destination, []).append(key)
        for destination, keys in by_destination.items():
            self.store.mark_disposed(self.account_id, keys, destination)
            self._emit(MessagesDisposed(account=self.account_id, count=len(keys), destination=destination))
