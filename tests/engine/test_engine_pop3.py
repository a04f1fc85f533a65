"""The engine against a real Dovecot over POP3 and a real SMTP server for the backup copies."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest

from tests.servers.dovecot import RECEPCION, RESPALDO, DovecotServer
from tests.servers.smtp import SmtpServer
from tests.support.engine_support import ACCOUNT, crlf, expected_outcomes, original_of, sample_mailbox, write_account
from tui_recepcion import cli
from tui_recepcion.engine.service import AccountProcessor, Engine
from tui_recepcion.errors import ConnectionProblem
from tui_recepcion.mailbox.forward import REASON_HEADER, STATUS_HEADER
from tui_recepcion.store import MessageFilter


@pytest.fixture
def smtp(smtp_server: SmtpServer) -> SmtpServer:
    smtp_server.clear()
    return smtp_server


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_every_message_is_forwarded_once_then_deleted(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, smtp: SmtpServer, capsys, security: str
) -> None:
    mails = sample_mailbox(good=8)
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in mails])
    account = write_account(tmp_path, clean_dovecot, tls_certs, protocol="pop3", security=security, smtp=smtp)

    assert cli.main(["--config", str(account.config_path), "procesar", "--una-vez"]) == 0
    good, bad, cufes = expected_outcomes(mails)
    assert f"Resumen: {good} procesados, {bad} fallidos" in capsys.readouterr().out

    assert clean_dovecot.messages(RECEPCION) == []
    received = smtp.messages()
    assert len(received) == len(mails)
    assert all(message.rcpt_tos == (RESPALDO.address,) for message in received)
    # The original bytes travel intact after our headers, each exactly once.
    assert sorted(original_of(message.raw) for message in received) == sorted(crlf(mail.raw) for mail in mails)

    outcome = {}
    for message in received:
        parsed = email.message_from_bytes(message.raw, policy=policy.default)
        outcome[original_of(message.raw)] = (parsed[STATUS_HEADER], parsed[REASON_HEADER])
    for mail in mails:
        status, reason = outcome[crlf(mail.raw)]
        if mail.expected_reason is None:
            assert (status, reason) == ("procesado", None)
        else:
            assert (status, reason) == ("fallido", mail.expected_reason)

    config = account.config()
    with Engine.open(config) as engine:
        ledger = engine.store.messages(MessageFilter(account=ACCOUNT))
        assert {entry.destination for entry in ledger} == {"respaldo"}
        assert all(entry.forwarded_at and entry.disposed_at for entry in ledger)
        assert {document.document.cufe for document in engine.store.documents(_all())} == cufes


def _all():
    from tui_recepcion.store import DocumentFilter

    return DocumentFilter(account=ACCOUNT)


def test_a_second_run_forwards_nothing(tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, smtp: SmtpServer) -> None:
    mails = sample_mailbox(good=3)
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in mails])
    account = write_account(tmp_path, clean_dovecot, tls_certs, protocol="pop3", smtp=smtp)
    config = account.config()
    with Engine.open(config) as engine:
        AccountProcessor(engine, config.account(ACCOUNT)).run_pass()
        result = AccountProcessor(engine, config.account(ACCOUNT)).run_pass()
    assert (result.processed, result.failed) == (0, 0)
    assert len(smtp.messages()) == len(mails)


def test_smtp_down_leaves_every_message_on_the_server(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, smtp: SmtpServer, closed_port: int
) -> None:
    mails = sample_mailbox(good=2)
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in mails])
    account = write_account(
        tmp_path, clean_dovecot, tls_certs, protocol="pop3", smtp=smtp,
        extra={"smtp": {"servidor": "localhost", "puerto": closed_port, "seguridad": "starttls"}},
    )
    config = account.config()
    with Engine.open(config) as engine:
        with pytest.raises(ConnectionProblem) as raised:
            AccountProcessor(engine, config.account(ACCOUNT)).run_pass()
        assert raised.value.code == "conexion_rechazada" and raised.value.transient
        assert len(clean_dovecot.messages(RECEPCION)) == len(mails)
        # The first batch was decided but not forwarded: the next run (SMTP back) forwards
        # it without extracting again; nothing was deleted from the server.
        ledger = engine.store.messages(MessageFilter(account=ACCOUNT))
        assert ledger and not any(entry.forwarded_at or entry.disposed_at for entry in ledger)

    # SMTP is back: the next run forwards every message once and empties the mailbox.
    recovered = write_account(tmp_path, clean_dovecot, tls_certs, protocol="pop3", smtp=smtp).config()
    with Engine.open(recovered) as engine:
        AccountProcessor(engine, recovered.account(ACCOUNT)).run_pass()
    assert clean_dovecot.messages(RECEPCION) == []
    assert sorted(original_of(message.raw) for message in smtp.messages()) == sorted(crlf(mail.raw) for mail in mails)
