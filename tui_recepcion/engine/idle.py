"""Waiting for new mail with IMAP IDLE (RFC 2177), so it is processed within seconds.

A separate connection from the pass's: it only selects INBOX and idles. The wait wakes on
EXISTS, when the interval ends, or within a second of a cancel (SIGTERM, the TUI's stop).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from imapclient import IMAPClient  # type: ignore[import-untyped]  # imapclient ships no type information

from tui_recepcion.accounts import account_endpoint, credentials_for
from tui_recepcion.config import Account
from tui_recepcion.errors import RecepcionError
from tui_recepcion.mailbox.transport import close_quietly, connect_imap, connection_errors

log = logging.getLogger(__name__)

# Servers drop an idle client after 30 minutes (RFC 2177 asks clients to re-issue before 29).
IDLE_RENEW_SECONDS = 24 * 60
CANCEL_CHECK_SECONDS = 1.0


def _has_new_mail(responses: list[tuple[Any, ...]]) -> bool:
    return any(len(response) > 1 and response[1] in (b"EXISTS", b"RECENT") for response in responses)


def wait_for_new_mail(account: Account, seconds: float, cancel: threading.Event, left: int | None = None) -> bool:
    """Idle up to `seconds`; True when the wait ended (new mail, timeout or cancel),
    False when IDLE is not available, so the caller sleeps instead.

    `left`: how many messages the last pass left in INBOX. Mail that arrived after that pass
    listed the inbox, but before this wait began, raises no EXISTS during IDLE: finding more
    messages than `left` ends the wait at once instead of a whole interval later.
    """
    endpoint = account_endpoint(account)
    try:
        client = connect_imap(endpoint)
    except RecepcionError as problem:
        log.info("IDLE no disponible: %s", problem)
        return False
    try:
        with connection_errors(endpoint, "IMAP"):
            credentials_for(account).imap(client)
            if not client.has_capability("IDLE"):
                return False
            client.select_folder("INBOX", readonly=True)
            if left is not None and len(client.search(["NOT", "DELETED"])) > left:
                return True  # arrived between the pass and this wait
            _idle_until(client, time.monotonic() + seconds, cancel)
        return True
    except RecepcionError as problem:
        log.info("IDLE interrumpido: %s", problem)
        return False
    finally:
        close_quietly(client)


def _idle_until(client: IMAPClient, deadline: float, cancel: threading.Event) -> None:
    while not cancel.is_set() and time.monotonic() < deadline:
        client.idle()
        renew_at = min(deadline, time.monotonic() + IDLE_RENEW_SECONDS)
        try:
            while not cancel.is_set() and time.monotonic() < renew_at:
                remaining = renew_at - time.monotonic()
                if _has_new_mail(client.idle_check(timeout=max(0.0, min(CANCEL_CHECK_SECONDS, remaining)))):
                    return
        finally:
            client.idle_done()
