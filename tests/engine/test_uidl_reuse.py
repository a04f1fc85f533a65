"""POP3 identity: a reused UIDL is new mail, and a forward's Resent-Message-ID is
deterministic (issue 12, «Acceptance»: UIDL-reuse test; CONTRACT.md «POP3 forwarding»).

A POP3 server may give a UIDL again to other content: here Dovecot with
`pop3_uidl_format = %f` (the UIDL is the Maildir file name) and a new message delivered
under the file name of one already processed and deleted. The ledger is keyed by UIDL and
content hash, so the new message is processed: its invoice stored, forwarded, deleted,
and the old message's history kept.
"""

from __future__ import annotations

import hashlib
import poplib
from dataclasses import replace
from pathlib import Path

import pytest

from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.servers.smtp import SMTP_USER, SmtpServer
from tests.support.engine_support import ACCOUNT, crlf, original_of, sample_mailbox, write_account
from tests.support.poison_support import (
    assert_clean_pass,
    expected_resent_message_id,
    good_mails,
    header,
    mensajes_json,
    procesar_una_vez,
)
from tui_recepcion.config import load_config
from tui_recepcion.demo.samples import SampleFactory
from tui_recepcion.engine.service import Engine
from tui_recepcion.store import DocumentFilter, LedgerEntry, MessageFilter

REUSED_NAME = "1790000000.M777P4242.mta.prueba.co"


def _pop3_listing(server: DovecotServer) -> dict[str, bytes]:
    """UIDL → the bytes RETR gives, read in a session that deletes nothing."""
    connection = poplib.POP3(server.host, server.ports.pop3, timeout=30)
    try:
        connection.user(RECEPCION.address)
        connection.pass_(RECEPCION.password)
        listing = {}
        for line in connection.uidl()[1]:
            number, uidl = line.decode().split(" ", 1)
            _response, lines, _octets = connection.retr(int(number))
            listing[uidl] = b"\r\n".join(lines) + b"\r\n"
        return listing
    finally:
        connection.quit()


def _ledger(config_path: Path) -> list[LedgerEntry]:
    with Engine.open(load_config(config_path)) as engine:
        return engine.store.messages(MessageFilter(account=ACCOUNT))


def _stored_cufes(config_path: Path) -> list[str]:
    with Engine.open(load_config(config_path)) as engine:
        return sorted(row.document.cufe for row in engine.store.documents(DocumentFilter(account=ACCOUNT)))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_new_message_under_a_reused_uidl_is_processed_and_the_old_history_kept(
    tmp_path: Path, clean_dovecot_uidl_archivo: DovecotServer, tls_certs, clean_smtp: SmtpServer
) -> None:
    server, smtp = clean_dovecot_uidl_archivo, clean_smtp
    first, second = good_mails(SampleFactory(seed=81, pdf_size=4_000), 2)
    assert first.cufes != second.cufes
    server.deliver(RECEPCION, [first.raw], names=[REUSED_NAME])
    assert list(_pop3_listing(server)) == [REUSED_NAME]
    account = write_account(tmp_path, server, tls_certs, protocol="pop3", smtp=smtp)

    assert_clean_pass(procesar_una_vez(account.config_path))
    assert server.messages(RECEPCION) == []
    assert [original_of(m.raw) for m in smtp.messages()] == [crlf(first.raw)]
    [history] = _ledger(account.config_path)
    assert history.raw_sha256 == _sha256(crlf(first.raw))
    assert history.forwarded_at is not None and history.disposed_at is not None

    # Other content under the same UIDL (the server says so itself).
    server.deliver(RECEPCION, [second.raw], names=[REUSED_NAME])
    assert _pop3_listing(server) == {REUSED_NAME: crlf(second.raw)}
    run = procesar_una_vez(account.config_path)
    assert_clean_pass(run)
    assert "Resumen: 1 procesados, 0 fallidos, 0 documentos duplicados" in run.stdout

    assert _stored_cufes(account.config_path) == sorted(first.cufes + second.cufes)
    assert sorted(original_of(m.raw) for m in smtp.messages()) == sorted([crlf(first.raw), crlf(second.raw)])
    assert server.messages(RECEPCION) == []
    ledger = _ledger(account.config_path)
    assert len(ledger) == 2
    # The first message's row is kept as it was; only its key may be set apart (the UIDL
    # now names other content), and it still starts with that UIDL.
    [old] = [entry for entry in ledger if entry.raw_sha256 == history.raw_sha256]
    assert old.source_key.startswith(history.source_key)
    assert replace(old, source_key=history.source_key) == history
    [new] = [entry for entry in ledger if entry is not old]
    assert new.raw_sha256 == _sha256(crlf(second.raw))
    assert (new.status, new.cufes) == ("procesado", second.cufes)
    assert new.forwarded_at is not None and new.disposed_at is not None
    assert {tuple(m["cufes"]) for m in mensajes_json(account.config_path)} == {first.cufes, second.cufes}

    # And a third pass has nothing to do.
    assert_clean_pass(procesar_una_vez(account.config_path))
    assert len(smtp.messages()) == 2
    assert _ledger(account.config_path) == ledger


@pytest.mark.parametrize("drops", [1, 2], ids=["resend-in-the-pass", "resend-in-the-next-pass"])
def test_resent_message_id_is_derived_from_account_uidl_and_content_and_equal_on_a_resend(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, clean_smtp: SmtpServer, drops: int
) -> None:
    server, smtp = clean_dovecot, clean_smtp
    mails = sample_mailbox(good=4, seed=82)  # failed mail is forwarded too, marked failed
    server.deliver(RECEPCION, [mail.raw for mail in mails])
    listing = _pop3_listing(server)
    uidl_of = {raw: uidl for uidl, raw in listing.items()}
    assert sorted(uidl_of) == sorted(crlf(mail.raw) for mail in mails)
    account = write_account(tmp_path, server, tls_certs, protocol="pop3", smtp=smtp)
    domain = SMTP_USER.username.rpartition("@")[2]

    # The relay keeps the first forward but the connection drops before «250»: the engine
    # cannot know it was delivered, so it may send it again; the copies must be recognisable.
    # With two drops the reconnection's resend is dropped too, and the pass stops: the next
    # pass (a new process) sends the message once more.
    smtp.drop_after_commit(drops)
    first_run = procesar_una_vez(account.config_path)
    assert "Traceback" not in first_run.stdout + first_run.stderr, first_run.stderr
    for _attempt in range(2):  # a transient stop is retried by the next pass
        if not server.messages(RECEPCION):
            break
        assert_clean_pass(procesar_una_vez(account.config_path))
    assert server.messages(RECEPCION) == []

    copies: dict[bytes, list[str | None]] = {}
    for message in smtp.messages():
        assert header(message.raw, "Resent-From") == SMTP_USER.username
        copies.setdefault(original_of(message.raw), []).append(header(message.raw, "Resent-Message-ID"))
    assert sorted(copies) == sorted(uidl_of)
    resent = [raw for raw, ids in copies.items() if len(ids) > 1]
    assert len(resent) <= 1 and all(len(copies[raw]) <= drops + 1 for raw in resent)  # only the dropped one
    for raw, ids in copies.items():
        expected = expected_resent_message_id(ACCOUNT, uidl_of[raw], raw, domain)
        assert ids == [expected] * len(ids), (uidl_of[raw], ids)

    # The ledger's content hash is the one the identifier was derived from.
    ledger = _ledger(account.config_path)
    assert sorted(entry.raw_sha256 for entry in ledger) == sorted(_sha256(raw) for raw in uidl_of)
