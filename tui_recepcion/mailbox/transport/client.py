"""Any connected mail client, whatever its protocol: its socket, cutting it short, dropping it."""

from __future__ import annotations

import logging
import poplib
import smtplib
import socket
from typing import TypeAlias

from imapclient import IMAPClient  # type: ignore[import-untyped]  # IMAPClient ships no py.typed

log = logging.getLogger(__name__)

MailClient: TypeAlias = IMAPClient | poplib.POP3 | smtplib.SMTP


def socket_of(client: MailClient) -> socket.socket | None:
    """The client's connected socket (a TLS one after STARTTLS), or None if it has none."""
    sock: socket.socket | None
    if isinstance(client, IMAPClient):
        sock = getattr(client._imap, "sock", None)
    else:
        sock = getattr(client, "sock", None)
    return sock


def interrupt(client: MailClient) -> None:
    """Make any blocking read or write on `client`'s connection return now; from any thread.

    For the engine's SIGTERM handler and its pass deadline: the connection is shut down
    both ways (a TCP FIN to the server), so a thread waiting in recv() sees the end of the
    stream and one in send() a broken pipe; either ends in a transient `ConnectionProblem`
    (`conexion_perdida`) from the call it was in. The client is unusable afterwards: close
    it as after any failure. Works in plaintext and TLS alike (the TLS object is left to
    its owner thread: only the socket underneath is shut down); errors are ignored, so
    interrupting a connection that already closed is harmless.
    """
    sock = socket_of(client)
    if sock is None:
        return
    try:
        # socket.socket's own shutdown, not SSLSocket.shutdown, which also drops the TLS
        # state under the feet of the thread that is reading through it.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, ValueError):  # not connected, already closed, or a closed fd
        log.debug("No se pudo interrumpir una conexión que ya estaba cerrada", exc_info=True)


def close_quietly(client: MailClient) -> None:
    """Drop a connection without a goodbye, ignoring errors (it has usually failed already)."""
    try:
        if isinstance(client, IMAPClient):
            client.shutdown()
        else:
            client.close()
    except Exception:  # the error that led here is the one worth reporting
        log.debug("Error al cerrar una conexión que ya había fallado", exc_info=True)
