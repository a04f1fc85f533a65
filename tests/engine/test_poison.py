"""Poison messages never block a mailbox (issue 12, «Acceptance»: poison tests).

Against a real Dovecot and a real SMTP relay: a message the IMAP server cannot FETCH, a
POP3 message the relay refuses for good (552 too big, 500 line too long) and a POP3
message with a 5.6 MB line. Each is isolated with its reason, the other messages of its
batch and the mail delivered after it are processed, and no pass fails or prints a
traceback (`procesar --una-vez` runs in its own process and exits 0).
How the poison is made on the server is described in tests/support/poison_support.py.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.servers.dovecot import RECEPCION, RESPALDO, DovecotServer
from tests.servers.smtp import SmtpServer
from tests.support.engine_support import ACCOUNT, crlf, original_of, write_account
from tests.support.poison_support import (
    assert_clean_pass,
    good_mails,
    maildir_contents,
    maildir_files,
    mensajes_json,
    mta_name,
    procesar_una_vez,
    single_line_mail,
    with_long_line,
)
from tui_recepcion.config import load_config
from tui_recepcion.demo.samples import SampleFactory
from tui_recepcion.engine.service import Engine
from tui_recepcion.store import DocumentFilter, LedgerEntry, MessageFilter


def _ledger(config_path: Path) -> list[LedgerEntry]:
    with Engine.open(load_config(config_path)) as engine:
        return engine.store.messages(MessageFilter(account=ACCOUNT))


def _stored_cufes(config_path: Path) -> list[str]:
    with Engine.open(load_config(config_path)) as engine:
        return sorted(row.document.cufe for row in engine.store.documents(DocumentFilter(account=ACCOUNT)))


# --- IMAP: a message the server cannot FETCH -------------------------------------------------


def _damage(path: Path, how: str) -> None:
    if how == "sin_permiso":
        os.chmod(path, 0)  # Dovecot's mail process runs as `dovecot`: open() → EACCES → BYE
    else:  # "truncado": shorter than its S=/W= sizes, Dovecot cuts the connection mid-literal
        os.truncate(path, 200)


@pytest.mark.parametrize("how", ["sin_permiso", "truncado"])
def test_imap_message_the_server_cannot_fetch_goes_to_fallidos_and_blocks_nothing(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, how: str
) -> None:
    factory = SampleFactory(seed=61, pdf_size=4_000)
    same_batch = good_mails(factory, 3)
    poison = factory.document_email()
    delivered_after = good_mails(factory, 3)
    between_passes = good_mails(factory, 3)
    first = [same_batch[0], poison, same_batch[1], same_batch[2], *delivered_after]
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in first], names=[mta_name(i, m.raw) for i, m in enumerate(first)])
    poison_file = clean_dovecot.paths.maildir(RECEPCION) / "new" / mta_name(1, poison.raw)
    _damage(poison_file, how)
    poison_on_disk = poison_file.read_bytes()
    account = write_account(tmp_path, clean_dovecot, tls_certs)

    # Pass 1: every good message, of the poison's batch and after it, is processed.
    assert_clean_pass(procesar_una_vez(account.config_path))
    good = [mail for mail in first if mail is not poison]
    processed = sorted(m.raw for m in clean_dovecot.messages(RECEPCION, "Procesados"))
    assert processed == sorted(crlf(mail.raw) for mail in good)
    # The poison is retried, not given up at the first failure: it is still in INBOX.
    assert maildir_contents(clean_dovecot, RECEPCION, "INBOX") == [poison_on_disk]

    # Mail delivered after the first pass is processed by the next one.
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in between_passes],
                          names=[mta_name(100 + i, m.raw) for i, m in enumerate(between_passes)])
    assert_clean_pass(procesar_una_vez(account.config_path))
    good += between_passes
    processed = sorted(m.raw for m in clean_dovecot.messages(RECEPCION, "Procesados"))
    assert processed == sorted(crlf(mail.raw) for mail in good)

    # By the third pass at the latest it is in Fallidos, with its reason.
    assert_clean_pass(procesar_una_vez(account.config_path))
    assert maildir_files(clean_dovecot, RECEPCION, "INBOX") == []
    assert maildir_contents(clean_dovecot, RECEPCION, "Fallidos") == [poison_on_disk]
    assert len(maildir_files(clean_dovecot, RECEPCION, "Procesados")) == len(good)

    ledger = _ledger(account.config_path)
    assert len(ledger) == len(good) + 1
    failed = [entry for entry in ledger if entry.status == "fallido"]
    assert [(e.reason, e.destination) for e in failed] == [("no_se_pudo_leer", "Fallidos")]
    assert failed[0].disposed_at is not None
    assert all(e.status == "procesado" and e.destination == "Procesados" for e in ledger if e not in failed)
    assert _stored_cufes(account.config_path) == sorted(c for mail in good for c in mail.cufes)
    shown = mensajes_json(account.config_path)
    assert [(m["estado"], m["motivo"], m["destino"]) for m in shown if m["estado"] == "fallido"] == [
        ("fallido", "no_se_pudo_leer", "Fallidos")
    ]

    # A fourth pass has nothing left to do and changes nothing.
    assert_clean_pass(procesar_una_vez(account.config_path))
    assert _ledger(account.config_path) == ledger


# --- POP3: the SMTP relay refuses the forward for good -----------------------------------------


def _refused_mail(factory: SampleFactory, refusal: str):
    if refusal == "552":
        big = SampleFactory(seed=62, pdf_size=2_300_000).document_email()  # ~3.1 MB against 2 MiB
        assert 3_000_000 < len(crlf(big.raw)) < 3_500_000
        return big
    return with_long_line(factory.document_email(), 1200)  # one 1200-character line → 500


@pytest.mark.parametrize("refusal", ["552", "500"])
def test_pop3_message_the_relay_refuses_is_kept_skipped_and_blocks_nothing(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, clean_smtp_2mb: SmtpServer, refusal: str
) -> None:
    smtp = clean_smtp_2mb
    factory = SampleFactory(seed=63, pdf_size=4_000)
    poison = _refused_mail(factory, refusal)
    delivered_after = good_mails(factory, 3)
    between_passes = good_mails(factory, 3)
    clean_dovecot.deliver(RECEPCION, [poison.raw])
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in delivered_after])
    account = write_account(tmp_path, clean_dovecot, tls_certs, protocol="pop3", smtp=smtp)

    assert_clean_pass(procesar_una_vez(account.config_path))
    forwarded = sorted(original_of(m.raw) for m in smtp.messages())
    assert forwarded == sorted(crlf(mail.raw) for mail in delivered_after)
    assert all(m.rcpt_tos == (RESPALDO.address,) for m in smtp.messages())
    # Never deleted unforwarded: the refused message is still on the server, alone.
    assert [m.raw for m in clean_dovecot.messages(RECEPCION)] == [crlf(poison.raw)]
    ledger = {entry.source_key: entry for entry in _ledger(account.config_path)}
    refused = [entry for entry in ledger.values() if entry.status == "fallido"]
    assert len(refused) == 1, ledger
    assert refused[0].reason == "reenvio_rechazado"
    assert refused[0].detail is not None and refusal in refused[0].detail
    assert refused[0].forwarded_at is None
    assert all(e.forwarded_at and e.disposed_at for e in ledger.values() if e is not refused[0])
    attempts_after_first_pass = len(smtp.mail_commands())

    # Later passes skip it: no new attempt to forward it; new mail goes through.
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in between_passes])
    assert_clean_pass(procesar_una_vez(account.config_path))
    assert len(smtp.mail_commands()) == attempts_after_first_pass + len(between_passes)
    forwarded = sorted(original_of(m.raw) for m in smtp.messages())
    assert forwarded == sorted(crlf(mail.raw) for mail in delivered_after + between_passes)
    assert [m.raw for m in clean_dovecot.messages(RECEPCION)] == [crlf(poison.raw)]

    assert_clean_pass(procesar_una_vez(account.config_path))
    assert len(smtp.mail_commands()) == attempts_after_first_pass + len(between_passes)
    assert [m.raw for m in clean_dovecot.messages(RECEPCION)] == [crlf(poison.raw)]
    entry = next(e for e in _ledger(account.config_path) if e.source_key == refused[0].source_key)
    assert (entry.status, entry.reason, entry.forwarded_at) == ("fallido", "reenvio_rechazado", None)

    shown = [m for m in mensajes_json(account.config_path) if m["estado"] == "fallido"]
    assert [(m["motivo"], m["reenviado"]) for m in shown] == [("reenvio_rechazado", None)]
    assert refusal in shown[0]["detalle"]


# --- POP3: a 5.6 MB line ---------------------------------------------------------------------------


def test_pop3_message_with_a_5_6_mb_line_is_read_and_the_rest_follows_in_the_same_pass(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, clean_smtp: SmtpServer
) -> None:
    smtp = clean_smtp
    factory = SampleFactory(seed=64, pdf_size=4_000)
    long_line = single_line_mail(factory)
    assert max(len(line) for line in long_line.split(b"\n")) > 5_600_000
    delivered_after = good_mails(factory, 3)
    clean_dovecot.deliver(RECEPCION, [long_line])
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in delivered_after])
    account = write_account(tmp_path, clean_dovecot, tls_certs, protocol="pop3", smtp=smtp)

    run = procesar_una_vez(account.config_path)
    assert_clean_pass(run)
    assert "demasiado larga" not in run.stdout + run.stderr

    # The protocol stayed in step: the next messages arrive byte for byte, in the same pass.
    forwarded = [original_of(m.raw) for m in smtp.messages()]
    for mail in delivered_after:
        assert forwarded.count(crlf(mail.raw)) == 1
    ledger = _ledger(account.config_path)
    assert len(ledger) == 1 + len(delivered_after)
    stored = set(_stored_cufes(account.config_path))
    assert {c for mail in delivered_after for c in mail.cufes} <= stored

    # The long message itself: either forwarded and deleted, or isolated with its reason
    # (this relay refuses lines over 998 characters) and kept on the server.
    [long_entry] = [e for e in ledger if e.raw_sha256 == hashlib.sha256(crlf(long_line)).hexdigest()]
    remaining = [m.raw for m in clean_dovecot.messages(RECEPCION)]
    if crlf(long_line) in forwarded:
        assert remaining == []
        assert long_entry.forwarded_at is not None
    else:
        assert remaining == [crlf(long_line)]
        assert (long_entry.status, long_entry.reason) == ("fallido", "reenvio_rechazado")
        assert long_entry.detail and "500" in long_entry.detail



# --- POP3: a message the server cannot RETR ---------------------------------------------------------


def test_pop3_message_the_server_cannot_retrieve_is_set_aside_and_blocks_nothing(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, clean_smtp: SmtpServer
) -> None:
    # An unreadable Maildir file: Dovecot lists it, then answers RETR with
    # «-ERR Message N expunged.» on every attempt while the session goes on.
    smtp = clean_smtp
    factory = SampleFactory(seed=65, pdf_size=4_000)
    poison = factory.document_email()
    delivered_after = good_mails(factory, 3)
    mails = [poison, *delivered_after]
    clean_dovecot.deliver(RECEPCION, [m.raw for m in mails], names=[mta_name(i, m.raw) for i, m in enumerate(mails)])
    os.chmod(clean_dovecot.paths.maildir(RECEPCION) / "new" / mta_name(0, poison.raw), 0)
    account = write_account(tmp_path, clean_dovecot, tls_certs, protocol="pop3", smtp=smtp)

    assert_clean_pass(procesar_una_vez(account.config_path))
    assert sorted(original_of(m.raw) for m in smtp.messages()) == sorted(crlf(m.raw) for m in delivered_after)
    assert maildir_contents(clean_dovecot, RECEPCION) == [poison.raw]  # never deleted unforwarded

    for _ in range(2):
        assert_clean_pass(procesar_una_vez(account.config_path))
    ledger = _ledger(account.config_path)
    failed = [entry for entry in ledger if entry.status == "fallido"]
    assert [(e.reason, e.forwarded_at) for e in failed] == [("no_se_pudo_leer", None)]
    assert len(ledger) == 1 + len(delivered_after)
    assert maildir_contents(clean_dovecot, RECEPCION) == [poison.raw]

    # Skipped from now on: nothing sent, nothing recorded, still on the server.
    attempts = len(smtp.mail_commands())
    assert_clean_pass(procesar_una_vez(account.config_path))
    assert len(smtp.mail_commands()) == attempts == len(delivered_after)
    assert _ledger(account.config_path) == ledger
    assert maildir_contents(clean_dovecot, RECEPCION) == [poison.raw]
    shown = [m for m in mensajes_json(account.config_path) if m["estado"] == "fallido"]
    assert [m["motivo"] for m in shown] == ["no_se_pudo_leer"]
