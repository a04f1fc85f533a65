"""The service loop never dies of a fault: every failure of a cycle, foreseen or not, becomes
a wait, and the account goes on once the fault is gone.

The faults are injected where a library or the machine would raise them (the source factory
and the source's fetch); the store is real. The real protocols are faulted through a TCP
proxy in the integration suites.
"""

from __future__ import annotations

import errno
import sqlite3
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.test_pipeline_faults import ScriptedSource
from tui_recepcion.config import parse_config
from tui_recepcion.demo.samples import SampleFactory
from tui_recepcion.engine.service import AUTH_PAUSE, RETRY_VARIABLE, AccountProcessor, Engine
from tui_recepcion.errors import AuthenticationFailed, ConnectionProblem
from tui_recepcion.events import EngineProblem, Event, PassFinished
from tui_recepcion.providers import shared_registry
from tui_recepcion.store import Store

CONFIG = """
[general]
intervalo_minutos = 5

[cuentas.principal]
proveedor = "generic"
tipo_servidor = "basica"
protocolo = "imap"
servidor = "imap.empresa.co"
puerto = 993
seguridad = "ssl"
usuario = "recepcion@empresa.co"
secreto = "env:CLAVE_QUE_NO_SE_USA"
"""


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv(RETRY_VARIABLE, "0.01")
    config, problems = parse_config(CONFIG.replace("[general]", f'[general]\nbase_datos = "{tmp_path / "r.db"}"'))
    assert config is not None, problems
    with Engine(config, Store.open(tmp_path / "r.db", tmp_path / "documentos"), shared_registry()) as opened:
        yield opened


def faulty(error: Exception, key: str) -> ScriptedSource:
    # A key of its own each time: three failures on one message would isolate it (poison).
    source = ScriptedSource({key: b"x"})
    source.fetch_error = error
    return source


FAULTS: list[Exception] = [
    RuntimeError("a bug in a library"),
    OSError(errno.ENOSPC, "No space left on device"),
    sqlite3.OperationalError("database is locked"),
    ssl.SSLEOFError(8, "EOF occurred in violation of protocol"),
    ConnectionProblem("conexion_perdida", "Se perdió la conexión.", transient=True),
    KeyError("b'UID'"),
]


def test_the_loop_outlives_every_kind_of_fault_and_then_processes_the_mail(engine: Engine) -> None:
    good = ScriptedSource({f"k{i}": mail.raw for i, mail in enumerate(SampleFactory(seed=3).mailbox(good=3, failing_each=0))})
    sources = iter([*(faulty(error, f"malo{i}") for i, error in enumerate(FAULTS)), good])
    cancel = threading.Event()
    events: list[Event] = []

    def emit(event: Event) -> None:
        events.append(event)
        if isinstance(event, PassFinished) and event.remaining == 0:
            cancel.set()  # the mail went through: the test has seen what it needs

    processor = AccountProcessor(engine, engine.config.account("principal"), emit=emit, cancel=cancel,
                                 source_factory=lambda: next(sources))
    thread = threading.Thread(target=processor.serve)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the service loop did not get past the faults"
    problems = [event for event in events if isinstance(event, EngineProblem)]
    assert len(problems) == len(FAULTS)
    assert all(problem.transient for problem in problems)
    assert "Traceback" not in "".join(problem.message for problem in problems)
    assert set(good.disposed) == set(good.raws)


def test_a_message_that_breaks_the_connection_every_time_is_isolated(engine: Engine) -> None:
    cancel = threading.Event()
    events: list[Event] = []

    def emit(event: Event) -> None:
        events.append(event)
        if isinstance(event, PassFinished) and event.remaining == 0:
            cancel.set()

    breaker = faulty(ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), "rompe")
    processor = AccountProcessor(engine, engine.config.account("principal"), emit=emit, cancel=cancel,
                                 source_factory=lambda: breaker)
    thread = threading.Thread(target=processor.serve)
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    assert breaker.disposed == {"rompe": "Fallidos"}
    assert engine.store.get_message("principal", "rompe").reason == "no_se_pudo_leer"


def test_a_factory_that_raises_is_a_fault_too(engine: Engine) -> None:
    cancel = threading.Event()
    calls = []

    def factory() -> ScriptedSource:
        calls.append(1)
        if len(calls) == 3:
            cancel.set()
        raise ValueError("unexpected")

    processor = AccountProcessor(engine, engine.config.account("principal"), cancel=cancel, source_factory=factory)
    thread = threading.Thread(target=processor.serve)
    thread.start()
    thread.join(30)
    assert not thread.is_alive() and len(calls) == 3


def test_only_a_refusal_of_credentials_pauses_the_account(engine: Engine) -> None:
    account = engine.config.account("principal")

    def refused() -> ScriptedSource:
        raise AuthenticationFailed("El servidor rechazó el usuario o la contraseña.")

    assert AccountProcessor(engine, account, source_factory=refused).cycle().wait == AUTH_PAUSE

    def dropped() -> ScriptedSource:
        raise ConnectionProblem("conexion_perdida", "Se perdió la conexión durante el inicio de sesión.", transient=True)

    assert AccountProcessor(engine, account, source_factory=dropped).cycle().wait.total_seconds() < 1
