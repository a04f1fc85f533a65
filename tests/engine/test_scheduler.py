"""One process, many accounts (issue 16): the scheduler's shares, bounded pool, fair slices,
takeover between processes, `--max-cuentas`, and one thread watching every IDLE socket."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.servers.certs import TestCertificates
from tests.servers.dovecot import DovecotServer, MailUser
from tests.support.fleet_support import (
    PASSWORD,
    SECRET_VARIABLE,
    account_id,
    fleet_mails,
    fleet_users,
    folder_counts,
    start_fleet_dovecot,
    start_worker,
    stop_workers,
    wait_for,
    write_fleet,
)
from tui_recepcion import cli
from tui_recepcion.config import Account, load_config
from tui_recepcion.engine.idle_watch import IdleWatcher
from tui_recepcion.engine.ownership import FileOwnership
from tui_recepcion.engine.scheduler import Scheduler, share
from tui_recepcion.engine.service import Engine
from tui_recepcion.events import Event, PassFinished
from tui_recepcion.providers import shared_registry
from tui_recepcion.store import Store


@pytest.mark.parametrize(
    ("accounts", "caps", "mine", "expected"),
    [
        (200, [None, None, None], None, 67),
        (200, [None, None], None, 100),
        (7, [None, None], None, 4),
        (6, [1, None, None], None, 3),  # what the capped one cannot take goes to the others
        (6, [1, None, None], 1, 1),
        (6, [1, 1], 1, 1),  # every process capped: each takes its cap, the rest waits
        (0, [None], None, 0),
        (3, [None, None, None, None, None], None, 1),
    ],
)
def test_shares_are_even_and_respect_caps(accounts: int, caps: list[int | None], mine: int | None, expected: int) -> None:
    assert share(accounts, caps, mine) == expected


def test_every_share_together_covers_every_account() -> None:
    for accounts in range(0, 40):
        for caps in ([None], [None, None, None], [2, None], [1, 3, None, None], [5, 5]):
            total = sum(share(accounts, caps, cap) for cap in caps)
            assert total >= min(accounts, sum(cap if cap is not None else accounts for cap in caps))


# --- against a real Dovecot ----------------------------------------------------------------


@pytest.fixture(scope="module")
def users() -> tuple[MailUser, ...]:
    return fleet_users(3)


@pytest.fixture(scope="module")
def idle_dovecot(tls_certs: TestCertificates, users: tuple[MailUser, ...]) -> Iterator[DovecotServer]:
    server = start_fleet_dovecot(tls_certs.server, users, idle=True, name="dovecot-planificador")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fleet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_VARIABLE, PASSWORD)
    monkeypatch.setenv("TUI_RECEPCION_REINTENTO_SEGUNDOS", "1")


class Running:
    """A scheduler on its own thread, with the events it emitted."""

    def __init__(self, engine: Engine, accounts: list[Account], **options: object) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()
        self.scheduler = Scheduler(engine, accounts, emit=self._collect, **options)  # type: ignore[arg-type]
        self.thread = threading.Thread(target=self.scheduler.run, daemon=True)
        self.thread.start()

    def _collect(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def finished(self) -> list[str]:
        with self._lock:
            return [event.account for event in self.events if isinstance(event, PassFinished)]

    def stop(self) -> None:
        self.scheduler.stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


def test_a_big_backlog_is_worked_in_slices_and_does_not_starve_a_small_mailbox(
    tmp_path: Path, tls_certs: TestCertificates, idle_dovecot: DovecotServer, users: tuple[MailUser, ...],
    fleet_env: None,
) -> None:
    big, small = users[0], users[1]
    idle_dovecot.reset()
    mails = fleet_mails()
    raws = [mail.raw.replace(b"\n", b"\r\n") for mail in mails]
    idle_dovecot.deliver(big, raws * 3)  # 60 messages, 10 a slice: six passes
    idle_dovecot.deliver(small, raws[:5])
    fleet = write_fleet(tmp_path, idle_dovecot, tls_certs, [big, small])
    config = load_config(fleet.config_path)
    with Engine.open(config) as engine:
        running = Running(engine, list(config.accounts.values()), workers=1, slice_messages=10, idle=False)
        try:
            wait_for(lambda: folder_counts(idle_dovecot, big)["INBOX"] == 0 == folder_counts(idle_dovecot, small)["INBOX"],
                     120, "los dos buzones vacíos")
        finally:
            running.stop()
    passes = running.finished()
    assert passes.count(account_id(big)) >= 6
    # One pass at a time (workers=1): the small mailbox's pass came after at most one slice.
    assert passes.index(account_id(small)) <= 1, passes


def test_two_processes_share_the_accounts_and_one_takes_over_when_the_other_stops(
    tmp_path: Path, tls_certs: TestCertificates, idle_dovecot: DovecotServer, fleet_env: None,
) -> None:
    # Six accounts on a port where nothing listens: passes fail fast; ownership is what counts.
    fleet = write_fleet(tmp_path, idle_dovecot, tls_certs, fleet_users(6))
    config = load_config(fleet.config_path)
    closed = [replace(account, port=1) for account in config.accounts.values()]
    store = Store.open(tmp_path / "recepcion.db")
    lock_dir = tmp_path / "bloqueos"
    first = Engine(config, store, shared_registry(), FileOwnership(lock_dir))
    second = Engine(config, store, shared_registry(), FileOwnership(lock_dir))
    one = Running(first, closed, rebalance_seconds=0.2, idle=False)
    two = Running(second, closed, rebalance_seconds=0.2, idle=False)
    try:
        wait_for(lambda: len(one.scheduler.owned()) == 3 == len(two.scheduler.owned()), 30, "tres cuentas cada uno")
        assert set(one.scheduler.owned()).isdisjoint(two.scheduler.owned())
        two.stop()
        wait_for(lambda: len(one.scheduler.owned()) == 6, 30, "el que queda toma las seis")
        three = Running(Engine(config, store, shared_registry(), FileOwnership(lock_dir)), closed,
                        rebalance_seconds=0.2, idle=False, max_accounts=1)
        try:
            wait_for(lambda: len(three.scheduler.owned()) == 1 and len(one.scheduler.owned()) == 5, 30,
                     "el proceso con --max-cuentas 1 toma una y el otro suelta esa")
        finally:
            three.stop()
    finally:
        one.stop()
        two.stop()
        store.close()


def test_one_thread_watches_idle_sockets_and_wakes_the_account_with_new_mail(
    tmp_path: Path, tls_certs: TestCertificates, idle_dovecot: DovecotServer, users: tuple[MailUser, ...],
    fleet_env: None,
) -> None:
    idle_dovecot.reset()
    fleet = write_fleet(tmp_path, idle_dovecot, tls_certs, users)
    accounts = list(load_config(fleet.config_path).accounts.values())
    woken: list[str] = []
    arrived = threading.Event()

    def on_mail(account: str) -> None:
        woken.append(account)
        arrived.set()

    threads_before = threading.active_count()
    watcher = IdleWatcher(on_mail)
    try:
        assert [watcher.start(account) for account in accounts] == ["idling"] * 3
        assert len(watcher) == 3
        assert threading.active_count() == threads_before + 1  # one watcher, whatever the accounts
        idle_dovecot.append(users[1], fleet_mails()[0].raw.replace(b"\n", b"\r\n"))
        assert arrived.wait(20)
        assert woken == [account_id(users[1])]
        assert len(watcher) == 2  # its connection closed: the pass uses its own
        watcher.forget(account_id(users[0]))
        assert len(watcher) == 1
    finally:
        watcher.close()


def test_una_vez_skips_an_account_another_process_owns_and_max_cuentas_caps_one_process(
    tmp_path: Path, tls_certs: TestCertificates, idle_dovecot: DovecotServer, users: tuple[MailUser, ...],
    fleet_env: None, capsys: pytest.CaptureFixture[str],
) -> None:
    idle_dovecot.reset()
    raws = [mail.raw.replace(b"\n", b"\r\n") for mail in fleet_mails()[:3]]
    for user in users:
        idle_dovecot.deliver(user, raws)
    fleet = write_fleet(tmp_path, idle_dovecot, tls_certs, users)
    other = FileOwnership(tmp_path / "bloqueos")  # another process, as far as the locks go
    try:
        assert other.try_acquire(account_id(users[0]))
        assert cli.main(["--config", str(fleet.config_path), "procesar", "--una-vez"]) == 0
        output = capsys.readouterr().out
        assert f"Cuenta «{account_id(users[0])}»: la procesa otro proceso; se omite." in output
        assert [folder_counts(idle_dovecot, user)["INBOX"] for user in users] == [3, 0, 0]
    finally:
        other.close()
    for user in users[1:]:
        idle_dovecot.deliver(user, raws)
    assert cli.main(["--config", str(fleet.config_path), "procesar", "--una-vez", "--max-cuentas", "1"]) == 0
    assert sorted(folder_counts(idle_dovecot, user)["INBOX"] for user in users) == [0, 3, 3]


def test_the_service_picks_up_an_account_file_added_while_it_runs(
    tmp_path: Path, tls_certs: TestCertificates, idle_dovecot: DovecotServer, users: tuple[MailUser, ...],
    fleet_env: None,
) -> None:
    idle_dovecot.reset()
    raws = [mail.raw.replace(b"\n", b"\r\n") for mail in fleet_mails()[:3]]
    fleet = write_fleet(tmp_path, idle_dovecot, tls_certs, users)
    folder = tmp_path / "cuentas.d"
    late = folder / f"{account_id(users[2])}.toml"
    parked = tmp_path / "aparte.toml"
    late.rename(parked)  # the service starts with two accounts
    for user in users:
        idle_dovecot.deliver(user, raws)
    worker = start_worker(fleet)
    try:
        wait_for(lambda: [folder_counts(idle_dovecot, user)["INBOX"] for user in users] == [0, 0, 3], 120,
                 "las dos cuentas iniciales procesadas")
        # A provisioning tool writes the new company's file under a hidden name, then renames it.
        hidden = folder / f".{late.name}.tmp"
        parked.rename(hidden)
        hidden.rename(late)
        wait_for(lambda: folder_counts(idle_dovecot, users[2])["INBOX"] == 0, 120,
                 "la cuenta nueva de cuentas.d procesada sin reiniciar el servicio")
        assert worker.poll() is None
    finally:
        stop_workers([worker])
    assert worker.returncode == 0


def test_mail_that_came_before_idle_started_is_not_left_waiting_for_the_interval(
    tmp_path: Path, tls_certs: TestCertificates, idle_dovecot: DovecotServer, users: tuple[MailUser, ...],
    fleet_env: None,
) -> None:
    """IDLE reports only what arrives after it starts: INBOX holding more than the pass left
    (mail delivered between the pass's listing and IDLE) means a pass now."""
    idle_dovecot.reset()
    fleet = write_fleet(tmp_path, idle_dovecot, tls_certs, users[:1])
    account = next(iter(load_config(fleet.config_path).accounts.values()))
    idle_dovecot.deliver(users[0], [fleet_mails()[0].raw.replace(b"\n", b"\r\n")])
    watcher = IdleWatcher(lambda account_id: None)
    try:
        assert watcher.start(account, left_by_pass=0) == "mail"
        assert watcher.start(account, left_by_pass=1) == "idling"  # the one the pass left: nothing new
        assert len(watcher) == 1
    finally:
        watcher.close()
