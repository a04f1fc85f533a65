"""Logging a connected client in: the `Credentials` seam and its password implementation.

OAuth2 credentials (`tui_recepcion.oauth.OAuthCredentials`) implement the same protocol;
which one an account uses is decided in `tui_recepcion.accounts`.
"""

from __future__ import annotations

import poplib
import smtplib
from dataclasses import dataclass
from typing import Protocol

from imapclient import IMAPClient  # type: ignore[import-untyped]  # IMAPClient ships no py.typed

from tui_recepcion.mailbox.transport import login_imap, login_pop3, login_smtp
from tui_recepcion.secrets import Secret


class Credentials(Protocol):
    """Logs a connected client in; basic (password) and OAuth2 (token) implement it."""

    @property
    def username(self) -> str: ...

    def imap(self, client: IMAPClient) -> None: ...

    def pop3(self, client: poplib.POP3) -> None: ...

    def smtp(self, client: smtplib.SMTP) -> None: ...


@dataclass(frozen=True, slots=True)
class PasswordCredentials:
    username: str
    secret: Secret

    def imap(self, client: IMAPClient) -> None:
        login_imap(client, self.username, self.secret)

    def pop3(self, client: poplib.POP3) -> None:
        login_pop3(client, self.username, self.secret)

    def smtp(self, client: smtplib.SMTP) -> None:
        login_smtp(client, self.username, self.secret)
