"""POP3 as a message source: forward each message to the backup address, then delete it.

POP3 has no folders, so the backup mailbox keeps the mail. For each message: RETR →
(the pipeline extracts and commits) → forward over SMTP → record "forwarded" → DELE.
Deletions only take effect at QUIT; after a crash the server still has the message, the
ledger says it was forwarded, and the next run deletes it without forwarding it again.
"""

from __future__ import annotations

import poplib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

from tui_recepcion.mail.forward import forwarded_message
from tui_recepcion.mail.smtp import SmtpSession
from tui_recepcion.mail.source import Decision, Status
from tui_recepcion.mail.transport import Endpoint, connect_pop3

BACKUP_DESTINATION = "respaldo"

Pop3Login = Callable[[poplib.POP3], None]


class Pop3Source:
    name = "pop3"
    disposal_commits_at_finish = True

    def __init__(
        self,
        endpoint: Endpoint,
        login: Pop3Login,
        *,
        account_id: str,
        backup_address: str,
        smtp: Callable[[], SmtpSession],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.endpoint = endpoint
        self._login = login
        self.account_id = account_id
        self.backup_address = backup_address
        self._smtp_factory = smtp
        self._clock = clock
        self.connection: poplib.POP3 | None = None
        self._smtp: SmtpSession | None = None
        self._numbers: dict[str, int] = {}

    def open(self) -> None:
        connection = connect_pop3(self.endpoint)
        self.connection = connection
        self._login(connection)

    def _require_connection(self) -> poplib.POP3:
        if self.connection is None:
            raise RuntimeError("Pop3Source.open() no se ha llamado")
        return self.connection

    def list_keys(self) -> list[str]:
        _response, lines, _octets = self._require_connection().uidl()
        self._numbers = {}
        for line in lines:
            number, _, uidl = line.decode("ascii", "replace").partition(" ")
            self._numbers[f"pop3:{uidl.strip()}"] = int(number)
        return sorted(self._numbers, key=self._numbers.__getitem__)

    def _retrieve(self, key: str) -> bytes:
        _response, lines, _octets = self._require_connection().retr(self._numbers[key])
        return b"\r\n".join(lines) + b"\r\n"

    def fetch(self, keys: Sequence[str]) -> Iterator[tuple[str, bytes]]:
        for key in keys:
            yield key, self._retrieve(key)

    def destination(self, status: Status) -> str:
        return BACKUP_DESTINATION

    def dispose(self, decisions: Sequence[Decision], on_forwarded: Callable[[str], None]) -> list[str]:
        connection = self._require_connection()
        disposed: list[str] = []
        for decision in decisions:
            if not decision.forwarded:
                raw = decision.raw if decision.raw is not None else self._retrieve(decision.key)
                self._forward(raw, decision)
                on_forwarded(decision.key)
            connection.dele(self._numbers[decision.key])
            disposed.append(decision.key)
        return disposed

    def _forward(self, raw: bytes, decision: Decision) -> None:
        if self._smtp is None:
            self._smtp = self._smtp_factory()
        message = forwarded_message(
            raw,
            status=decision.status,
            reason=decision.reason,
            account_id=self.account_id,
            resent_from=self._smtp.sender,
            resent_to=self.backup_address,
            now=self._clock(),
        )
        self._smtp.send([self.backup_address], message)

    def _close_smtp(self) -> None:
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            smtp.close()

    def finish(self) -> None:
        self._close_smtp()
        if self.connection is not None:
            connection, self.connection = self.connection, None
            connection.quit()

    def abort(self) -> None:
        self._close_smtp()
        if self.connection is not None:
            connection, self.connection = self.connection, None
            connection.close()  # no QUIT: the server rolls back every DELE of this session
