"""Crash safety (docs/architecture.md, «Crash safety»): SIGKILL at chosen points, then a re-run converges.

Every message ends in exactly one place, the backup receives each message exactly once,
and every document is stored once.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.servers.smtp import SmtpServer
from tests.support.engine_support import ACCOUNT, crlf, expected_outcomes, original_of, sample_mailbox, write_account
from tui_recepcion.engine.service import AccountProcessor, Engine
from tui_recepcion.store import DocumentFilter, MessageFilter

REPO = Path(__file__).resolve().parents[2]




def crash(config_path: Path, point: str, occurrence: int) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "tests.support.crash_runner", str(config_path), point, str(occurrence)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == -signal.SIGKILL, completed.stderr


def rerun(config_path: Path) -> Engine:
    from tui_recepcion.config import load_config

    config = load_config(config_path)
    engine = Engine.open(config)
    AccountProcessor(engine, config.account(ACCOUNT)).run_pass()
    return engine


def assert_store_converged(engine: Engine, mails) -> None:
    _good, _bad, cufes = expected_outcomes(mails)
    ledger = engine.store.messages(MessageFilter(account=ACCOUNT))
    assert len(ledger) == len(mails)
    assert all(entry.disposed_at is not None for entry in ledger)
    documents = engine.store.documents(DocumentFilter(account=ACCOUNT))
    assert sorted(row.document.cufe for row in documents) == sorted(cufes)


IMAP_POINTS = [("after_fetch", 1), ("after_fetch", 3), ("after_commit", 1), ("after_commit", 3),
               ("after_dispose", 1), ("after_dispose", 2), ("before_quit", 1)]


@pytest.mark.parametrize(("point", "occurrence"), IMAP_POINTS)
def test_imap_converges_after_sigkill(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, point: str, occurrence: int
) -> None:
    mails = sample_mailbox(good=6)
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in mails])
    account = write_account(tmp_path, clean_dovecot, tls_certs)
    crash(account.config_path, point, occurrence)
    with rerun(account.config_path) as engine:
        assert_store_converged(engine, mails)
    assert clean_dovecot.messages(RECEPCION) == []
    processed = [m.raw for m in clean_dovecot.messages(RECEPCION, "Procesados")]
    failed = [m.raw for m in clean_dovecot.messages(RECEPCION, "Fallidos")]
    assert sorted(processed) == sorted(crlf(m.raw) for m in mails if m.expected_reason is None)
    assert sorted(failed) == sorted(crlf(m.raw) for m in mails if m.expected_reason)


POP3_POINTS = [("after_fetch", 1), ("after_fetch", 3), ("after_commit", 2), ("after_forward", 1),
               ("after_forward", 6), ("after_dispose", 2), ("before_quit", 1)]


@pytest.mark.parametrize(("point", "occurrence"), POP3_POINTS)
def test_pop3_converges_after_sigkill(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, smtp_server: SmtpServer, point: str, occurrence: int
) -> None:
    smtp_server.clear()
    mails = sample_mailbox(good=6)
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in mails])
    account = write_account(tmp_path, clean_dovecot, tls_certs, protocol="pop3", smtp=smtp_server)
    crash(account.config_path, point, occurrence)
    with rerun(account.config_path) as engine:
        assert_store_converged(engine, mails)
    assert clean_dovecot.messages(RECEPCION) == []
    forwarded = [original_of(message.raw) for message in smtp_server.messages()]
    assert sorted(forwarded) == sorted(crlf(mail.raw) for mail in mails)  # each exactly once
