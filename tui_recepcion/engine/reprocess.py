"""Re-processing a failed message: move it from Fallidos back to INBOX (IMAP only).

The next pass then finds it under a new UID, which the ledger has never seen, and processes
it again (after, say, the technician fixed `nit_receptor`). The move follows the engine's
rules (docs/architecture.md, «Mailbox rules»): UID MOVE, else UID COPY + \\Deleted +
UID EXPUNGE, never a bare EXPUNGE.
"""

from __future__ import annotations

from imapclient import IMAPClient  # type: ignore[import-untyped]  # imapclient ships no type information
from imapclient.imapclient import DELETED  # type: ignore[import-untyped]  # imapclient ships no type information

from tui_recepcion.accounts import DEFAULT_TIMEOUT, account_endpoint, credentials_for
from tui_recepcion.config import Account
from tui_recepcion.errors import ConfigError, RecepcionError
from tui_recepcion.mailbox.imap import INBOX
from tui_recepcion.mailbox.imap_folders import imap_namespace
from tui_recepcion.mailbox.transport import close_quietly, connect_imap, connection_errors
from tui_recepcion.vocabulary import IMAP


class MessageNotFound(RecepcionError):
    """The failed message is no longer in the failed folder."""


def reprocess_failed(account: Account, message_id: str, timeout: float = DEFAULT_TIMEOUT) -> int:
    """Move the message with `message_id` from the account's failed folder to INBOX.

    Returns how many copies were moved (the same Message-ID may have arrived twice).
    """
    if account.protocol != IMAP:
        raise ConfigError(
            "Solo se puede reprocesar con IMAP: con POP3 el correo ya se reenvió al correo de "
            "respaldo y se borró del buzón; reenvíelo desde allí al buzón de recepción."
        )
    if not message_id.strip():
        raise MessageNotFound("El correo no tiene Message-ID: búsquelo a mano en la carpeta de fallidos.")
    endpoint = account_endpoint(account, timeout)
    credentials = credentials_for(account)
    client = connect_imap(endpoint)
    try:
        credentials.imap(client)
        with connection_errors(endpoint, "IMAP"):
            folder = imap_namespace(client).folder(account.failed_folder)
            client.select_folder(folder)
            uids = client.search(["HEADER", "Message-ID", message_id])
            if not uids:
                raise MessageNotFound(f"El correo {message_id} ya no está en la carpeta {folder}.")
            _move_to_inbox(client, uids)
            client.logout()
    except BaseException:
        close_quietly(client)
        raise
    return len(uids)


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
