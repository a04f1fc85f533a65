"""The service as a technician runs it: SIGTERM stops it cleanly; UIDVALIDITY changes are safe."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.support.engine_support import ACCOUNT, expected_outcomes, sample_mailbox, write_account
from tui_recepcion.engine.service import AccountProcessor, Engine
from tui_recepcion.store import DocumentFilter, MessageFilter

REPO = Path(__file__).resolve().parents[2]


def test_sigterm_stops_the_service_cleanly(tmp_path: Path, clean_dovecot: DovecotServer, tls_certs) -> None:
    mails = sample_mailbox(good=3)
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in mails])
    account = write_account(tmp_path, clean_dovecot, tls_certs)
    service = subprocess.Popen(
        [sys.executable, "-m", "tui_recepcion", "--config", str(account.config_path), "procesar"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "JOURNAL_STREAM": "8:1234"},
    )
    try:
        # Wait for the first pass to finish: the line of its last disposal arrives on stdout.
        moved = 0
        printed = []
        assert service.stdout is not None
        while moved < len(mails):
            line = service.stdout.readline()
            printed.append(line)
            assert line, "the service ended before processing the mailbox"
            found = re.search(r"→ (\d+) correos? movidos", line)
            moved += int(found.group(1)) if found else 0
        service.send_signal(signal.SIGTERM)
        out, err = service.communicate(timeout=30)
    finally:
        if service.poll() is None:
            service.kill()
    assert service.returncode == 0
    assert "señal SIGTERM recibida" in err
    assert "servicio detenido" in err
    assert "Resumen:" in out
    # journald adds its own timestamps: the log lines start with the level, in Spanish.
    assert all(line.startswith(("información", "advertencia", "error")) for line in err.splitlines() if line.strip())
    # the times the service prints are the account's (Bogotá) with their offset
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d-05:00  ", "".join(printed), re.MULTILINE), printed
    assert clean_dovecot.messages(RECEPCION) == []


def test_a_uidvalidity_change_reprocesses_without_storing_twice(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs
) -> None:
    mails = sample_mailbox(good=4)
    account = write_account(tmp_path, clean_dovecot, tls_certs)
    config = account.config()
    _good, _bad, cufes = expected_outcomes(mails)

    def crash(point: str) -> None:
        if point == "after_commit":
            raise KeyboardInterrupt  # stands in for a crash: decided, not yet moved

    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in mails])
    with Engine.open(config) as engine:
        with pytest.raises(KeyboardInterrupt):
            AccountProcessor(engine, config.account(ACCOUNT), checkpoint=crash).run_pass()
        subprocess.run(
            ["doveadm", "-c", str(clean_dovecot.paths.config), "mailbox", "update", "-u", RECEPCION.address,
             "--uid-validity", "4242", "INBOX"],
            check=True, capture_output=True,
        )
        AccountProcessor(engine, config.account(ACCOUNT)).run_pass()
        assert clean_dovecot.messages(RECEPCION) == []
        documents = engine.store.documents(DocumentFilter(account=ACCOUNT))
        assert sorted(row.document.cufe for row in documents) == sorted(cufes)
        ledger = engine.store.messages(MessageFilter(account=ACCOUNT))
        assert {entry.source_key.split(":")[1] for entry in ledger if entry.disposed_at} == {"4242"}
