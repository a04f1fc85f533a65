"""Building real accounts against the test servers: config.toml, secrets and mailboxes."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomlkit

from tests.servers.certs import TestCertificates
from tests.servers.dovecot import RECEPCION, RESPALDO, DovecotServer, MailUser
from tests.servers.endpoints import TEST_HOST
from tests.servers.smtp import SMTP_USER, SmtpServer
from tui_recepcion.config import Config, load_config
from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory, SampleMail

ACCOUNT = "principal"


def write_secret(path: Path, value: str) -> str:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(value)
    return f"archivo:{path}"


@dataclass(frozen=True)
class TestAccount:
    __test__ = False

    config_path: Path
    database: Path

    def config(self) -> Config:
        return load_config(self.config_path)


def write_account(
    tmp_path: Path,
    dovecot: DovecotServer,
    certs: TestCertificates,
    *,
    protocol: str = "imap",
    security: str = "ssl",
    user: MailUser = RECEPCION,
    password: str | None = None,
    smtp: SmtpServer | None = None,
    extra: dict | None = None,
) -> TestAccount:
    """A config.toml with one account on the test Dovecot (secrets in 0600 files)."""
    account: dict = {
        "proveedor": "generic",
        "tipo_servidor": "basica",
        "protocolo": protocol,
        "servidor": TEST_HOST,
        "puerto": dovecot.ports.port_for(protocol, security),
        "seguridad": security,
        "usuario": user.address,
        "secreto": write_secret(tmp_path / "clave", password if password is not None else user.password),
        "certificados_ca": str(certs.ca_file),
        "nit_receptor": DEFAULT_RECEIVER.nit,
    }
    if security == "ninguna":
        account["permitir_sin_cifrado"] = True
    if protocol == "pop3":
        account["correo_respaldo"] = RESPALDO.address
    if smtp is not None:
        account["smtp"] = {
            "servidor": TEST_HOST,
            "puerto": smtp.port,
            "seguridad": "ssl" if smtp.implicit_tls else "starttls",
            "usuario": SMTP_USER.username,
            "secreto": write_secret(tmp_path / "clave-smtp", SMTP_USER.password),
        }
    account.update(extra or {})
    database = tmp_path / "recepcion.db"
    document = {
        "general": {"base_datos": str(database), "carpeta_documentos": str(tmp_path / "documentos")},
        "cuentas": {ACCOUNT: account},
    }
    config_path = tmp_path / "config.toml"
    config_path.write_text(tomlkit.dumps(document), encoding="utf-8")
    return TestAccount(config_path, database)


def sample_mailbox(good: int = 12, seed: int = 5) -> list[SampleMail]:
    """Good mail from several suppliers (invoices, notes) and one bad mail of each kind."""
    return SampleFactory(seed=seed, pdf_size=4_000).mailbox(good=good, failing_each=1)


def expected_outcomes(mails: list[SampleMail]) -> tuple[int, int, set[str]]:
    good = [mail for mail in mails if mail.expected_reason is None]
    return len(good), len(mails) - len(good), {cufe for mail in good for cufe in mail.cufes}


def crlf(raw: bytes) -> bytes:
    """The generated samples use LF; a server stores and serves mail with CRLF."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def original_of(forwarded: bytes) -> bytes:
    """A backup copy minus the Resent-*/X-Recepcion-* headers the engine prepended."""
    lines = forwarded.split(b"\r\n")
    start = next(i for i, line in enumerate(lines) if not line.startswith((b"Resent-", b"X-Recepcion-")))
    return b"\r\n".join(lines[start:])


def wait_for(condition: Callable[[], bool], deadline: float, runner: subprocess.Popen, what: str) -> None:
    """Until `condition()` holds; fails when `runner` ends first or `deadline` seconds pass."""
    end = time.monotonic() + deadline
    while not condition():
        if runner.poll() is not None:
            pytest.fail(f"el proceso terminó ({runner.returncode}) antes de {what}")
        if time.monotonic() > end:
            pytest.fail(f"no se llegó a {what} en {deadline} s")
        time.sleep(0.01)  # the interval between two looks at the condition, not a synchronisation
