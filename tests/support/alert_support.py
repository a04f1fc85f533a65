"""Accounts, a settable clock and mail parsing for the alert tests."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.servers.endpoints import TEST_HOST
from tests.servers.smtp import SMTP_USER, ReceivedMessage, SmtpServer
from tui_recepcion.alerts import Alerts, send_with_account_smtp
from tui_recepcion.config import Account, SmtpSettings
from tui_recepcion.store import Store

EXPIRY = date(2027, 3, 31)
MAILBOX = "recepcion@empresa.co"
NOTIFY = "tecnico@empresa.co"
SMTP_SECRET_VAR = "ALERTAS_CLAVE_SMTP"
MAILBOX_SECRET_VAR = "ALERTAS_CLAVE_BUZON"


@dataclass
class Clock:
    """An injectable clock the test moves by hand."""

    now: datetime = field(default_factory=lambda: datetime(2027, 3, 20, 15, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def bogota_noon(day: date) -> datetime:
    """Noon in Bogotá (UTC-5 all year) as a UTC moment."""
    return datetime(day.year, day.month, day.day, 17, 0, tzinfo=UTC)


def alert_account(server: SmtpServer | None, ca_file: Path, monkeypatch: pytest.MonkeyPatch, *,
                  port: int | None = None, expiry: date | None = EXPIRY, **fields: object) -> Account:
    """An account whose alerts go through the test SMTP server (or `port`, e.g. a closed one)
    with the server's own submission user in its [smtp] table."""
    monkeypatch.setenv(SMTP_SECRET_VAR, SMTP_USER.password)
    smtp_port = port if port is not None else server.port  # type: ignore[union-attr]
    values: dict[str, object] = {
        "id": "principal",
        "provider": "generic",
        "auth_type": "basica",
        "protocol": "imap",
        "host": "imap.empresa.co",
        "port": 993,
        "security": "ssl",
        "username": MAILBOX,
        "secret_ref": "keyring",
        "password_expiry": expiry,
        "notify_email": NOTIFY,
        "ca_file": ca_file,
        "smtp": SmtpSettings(TEST_HOST, smtp_port, "starttls", username=SMTP_USER.username,
                             secret_ref=f"env:{SMTP_SECRET_VAR}"),
        **fields,
    }
    return Account(**values)  # type: ignore[arg-type]


def parsed(message: ReceivedMessage) -> EmailMessage:
    result = email.message_from_bytes(message.raw, policy=email.policy.default)
    assert isinstance(result, EmailMessage)
    return result


def subjects(server: SmtpServer) -> list[str]:
    return [str(parsed(message)["Subject"]) for message in server.messages()]


def body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return part.get_content()


def race_two_senders(path: Path | str, clock: Clock, act: Callable[[Alerts], None]) -> None:
    """Two Alerts over two connections to one database run `act` at once. Each holds its send
    until the other has finished, so the other surely ran while the claim was taken."""
    done = {name: threading.Event() for name in ("tui", "servicio")}
    errors: list[BaseException] = []

    def run(name: str, other: str, start: threading.Barrier) -> None:
        def held_send(account: Account, message: EmailMessage) -> None:
            done[other].wait(timeout=10)
            send_with_account_smtp(account, message)

        try:
            with Store.open(path) as store:
                alerts = Alerts(store, clock=clock, send=held_send)
                start.wait(timeout=10)
                act(alerts)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            done[name].set()

    start = threading.Barrier(2)
    threads = [threading.Thread(target=run, args=(name, other, start))
               for name, other in (("tui", "servicio"), ("servicio", "tui"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
