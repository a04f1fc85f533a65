"""Re-processing failed messages: move them from Fallidos back to INBOX (IMAP only).

The next pass then finds each under a new UID, which the ledger has never seen, and processes
it again (after, say, the technician fixed `nit_receptor`). The move follows the engine's
rules (docs/architecture.md, «Mailbox rules»): UID MOVE, else UID COPY + \\Deleted +
UID EXPUNGE, never a bare EXPUNGE.

`reprocess_messages` handles a whole selection (or every failed message of one reason) in
one connection: one FETCH of the failed folder's Message-IDs, one MOVE for every match, and
one outcome per message; the store then records them as no longer in Fallidos.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from imapclient import IMAPClient  # type: ignore[import-untyped]  # imapclient ships no type information
from imapclient.imapclient import DELETED  # type: ignore[import-untyped]  # imapclient ships no type information

from tui_recepcion.accounts import DEFAULT_TIMEOUT, account_endpoint, credentials_for
from tui_recepcion.config import Account
from tui_recepcion.errors import ConfigError, RecepcionError
from tui_recepcion.mailbox.imap import INBOX
from tui_recepcion.mailbox.imap_folders import imap_namespace
from tui_recepcion.mailbox.transport import close_quietly, connect_imap, connection_errors
from tui_recepcion.store import STATUS_FAILED, LedgerEntry, MessageFilter, Store
from tui_recepcion.vocabulary import IMAP

_HEADER = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"
_FETCHED = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"


class MessageNotFound(RecepcionError):
    """The failed message is no longer in the failed folder."""


@dataclass(frozen=True, slots=True)
class ReprocessOutcome:
    entry: LedgerEntry
    ok: bool
    message: str  # Spanish, for the row: «devuelto a INBOX» or why not


def _require_imap(account: Account) -> None:
    if account.protocol != IMAP:
        raise ConfigError(
            "Solo se puede reprocesar con IMAP: con POP3 el correo ya se reenvió al correo de "
            "respaldo y se borró del buzón; reenvíelo desde allí al buzón de recepción."
        )


def failed_messages(store: Store, account_id: str, reason: str | None = None) -> list[LedgerEntry]:
    """The account's messages in Fallidos now (not yet reprocessed), optionally of one reason."""
    return store.messages(MessageFilter(account=account_id, status=STATUS_FAILED, reason=reason))


def _normalized(message_id: str) -> str:
    return message_id.strip().strip("<>").strip().lower()


def _message_ids(client: IMAPClient) -> dict[str, list[int]]:
    """Every Message-ID of the selected folder and its UIDs, in one FETCH."""
    uids = client.search(["ALL"])
    found: dict[str, list[int]] = {}
    if not uids:
        return found
    parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    for uid, data in client.fetch(uids, [_HEADER]).items():
        header = parser.parsebytes(data.get(_FETCHED, b"") or b"").get("Message-ID")
        if header:
            found.setdefault(_normalized(str(header)), []).append(uid)
    return found


def reprocess_messages(
    account: Account, entries: Sequence[LedgerEntry], *, store: Store | None = None, timeout: float = DEFAULT_TIMEOUT
) -> list[ReprocessOutcome]:
    """Move every message of `entries` from the failed folder to INBOX in one connection.

    One outcome per entry, in order. With `store`, the moved ones are recorded as no longer in
    Fallidos. Raises ConfigError (POP3, a server without MOVE or UIDPLUS) or a
    ConnectionProblem (cannot connect or log in) for the whole call.
    """
    _require_imap(account)
    if not entries:
        return []
    with _failed_folder(account, timeout) as (client, folder):
        by_id = _message_ids(client)
        outcomes: list[ReprocessOutcome] = []
        to_move: list[int] = []
        for entry in entries:
            uids = by_id.pop(_normalized(entry.message_id or ""), []) if entry.message_id else []
            if not entry.message_id or not entry.message_id.strip():
                outcomes.append(ReprocessOutcome(entry, False, "no tiene Message-ID: búsquelo a mano en la carpeta de fallidos"))
            elif not uids and any(o.ok and o.entry.message_id == entry.message_id for o in outcomes):
                outcomes.append(ReprocessOutcome(entry, True, f"devuelto a {INBOX} (junto con otra copia)"))
            elif not uids:
                outcomes.append(ReprocessOutcome(entry, False, f"ya no está en la carpeta {folder}"))
            else:
                to_move += uids
                outcomes.append(ReprocessOutcome(entry, True, f"devuelto a {INBOX}"))
        if to_move:
            _move_to_inbox(client, sorted(set(to_move)))
    if store is not None:
        store.mark_reprocessed(account.id, [outcome.entry.source_key for outcome in outcomes if outcome.ok])
    return outcomes


def reprocess_failed(account: Account, message_id: str, timeout: float = DEFAULT_TIMEOUT) -> int:
    """Move the message with `message_id` from the account's failed folder to INBOX.

    Returns how many copies were moved (the same Message-ID may have arrived twice).
    """
    _require_imap(account)
    if not message_id.strip():
        raise MessageNotFound("El correo no tiene Message-ID: búsquelo a mano en la carpeta de fallidos.")
    with _failed_folder(account, timeout) as (client, folder):
        uids = client.search(["HEADER", "Message-ID", message_id])
        if not uids:
            raise MessageNotFound(f"El correo {message_id} ya no está en la carpeta {folder}.")
        _move_to_inbox(client, uids)
    return len(uids)


@contextmanager
def _failed_folder(account: Account, timeout: float) -> Iterator[tuple[IMAPClient, str]]:
    """A logged-in connection with the account's failed folder selected; logs out at the end,
    and on any failure closes the connection and lets the (typed) problem through."""
    endpoint = account_endpoint(account, timeout)
    credentials = credentials_for(account)
    client = connect_imap(endpoint)
    try:
        credentials.imap(client)
        with connection_errors(endpoint, "IMAP"):
            folder = imap_namespace(client).folder(account.failed_folder)
            client.select_folder(folder)
            yield client, folder
            client.logout()
    except BaseException:
        close_quietly(client)
        raise


def _move_to_inbox(client: IMAPClient, uids: list[int]) -> None:
    if client.has_capability("MOVE"):
        client.move(uids, INBOX)
        return
    if not client.has_capability("UIDPLUS"):
        # A bare EXPUNGE would also erase messages other programs marked deleted.
        raise ConfigError("El servidor no ofrece MOVE ni UIDPLUS: mueva el correo a la bandeja a mano.")
    client.copy(uids, INBOX)
    client.add_flags(uids, [DELETED], silent=True)
    client.uid_expunge(uids)
