"""Many accounts idling at once: one thread and one selector watch every IMAP IDLE socket.

`engine/idle.py` blocks a thread per waiting account, which is fine for the TUI's few
accounts; a service with hundreds of mailboxes would hold hundreds of threads doing nothing.
Here a pool thread opens the account's IDLE connection (`start`: connect, log in, select
INBOX, IDLE) and hands its socket to the watcher; the watcher reads what the server sends
when the socket becomes readable, and calls `on_mail(account_id)` on EXISTS/RECENT (the
connection is then closed: the pass uses its own, and the scheduler idles again after it).
IDLE is re-issued before servers drop it (RFC 2177, 29 minutes). A connection that breaks
is closed and reported through `on_lost`; the account then waits for its interval.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from imapclient import IMAPClient  # type: ignore[import-untyped]  # imapclient ships no type information

from tui_recepcion.accounts import account_endpoint, credentials_for
from tui_recepcion.config import Account
from tui_recepcion.engine.idle import IDLE_RENEW_SECONDS, _has_new_mail, arrived_meanwhile
from tui_recepcion.errors import RecepcionError
from tui_recepcion.mailbox.transport import close_quietly, connect_imap, connection_errors

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0

# What starting to idle gave: watched now; the server has no IDLE (poll); or it failed this time.
# "mail": INBOX already holds mail the pass did not see; the account is due now.
IdleRefusal = Literal["unsupported", "failed", "mail"]
IdleStart = Literal["idling", "unsupported", "failed", "mail"]


@dataclass(slots=True)
class _Idling:
    account_id: str
    client: IMAPClient
    renew_at: float


def open_idle(account: Account, left_by_pass: int | None = None) -> IMAPClient | IdleRefusal:
    """A client of the account's server already in IDLE on INBOX; else "unsupported" (the
    server offers no IDLE) or "failed" (it could not be reached this time): the account polls;
    or "mail": INBOX holds more than the last pass left (`left_by_pass`), mail to process now."""
    endpoint = account_endpoint(account)
    try:
        client = connect_imap(endpoint)
    except RecepcionError as problem:
        log.info("IDLE no disponible para «%s»: %s", account.id, problem)
        return "failed"
    try:
        with connection_errors(endpoint, "IMAP"):
            credentials_for(account).imap(client)
            if not client.has_capability("IDLE"):
                close_quietly(client)
                return "unsupported"
            client.select_folder("INBOX", readonly=True)
            if arrived_meanwhile(client, left_by_pass):
                close_quietly(client)
                return "mail"
            client.idle()
    except Exception as problem:  # a fault here only means this account polls for now
        log.info("IDLE no disponible para «%s»: %s", account.id, problem)
        close_quietly(client)
        return "failed"
    return client


class IdleWatcher:
    """Watches the IDLE connections of many accounts on one thread. Thread-safe."""

    def __init__(self, on_mail: Callable[[str], None], on_lost: Callable[[str], None] = lambda account_id: None,
                 opener: Callable[[Account, int | None], IMAPClient | IdleRefusal] = open_idle) -> None:
        self._on_mail = on_mail
        self._on_lost = on_lost
        self._opener = opener
        self._selector = selectors.DefaultSelector()
        self._idling: dict[str, _Idling] = {}
        self._lock = threading.Lock()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recepcion-idle", daemon=True)
        self._thread.start()

    def __len__(self) -> int:
        with self._lock:
            return len(self._idling)

    def start(self, account: Account, left_by_pass: int | None = None) -> IdleStart:
        """Open the account's IDLE connection (blocking: call it from a pool thread) and watch
        it ("idling"), or say why not ("mail": there is mail to process now)."""
        client = self._opener(account, left_by_pass)
        if client == "unsupported" or client == "failed" or client == "mail":
            refusal: IdleRefusal = client
            return refusal
        with self._lock:
            if self._stopped.is_set():
                close_quietly(client)
                return "failed"
            old = self._idling.pop(account.id, None)
            if old is not None:
                self._unregister(old)
            self._idling[account.id] = _Idling(account.id, client, time.monotonic() + IDLE_RENEW_SECONDS)
            self._selector.register(client.socket(), selectors.EVENT_READ, account.id)
        self._wake()
        return "idling"

    def forget(self, account_id: str) -> None:
        """Stop watching the account and close its connection (before its pass, or when it
        goes to another process)."""
        with self._lock:
            idling = self._idling.pop(account_id, None)
            if idling is not None:
                self._unregister(idling)

    def close(self) -> None:
        self._stopped.set()
        self._wake()
        self._thread.join(timeout=5)
        with self._lock:
            for idling in list(self._idling.values()):
                self._unregister(idling)
            self._idling.clear()
        self._selector.close()
        self._wake_read.close()
        self._wake_write.close()

    def _wake(self) -> None:
        try:
            self._wake_write.send(b"\0")
        except OSError:
            pass

    def _unregister(self, idling: _Idling) -> None:
        """Under the lock: take the socket out of the selector and close the connection."""
        try:
            self._selector.unregister(idling.client.socket())
        except (KeyError, ValueError, OSError):
            pass
        close_quietly(idling.client)

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                ready = self._selector.select(TICK_SECONDS)
            except OSError:  # a socket closed by another thread between two selects
                ready = []
            woken: list[str] = []
            lost: list[str] = []
            with self._lock:
                for key, _mask in ready:
                    if key.data is None:
                        try:
                            self._wake_read.recv(4096)
                        except OSError:
                            pass
                        continue
                    idling = self._idling.get(key.data)
                    if idling is None:
                        continue
                    if self._has_mail(idling):
                        woken.append(idling.account_id)
                    elif idling.account_id not in self._idling:  # its connection broke
                        lost.append(idling.account_id)
                renewed_with_mail, broken = self._renew_due()
                woken += renewed_with_mail
                lost += broken
            for account_id in woken:
                self._on_mail(account_id)
            for account_id in lost:
                self._on_lost(account_id)

    def _has_mail(self, idling: _Idling) -> bool:
        """Under the lock: read what the server sent; True on new mail (then the connection
        is closed). A broken connection is closed and forgotten."""
        try:
            responses = idling.client.idle_check(timeout=0)
        except Exception as error:
            log.info("la conexión IDLE de «%s» se cortó (%s)", idling.account_id, type(error).__name__)
            self._idling.pop(idling.account_id, None)
            self._unregister(idling)
            return False
        if _has_new_mail(responses):
            self._idling.pop(idling.account_id, None)
            self._unregister(idling)
            return True
        return False

    def _renew_due(self) -> tuple[list[str], list[str]]:
        """Under the lock: re-issue IDLE where it is about to be dropped. Returns the accounts
        whose server reported mail meanwhile and those whose connection broke."""
        now = time.monotonic()
        with_mail: list[str] = []
        broken: list[str] = []
        for idling in [item for item in self._idling.values() if item.renew_at <= now]:
            try:
                _text, responses = idling.client.idle_done()
                if _has_new_mail(responses):
                    with_mail.append(idling.account_id)
                    self._idling.pop(idling.account_id, None)
                    self._unregister(idling)
                    continue
                idling.client.idle()
                idling.renew_at = now + IDLE_RENEW_SECONDS
            except Exception:
                self._idling.pop(idling.account_id, None)
                self._unregister(idling)
                broken.append(idling.account_id)
        return with_mail, broken
