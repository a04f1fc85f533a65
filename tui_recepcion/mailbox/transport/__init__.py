"""Connections to mail servers: TLS policy, connect and log in, and one error vocabulary.

Every connection verifies certificates, checks the host name, requires TLS 1.2 or newer
and has a socket timeout; STARTTLS that is not offered or fails aborts the connection and
plaintext needs an explicit opt-in (`tls`). Whatever goes wrong becomes a
`ConnectionProblem` with a stable code and a Spanish message that never contains the
secret (`faults`, `redaction`); a refused password or OAuth2 token is `AuthenticationFailed`
(`login`). Each protocol connects and logs in in its own module (`imap`, `pop3`, `smtp`),
with SASL responses built in `sasl`.

This module is the package's facade: import from here.
"""

from __future__ import annotations

from tui_recepcion.mailbox.transport.client import MailClient, close_quietly, interrupt
from tui_recepcion.mailbox.transport.endpoint import Endpoint
from tui_recepcion.mailbox.transport.faults import connection_errors
from tui_recepcion.mailbox.transport.imap import connect_imap, login_imap, oauth2_login_imap
from tui_recepcion.mailbox.transport.pop3 import (
    POP3_MAX_LINE,
    Pop3,
    Pop3Ssl,
    connect_pop3,
    login_pop3,
    oauth2_login_pop3,
    pipelining_offered,
    read_message,
    read_status,
    send_commands,
    set_no_delay,
)
from tui_recepcion.mailbox.transport.smtp import connect_smtp, login_smtp, oauth2_login_smtp
from tui_recepcion.mailbox.transport.tls import TlsInfo, negotiated_tls, tls_context
from tui_recepcion.vocabulary import SECURITIES, Security

__all__ = [
    "POP3_MAX_LINE",
    "SECURITIES",
    "Endpoint",
    "MailClient",
    "Pop3",
    "Pop3Ssl",
    "Security",
    "TlsInfo",
    "close_quietly",
    "connect_imap",
    "connect_pop3",
    "connect_smtp",
    "connection_errors",
    "interrupt",
    "login_imap",
    "login_pop3",
    "login_smtp",
    "negotiated_tls",
    "oauth2_login_imap",
    "oauth2_login_pop3",
    "oauth2_login_smtp",
    "pipelining_offered",
    "read_message",
    "read_status",
    "send_commands",
    "set_no_delay",
    "tls_context",
]
