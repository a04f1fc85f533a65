"""PostgreSQL-only behaviour of the store: lost connections, typed faults, masked passwords,
concurrent writers on many connections. The behaviour both backends share is tested by the
other files of this folder, on both."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from tests.servers.net import closed_port
from tests.servers.postgres import PostgresServer
from tui_recepcion.dian.extract import extract_file
from tui_recepcion.dian.model import Extraction, Failure
from tui_recepcion.dian.reasons import Reason
from tui_recepcion.store import SCHEMA_VERSION, Store, StoreError
from tui_recepcion.store import ledger as ledger_module
from tui_recepcion.store.postgres import PostgresDatabase

ACCOUNT = "principal"
FAILED = Extraction(failure=Failure(Reason.SIN_ADJUNTOS, "x"))


def backend_pid(store: Store) -> int:
    (pid,) = store._db.execute("SELECT pg_backend_pid()").fetchone()
    return int(pid)


def terminate(server: PostgresServer, pid: int) -> None:
    with server.admin() as admin:
        (done,) = admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone()
    assert done


def test_a_connection_killed_mid_transaction_is_transient_and_writes_nothing(
    postgres_url: str, postgres_server: PostgresServer, tmp_path: Path, factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    generated = [factory.document(), factory.document()]
    extraction = extract_file("f.xml", factory.container(generated[0]))
    with Store.open(postgres_url, tmp_path / "documentos") as store:
        store.record_outcome(ACCOUNT, "imap:1:1", FAILED, "h1", "Fallidos")
        real_insert = ledger_module.insert_document
        killed: list[int] = []

        def insert_then_lose_the_connection(db, *args, **kwargs):  # type: ignore[no-untyped-def]
            row = real_insert(db, *args, **kwargs)  # the document row is written, not committed
            pid = int(db.execute("SELECT pg_backend_pid()").fetchone()[0])
            terminate(postgres_server, pid)
            killed.append(pid)
            return row

        monkeypatch.setattr(ledger_module, "insert_document", insert_then_lose_the_connection)
        with pytest.raises(StoreError) as caught:
            store.record_outcome(ACCOUNT, "imap:1:2", extraction, "h2", "Procesados")
        monkeypatch.undo()
        assert killed and caught.value.transient
        assert "PostgreSQL" in str(caught.value) and "se reintentará" in str(caught.value)
        # Nothing of the transaction was kept; the store goes on with a new connection.
        assert store.document_count() == 0 and store.get_message(ACCOUNT, "imap:1:2") is None
        assert [entry.source_key for entry in store.messages()] == ["imap:1:1"]
        assert backend_pid(store) != killed[0]
        result = store.record_outcome(ACCOUNT, "imap:1:2", extraction, "h2", "Procesados")
        assert result.added == extraction.cufes and not result.already_recorded


def test_a_connection_lost_between_calls_is_replaced_without_an_error(
    postgres_url: str, postgres_server: PostgresServer
) -> None:
    with Store.open(postgres_url) as store:
        store.record_outcome(ACCOUNT, "k1", FAILED, "h1")
        first = backend_pid(store)
        terminate(postgres_server, first)  # e.g. the server restarted while the pass slept
        store.record_outcome(ACCOUNT, "k2", FAILED, "h2")  # the pool checks what it lends
        assert backend_pid(store) != first
        assert store.message_counts() == {ACCOUNT: {"procesado": 0, "fallido": 2}}


def test_a_server_that_is_down_is_transient_and_the_password_never_shows() -> None:
    with closed_port() as port:
        url = f"postgresql://recepcion:Cl4ve-Secreta%21@127.0.0.1:{port}/recepcion"
        with pytest.raises(StoreError) as caught:
            Store.open(url)
    text = str(caught.value) + repr(caught.value)
    assert caught.value.transient and "No se pudo conectar con PostgreSQL" in text
    assert "Cl4ve" not in text and "Secreta" not in text and "recepcion:***@127.0.0.1" in text


def test_a_missing_database_is_a_permanent_problem(postgres_server: PostgresServer) -> None:
    with pytest.raises(StoreError, match="rechazó la conexión") as caught:
        Store.open(postgres_server.url("no_existe_esta_base"))
    assert not caught.value.transient


def test_serialization_failures_and_deadlocks_are_transient(postgres_url: str) -> None:
    from tui_recepcion.store.postgres import problem

    for state, name in (("40001", "SerializationFailure"), ("40P01", "DeadlockDetected"),
                        ("57P01", "AdminShutdown"), ("53300", "TooManyConnections")):
        error_class = psycopg.errors.lookup(state)
        assert error_class.__name__ == name
        assert problem(error_class("x"), postgres_url).transient, name
    for state in ("28P01", "42601", "23505", "42501"):
        assert not problem(psycopg.errors.lookup(state)("x"), postgres_url).transient, state


def test_a_newer_schema_is_refused(postgres_url: str) -> None:
    Store.open(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as raw:
        raw.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="más nueva") as caught:
        Store.open(postgres_url)
    assert not caught.value.transient and "postgres@127.0.0.1" in str(caught.value)


def test_processes_opening_at_once_migrate_once(postgres_url: str) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def opener() -> None:
        try:
            start.wait(timeout=30)
            Store.open(postgres_url).close()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with psycopg.connect(postgres_url) as raw:
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


def test_threads_of_one_store_write_in_parallel_on_their_own_connections(postgres_url: str) -> None:
    with Store.open(postgres_url) as store:
        assert isinstance(store._db, PostgresDatabase)
        errors: list[BaseException] = []

        def writer(account: str) -> None:
            try:
                for index in range(30):
                    store.record_outcome(account, f"k{index}", FAILED, f"h{index}")
                    store.append_events([(account, "mensaje", {"i": index})])
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=writer, args=(name,)) for name in ("a", "b", "c", "d")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert store.message_counts() == {name: {"procesado": 0, "fallido": 30} for name in "abcd"}
        ids = [event.id for event in store.events_after(0, limit=1000)]
        assert len(ids) == 120 and ids == sorted(ids) and store.last_event_id() == ids[-1]


def test_two_processes_recording_one_document_at_once_store_it_once(postgres_url: str, tmp_path: Path,
                                                                    factory) -> None:
    """Two stores (two pools, as two machines have) record the same CUFE for one account at
    the same moment: the account's write lock makes the second see the first's commit."""
    extraction = extract_file("f.xml", factory.container(factory.document()))
    Store.open(postgres_url).close()
    start = threading.Barrier(2)
    results: list[object] = []
    errors: list[BaseException] = []

    def machine(name: str) -> None:
        try:
            with Store.open(postgres_url, tmp_path / name) as store:
                start.wait(timeout=30)
                results.append(store.record_outcome(ACCOUNT, f"imap:{name}:1", extraction, "h", "Procesados"))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=machine, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted((len(r.added), len(r.duplicates)) for r in results) == [(0, 1), (1, 0)]  # type: ignore[attr-defined]
    with Store.open(postgres_url) as store:
        assert store.document_count() == 1 and len(store.messages()) == 2


@pytest.mark.parametrize("url", [
    "postgresql://u:S3creto-1@127.0.0.1:1/b?sslmode=inventado",  # refused by libpq: a person must fix it
    "postgresql://u:S3creto-1@[::1:1/b",  # not even a URL: libpq echoes it whole
    "postgresql://u:S3cr%20eto-1@[::1:1/b",
    "postgresql://u@[::1:1/b?password=S3creto-1",
])
def test_a_broken_url_is_a_permanent_problem_that_never_shows_its_password(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    text = str(caught.value)
    assert "S3cr" not in text and "***" in text and not caught.value.transient


def test_a_server_that_goes_down_and_comes_back_costs_transient_errors_only(tmp_path: Path) -> None:
    """A server of its own (the shared one stays up): stopped at once, then started again."""
    server = PostgresServer()
    try:
        server.start()
        url = server.url(server.create_database())
        with Store.open(url) as store:
            store.record_outcome(ACCOUNT, "k1", FAILED, "h1")
            server.pause()
            with pytest.raises(StoreError) as caught:
                store.record_outcome(ACCOUNT, "k2", FAILED, "h2")
            assert caught.value.transient and "PostgreSQL" in str(caught.value)
            server.resume()
            store.record_outcome(ACCOUNT, "k2", FAILED, "h2")  # the pool connects again by itself
            assert store.message_counts() == {ACCOUNT: {"procesado": 0, "fallido": 2}}
    finally:
        server.stop()
