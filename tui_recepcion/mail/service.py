"""Running the engine for configured accounts: one pass, or a service loop.

`Engine` holds what every account shares (config, store, provider registry).
`AccountProcessor` runs passes for one account under its lock, and `serve()` repeats them:
right away when IMAP IDLE reports new mail, otherwise every `intervalo_minutos`; transient
failures back off exponentially up to a cap, and an authentication failure pauses the
account for a long while instead of retrying (providers lock accounts that retry). The
TUI and `tui-recepcion procesar` both use this module; it never imports Textual.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tui_recepcion import paths
from tui_recepcion.alerts import Alerts
from tui_recepcion.config import Account, Config
from tui_recepcion.errors import RecepcionError
from tui_recepcion.mail.account import build_source
from tui_recepcion.mail.errors import AuthenticationFailed, ConnectionProblem
from tui_recepcion.mail.events import EngineProblem, Event, StateChanged, event_from_payload
from tui_recepcion.mail.idle import wait_for_new_mail
from tui_recepcion.mail.lock import AccountBusy, account_lock
from tui_recepcion.mail.pipeline import Checkpoint, PassResult, Pipeline, _no_checkpoint
from tui_recepcion.mail.source import MessageSource
from tui_recepcion.providers import ProviderRegistry, ServerDefaults, shared_registry
from tui_recepcion.store import Store, StoreError

log = logging.getLogger(__name__)

Emit = Callable[[Event], None]
SourceFactory = Callable[[], MessageSource]

BACKOFF_START = timedelta(seconds=30)
BACKOFF_CAP = timedelta(minutes=15)
AUTH_PAUSE = timedelta(hours=1)


class Engine:
    """The shared context of every account's processing: config, store, providers."""

    def __init__(self, config: Config, store: Store, registry: ProviderRegistry) -> None:
        self.config = config
        self.store = store
        self.registry = registry

    @classmethod
    def open(cls, config: Config, registry: ProviderRegistry | None = None) -> Engine:
        store = Store.open(paths.database_path(config), paths.documents_dir(config))
        return cls(config, store, registry or shared_registry())

    @property
    def lock_dir(self) -> Path:
        return paths.lock_dir(self.config)

    def smtp_defaults(self, account: Account) -> ServerDefaults | None:
        provider = self.registry.get(account.provider)
        return provider.smtp if provider is not None else None

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def backoff_delay(failures: int, start: timedelta = BACKOFF_START, cap: timedelta = BACKOFF_CAP) -> timedelta:
    """30 s, 1 min, 2 min, … up to the cap: transient failures are retried, never hammered."""
    return min(cap, start * (2 ** max(0, failures - 1)))


@dataclass(frozen=True, slots=True)
class CycleOutcome:
    """What one service cycle did, and how long to wait before the next."""

    result: PassResult | None
    wait: timedelta
    problem: RecepcionError | None = None


class AccountProcessor:
    """Processes one account: single passes (`run_pass`) or a service loop (`serve`)."""

    def __init__(
        self,
        engine: Engine,
        account: Account,
        *,
        emit: Emit = lambda event: None,
        cancel: threading.Event | None = None,
        source_factory: SourceFactory | None = None,
        checkpoint: Checkpoint = _no_checkpoint,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        alerts: Alerts | None = None,
    ) -> None:
        self.engine = engine
        self.account = account
        self.cancel = cancel or threading.Event()
        self._emit_callback = emit
        self._source_factory = source_factory or (lambda: build_source(account, engine.smtp_defaults(account)))
        # IDLE needs the account's own IMAP server; a supplied source (the demo's Maildir) has none.
        self._can_idle = source_factory is None and account.protocol == "imap"
        self._checkpoint = checkpoint
        self._clock = clock
        self._failures = 0
        self.alerts = alerts

    def _emit(self, event: Event) -> None:
        self._emit_callback(event)

    def _log_event(self, event: Event) -> None:
        """Emit and also append to the store's log (for events outside a pipeline pass)."""
        self._emit(event)
        try:
            self.engine.store.append_events([(event.account, event.kind, event.to_payload())])
        except StoreError:
            log.warning("no se pudo registrar el evento %s en el almacén", event.kind)

    def run_pass(self) -> PassResult:
        """One pass under the account's lock. Raises a RecepcionError (with a Spanish
        message) when the pass could not run or was interrupted; bad messages never raise."""
        try:
            with account_lock(self.engine.lock_dir, self.account.id):
                pipeline = Pipeline(
                    self.account.id,
                    self._source_factory(),
                    self.engine.store,
                    receiver_nit=self.account.receiver_nit,
                    emit=self._emit,
                    cancel=self.cancel,
                    checkpoint=self._checkpoint,
                )
                result = pipeline.run_pass()
        except RecepcionError as problem:
            self._report(problem)
            raise
        except sqlite3.Error as error:  # the store is busy or broken: retried like a network error
            problem = StoreError(f"El almacén local no respondió: {error}")
            self._report(problem)
            raise problem from error
        self._failures = 0
        if self.alerts is not None:
            self.alerts.login_succeeded(self.account)  # closes an open authentication incident
        return result

    def _report(self, problem: RecepcionError) -> None:
        code = getattr(problem, "code", type(problem).__name__)
        self._log_event(
            EngineProblem(account=self.account.id, code=code, message=str(problem), transient=is_transient(problem))
        )
        self._log_event(StateChanged(account=self.account.id, state="error", detail=str(problem)))
        if isinstance(problem, AuthenticationFailed) and self.alerts is not None:
            self.alerts.authentication_failed(self.account, str(problem))

    def cycle(self) -> CycleOutcome:
        """One service cycle: a pass, then how long to wait according to how it went."""
        interval = timedelta(minutes=self.engine.config.general.interval_minutes)
        try:
            result = self.run_pass()
        except AuthenticationFailed as problem:
            return CycleOutcome(None, AUTH_PAUSE, problem)
        except AccountBusy as problem:
            return CycleOutcome(None, interval, problem)
        except RecepcionError as problem:
            if not is_transient(problem):
                return CycleOutcome(None, max(interval, BACKOFF_CAP), problem)
            self._failures += 1
            return CycleOutcome(None, backoff_delay(self._failures), problem)
        return CycleOutcome(result, interval)

    def serve(self) -> None:
        """Process until `cancel` is set, evaluating the account's alerts every cycle."""
        while not self.cancel.is_set():
            outcome = self.cycle()
            if self.alerts is not None:
                self.alerts.evaluate([self.account])
            if self.cancel.is_set():
                break
            next_run = self._clock() + outcome.wait
            self._log_event(
                StateChanged(
                    account=self.account.id,
                    state="esperando" if outcome.problem is None else "error",
                    detail=f"próxima pasada: {next_run.astimezone(self.account.tzinfo):%Y-%m-%d %H:%M:%S}",
                )
            )
            self._wait(outcome)
        self._log_event(StateChanged(account=self.account.id, state="inactivo", detail="detenido"))

    def _wait(self, outcome: CycleOutcome) -> None:
        """Until the next pass: IMAP IDLE when healthy and offered, else a cancellable sleep."""
        seconds = outcome.wait.total_seconds()
        if outcome.problem is None and self._can_idle and wait_for_new_mail(self.account, seconds, self.cancel):
            return
        self.cancel.wait(seconds)


def is_transient(problem: RecepcionError) -> bool:
    """Whether retrying later may help (network, timeouts, a busy store) or a person must act."""
    if isinstance(problem, ConnectionProblem):
        return problem.transient
    return isinstance(problem, (StoreError, AccountBusy))


class EventFollower:
    """Follows the store's event log, e.g. written by `tui-recepcion procesar` elsewhere."""

    def __init__(self, store: Store, after_id: int | None = None) -> None:
        self.store = store
        self.last_id = store.last_event_id() if after_id is None else after_id

    def poll(self, limit: int = 500) -> list[Event]:
        rows = self.store.events_after(self.last_id, limit)
        if rows:
            self.last_id = rows[-1].id
        events = (event_from_payload(row.kind, row.account, row.payload) for row in rows)
        return [event for event in events if event is not None]
