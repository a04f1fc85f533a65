"""Mail that lands after a pass listed the inbox but before IMAP IDLE began raises no EXISTS
during IDLE; the wait must end at once instead of a whole interval later (seen as a service
that ignored a message, issue 14's two-process test, under load)."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.support.engine_support import ACCOUNT, sample_mailbox, write_account
from tui_recepcion.engine.idle import wait_for_new_mail

HOUR = 3600.0


def _wait_in_thread(account, left: int | None) -> tuple[threading.Thread, threading.Event, list[bool]]:
    cancel, ended = threading.Event(), []
    thread = threading.Thread(target=lambda: ended.append(wait_for_new_mail(account, HOUR, cancel, left)), daemon=True)
    thread.start()
    return thread, cancel, ended


def test_mail_already_waiting_when_idle_begins_ends_the_wait(tmp_path: Path, clean_dovecot: DovecotServer, tls_certs) -> None:
    account = write_account(tmp_path, clean_dovecot, tls_certs).config().accounts[ACCOUNT]
    clean_dovecot.deliver(RECEPCION, [sample_mailbox(good=1)[0].raw])  # after the (empty) pass, before IDLE

    thread, cancel, ended = _wait_in_thread(account, left=0)
    thread.join(timeout=30)  # a deadline for the test, not a measurement
    alive = thread.is_alive()
    cancel.set()
    assert not alive and ended == [True]

    # What the last pass left there (say, kept on purpose) does not end the wait by itself.
    thread, cancel, ended = _wait_in_thread(account, left=1)
    thread.join(timeout=2)
    still_waiting = thread.is_alive()
    cancel.set()
    thread.join(timeout=30)
    assert still_waiting and ended == [True]
