"""One process, many accounts: a share of the fleet's accounts on a bounded pool of threads.

`Scheduler` is what `tui-recepcion procesar` runs as a service:

- **Ownership and spreading.** Every `REBALANCE_SECONDS` it confirms its ownership
  (`Ownership.check`: a process that lost its PostgreSQL session stops what it owned at
  once) and aims at its share: `ceil(accounts / live processes)`, capped by
  `--max-cuentas`. Below its share it takes free accounts (starting at an offset of its own,
  so processes that start together do not race for the same ones); above it (a process
  joined) it releases accounts that are not in a pass. A process that died frees its
  accounts (its locks go with it) and the others take them at their next check.
- **Bounded resources.** At most `workers` passes run at once, whatever the number of
  accounts; an account waiting for mail holds no thread: IMAP accounts idle on one shared
  watcher (`engine/idle_watch.py`), the others wait in a timer heap.
- **Fair slices.** A pass takes at most `slice_messages` new messages (`Pipeline`'s
  `max_messages`); an account with more goes to the back of the ready queue, so a mailbox
  with a 20,000-message backlog shares the pool with the others instead of holding it.

The cycle itself (backoff, authentication pause, alerts) is `AccountProcessor.cycle`; the
scheduler only decides who runs when. It never imports Textual.
"""

from __future__ import annotations

import heapq
import logging
import math
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial

from tui_recepcion.alerts import Alerts
from tui_recepcion.config import Account
from tui_recepcion.engine.idle_watch import IdleWatcher
from tui_recepcion.engine.service import (
    LIVENESS_MARGIN_SECONDS,
    AccountProcessor,
    CycleOutcome,
    Emit,
    Engine,
    backoff_delay,
)
from tui_recepcion.errors import InternalFault, RecepcionError
from tui_recepcion.events import EngineState, StateChanged

log = logging.getLogger(__name__)

REBALANCE_SECONDS = 5.0  # ownership check and shares; a dead process's accounts move within ~2 of these
SLICE_MESSAGES = 200  # new messages a pass takes before the account goes to the back of the queue
DEFAULT_WORKERS = 4  # passes at once in one process (each pass also uses extraction processes)
TICK_SECONDS = 0.5
# An account whose server offers no IDLE polls; IDLE is tried again after this long
# (a login per pass only to learn again that the server has no IDLE would be waste).
IDLE_RETRY_SECONDS = 3600.0

AlertsFactory = Callable[[Account], Alerts | None]


def share(accounts: int, caps: Sequence[int | None], mine: int | None = None) -> int:
    """How many accounts this process aims at, when the live processes have `caps`
    (`--max-cuentas`, None for none; this process's is `mine`): an even split, where what a
    capped process cannot take is spread over the others. Every process computes the same
    split, so none keeps taking what another one then releases."""
    if accounts <= 0:
        return 0
    remaining, left = accounts, max(1, len(caps))
    level = math.inf
    for cap in sorted(caps, key=lambda value: math.inf if value is None else value):
        fair = math.ceil(remaining / left)
        if cap is None or cap >= fair:
            level = fair
            break
        remaining -= cap
        left -= 1
    target = accounts if level == math.inf else int(level)
    return min(target, mine) if mine is not None else target


class Scheduler:
    """Runs passes for the accounts this process owns; `run()` until `stop()`."""

    def __init__(
        self,
        engine: Engine,
        accounts: Sequence[Account],
        *,
        emit: Emit = lambda event: None,
        alerts_for: AlertsFactory = lambda account: None,
        workers: int = DEFAULT_WORKERS,
        slice_messages: int | None = SLICE_MESSAGES,
        max_accounts: int | None = None,
        rebalance_seconds: float = REBALANCE_SECONDS,
        idle: bool = True,
    ) -> None:
        self.engine = engine
        self.ownership = engine.ownership
        self.emit = emit
        self.alerts_for = alerts_for
        self.workers = max(1, workers)
        self.slice_messages = slice_messages
        self.max_accounts = max_accounts
        self.rebalance_seconds = rebalance_seconds
        self.cancel = threading.Event()
        self._accounts: dict[str, Account] = {account.id: account for account in accounts}
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._processors: dict[str, AccountProcessor] = {}
        self._running: dict[str, tuple[Future[CycleOutcome], float]] = {}
        self._ready: deque[str] = deque()
        self._timers: list[tuple[float, int, str]] = []  # (due, sequence, account): a heap
        self._due: dict[str, int] = {}  # account -> its live timer's sequence (older ones are stale)
        self._sequence = 0
        self._changed: set[str] = set()  # accounts whose settings changed: new processor after the pass
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="recepcion-pasada")
        self._idle = IdleWatcher(self._mail_arrived, self._idle_lost) if idle else None
        self._no_idle_until: dict[str, float] = {}
        self.ownership.max_accounts = max_accounts
        self._offset = zlib.crc32(self.ownership.worker_id.encode())
        self._next_rebalance = 0.0
        self._joined = False

    # --- what others call --------------------------------------------------------------------

    def stop(self) -> None:
        """Stop now (safe from a signal handler): no new pass; running ones are cut off."""
        self.cancel.set()
        self._wake.set()
        for processor in list(self._processors.values()):
            processor.interrupt()

    def owned(self) -> list[str]:
        with self._lock:
            return sorted(self._processors)

    def stuck(self) -> list[str]:
        """Accounts whose pass overran every bound it has (the watchdog stops vouching)."""
        now = time.monotonic()
        with self._lock:
            return [
                account_id for account_id, (_future, started) in self._running.items()
                if account_id in self._processors
                and now - started > self._processors[account_id].pass_seconds + LIVENESS_MARGIN_SECONDS
            ]

    def update_accounts(self, accounts: Sequence[Account]) -> None:
        """A new configuration: accounts gone are released after their pass, accounts whose
        settings changed get a new processor after it, new ones join the next rebalance."""
        with self._lock:
            self._accounts = {account.id: account for account in accounts}
            for account_id, processor in list(self._processors.items()):
                wanted = self._accounts.get(account_id)
                if wanted is None or wanted != processor.account:
                    self._changed.add(account_id)
                    if account_id not in self._running:
                        self._settle_changed(account_id)
            self._next_rebalance = 0.0
        self._wake.set()

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        """Schedule until `stop()`; then wait for the passes in flight and give everything up."""
        try:
            while not self.cancel.is_set():
                now = time.monotonic()
                if now >= self._next_rebalance:
                    self._rebalance()
                    self._next_rebalance = time.monotonic() + (self.rebalance_seconds if self._joined else 1.0)
                    self._joined = True
                self._start_due()
                self._wake.wait(TICK_SECONDS)
                self._wake.clear()
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        self.cancel.set()
        for processor in list(self._processors.values()):
            processor.interrupt()
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._idle is not None:
            self._idle.close()
        with self._lock:
            for account_id, processor in list(self._processors.items()):
                self._publish(account_id, "inactivo", "detenido")
                processor.record_event(StateChanged(account=account_id, state="inactivo", detail="detenido"))
            self._processors.clear()
        self.ownership.close()  # leaves the fleet: the others count one process less (it can join again)

    def _rebalance(self) -> None:
        try:
            self._rebalance_now()
        except RecepcionError as problem:  # the coordination is down: keep what we have, retry
            log.warning("no se pudo repartir las cuentas: %s", problem)
        except Exception as error:
            log.error("error inesperado al repartir las cuentas: %s", type(error).__name__)

    def _rebalance_now(self) -> None:
        for account_id in self.ownership.check():
            log.warning("la cuenta «%s» ya no es de este proceso", account_id)
            self._drop(account_id)
        caps = self.ownership.live_caps()  # also joins the fleet on the first call
        if not self._joined:
            return  # the first look only says we are here: processes starting together then see each other
        with self._lock:
            configured = list(self._accounts)
            mine = [account_id for account_id in configured if account_id in self._processors]
            foreign = [account_id for account_id in self._processors if account_id not in self._accounts]
        for account_id in foreign:
            if account_id not in self._running:
                self._release(account_id)
        target = share(len(configured), caps, self.max_accounts)
        if len(mine) < target:
            start = self._offset % len(configured) if configured else 0
            rotated = configured[start:] + configured[:start]
            candidates = [account_id for account_id in rotated if account_id not in self._processors]
            for account_id in self.ownership.free_among(candidates):
                if len(mine) >= target or self.cancel.is_set():
                    break
                if self.ownership.try_acquire(account_id):
                    self._adopt(account_id)
                    mine.append(account_id)
        elif len(mine) > target:
            with self._lock:
                idle_first = sorted(mine, key=lambda account_id: account_id in self._running)
            for account_id in idle_first[: len(mine) - target]:
                if account_id not in self._running:
                    self._release(account_id)

    # --- accounts coming and going -------------------------------------------------------------

    def _processor(self, account: Account) -> AccountProcessor:
        return AccountProcessor(self.engine, account, emit=self.emit, cancel=self.cancel,
                                alerts=self.alerts_for(account), max_messages=self.slice_messages)

    def _adopt(self, account_id: str) -> None:
        with self._lock:
            account = self._accounts.get(account_id)
            if account is None:
                self.ownership.release(account_id)
                return
            self._processors[account_id] = self._processor(account)
            self._ready.append(account_id)
        log.info("cuenta «%s» asignada a este proceso", account_id)

    def _release(self, account_id: str) -> None:
        """Give up an account that is not in a pass (another process may take it at once)."""
        self._drop(account_id)
        self.ownership.release(account_id)
        log.info("cuenta «%s» liberada para otro proceso", account_id)

    def _drop(self, account_id: str) -> None:
        """Forget the account here; a pass in flight is cut off (its ownership is gone)."""
        with self._lock:
            processor = self._processors.pop(account_id, None)
            self._due.pop(account_id, None)
            try:
                self._ready.remove(account_id)
            except ValueError:
                pass
            self._changed.discard(account_id)
        if self._idle is not None:
            self._idle.forget(account_id)
        if processor is not None and account_id in self._running:
            processor.interrupt()

    def _settle_changed(self, account_id: str) -> None:
        """Under the lock, outside a pass: apply the new settings of a changed account."""
        self._changed.discard(account_id)
        account = self._accounts.get(account_id)
        if account is None:
            self._release(account_id)
            return
        if self._idle is not None:
            self._idle.forget(account_id)
        self._processors[account_id] = self._processor(account)
        self._due.pop(account_id, None)
        if account_id not in self._ready:
            self._ready.append(account_id)

    # --- running passes ------------------------------------------------------------------------

    def _start_due(self) -> None:
        now = time.monotonic()
        with self._lock:
            while self._timers and self._timers[0][0] <= now:
                _due, sequence, account_id = heapq.heappop(self._timers)
                if self._due.get(account_id) == sequence:
                    del self._due[account_id]
                    self._ready.append(account_id)
            while self._ready and len(self._running) < self.workers and not self.cancel.is_set():
                account_id = self._ready.popleft()
                processor = self._processors.get(account_id)
                if processor is None or account_id in self._running:
                    continue
                if self._idle is not None:
                    self._idle.forget(account_id)
                future = self._pool.submit(self._slice, processor)
                self._running[account_id] = (future, time.monotonic())
                future.add_done_callback(partial(self._finished, account_id))

    def _slice(self, processor: AccountProcessor) -> CycleOutcome:
        """One pass of at most a slice of the account's mail (on a pool thread)."""
        self._publish(processor.account.id, "procesando")
        try:
            outcome = processor.cycle()
        except Exception as error:  # cycle translates everything; this guards the guard
            log.error("error inesperado en el ciclo de «%s»: %s", processor.account.id, type(error).__name__)
            outcome = CycleOutcome(None, backoff_delay(1, processor.backoff_start),
                                   InternalFault.from_exception(error, "el ciclo del servicio"))
        processor.evaluate_alerts()
        return outcome

    def _finished(self, account_id: str, done: Future[CycleOutcome]) -> None:
        try:
            outcome = done.result()
        except BaseException:  # cancelled at shutdown
            outcome = CycleOutcome(None, timedelta(seconds=0))
        with self._lock:
            self._running.pop(account_id, None)
            processor = self._processors.get(account_id)
            if processor is None or self.cancel.is_set():
                return
            if account_id in self._changed:
                self._settle_changed(account_id)
                self._wake.set()
                return
            result = outcome.result
            if result is not None and result.more_waiting and outcome.problem is None:
                self._ready.append(account_id)  # more mail: the back of the queue, after the others
                self._wake.set()
                return
            self._schedule(account_id, outcome.wait.total_seconds())
        self._report_wait(processor, outcome)
        if (self._idle is not None and outcome.problem is None and processor.can_idle
                and self._no_idle_until.get(account_id, 0.0) <= time.monotonic()):
            # Opening the IDLE connection takes round trips: a pool thread does it.
            left = outcome.result.remaining if outcome.result is not None else None
            self._pool.submit(self._start_idle, processor.account, left)
        self._wake.set()

    def _schedule(self, account_id: str, seconds: float) -> None:
        self._sequence += 1
        self._due[account_id] = self._sequence
        heapq.heappush(self._timers, (time.monotonic() + seconds, self._sequence, account_id))

    def _report_wait(self, processor: AccountProcessor, outcome: CycleOutcome) -> None:
        next_run = datetime.now(UTC) + outcome.wait
        state: EngineState = "esperando" if outcome.problem is None else "error"
        detail = f"próxima pasada: {next_run.astimezone(processor.account.tzinfo):%Y-%m-%d %H:%M:%S}"
        processor.record_event(StateChanged(account=processor.account.id, state=state, detail=detail, next_run=next_run))
        result = outcome.result
        last_pass = (result.processed, result.failed, result.remaining) if result is not None else None
        self._publish(processor.account.id, state, detail if outcome.problem is None else str(outcome.problem),
                      last_pass=last_pass)

    def _publish(self, account_id: str, state: str, detail: str | None = None, *,
                 last_pass: tuple[int, int, int] | None = None) -> None:
        try:
            self.ownership.publish(account_id, state, detail, last_pass=last_pass)
        except Exception as error:  # the dashboard's rows are a side channel
            log.warning("no se pudo publicar el estado de «%s»: %s", account_id, type(error).__name__)

    # --- IDLE ----------------------------------------------------------------------------------

    def _start_idle(self, account: Account, left_by_pass: int | None = None) -> None:
        if self._idle is None or self.cancel.is_set():
            return
        with self._lock:
            if account.id not in self._due:  # already running again, or no longer ours
                return
        started = self._idle.start(account, left_by_pass)
        if started == "mail":  # it came while the pass finished: no waiting for an EXISTS that will not come
            self._mail_arrived(account.id)
        elif started == "idling":
            with self._lock:
                if account.id not in self._due:  # it became due (or left) while connecting
                    self._idle.forget(account.id)
        elif started == "unsupported":
            self._no_idle_until[account.id] = time.monotonic() + IDLE_RETRY_SECONDS

    def _mail_arrived(self, account_id: str) -> None:
        with self._lock:
            if account_id in self._due and account_id in self._processors:
                del self._due[account_id]
                self._ready.append(account_id)
        self._wake.set()

    def _idle_lost(self, account_id: str) -> None:
        log.info("la cuenta «%s» espera su intervalo (sin IDLE)", account_id)
