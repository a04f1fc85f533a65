"""Stored documents are immutable (issue 12, «Acceptance»: tamper test).

CUFEs are printed on every invoice, so anyone can send an email carrying a stored CUFE
with another total and payee. That message must leave the stored XML, PDF and database
row byte-identical, end in Fallidos as `cufe_en_conflicto` and be visible in `mensajes`;
a byte-identical resend of the original stays a harmless duplicate.
"""

from __future__ import annotations

import email
import sqlite3
from decimal import Decimal
from email import policy
from pathlib import Path

from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.servers.smtp import SmtpServer
from tests.support.engine_support import ACCOUNT, TestAccount, crlf, original_of, write_account
from tests.support.poison_support import assert_clean_pass, forged_copy, header, mensajes_json, procesar_una_vez
from tui_recepcion.config import load_config
from tui_recepcion.demo.samples import Attachment, GeneratedDocument, SampleFactory, build_zip, dian_subject
from tui_recepcion.engine.service import Engine
from tui_recepcion.mailbox.forward import REASON_HEADER, STATUS_HEADER
from tui_recepcion.store import DocumentFilter, MessageFilter

FORGED_TOTAL = "98765432.10"
FORGED_NAME = "Cobros Urgentes del Caribe SAS"


def _invoice_and_forgery() -> tuple[bytes, GeneratedDocument, bytes]:
    """A DIAN invoice email (container + PDF in a zip) and its forgery: same CUFE, another
    total and payee, another PDF, sent later under the same subject."""
    factory = SampleFactory(seed=71, pdf_size=4_000)
    document = factory.document()
    stem = f"ad{document.supplier.nit}{document.number}"
    archive = build_zip([(f"{stem}.xml", factory.container(document)), (f"{stem}.pdf", factory.pdf(document))])
    original = factory.email(dian_subject(document), [Attachment(f"z{stem}.zip", archive)], sender=document.supplier)
    forged = forged_copy(original, total=f"{document.total:.2f}", new_total=FORGED_TOTAL,
                         supplier_name=document.supplier.name, new_name=FORGED_NAME)
    return original, document, forged


def _snapshot(account: TestAccount, cufe: str) -> dict:
    """The stored document as it is on disk: its database row and its files' bytes."""
    with Engine.open(account.config()) as engine:
        [row] = [r for r in engine.store.documents(DocumentFilter(account=ACCOUNT)) if r.document.cufe == cufe]
    assert row.xml_path is not None and row.pdf_path is not None
    with sqlite3.connect(account.database) as db:
        db_rows = db.execute("SELECT * FROM documents WHERE cufe = ?", (cufe,)).fetchall()
    assert len(db_rows) == 1
    return {
        "row": row,
        "db_rows": db_rows,
        "xml": row.xml_path.read_bytes(),
        "pdf": row.pdf_path.read_bytes(),
        # The same inode and mtime: the files were never rewritten, not even with equal bytes.
        "xml_stat": (row.xml_path.stat().st_ino, row.xml_path.stat().st_mtime_ns),
        "pdf_stat": (row.pdf_path.stat().st_ino, row.pdf_path.stat().st_mtime_ns),
    }


def _document_totals(config_path: Path) -> list[tuple[str, Decimal, str]]:
    with Engine.open(load_config(config_path)) as engine:
        return [(r.document.cufe, r.document.total, r.document.supplier.name)
                for r in engine.store.documents(DocumentFilter(account=ACCOUNT))]


def test_a_forged_email_with_a_stored_cufe_changes_nothing_and_goes_to_fallidos(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs
) -> None:
    original, document, forged = _invoice_and_forgery()
    clean_dovecot.deliver(RECEPCION, [original])
    account = write_account(tmp_path, clean_dovecot, tls_certs)
    assert_clean_pass(procesar_una_vez(account.config_path))
    before = _snapshot(account, document.cufe)
    assert before["row"].document.total == document.total
    assert FORGED_NAME.encode() not in before["xml"]

    # The forgery arrives later, as a new email.
    clean_dovecot.deliver(RECEPCION, [forged])
    assert_clean_pass(procesar_una_vez(account.config_path))

    after = _snapshot(account, document.cufe)
    assert after["xml"] == before["xml"]
    assert after["pdf"] == before["pdf"]
    assert after["db_rows"] == before["db_rows"]
    assert after["row"] == before["row"]
    assert after["xml_stat"] == before["xml_stat"] and after["pdf_stat"] == before["pdf_stat"]  # never rewritten
    assert _document_totals(account.config_path) == [(document.cufe, document.total, document.supplier.name)]

    assert clean_dovecot.messages(RECEPCION) == []
    assert [m.raw for m in clean_dovecot.messages(RECEPCION, "Procesados")] == [crlf(original)]
    assert [m.raw for m in clean_dovecot.messages(RECEPCION, "Fallidos")] == [crlf(forged)]

    with Engine.open(account.config()) as engine:
        ledger = engine.store.messages(MessageFilter(account=ACCOUNT))
    assert [(e.status, e.reason, e.destination) for e in ledger] == [
        ("procesado", None, "Procesados"),
        ("fallido", "cufe_en_conflicto", "Fallidos"),
    ]
    shown = mensajes_json(account.config_path)
    forged_id = header(forged, "Message-ID")
    [record] = [m for m in shown if m["message_id"] == forged_id]
    assert (record["estado"], record["motivo"], record["destino"]) == ("fallido", "cufe_en_conflicto", "Fallidos")

    # The very same email sent again is a duplicate, not a conflict: Procesados, nothing changes.
    clean_dovecot.deliver(RECEPCION, [original])
    run = procesar_una_vez(account.config_path)
    assert_clean_pass(run)
    assert "1 documentos duplicados" in run.stdout
    assert sorted(m.raw for m in clean_dovecot.messages(RECEPCION, "Procesados")) == [crlf(original)] * 2
    assert [m.raw for m in clean_dovecot.messages(RECEPCION, "Fallidos")] == [crlf(forged)]
    assert _snapshot(account, document.cufe) == after
    with Engine.open(account.config()) as engine:
        last = engine.store.messages(MessageFilter(account=ACCOUNT))[-1]
    assert (last.status, last.reason, last.destination) == ("procesado", None, "Procesados")


def test_pop3_forged_email_is_forwarded_marked_as_a_conflict_and_changes_nothing(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, clean_smtp: SmtpServer
) -> None:
    original, document, forged = _invoice_and_forgery()
    clean_dovecot.deliver(RECEPCION, [original])
    account = write_account(tmp_path, clean_dovecot, tls_certs, protocol="pop3", smtp=clean_smtp)
    assert_clean_pass(procesar_una_vez(account.config_path))
    before = _snapshot(account, document.cufe)

    clean_dovecot.deliver(RECEPCION, [forged])
    assert_clean_pass(procesar_una_vez(account.config_path))
    after = _snapshot(account, document.cufe)
    assert after == before
    assert _document_totals(account.config_path) == [(document.cufe, document.total, document.supplier.name)]

    copies = {original_of(m.raw): m.raw for m in clean_smtp.messages()}
    assert sorted(copies) == sorted([crlf(original), crlf(forged)])
    marked = email.message_from_bytes(copies[crlf(forged)], policy=policy.default)
    assert (marked[STATUS_HEADER], marked[REASON_HEADER]) == ("fallido", "cufe_en_conflicto")
    assert clean_dovecot.messages(RECEPCION) == []
    shown = [m for m in mensajes_json(account.config_path) if m["estado"] == "fallido"]
    assert [m["motivo"] for m in shown] == ["cufe_en_conflicto"]
