"""Running the engine for configured accounts: one pass, or a service loop.

`Engine` holds what every account shares (config, store, provider registry).
`AccountProcessor` runs passes for one account under its lock, and `serve()` repeats them:
right away when IMAP IDLE reports new mail, otherwise every `intervalo_minutos`; transient
failures back off exponentially up to a cap, and an authentication failure pauses the
account for a long while instead of retrying (providers lock accounts that retry). The
TUI and `tui-recepcion procesar` both use this module; it never imports Textual.

`serve()` never ends because of a fault: every problem of a cycle, foreseen or not, becomes
a wait before the next one. Only a cancel ends it. `interrupt()` cuts the running pass's
connections (SIGTERM must not wait for a slow server).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tui_recepcion import paths
from tui_recepcion.accounts import build_source
from tui_recepcion.alerts import Alerts
from tui_recepcion.config import Account, Config
from tui_recepcion.dian import Reason
from tui_recepcion.dian.deadlines import rules_for
from tui_recepcion.engine.idle import wait_for_new_mail
from tui_recepcion.engine.lock import AccountBusy, account_lock
from tui_recepcion.engine.pipeline import DEFAULT_PASS_SECONDS, Checkpoint, PassResult, Pipeline, _no_checkpoint
from tui_recepcion.engine.prepare import extractor
from tui_recepcion.engine.radian_auto import AutomaticEvents
from tui_recepcion.errors import AuthenticationFailed, ConnectionProblem, InternalFault, RecepcionError
from tui_recepcion.events import (
    EngineProblem,
    Event,
    MessageHandled,
    MessageKept,
    StateChanged,
    event_from_payload,
)
from tui_recepcion.mailbox.source import MessageSource
from tui_recepcion.providers import ProviderRegistry, ServerDefaults, shared_registry
from tui_recepcion.store import Store, StoreError
from tui_recepcion.vocabulary import IMAP

log = logging.getLogger(__name__)

Emit = Callable[[Event], None]
SourceFactory = Callable[[], MessageSource]

BACKOFF_START = timedelta(seconds=30)
BACKOFF_CAP = timedelta(minutes=15)
AUTH_PAUSE = timedelta(hours=1)
# Operators (and the fault tests) may shorten the first retry and bound a pass differently.
RETRY_VARIABLE = "TUI_RECEPCION_REINTENTO_SEGUNDOS"
PASS_LIMIT_VARIABLE = "TUI_RECEPCION_PASADA_MAX_SEGUNDOS"
# A pass or a wait may overrun its bound by this much before the watchdog calls it stuck.
LIVENESS_MARGIN_SECONDS = 120.0
# Outcomes a person must look at: each is alerted once, after the pass that found it.
ALERTED_REASONS = frozenset(
    {Reason.CUFE_EN_CONFLICTO, Reason.NO_SE_PUDO_LEER, Reason.MENSAJE_DEMASIADO_GRANDE, Reason.REENVIO_RECHAZADO}
)


def env_seconds(name: str, default: float) -> float:
    """A positive number of seconds from the environment, else `default` (with a warning)."""
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        value = 0.0
    if not 0 < value < 10**7:
        log.warning("%s=%r no es un número de segundos válido; se usa %s", name, text, f"{default:g}")
        return default
    return value


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
    return min(cap, start * (1 << min(max(0, failures - 1), 32)))


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
        self._can_idle = source_factory is None and account.protocol == IMAP
        self._checkpoint = checkpoint
        self._clock = clock
        self._failures = 0
        self.alerts = alerts
        self.backoff_start = timedelta(seconds=env_seconds(RETRY_VARIABLE, BACKOFF_START.total_seconds()))
        self.pass_seconds = env_seconds(PASS_LIMIT_VARIABLE, DEFAULT_PASS_SECONDS)
        self._pipeline: Pipeline | None = None
        self._to_alert: list[tuple[str, str, str]] = []  # (source key, reason, detail)
        self._automatic = AutomaticEvents(engine.config.company, engine.store)  # [empresa] acuse_automatico
        self._answer_by = time.monotonic() + self.pass_seconds + LIVENESS_MARGIN_SECONDS

    def _emit(self, event: Event) -> None:
        self._automatic.note(event)
        if isinstance(event, MessageHandled) and event.reason in ALERTED_REASONS:
            self._to_alert.append((event.source_key, event.reason, event.reason_detail or ""))
        elif isinstance(event, MessageKept):
            self._to_alert.append((event.source_key, event.reason, event.detail))
        self._emit_callback(event)

    def _log_event(self, event: Event) -> None:
        """Emit and also append to the store's log (for events outside a pipeline pass)."""
        self._emit(event)
        try:
            self.engine.store.append_events([(event.account, event.kind, event.to_payload())])
        except RecepcionError:
            log.warning("no se pudo registrar el evento %s en el almacén", event.kind)

    # --- liveness and interruption ---------------------------------------------------------

    def interrupt(self) -> None:
        """Cut the running pass's connections; safe from a signal handler or another thread."""
        pipeline = self._pipeline
        if pipeline is not None:
            pipeline.interrupt()

    def stuck(self) -> bool:
        """True when the processor overran every bound it has (the watchdog stops vouching)."""
        return time.monotonic() > self._answer_by

    def _expect_answer_within(self, seconds: float) -> None:
        self._answer_by = time.monotonic() + seconds + LIVENESS_MARGIN_SECONDS

    # --- one pass ---------------------------------------------------------------------------

    def run_pass(self) -> PassResult:
        """One pass under the account's lock. Raises a RecepcionError (with a Spanish
        message) when the pass could not run or was interrupted; bad messages never raise."""
        self._expect_answer_within(self.pass_seconds)
        try:
            try:
                with account_lock(self.engine.lock_dir, self.account.id):
                    self._pipeline = Pipeline(
                        self.account.id,
                        self._source_factory(),
                        self.engine.store,
                        receiver_nit=self.account.receiver_nit,
                        emit=self._emit,
                        cancel=self.cancel,
                        checkpoint=self._checkpoint,
                        deadline_seconds=self.pass_seconds,
                        extract=extractor(self.engine.config.general.require_valid_signature),
                    )
                    result = self._pipeline.run_pass()
            finally:
                self._pipeline = None
                self._send_message_alerts()
                self._automatic.send_pending()
        except RecepcionError as problem:
            self._report(problem)
            raise
        except sqlite3.Error as error:  # the store is busy or broken: retried like a network error
            store_problem = StoreError(f"El almacén local no respondió: {error}")
            self._report(store_problem)
            raise store_problem from error
        except OSError as error:  # the lock file or the source's files (a full disk, permissions)
            file_problem = StoreError(f"No se pudo usar un archivo local: {error.strerror or error}")
            self._report(file_problem)
            raise file_problem from error
        except Exception as error:
            log.error("error inesperado en la cuenta «%s»", self.account.id)
            log.debug("detalle del error inesperado", exc_info=error)
            fault = InternalFault.from_exception(error, f"la cuenta «{self.account.id}»")
            self._report(fault)
            raise fault from error
        self._failures = 0
        if self.alerts is not None:
            self.alerts.login_succeeded(self.account)  # closes an open authentication incident
        return result

    def _send_message_alerts(self) -> None:
        pending, self._to_alert = self._to_alert, []
        if self.alerts is None:
            return
        for source_key, reason, detail in pending:
            try:
                self.alerts.message_problem(self.account, source_key=source_key, reason=reason, detail=detail)
            except Exception as error:  # an alert that cannot go out must not fail the pass
                log.warning("no se pudo enviar la alerta «%s» de %s: %s", reason, source_key, error)

    def _report(self, problem: RecepcionError) -> None:
        code = getattr(problem, "code", type(problem).__name__)
        self._log_event(
            EngineProblem(account=self.account.id, code=code, message=str(problem), transient=is_transient(problem))
        )
        self._log_event(StateChanged(account=self.account.id, state="error", detail=str(problem)))
        if isinstance(problem, AuthenticationFailed) and self.alerts is not None:
            try:
                self.alerts.authentication_failed(self.account, str(problem))
            except Exception as error:
                log.warning("no se pudo enviar la alerta de inicio de sesión: %s", error)

    # --- the service loop -------------------------------------------------------------------

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
            return CycleOutcome(None, backoff_delay(self._failures, self.backoff_start), problem)
        if result.retry_soon:  # a message the server would not deliver: try it again soon, not in an interval
            return CycleOutcome(result, min(interval, self.backoff_start))
        return CycleOutcome(result, interval)

    def serve(self) -> None:
        """Process until `cancel` is set, evaluating the account's alerts every cycle.

        Nothing but the cancel ends this loop: a fault of any kind becomes a wait."""
        while not self.cancel.is_set():
            try:
                outcome = self.cycle()
            except Exception as error:  # run_pass translates everything; this guards the guard
                log.error("error inesperado en el ciclo de «%s»: %s", self.account.id, type(error).__name__)
                self._failures += 1
                outcome = CycleOutcome(None, backoff_delay(self._failures, self.backoff_start),
                                       InternalFault.from_exception(error, "el ciclo del servicio"))
            self.evaluate_alerts()
            if self.cancel.is_set():
                break
            self._expect_answer_within(outcome.wait.total_seconds())
            next_run = self._clock() + outcome.wait
            self._log_event(
                StateChanged(
                    account=self.account.id,
                    state="esperando" if outcome.problem is None else "error",
                    detail=f"próxima pasada: {next_run.astimezone(self.account.tzinfo):%d/%m/%Y %H:%M:%S}",
                    next_run=next_run,
                )
            )
            self._wait(outcome)
        self._log_event(StateChanged(account=self.account.id, state="inactivo", detail="detenido"))

    def evaluate_alerts(self) -> None:
        if self.alerts is None:
            return
        try:
            self.alerts.evaluate([self.account])
            if self.engine.config.general.claims_summary:  # resumen_reclamos: once a day, when any
                self.alerts.claims_summary(self.account, rules_for(self.engine.config.general))
        except Exception as error:  # alerts are a side channel: never the reason the service stops
            log.warning("no se pudieron evaluar las alertas de «%s»: %s", self.account.id, error)

    def _wait(self, outcome: CycleOutcome) -> None:
        """Until the next pass: IMAP IDLE when healthy and offered, else a cancellable sleep."""
        seconds = outcome.wait.total_seconds()
        if outcome.problem is None and self._can_idle:
            try:
                left = outcome.result.remaining if outcome.result is not None else None
                if wait_for_new_mail(self.account, seconds, self.cancel, left):
                    return
            except Exception as error:
                log.info("IDLE falló (%s); se espera el intervalo", type(error).__name__)
        self.cancel.wait(seconds)


def is_transient(problem: RecepcionError) -> bool:
    """Whether retrying later may help (network, timeouts, a busy or full store) or a person must act."""
    if isinstance(problem, ConnectionProblem | InternalFault):
        return problem.transient
    if isinstance(problem, StoreError):
        return bool(getattr(problem, "transient", True))
    return isinstance(problem, AccountBusy)


class EventFollower:
    """Follows the store's event log, e.g. written by `tui-recepcion procesar` elsewhere."""

    def __init__(self, store: Store, after_id: int | None = None) -> None:
        self.store = store
        self.last_id = store.last_event_id() if after_id is None else after_id

    def poll(self, limit: int = 500) -> list[Event]:
        rows = self.store.events_after(self.last_id, limit)
        if rows:
            self.last_id = rows[-1].id
        events = (event_from_payload(row.kind, row.account or "", row.payload) for row in rows)
        return [event for event in events if event is not None]
