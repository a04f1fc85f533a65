"""The fleet (issue 16): 200 mailboxes × 20 messages, three `tui-recepcion procesar` worker
processes, one SIGKILLed mid-drain and none started in its place.

The two others must finish its accounts; every message ends in exactly one folder, every
document is stored once, and no mailbox ever had two sessions open at once: that last proof
comes from the server side, Dovecot's own log of every session (login and end, to the
microsecond), not from anything the workers say about themselves.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.certs import TestCertificates
from tests.servers.dovecot import DovecotServer, MailUser
from tests.support.fleet_support import (
    Fleet,
    account_id,
    deliver_all,
    fleet_mails,
    fleet_users,
    folder_counts,
    inbox_total,
    overlapping,
    sessions,
    start_fleet_dovecot,
    start_worker,
    stop_workers,
    wait_for,
    write_fleet,
)
from tui_recepcion.store import DocumentFilter, MessageFilter, Store
from tui_recepcion.store.fleet import fleet_status

ACCOUNTS = 200
MESSAGES = 20
WORKERS = 3
DRAIN_SECONDS = 600  # a generous bound on a shared 2-core machine; the bench measures speed


@pytest.fixture(scope="module")
def fleet_users_200() -> tuple[MailUser, ...]:
    return fleet_users(ACCOUNTS)


@pytest.fixture(scope="module")
def fleet_dovecot(tls_certs: TestCertificates, fleet_users_200: tuple[MailUser, ...]) -> Iterator[DovecotServer]:
    server = start_fleet_dovecot(tls_certs.server, fleet_users_200)
    try:
        yield server
    finally:
        server.stop()


def _owner_pids(fleet: Fleet) -> dict[str, int]:
    """Account → the PID of the process that owns it: the fleet's rows on PostgreSQL, the
    PID its holder wrote into the lock file on SQLite."""
    if isinstance(fleet.database, str):
        return {row.account: row.pid for row in fleet_status(fleet.database) if row.alive and row.pid is not None}
    owners: dict[str, int] = {}
    for path in (fleet.root / "bloqueos").glob("*.lock"):
        text = path.read_text().strip()
        if text.isdigit():
            owners[path.stem] = int(text)
    return owners


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """The fleet's store: one PostgreSQL (advisory locks; the acceptance run, 200 mailboxes),
    or one SQLite file on one machine (flocks; 60 mailboxes, the same proofs in less time)."""
    return request.getfixturevalue("postgres_url") if request.param == "postgresql" else None


def test_three_workers_drain_200_mailboxes_and_two_finish_what_a_killed_one_owned(
    tmp_path: Path, tls_certs: TestCertificates, fleet_dovecot: DovecotServer, fleet_users_200: tuple[MailUser, ...],
    database_url: str | None,
) -> None:
    users = fleet_users_200 if database_url is not None else fleet_users_200[:60]
    mails = fleet_mails()
    expected_cufes = {cufe for mail in mails for cufe in mail.cufes}
    good = sum(mail.expected_reason is None for mail in mails)
    assert len(mails) == MESSAGES and good == 17
    fleet_dovecot.reset()
    deliver_all(fleet_dovecot, users, mails)
    fleet = write_fleet(tmp_path, fleet_dovecot, tls_certs, users, database_url=database_url)
    total = len(users) * MESSAGES
    workers = [start_worker(fleet, "--hilos", "2", log_path=tmp_path / f"trabajador-{n}.log") for n in range(WORKERS)]
    victim, survivors = workers[0], workers[1:]
    try:
        # Kill the victim while it is draining: some of its accounts done, others not started.
        def victim_mid_drain() -> bool:
            mine = [account for account, pid in _owner_pids(fleet).items() if pid == victim.pid]
            left = [folder_counts(fleet_dovecot, user)["INBOX"] for user in users if account_id(user) in mine]
            return any(count == 0 for count in left) and any(count == MESSAGES for count in left)

        wait_for(victim_mid_drain, DRAIN_SECONDS, "el trabajador 0 a mitad de sus cuentas", every=0.05)
        orphaned = [account for account, pid in _owner_pids(fleet).items() if pid == victim.pid]
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        assert inbox_total(fleet_dovecot, users) > 0, "todo estaba procesado antes de matar al trabajador"

        wait_for(lambda: inbox_total(fleet_dovecot, users) == 0, DRAIN_SECONDS,
                 "los dos trabajadores restantes vacían todos los buzones")
        assert all(worker.poll() is None for worker in survivors), "un trabajador terminó solo"
    finally:
        stop_workers(workers)
    assert [worker.returncode for worker in survivors] == [0, 0]
    assert len(orphaned) >= 2

    # Every message in exactly one folder, on the server.
    for user in users:
        assert folder_counts(fleet_dovecot, user) == {"INBOX": 0, "Procesados": good, "Fallidos": MESSAGES - good}, user

    # Every message decided once, every document stored once, in every account.
    with Store.open(fleet.database) as store:
        rows = store.messages(MessageFilter())
        assert len(rows) == total
        assert len({(row.account, row.source_key) for row in rows}) == total
        assert all(row.disposed_at is not None for row in rows)
        for user in users:
            documents = store.documents(DocumentFilter(account=account_id(user)))
            assert sorted(row.document.cufe for row in documents) == sorted(expected_cufes), user

    # Never two sessions of one mailbox at once (the server's log), and the killed worker's
    # accounts were logged into again, by the others, after it died.
    by_user = sessions(fleet_dovecot.log_since_reset())
    assert overlapping(by_user) == []
    assert len(by_user) == len(users)


def test_the_session_probe_sees_two_sessions_of_one_mailbox_at_once() -> None:
    """The proof above can fail: two overlapping sessions in a Dovecot log are found."""
    log = "\n".join([
        "2026-12-01 10:00:00.000001 imap-login: Info: Login: user=<a@x.co>, method=PLAIN, session=<S1>",
        "2026-12-01 10:00:00.500000 imap-login: Info: Login: user=<a@x.co>, method=PLAIN, session=<S2>",
        "2026-12-01 10:00:00.600000 imap(a@x.co)<10><S1>: Info: Disconnected: Logged out in=1",
        "2026-12-01 10:00:00.700000 imap(a@x.co)<11><S2>: Info: Disconnected: Connection closed (EOF)",
        "2026-12-01 10:00:01.000000 imap-login: Info: Login: user=<b@x.co>, method=PLAIN, session=<S3>",
        "2026-12-01 10:00:01.100000 imap(b@x.co)<12><S3>: Info: Disconnected: Logged out in=1",
        "2026-12-01 10:00:01.100001 imap-login: Info: Login: user=<b@x.co>, method=PLAIN, session=<S4>",
        # A clean logout stamped 5 ms after the next login (Dovecot's log lag): not an overlap...
        "2026-12-01 10:00:02.000000 imap-login: Info: Login: user=<c@x.co>, method=PLAIN, session=<S5>",
        "2026-12-01 10:00:02.495000 imap-login: Info: Login: user=<c@x.co>, method=PLAIN, session=<S6>",
        "2026-12-01 10:00:02.500000 imap(c@x.co)<13><S5>: Info: Disconnected: Logged out in=1",
        # ...but a connection that was cut is not given that allowance.
        "2026-12-01 10:00:03.000000 imap-login: Info: Login: user=<d@x.co>, method=PLAIN, session=<S7>",
        "2026-12-01 10:00:03.495000 imap-login: Info: Login: user=<d@x.co>, method=PLAIN, session=<S8>",
        "2026-12-01 10:00:03.500000 imap(d@x.co)<14><S7>: Info: Disconnected: Connection closed (EOF)",
    ])
    found = overlapping(sessions(log))
    assert [(first.session, second.session) for first, second in found] == [("S1", "S2"), ("S7", "S8")]
