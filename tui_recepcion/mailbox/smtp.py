"""Outgoing mail (POP3 forwards to the backup address, alerts) over one reused connection.

Opening an SMTP session costs several round trips plus TLS; a pass forwards many messages,
so one connection serves the batch. The transport sets TCP_NODELAY on it (docs/architecture.md, «Mailbox rules»).
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType

from tui_recepcion.errors import ConnectionProblem
from tui_recepcion.mailbox.transport import Endpoint, connect_smtp, connection_errors, interrupt

SmtpLogin = Callable[[smtplib.SMTP], None]


class DeliveryRefused(ConnectionProblem):
    """The relay answered a refusal about this message (4xx: later; 5xx: never).

    A permanent refusal concerns one message (too large, a line too long, a refused
    recipient), so the engine isolates that message and goes on with the others.
    """

    def __init__(self, smtp_code: int, message: str) -> None:
        super().__init__("smtp_rechazado", message, transient=400 <= smtp_code < 500)
        self.smtp_code = smtp_code


class SmtpSession:
    def __init__(self, endpoint: Endpoint, login: SmtpLogin | None, sender: str) -> None:
        self.endpoint = endpoint
        self._login = login
        self.sender = sender
        self._connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        if self._connection is None:
            connection = connect_smtp(self.endpoint)
            try:
                if self._login is not None:
                    self._login(connection)
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def send(self, recipients: Sequence[str], data: bytes) -> None:
        """Send `data` as is. A connection found closed before sending is reopened once; a
        refusal raises `DeliveryRefused`; any other failure a transient `ConnectionProblem`.

        Returns only after the relay's 250: the caller records the delivery right then.
        """
        for attempt in (1, 2):
            connection = self._connect()
            try:
                with connection_errors(self.endpoint, "SMTP"):
                    try:
                        if connection.has_extn("pipelining") and _ascii(self.sender, *recipients):
                            send_pipelined(connection, self.sender, list(recipients), data)
                        else:
                            connection.sendmail(self.sender, list(recipients), data)
                        return
                    except smtplib.SMTPRecipientsRefused as error:
                        raise _refused(error.recipients, "rechazó el destinatario") from None
                    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
                        raise _refused({self.sender: (error.smtp_code, error.smtp_error)}, "rechazó el envío") from None
                    except smtplib.SMTPServerDisconnected:
                        # A reused connection the relay had already closed (idle timeout). The
                        # retry may duplicate a message the relay accepted just before
                        # hanging up: the deterministic Resent-Message-ID makes it recognisable.
                        if attempt == 2:
                            raise
            except DeliveryRefused:
                raise  # the session is still good for the next message (smtplib sent RSET)
            except ConnectionProblem:
                self._drop()
                raise
            self._drop()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def interrupt(self) -> None:
        connection = self._connection
        if connection is not None:
            interrupt(connection)

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()


def _ascii(*addresses: str) -> bool:
    return all(address.isascii() for address in addresses)


_LEADING_DOT = re.compile(rb"(?m)^\.")


def send_pipelined(connection: smtplib.SMTP, sender: str, recipients: list[str], data: bytes) -> None:
    """smtplib's `sendmail` with ESMTP PIPELINING (RFC 2920): MAIL, RCPT and DATA leave in one
    write and their replies are read together, then the message; two round trips instead of
    four. Raises smtplib's own exceptions, as `sendmail` does, and returns only once the
    relay's 250 for the message has arrived (the caller records the forward right then)."""
    size = f" SIZE={len(data)}" if connection.has_extn("size") else ""
    commands = [f"MAIL FROM:<{sender}>{size}", *(f"RCPT TO:<{recipient}>" for recipient in recipients), "DATA"]
    connection.send("".join(f"{command}\r\n" for command in commands))
    mail = connection.getreply()
    rcpts = [connection.getreply() for _ in recipients]
    data_reply = connection.getreply()
    refused = {recipient: reply for recipient, reply in zip(recipients, rcpts, strict=True) if reply[0] not in (250, 251)}
    envelope_ok = mail[0] == 250 and len(refused) < len(recipients)
    if data_reply[0] == 354 and not envelope_ok:
        # A relay that took DATA despite a refused envelope: an empty message ends it (and
        # is refused for want of recipients) so the session stays in step.
        connection.send(b".\r\n")
        connection.getreply()
    if not envelope_ok or data_reply[0] != 354:
        _reset(connection)
    if mail[0] != 250:
        raise smtplib.SMTPSenderRefused(mail[0], mail[1], sender)
    if len(refused) == len(recipients):
        raise smtplib.SMTPRecipientsRefused(refused)
    if data_reply[0] != 354:
        raise smtplib.SMTPDataError(*data_reply)
    body = _LEADING_DOT.sub(b"..", data)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    connection.send(body + b".\r\n")
    code, reply = connection.getreply()
    if code != 250:
        _reset(connection)
        raise smtplib.SMTPDataError(code, reply)


def _reset(connection: smtplib.SMTP) -> None:
    try:
        connection.rset()
    except smtplib.SMTPServerDisconnected:
        pass


def _refused(details: Mapping[str, tuple[int, bytes | str]], what: str) -> DeliveryRefused:
    code, text = next(iter(details.values()))
    who = ", ".join(details)
    reply = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    reply = " ".join(reply.split())[:300]
    return DeliveryRefused(code, f"El servidor SMTP {what} ({who}): {code} {reply}")
