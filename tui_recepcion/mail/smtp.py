"""Outgoing mail (POP3 forwards to the backup address, alerts) over one reused connection.

Opening an SMTP session costs several round trips plus TLS; a pass forwards many messages,
so one connection serves the batch. The transport sets TCP_NODELAY on it (design §5).
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Sequence
from types import TracebackType

from tui_recepcion.mail.errors import ConnectionProblem
from tui_recepcion.mail.transport import Endpoint, connect_smtp

SmtpLogin = Callable[[smtplib.SMTP], None]


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
        """Send `data` as is; a dropped connection is reopened once, a refusal is reported."""
        for attempt in (1, 2):
            connection = self._connect()
            try:
                connection.sendmail(self.sender, list(recipients), data)
                return
            except smtplib.SMTPServerDisconnected:
                self._connection = None
                if attempt == 2:
                    raise ConnectionProblem(
                        "smtp_desconectado",
                        f"El servidor SMTP {self.endpoint.host} cerró la conexión durante el envío.",
                        transient=True,
                    ) from None
            except smtplib.SMTPRecipientsRefused as error:
                raise _refused(error.recipients, "rechazó el destinatario") from None
            except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
                raise _refused({self.sender: (error.smtp_code, error.smtp_error)}, "rechazó el envío") from None

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


def _refused(details: dict[str, tuple[int, bytes]], what: str) -> ConnectionProblem:
    code, text = next(iter(details.values()))
    who = ", ".join(details)
    reply = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return ConnectionProblem(
        "smtp_rechazado",
        f"El servidor SMTP {what} ({who}): {code} {reply}",
        transient=400 <= code < 500,
    )
