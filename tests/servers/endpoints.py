"""Engine `Endpoint`s pointing at the test servers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer
from tui_recepcion.mailbox.transport import Endpoint, Security

# The test certificate names `localhost` and 127.0.0.1; using the name exercises
# host-name verification the way a real server name does.
TEST_HOST = "localhost"


def dovecot_endpoint(
    server: DovecotServer,
    protocol: str,
    security: Security,
    ca_file: Path | None,
    **options: Any,
) -> Endpoint:
    """An endpoint for `protocol` ("imap"/"pop3") on `server`; `options` go to Endpoint."""
    if security == "ninguna":
        options.setdefault("allow_plaintext", True)
    options.setdefault("timeout", 10)
    port = server.ports.port_for(protocol, security)
    return Endpoint(TEST_HOST, port, security, ca_file=ca_file, **options)


def smtp_endpoint(server: SmtpServer, ca_file: Path | None, **options: Any) -> Endpoint:
    security: Security = "ssl" if server.implicit_tls else "starttls"
    options.setdefault("timeout", 10)
    return Endpoint(TEST_HOST, server.port, security, ca_file=ca_file, **options)
