"""The message sent to the backup address: the original bytes, intact, with the outcome.

POP3 has no folders, so the backup mailbox is where the mail lives after processing. The
forward prepends RFC 5322 `Resent-*` fields and our own `X-Recepcion-*` fields to the
original message; everything after them is the original, byte for byte, so the backup copy
can be imported again (`tui-recepcion importar`) and signatures over the body still hold.

The `Resent-Message-ID` is derived from the account, the UIDL and the message's hash, so a
resend after a crash (between the relay's 250 and the ledger's commit) carries the same id
and the backup side can recognise the copy as the same forward.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.utils import format_datetime

from tui_recepcion.vocabulary import MessageStatus

STATUS_HEADER = "X-Recepcion-Estado"
REASON_HEADER = "X-Recepcion-Motivo"
ACCOUNT_HEADER = "X-Recepcion-Cuenta"


def _header(name: str, value: str) -> bytes:
    # Values come from our own codes and addresses; strip line breaks so none can inject a header.
    clean = " ".join(value.split())
    return f"{name}: {clean}\r\n".encode()


def resent_message_id(account_id: str, uidl: str, raw_sha256: str, sender: str) -> str:
    """The same id for every forward of one message from one account: `<reenvio.H@domain>`."""
    digest = hashlib.sha256(f"{account_id}\0{uidl}\0{raw_sha256}".encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2] or "tui-recepcion.local"
    return f"<reenvio.{digest}@{domain}>"


def forwarded_message(
    raw: bytes,
    *,
    status: MessageStatus,
    reason: str | None,
    account_id: str,
    resent_from: str,
    resent_to: str,
    resent_id: str,
    now: datetime,
) -> bytes:
    """`raw` with the outcome prepended; the original bytes follow unchanged."""
    fields = [
        _header("Resent-Date", format_datetime(now)),
        _header("Resent-From", resent_from),
        _header("Resent-To", resent_to),
        _header("Resent-Message-ID", resent_id),
        _header(STATUS_HEADER, status),
        _header(ACCOUNT_HEADER, account_id),
    ]
    if reason:
        fields.append(_header(REASON_HEADER, reason))
    return b"".join(fields) + raw
