"""Account ownership (issue 16): exclusive across processes, re-entrant in one, counted per
live process, and released by the system itself when the owner dies or loses its session.

PostgreSQL: session advisory locks on a real server; SQLite: flocks in the lock folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.fleet_support import wait_for
from tui_recepcion.config import Account, Config
from tui_recepcion.engine.lock import AccountBusy
from tui_recepcion.engine.ownership import FileOwnership, Ownership, PostgresOwnership
from tui_recepcion.engine.service import AccountProcessor, Engine
from tui_recepcion.providers import shared_registry
from tui_recepcion.store import Store
from tui_recepcion.store.fleet import fleet_status

# A process that takes accounts and sleeps until killed: the owner a test kills.
HOLDER = textwrap.dedent("""\
    import sys, time
    from pathlib import Path
    from tui_recepcion.engine.ownership import FileOwnership, PostgresOwnership
    where, *accounts = sys.argv[1:]
    owner = PostgresOwnership(where) if where.startswith("postgresql") else FileOwnership(Path(where))
    assert all(owner.try_acquire(account) for account in accounts)
    owner.live_workers()
    for account in accounts:
        owner.publish(account, "procesando")
    print("listo", flush=True)
    time.sleep(600)
""")


@pytest.fixture(params=["postgresql", "archivos"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where ownership lives: a migrated PostgreSQL store, or a lock folder."""
    if request.param == "archivos":
        return str(tmp_path / "bloqueos")
    url: str = request.getfixturevalue("postgres_url")
    Store.open(url).close()  # the fleet's tables come with the store's schema
    return url


def owner_at(where: str) -> Ownership:
    return PostgresOwnership(where) if where.startswith("postgresql") else FileOwnership(Path(where))


@pytest.fixture
def owners(where: str) -> Iterator[list[Ownership]]:
    made: list[Ownership] = []
    yield made
    for owner in made:
        owner.close()


def two(where: str, owners: list[Ownership]) -> tuple[Ownership, Ownership]:
    owners += [owner_at(where), owner_at(where)]
    return owners[0], owners[1]


def holder(where: str, *accounts: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", HOLDER, where, *accounts], stdout=subprocess.PIPE, text=True,
                               start_new_session=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "listo"
    return process


def test_one_owner_at_a_time_and_a_released_account_is_free_again(where: str, owners: list[Ownership]) -> None:
    first, second = two(where, owners)
    assert first.try_acquire("acme")
    assert first.try_acquire("acme")  # re-entrant: already ours
    assert not second.try_acquire("acme")
    assert second.try_acquire("beta")
    assert first.owned() == {"acme"} and second.owned() == {"beta"}
    with pytest.raises(AccountBusy, match="«acme» ya se está procesando en otro proceso"):
        with second.hold("acme"):
            pass
    with first.hold("acme"):  # a pass of an account this process owns just runs
        assert first.owns("acme")
    assert first.owns("acme")  # and it stays owned after the pass
    first.release("acme")
    with second.hold("acme"):
        assert not first.try_acquire("acme")
    assert first.try_acquire("acme")  # hold() gave it back when the block ended


def test_live_processes_are_counted_and_a_closed_one_is_not(where: str, owners: list[Ownership]) -> None:
    first, second = two(where, owners)
    assert first.live_workers() == 1
    assert second.live_workers() == 2
    assert first.live_workers() == 2
    second.close()  # the server ends that session a moment after the connection closes
    wait_for(lambda: first.live_workers() == 1, 10, "un proceso vivo menos")


def test_a_sigkilled_owner_frees_its_accounts_at_once(where: str, owners: list[Ownership]) -> None:
    owners.append(owner_at(where))
    survivor = owners[0]
    survivor.live_workers()
    process = holder(where, "acme", "beta")
    try:
        assert survivor.live_workers() == 2
        assert not survivor.try_acquire("acme")
        # PostgreSQL knows who holds what (pg_locks); a lock folder only learns it by trying.
        expected_free = ["gamma"] if where.startswith("postgresql") else ["acme", "beta", "gamma"]
        assert survivor.free_among(["acme", "beta", "gamma"]) == expected_free
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        # The kernel closed the dead process's socket/descriptors: no lease to wait out. Only
        # PostgreSQL's backend must notice the closed socket and end that session, a moment later.
        wait_for(lambda: survivor.try_acquire("acme"), 10, "la cuenta del proceso muerto, libre")
        assert survivor.try_acquire("beta")
        assert survivor.live_workers() == 1
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_fleet_rows_say_who_owns_what_and_whether_it_is_alive(postgres_url: str) -> None:
    Store.open(postgres_url).close()
    process = holder(postgres_url, "acme", "beta")
    try:
        rows = {row.account: row for row in fleet_status(postgres_url)}
        assert set(rows) == {"acme", "beta"}
        assert rows["acme"].pid == process.pid and rows["acme"].alive and rows["acme"].state == "procesando"
        assert rows["acme"].host == os.uname().nodename
        owner = PostgresOwnership(postgres_url)
        try:
            with pytest.raises(AccountBusy, match=rf"PID {process.pid} en "):
                with owner.hold("acme"):
                    pass
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            wait_for(lambda: not any(row.alive for row in fleet_status(postgres_url)), 10, "el dueño muerto")
            with owner.hold("acme"):
                owner.publish("acme", "procesando", last_pass=(3, 1, 0))
                mine = {row.account: row for row in fleet_status(postgres_url)}["acme"]
                assert (mine.pid, mine.alive, mine.last_processed, mine.last_failed) == (os.getpid(), True, 3, 1)
        finally:
            owner.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_lost_session_loses_every_account_and_the_others_can_take_them(postgres_url: str) -> None:
    Store.open(postgres_url).close()
    first, second = PostgresOwnership(postgres_url), PostgresOwnership(postgres_url)
    try:
        assert first.try_acquire("acme") and first.try_acquire("beta")
        assert first.check() == set()
        # The server ends the session (what it does when the machine's network is gone).
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = 'tui-recepcion flota' AND pid <> pg_backend_pid() "
                          "AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory')")
        assert second.try_acquire("acme")
        assert first.check() == {"acme", "beta"}
        assert first.owned() == frozenset()
        assert first.try_acquire("beta")  # it joins again and takes what is free
        assert not first.try_acquire("acme")
    finally:
        first.close()
        second.close()


def test_a_database_that_cannot_be_reached_is_a_typed_problem_without_the_password() -> None:
    owner = PostgresOwnership("postgresql://flota:Clave-Secreta-9@127.0.0.1:1/nada")
    with pytest.raises(Exception) as raised:
        owner.try_acquire("acme")
    assert type(raised.value).__name__ == "StoreError"
    assert "Clave-Secreta-9" not in str(raised.value)
    assert owner.live_workers() == 1
    assert owner.check() == set()


def test_the_tui_pass_takes_the_same_ownership(postgres_url: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """AccountProcessor.run_pass (the TUI's and procesar's) refuses an account the fleet owns."""
    monkeypatch.setenv("TUI_RECEPCION_BASE_DATOS", postgres_url)  # as the service and the TUI find the store
    store = Store.open(postgres_url)
    account = Account(id="acme", provider="generic", auth_type="basica", protocol="imap", host="127.0.0.1", port=1,
                      security="ssl", username="r@acme.co", secret_ref="env:NADA")
    fleet_process = PostgresOwnership(postgres_url)
    engine = Engine(Config(path=tmp_path / "config.toml", accounts={"acme": account}), store, shared_registry())
    try:
        assert isinstance(engine.ownership, PostgresOwnership)
        assert fleet_process.try_acquire("acme")
        with pytest.raises(AccountBusy, match=rf"PID {os.getpid()}"):
            AccountProcessor(engine, account).run_pass()
    finally:
        fleet_process.close()
        engine.close()
