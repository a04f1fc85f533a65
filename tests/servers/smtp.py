"""A real SMTP server (aiosmtpd) on loopback that records what it receives.

Submission servers that require AUTH (PLAIN/LOGIN) over TLS: STARTTLS on a plain port
(like 587) or implicit TLS (like 465); and, for failure tests, one that offers neither
STARTTLS nor AUTH. Tests read the received messages, clear them, and wait for a number
of them with a condition and a deadline.

Refusals are aiosmtpd's own, as a relay gives them: a message over `data_size_limit`
gets 552 (at MAIL FROM when the client declares SIZE, else after DATA), a line over 998
characters gets «500 Line too long» after DATA (aiosmtpd's `line_length_limit`, 1001 bytes
with the CRLF). `drop_after_commit(n)` makes the next n messages be kept and the connection
dropped before the 250 reply: the window in which a client cannot know it was delivered.
`mail_commands()` lists every MAIL FROM the server was sent, accepted or refused: the
number of delivery attempts, which `messages()` (accepted mail only) cannot show.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import DATA_SIZE_DEFAULT, SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers.certs import ServerCertificate
from tests.servers.net import LOOPBACK, free_port


@dataclass(frozen=True, slots=True)
class SmtpUser:
    username: str
    password: str


SMTP_USER = SmtpUser("envios@prueba.co", "Clave-Smtp-5d81!")
SMTP_USER_TILDES = SmtpUser("envíos@prueba.co", "Contraseña-Envío-3ñ")


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes  # the DATA bytes as the client sent them (dot-unstuffed)
    auth_user: str | None


class _Recorder:
    """aiosmtpd handler: keeps every message and wakes whoever waits for it."""

    def __init__(self) -> None:
        self.received: list[ReceivedMessage] = []
        self.changed = threading.Condition()
        self.drops_left = 0  # messages to keep and then drop the connection before «250»
        self.mail_commands: list[str] = []  # every MAIL FROM argument, accepted or refused

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str,
                          responses: list[str]) -> list[str]:
        # Real relays (Postfix, Exchange, Gmail) advertise ESMTP PIPELINING (RFC 2920), and
        # aiosmtpd reads pipelined commands in order; it only does not say so.
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        auth = session.auth_data
        message = ReceivedMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=bytes(envelope.original_content or b""),
            auth_user=auth.decode(errors="replace") if isinstance(auth, bytes) else None,
        )
        with self.changed:
            self.received.append(message)
            self.changed.notify_all()
            drop = self.drops_left > 0
            if drop:
                self.drops_left -= 1
        if drop and server.transport is not None:
            # Committed, but the client never hears «250»: abort() closes at once and
            # aiosmtpd's reply then goes nowhere.
            server.transport.abort()
        return "250 OK"


class _CountingSMTP(SMTP):
    """aiosmtpd's SMTP, noting each MAIL command before its own checks (SIZE → 552) run."""

    async def smtp_MAIL(self, arg: str) -> None:
        recorder = self.event_handler
        if isinstance(recorder, _Recorder):
            with recorder.changed:
                recorder.mail_commands.append(arg)
        await super().smtp_MAIL(arg)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)


class SmtpServer:
    """One aiosmtpd controller; `implicit_tls=True` speaks TLS from the first byte.

    With `offer_starttls=False` (and no implicit TLS) it offers neither STARTTLS nor AUTH.
    """

    host = LOOPBACK

    def __init__(
        self,
        cert: ServerCertificate,
        *,
        implicit_tls: bool,
        offer_starttls: bool = True,
        users: tuple[SmtpUser, ...] = (SMTP_USER, SMTP_USER_TILDES),
        data_size_limit: int | None = DATA_SIZE_DEFAULT,
        plaintext_auth: bool = False,  # without STARTTLS: AUTH in the clear (a proxy can read it all)
    ) -> None:
        self.users = users
        self.data_size_limit = data_size_limit
        self.implicit_tls = implicit_tls
        self.port = free_port()
        self._recorder = self._make_recorder()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert.cert, cert.key)
        # aiosmtpd only counts STARTTLS as TLS for `auth_require_tls`; on an implicit-TLS
        # port every byte is encrypted already, so the check must be off there.
        tls: dict[str, Any]
        if implicit_tls:
            tls = {"ssl_context": context, "auth_require_tls": False}
        elif offer_starttls:
            tls = {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
        else:  # a server that never offers STARTTLS (and so never AUTH, unless told to)
            tls = {"auth_require_tls": not plaintext_auth}
        self._controller = _Controller(
            self._recorder,
            hostname=LOOPBACK,
            port=self.port,
            server_hostname="smtp.prueba.co",
            authenticator=self._authenticate,
            auth_required=True,
            data_size_limit=data_size_limit,
            **tls,
        )

    def _make_recorder(self) -> _Recorder:
        """The aiosmtpd handler; a subclass may add `auth_MECHANISM` methods to it."""
        return _Recorder()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        # handled=False makes aiosmtpd answer 535 itself on failure.
        if mechanism not in ("PLAIN", "LOGIN") or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = (part.decode(errors="replace") for part in auth_data)
        valid = SmtpUser(login, password) in self.users
        return AuthResult(
            success=valid, handled=False, auth_data=auth_data.login if valid else None
        )

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def messages(self) -> list[ReceivedMessage]:
        with self._recorder.changed:
            return list(self._recorder.received)

    def clear(self) -> None:
        with self._recorder.changed:
            self._recorder.received.clear()
            self._recorder.drops_left = 0
            self._recorder.mail_commands.clear()

    def mail_commands(self) -> list[str]:
        """Every MAIL FROM argument received since `clear()`, refused ones included."""
        with self._recorder.changed:
            return list(self._recorder.mail_commands)

    def drop_after_commit(self, count: int = 1) -> None:
        """Keep the next `count` messages, then drop each connection before answering «250»."""
        with self._recorder.changed:
            self._recorder.drops_left = count

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMessage]:
        """Block until at least `count` messages arrived; AssertionError after `timeout` s."""
        with self._recorder.changed:
            if not self._recorder.changed.wait_for(
                lambda: len(self._recorder.received) >= count, timeout
            ):
                raise AssertionError(
                    f"el servidor SMTP recibió {len(self._recorder.received)} mensajes de {count} "
                    f"esperados en {timeout} s"
                )
            return list(self._recorder.received)
