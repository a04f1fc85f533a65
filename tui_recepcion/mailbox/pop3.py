"""POP3 as a message source: forward each message to the backup address, then delete it.

POP3 has no folders, so the backup mailbox keeps the mail. For each message: RETR →
(the pipeline extracts and commits) → forward over SMTP → record "forwarded" → DELE.
Deletions only take effect at QUIT; after a crash the server still has the message, the
ledger says it was forwarded, and the next run deletes it without forwarding it again.

A message the relay refuses for good (5xx: too large, a line too long) is never deleted
unforwarded: it stays on the server and the pipeline records why. Every failure of the POP3
or SMTP conversation becomes a `ConnectionProblem` here.
"""

from __future__ import annotations

import hashlib
import logging
import poplib
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from tui_recepcion.mailbox.forward import forwarded_message, resent_message_id
from tui_recepcion.mailbox.smtp import DeliveryRefused, SmtpSession
from tui_recepcion.mailbox.source import Decision, Disposal, Unreadable, bounded
from tui_recepcion.mailbox.transport import (
    Endpoint,
    close_quietly,
    connect_pop3,
    connection_errors,
    interrupt,
    pipelining_offered,
    read_message,
    read_status,
    send_commands,
    set_no_delay,
)
from tui_recepcion.vocabulary import BACKUP_DESTINATION, MessageStatus

log = logging.getLogger(__name__)

KEY_PREFIX = "pop3:"
# With PIPELINING, RETRs are sent ahead while earlier answers are read, up to this many bytes
# of answers due: the link stays busy and memory stays bounded (a socket's worth of mail).
RETR_WINDOW_BYTES = 4 * 1024 * 1024

Pop3Login = Callable[[poplib.POP3], None]


def uidl_of(key: str) -> str:
    return key.removeprefix(KEY_PREFIX)


class Pop3Source:
    name = "pop3"
    disposal_commits_at_finish = True
    keeps_unreadable = True
    reads_one_at_a_time = True
    key_prefix = KEY_PREFIX

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
        self._sizes: dict[str, int] = {}
        self._pipelining = False
        self._deletions_due: list[str] = []  # DELEs sent whose answers are not read yet
        self.round_trip_seconds = 0.0

    def _errors(self) -> AbstractContextManager[None]:
        return connection_errors(self.endpoint, "POP3")

    def open(self, deadline: float | None = None) -> None:
        connection = connect_pop3(bounded(self.endpoint, deadline))
        self.connection = connection
        self._login(connection)
        self._deletions_due = []
        with self._errors():
            set_no_delay(connection)
            started = time.monotonic()
            self._pipelining = pipelining_offered(connection)
            self.round_trip_seconds = time.monotonic() - started

    def _require_connection(self) -> poplib.POP3:
        if self.connection is None:
            raise RuntimeError("Pop3Source.open() no se ha llamado")
        return self.connection

    # --- listing and fetching ----------------------------------------------------------------

    def list_keys(self) -> list[str]:
        connection = self._require_connection()
        with self._errors():
            if self._pipelining:
                send_commands(connection, ["UIDL", "LIST"])
            else:
                connection._putcmd("UIDL")  # type: ignore[attr-defined]  # private in typeshed
            _response, uidl_lines, _octets = connection._getlongresp()  # type: ignore[attr-defined]  # as above
            if not self._pipelining:
                connection._putcmd("LIST")  # type: ignore[attr-defined]  # as above
            _response, size_lines, _octets = connection._getlongresp()  # type: ignore[attr-defined]  # as above
        sizes = {}
        for line in size_lines:
            number, _, size = line.decode("ascii", "replace").partition(" ")
            if number.isdigit() and size.strip().isdigit():
                sizes[int(number)] = int(size.strip())
        self._numbers, self._sizes = {}, {}
        for line in uidl_lines:
            number, _, uidl = line.decode("ascii", "replace").partition(" ")
            if not number.isdigit() or not uidl.strip():
                continue
            key = KEY_PREFIX + uidl.strip()
            self._numbers[key] = int(number)
            if int(number) in sizes:
                self._sizes[key] = sizes[int(number)]
        return sorted(self._numbers, key=self._numbers.__getitem__)

    def size(self, key: str) -> int | None:
        return self._sizes.get(key)

    def _retrieve(self, key: str) -> bytes | Unreadable:
        connection = self._require_connection()
        self._collect_deletions()  # their answers come first
        with self._errors():
            send_commands(connection, [f"RETR {self._numbers[key]}"])
        return self._read_retrieved(connection)

    def _read_retrieved(self, connection: poplib.POP3) -> bytes | Unreadable:
        with self._errors():
            try:
                return read_message(connection)
            except poplib.error_proto as error:
                text = " ".join(a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a) for a in error.args)
                if not text.startswith("-ERR") or text.endswith("EOF"):
                    raise  # the session is lost or out of step (a line over the limit), not answered
                # A "-ERR" answer about this message: the session itself is still in step.
                return Unreadable(" ".join(text.split())[:200])

    def fetch(self, keys: Sequence[str]) -> Iterator[tuple[str, bytes | Unreadable]]:
        if not self._pipelining:
            for key in keys:
                yield key, self._retrieve(key)
            return
        # Answers come in the order of the commands, so the one being read when the
        # connection fails is the first key in flight: the pipeline counts that one.
        connection = self._require_connection()
        self._collect_deletions()
        waiting = deque(keys)
        in_flight: deque[str] = deque()
        due = 0  # bytes of answers in flight
        try:
            while waiting or in_flight:
                lines: list[str] = []
                while waiting and (not in_flight or due + self._size_of(waiting[0]) <= RETR_WINDOW_BYTES):
                    key = waiting.popleft()
                    lines.append(f"RETR {self._numbers[key]}")
                    in_flight.append(key)
                    due += self._size_of(key)
                with self._errors():
                    send_commands(connection, lines)
                key = in_flight[0]
                item = self._read_retrieved(connection)
                in_flight.popleft()
                due -= self._size_of(key)
                yield key, item
        finally:
            if in_flight:
                self._drop_answers(connection, len(in_flight))

    def _size_of(self, key: str) -> int:
        return self._sizes.get(key, 64 * 1024)

    def _drop_answers(self, connection: poplib.POP3, count: int) -> None:
        """The reader stopped with RETR answers still due: read them off, so the next command
        gets its own answer; if that fails the session is unusable, and is cut."""
        try:
            for _ in range(count):
                try:
                    read_message(connection)
                except poplib.error_proto as error:
                    if not (error.args and isinstance(error.args[0], bytes) and error.args[0].startswith(b"-ERR")):
                        raise
        except Exception:
            interrupt(connection)

    def _collect_deletions(self) -> None:
        """Read the answers to the DELEs sent ahead; a refusal ends the pass (no QUIT: none of
        this session's deletions takes effect)."""
        due, self._deletions_due = self._deletions_due, []
        connection = self._require_connection()
        for _key in due:
            with self._errors():
                read_status(connection)

    def destination(self, status: MessageStatus) -> str:
        return BACKUP_DESTINATION

    # --- disposal ----------------------------------------------------------------------------

    def dispose(self, decisions: Sequence[Decision], on_forwarded: Callable[[str], None]) -> Disposal:
        connection = self._require_connection()
        disposal = Disposal(done=[])
        for decision in decisions:
            if not decision.forwarded:
                raw = decision.raw if decision.raw is not None else self._retrieve(decision.key)
                if isinstance(raw, Unreadable):
                    disposal.refused[decision.key] = f"No se pudo volver a leer el correo para reenviarlo: {raw.detail}"
                    continue
                try:
                    self._forward(raw, decision)
                except DeliveryRefused as refusal:
                    if refusal.transient:
                        raise
                    disposal.refused[decision.key] = str(refusal)
                    continue
                on_forwarded(decision.key)
            # Only now, with the forward recorded, may the deletion be asked for. With
            # PIPELINING its answer is read with the others at the end of the batch.
            with self._errors():
                send_commands(connection, [f"DELE {self._numbers[decision.key]}"])
            self._deletions_due.append(decision.key)
            if not self._pipelining:
                self._collect_deletions()
            disposal.done.append(decision.key)
        self._collect_deletions()
        return disposal

    def _forward(self, raw: bytes, decision: Decision) -> None:
        if self._smtp is None:
            self._smtp = self._smtp_factory()
        sender = self._smtp.sender
        message = forwarded_message(
            raw,
            status=decision.status,
            reason=decision.reason,
            account_id=self.account_id,
            resent_from=sender,
            resent_to=self.backup_address,
            resent_id=resent_message_id(
                self.account_id, uidl_of(decision.key), hashlib.sha256(raw).hexdigest(), sender
            ),
            now=self._clock(),
        )
        self._smtp.send([self.backup_address], message)

    # --- session -----------------------------------------------------------------------------

    def _close_smtp(self) -> None:
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            smtp.close()

    def finish(self) -> None:
        self._close_smtp()
        if self.connection is not None:
            self._collect_deletions()
            connection, self.connection = self.connection, None
            try:
                with self._errors():
                    connection.quit()  # commits the deletions: a failure here must be reported
            except BaseException:
                close_quietly(connection)
                raise

    def abort(self) -> None:
        self._close_smtp()
        if self.connection is not None:
            connection, self.connection = self.connection, None
            close_quietly(connection)  # no QUIT: the server rolls back every DELE of this session

    def interrupt(self) -> None:
        connection = self.connection
        if connection is not None:
            interrupt(connection)
        smtp = self._smtp
        if smtp is not None:
            smtp.interrupt()
