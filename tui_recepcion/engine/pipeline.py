"""One processing pass over one source: source → extract → store → dispose → event.

The order is what makes a crash harmless (docs/architecture.md, «Crash safety»): a message's outcome is committed to
the store before the message is moved or forwarded, and a message is forwarded (and that
recorded) before it is deleted. A re-run finds every decided message in the ledger and only
finishes its disposal; documents are unique per CUFE, so nothing is stored twice.

Faults are contained here. Whatever stops a pass leaves it as a `RecepcionError` (an
unforeseen exception becomes `InternalFault`); a pass past its wall-time bound is cut off by
shutting its connections down. One message never blocks the others: a message the server
will not deliver is retried on its own in later passes and, at the `MAX_ATTEMPTS`th failure,
isolated with a reason (IMAP: Fallidos; POP3: kept on the server and skipped), and so is a
message too large to process or one the backup relay refuses for good.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import TypeVar

from tui_recepcion.dian import DEFAULT_LIMITS, Extraction, Limits, Reason, extract_message
from tui_recepcion.engine.prepare import Preparer, PrepareSettings
from tui_recepcion.errors import ConnectionProblem, InternalFault, RecepcionError
from tui_recepcion.events import (
    DocumentSummary,
    Event,
    MessageHandled,
    MessageKept,
    MessagesDisposed,
    PassFinished,
    PassStarted,
    StateChanged,
)
from tui_recepcion.mailbox.source import KEPT, Decision, MessageSource, Unreadable
from tui_recepcion.store import LedgerEntry, Outcome, RecordResult, Store, StoreError
from tui_recepcion.vocabulary import FAILED, PROCESSED, MessageStatus

log = logging.getLogger(__name__)

Emit = Callable[[Event], None]
# Named points where a test can stop the process to prove crash safety (see tests/crash_runner.py).
Checkpoint = Callable[[str], None]

LOOKUP_CHUNK = 500
BATCH_SIZE = 100  # messages per round trip and per transaction, for large backlogs
MIN_BATCH_SIZE = 10
MAX_ATTEMPTS = 3  # failed reads of one message before it is isolated
DEFAULT_PASS_SECONDS = 30 * 60.0


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
    retry_soon: bool = False  # some message could not be read this time: try again before the interval


_T = TypeVar("_T")


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def is_kept(entry: LedgerEntry) -> bool:
    """A message left on the server on purpose; passes skip it until someone acts."""
    return entry.disposed_at is None and (entry.destination == KEPT or entry.forward_refused)


@dataclass(frozen=True, slots=True)
class _Fetched:
    """One batch as read from the server: bodies, what it would not deliver, the outcomes."""

    raws: dict[str, bytes]
    unreadable: dict[str, str]
    outcomes: Callable[[], list[Outcome]]


class Pipeline:
    """Runs passes for one account over one source. Not thread-safe: one pass at a time
    (but `interrupt` may be called from any thread or a signal handler)."""

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
        deadline_seconds: float | None = DEFAULT_PASS_SECONDS,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.account_id = account_id
        self.source = source
        self.store = store
        self.receiver_nit = receiver_nit
        self.cancel = cancel or threading.Event()
        self.checkpoint = checkpoint
        self.batch_size = batch_size
        self.deadline_seconds = deadline_seconds
        self.limits = limits
        self._extract = extract
        self._emit_callback = emit
        self._pending_events: list[Event] = []
        self._awaiting_finish: list[tuple[str, str]] = []  # POP3 deletions that QUIT will commit
        self._timed_out = threading.Event()
        self._listed = 0
        self._disposed = 0

    # --- events ------------------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        self._pending_events.append(event)
        self._emit_callback(event)

    def _flush_events(self) -> None:
        """Append buffered events to the store's log in one transaction per batch."""
        if self._pending_events:
            events, self._pending_events = self._pending_events, []
            self.store.append_events((event.account, event.kind, event.to_payload()) for event in events)

    def _flush_events_quietly(self) -> None:
        try:
            self._flush_events()
        except RecepcionError as problem:  # the store is what failed: the events are lost, not the mail
            log.warning("no se pudieron registrar los eventos de la pasada: %s", problem)

    # --- interruption ------------------------------------------------------------------------

    def interrupt(self) -> None:
        """Cut the pass's connections now (SIGTERM, the wall-time bound): blocked reads return."""
        self.source.interrupt()

    def _deadline_passed(self) -> None:
        self._timed_out.set()
        log.warning("la pasada de «%s» superó %s: se interrumpe", self.account_id, _seconds(self.deadline_seconds))
        self.interrupt()

    def _stopped_on_purpose(self) -> bool:
        return self.cancel.is_set() or self._timed_out.is_set()

    # --- the pass ----------------------------------------------------------------------------

    def run_pass(self) -> PassResult:
        """Process every waiting message once. What stops the pass raises a RecepcionError
        (after the source is aborted); bad messages never do. A cancel ends it early."""
        started = time.monotonic()
        self._awaiting_finish = []
        self._listed = self._disposed = 0
        self._timed_out.clear()
        self._emit(StateChanged(account=self.account_id, state="conectando"))
        self._flush_events()
        timer = None
        if self.deadline_seconds:
            timer = threading.Timer(self.deadline_seconds, self._deadline_passed)
            timer.daemon = True
            timer.start()
        try:
            result = self._run()
        finally:
            if timer is not None:
                timer.cancel()
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

    def _run(self) -> PassResult:
        progress = _Progress()
        try:
            self.source.open(time.monotonic() + self.deadline_seconds if self.deadline_seconds else None)
            self._process_all(progress)
            self.checkpoint("before_quit")
            self.source.finish()
        except Exception as error:
            self.source.abort()
            self._flush_events_quietly()
            if self.cancel.is_set() and not self._timed_out.is_set():
                return progress.result(self._listed - self._disposed, cancelled=True)
            raise self._problem(error) from (None if isinstance(error, RecepcionError) else error)
        except BaseException:
            self.source.abort()
            self._flush_events_quietly()
            raise
        if self.source.disposal_commits_at_finish:
            self._confirm_disposal(self._awaiting_finish)
        return progress.result(self._listed - self._disposed, cancelled=self.cancel.is_set())

    def _problem(self, error: Exception) -> RecepcionError:
        if self._timed_out.is_set():
            return ConnectionProblem(
                "tiempo_agotado",
                f"La pasada superó el límite de {_seconds(self.deadline_seconds)} y se interrumpió "
                "(un servidor muy lento o detenido); se reintentará más tarde.",
                transient=True,
            )
        if isinstance(error, RecepcionError):
            return error
        log.error("error inesperado en la pasada de «%s»", self.account_id)
        log.debug("detalle del error inesperado", exc_info=error)
        return InternalFault.from_exception(error, f"la pasada de la cuenta «{self.account_id}»")

    def _process_all(self, progress: _Progress) -> None:
        keys = self.source.list_keys()
        self._listed = len(keys)
        self._settle_vanished(set(keys))
        known = self._lookup(keys)
        reappeared = [key for key in keys if key in known and known[key].disposed_at is not None]
        new = [key for key in keys if key not in known]
        if reappeared:
            log.warning("%d mensajes ya dispuestos siguen en el servidor; se revisan de nuevo", len(reappeared))
            new += self._recheck_reappeared(reappeared, known)
        unfinished = [known[key] for key in keys if key in known and known[key].disposed_at is None]
        kept = [entry for entry in unfinished if is_kept(entry)]
        unfinished = [entry for entry in unfinished if not is_kept(entry)]
        if kept:
            log.info("%d mensajes retenidos en el servidor se omiten (ver «tui-recepcion mensajes»)", len(kept))

        oversized = [key for key in new if (self.source.size(key) or 0) > self.limits.max_message_bytes]
        attempts = self._attempts([key for key in new if key not in oversized])
        exhausted = [key for key, count in attempts.items() if count >= MAX_ATTEMPTS]
        suspects = [key for key, count in attempts.items() if count < MAX_ATTEMPTS]
        singled = set(oversized) | set(attempts)
        fresh = [key for key in new if key not in singled]

        self._emit(PassStarted(account=self.account_id, pending=len(keys)))
        self._emit(StateChanged(account=self.account_id, state="procesando"))
        self._flush_events()

        # First finish what an interrupted run had decided but not yet disposed of.
        for chunk in _chunks(unfinished, BATCH_SIZE):
            self._dispose([self._decision_from_ledger(entry) for entry in chunk])
        self._dispose(self._isolate([(key, Reason.MENSAJE_DEMASIADO_GRANDE, self._too_large(key)) for key in oversized]))
        self._dispose(self._isolate([(key, Reason.NO_SE_PUDO_LEER, _unreadable_detail(MAX_ATTEMPTS)) for key in exhausted]))
        progress.failed += len(oversized) + len(exhausted)
        self._flush_events()

        # Mail that failed before is read alone, after the rest: if it fails again, it fails alone.
        batches = [*_chunks(fresh, self.batch_size or batch_size_for(len(fresh))), *([key] for key in suspects)]
        self._process_batches(batches, progress)

    def _process_batches(self, batches: list[Sequence[str]], progress: _Progress) -> None:
        pending = sum(len(batch) for batch in batches)
        settings = PrepareSettings(self.account_id, self.receiver_nit, self.store.documents_dir, self._extract)
        with Preparer(settings, Preparer.workers_for(pending)) as preparer, ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="recepcion-lectura"
        ) as reader:
            try:
                upcoming = reader.submit(self._fetch_and_prepare, batches[0], preparer) if batches else None
                for index, _batch in enumerate(batches):
                    if self.cancel.is_set() or upcoming is None:
                        break
                    fetched = upcoming.result()
                    self.checkpoint("after_fetch")
                    # Read the next batch from the server, and queue it for preparation, while this
                    # one is parsed, recorded and disposed of: the workers never wait for the
                    # server. The source is used by one thread at a time: the read finishes
                    # before this batch's disposal.
                    if index + 1 < len(batches):
                        upcoming = reader.submit(self._fetch_and_prepare, batches[index + 1], preparer)
                    else:
                        upcoming = None
                    decisions = self._record(fetched.outcomes(), fetched.raws, progress)
                    decisions += self._count_unreadable(fetched.unreadable, progress)
                    self.checkpoint("after_commit")
                    if upcoming is not None:
                        wait([upcoming])
                    self._dispose(decisions)
                    self._flush_events()
            except BaseException:
                # Unblock the reader thread (it may be waiting on the server) before the
                # executor waits for it.
                self.interrupt()
                raise

    def _fetch_and_prepare(self, keys: Sequence[str], preparer: Preparer) -> _Fetched:
        raws: dict[str, bytes] = {}
        unreadable: dict[str, str] = {}
        try:
            for key, item in self.source.fetch(keys):
                if isinstance(item, Unreadable):
                    unreadable[key] = item.detail
                else:
                    raws[key] = item
        except Exception as error:
            # Read one at a time, the message in flight is the one the failure concerns: count
            # it, so a message that breaks the connection every time is isolated in the end.
            in_flight = [key for key in keys if key not in raws and key not in unreadable][:1]
            if self.source.reads_one_at_a_time and not self._stopped_on_purpose():
                self._count_attempts(in_flight, error)
            raise
        return _Fetched(raws, unreadable, preparer.start(list(raws.items())))

    def _count_attempts(self, keys: Sequence[str], error: Exception) -> None:
        for key in keys:
            try:
                # Only our own problems are worded for people (and scrubbed of secrets).
                detail = str(error) if isinstance(error, RecepcionError) else type(error).__name__
                self.store.record_attempt(self.account_id, key, "lectura", detail)
            except RecepcionError as problem:
                log.warning("no se pudo contar el intento fallido de %s: %s", key, problem)

    def _count_unreadable(self, unreadable: dict[str, str], progress: _Progress) -> list[Decision]:
        """Count each refused read; isolate the messages that reached MAX_ATTEMPTS."""
        isolate: list[tuple[str, Reason, str]] = []
        for key, detail in unreadable.items():
            count = self.store.record_attempt(self.account_id, key, "lectura", detail)
            log.warning("el servidor no entregó %s (intento %d de %d): %s", key, count, MAX_ATTEMPTS, detail)
            if count >= MAX_ATTEMPTS:
                isolate.append((key, Reason.NO_SE_PUDO_LEER, f"{_unreadable_detail(count)} Última respuesta: {detail}"))
        progress.failed += len(isolate)
        progress.unread += len(unreadable) - len(isolate)
        return self._isolate(isolate)

    def _settle_vanished(self, listed: set[str]) -> None:
        """Rows decided but never confirmed disposed of, whose message is gone from the server:
        the move (or the QUIT that committed the deletion) happened, but its answer was lost
        with the connection. Record them as disposed. A POP3 message that was never forwarded
        and vanished was deleted by someone else: its row stays as it is, for review."""
        settled: dict[str, list[str]] = {}
        for entry in self.store.undisposed_messages(self.account_id, self.source.key_prefix):
            if entry.source_key in listed or is_kept(entry):
                continue
            if self.source.disposal_commits_at_finish and entry.forwarded_at is None:
                continue
            settled.setdefault(entry.destination or "", []).append(entry.source_key)
        for destination, keys in settled.items():
            log.info("%d mensajes ya no están en el servidor: se registran como dispuestos en %s", len(keys), destination)
            self.store.mark_disposed(self.account_id, keys, destination or None)

    def _attempts(self, keys: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in _chunks(keys, LOOKUP_CHUNK):
            found.update({key: count for key, count in self.store.attempts(self.account_id, chunk).items() if count > 0})
        return found

    def _too_large(self, key: str) -> str:
        size = self.source.size(key) or 0
        limit = self.limits.max_message_bytes
        return f"El correo ocupa {size / 1048576:.1f} MiB; el máximo que se procesa es {limit / 1048576:.0f} MiB."

    def _isolate(self, items: Sequence[tuple[str, Reason, str]]) -> list[Decision]:
        """Record messages decided without extraction; returns the decisions to dispose of."""
        decisions: list[Decision] = []
        destination = KEPT if self.source.keeps_unreadable else self.source.destination(FAILED)
        for key, reason, detail in items:
            entry = self.store.record_failure(
                self.account_id, key, reason=str(reason), detail=detail, destination=destination, raw_sha256=None
            )
            self._emit(self._handled_event(entry, None, ()))
            if entry.destination != KEPT:
                decisions.append(self._decision_from_ledger(entry))
        return decisions

    def _lookup(self, keys: Sequence[str]) -> dict[str, LedgerEntry]:
        known: dict[str, LedgerEntry] = {}
        for chunk in _chunks(keys, LOOKUP_CHUNK):
            known.update(self.store.lookup_messages(self.account_id, chunk))
        return known

    def _recheck_reappeared(self, keys: Sequence[str], known: dict[str, LedgerEntry]) -> list[str]:
        """A message the ledger says is gone is still listed (a server that ignored DELE, or
        reused a UIDL). The same bytes are only deleted again; different bytes are new mail,
        and the old row is retired so the new message can take its key."""
        fresh: list[str] = []
        for key, raw in self.source.fetch(keys):
            if isinstance(raw, Unreadable):
                continue  # decided before; left alone until the server delivers it again
            entry = known[key]
            if hashlib.sha256(raw).hexdigest() == entry.raw_sha256:
                self._dispose([self._decision_from_ledger(entry, forwarded=True)])
            else:
                self.store.retire_message(self.account_id, key)
                fresh.append(key)
                known.pop(key)
        return fresh

    def _record(self, outcomes: list[Outcome], raws: dict[str, bytes], progress: _Progress) -> list[Decision]:
        """Commit a batch's outcomes in one transaction, then emit them; returns the
        decisions to dispose of."""
        failed_destination = self.source.destination(FAILED)
        for index, outcome in enumerate(outcomes):
            status: MessageStatus = PROCESSED if outcome.extraction.failure is None else FAILED
            outcomes[index] = replace(
                outcome, destination=self.source.destination(status), failed_destination=failed_destination
            )
        decisions: list[Decision] = []
        self.store.record_received_events(self.account_id, outcomes)  # RADIAN events first: idempotent
        for recorded_outcome, recorded in self._record_isolating(outcomes):
            entry = recorded.entry
            extraction = recorded_outcome.extraction if recorded_outcome else None
            self._emit(self._handled_event(entry, extraction, recorded.duplicates,
                                           recorded.conflicts))
            decisions.append(self._decision_from_ledger(entry, raw=raws.get(entry.source_key)))
            progress.count(entry.status, len(recorded.duplicates))
        return decisions

    def _record_isolating(self, outcomes: list[Outcome]) -> list[tuple[Outcome | None, RecordResult]]:
        """The batch in one transaction; if the store refuses it for good, message by message,
        so the one it cannot take is recorded as an internal error and the rest go on."""
        try:
            return list(zip(outcomes, self.store.record_outcomes(self.account_id, outcomes), strict=True))
        except StoreError as problem:
            if getattr(problem, "transient", True) or len(outcomes) == 0:
                raise
            log.warning("el almacén rechazó un lote (%s); se guarda mensaje por mensaje", problem)
        results: list[tuple[Outcome | None, RecordResult]] = []
        for outcome in outcomes:
            try:
                results.append((outcome, self.store.record_outcomes(self.account_id, [outcome])[0]))
            except StoreError as problem:
                if getattr(problem, "transient", True):
                    raise
                entry = self.store.record_failure(
                    self.account_id, outcome.source_key, reason=str(Reason.ERROR_INTERNO),
                    detail=f"El almacén no pudo guardar este correo: {problem}",
                    destination=outcome.failed_destination, raw_sha256=outcome.raw_sha256,
                    subject=outcome.extraction.subject, message_id=outcome.extraction.message_id,
                )
                results.append((None, RecordResult(entry)))
        return results

    def _handled_event(self, entry: LedgerEntry, extraction: Extraction | None, duplicated: tuple[str, ...],
                       conflicting: tuple[str, ...] = ()) -> MessageHandled:
        # A document in conflict was not stored: the dashboard must not list it as received.
        documents = [d for d in extraction.documents if d.cufe not in conflicting] if extraction is not None else []
        return MessageHandled(
            account=self.account_id,
            source_key=entry.source_key,
            message_id=entry.message_id,
            subject=entry.subject,
            status=entry.status,  # type: ignore[arg-type]
            reason=entry.reason,
            reason_detail=entry.detail,
            destination=entry.destination or "",
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
                for document in documents
            ),
        )

    def _decision_from_ledger(self, entry: LedgerEntry, *, forwarded: bool | None = None,
                              raw: bytes | None = None) -> Decision:
        return Decision(
            entry.source_key,
            entry.status,  # type: ignore[arg-type]
            entry.reason,
            entry.destination or self.source.destination(FAILED),
            forwarded=entry.forwarded_at is not None if forwarded is None else forwarded,
            raw=raw,
        )

    def _dispose(self, decisions: Sequence[Decision]) -> None:
        if not decisions:
            return

        def on_forwarded(key: str) -> None:
            self.store.mark_forwarded(self.account_id, key)
            self.checkpoint("after_forward")

        disposal = self.source.dispose(decisions, on_forwarded)
        for key, detail in disposal.refused.items():
            entry = self.store.mark_forward_refused(self.account_id, key, detail)
            log.warning("el reenvío de %s fue rechazado; el correo se conserva en el servidor: %s", key, detail)
            self._emit(
                MessageKept(account=self.account_id, source_key=key, subject=entry.subject,
                            reason=entry.reason or str(Reason.REENVIO_RECHAZADO), detail=detail)
            )
        done = set(disposal.done)
        finished = [(decision.key, decision.destination) for decision in decisions if decision.key in done]
        if self.source.disposal_commits_at_finish:
            self._awaiting_finish += finished
        else:
            self._confirm_disposal(finished)
        self.checkpoint("after_dispose")

    def _confirm_disposal(self, done: Iterable[tuple[str, str]]) -> None:
        by_destination: dict[str, list[str]] = {}
        for key, destination in done:
            by_destination.setdefault(destination, []).append(key)
        for destination, keys in by_destination.items():
            self.store.mark_disposed(self.account_id, keys, destination)
            self._disposed += len(keys)
            self._emit(MessagesDisposed(account=self.account_id, count=len(keys), destination=destination))


@dataclass
class _Progress:
    """The running totals of a pass, kept so that an interrupted pass still reports them."""

    processed: int = 0
    failed: int = 0
    duplicates: int = 0
    unread: int = 0  # refused this time, to be read again

    def count(self, status: str, duplicates: int) -> None:
        self.processed += status == PROCESSED
        self.failed += status == FAILED
        self.duplicates += duplicates

    def result(self, remaining: int, *, cancelled: bool) -> PassResult:
        return PassResult(self.processed, self.failed, self.duplicates, max(0, remaining), cancelled,
                          retry_soon=self.unread > 0)


def _unreadable_detail(attempts: int) -> str:
    return f"El servidor no entregó el correo en {attempts} intentos; se aparta para que no detenga a los demás."


def _seconds(value: float | None) -> str:
    return f"{value:g} s".replace(".", ",")  # decimal comma, as read in Colombia
