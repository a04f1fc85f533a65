"""Stored documents are immutable: files written once, a known CUFE with other content is a
conflict kept as evidence, never a rewrite; and the store's files are private."""

from __future__ import annotations

import hashlib
import json
import platform
import re
import sqlite3
import stat
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from tui_recepcion.cli import main
from tui_recepcion.demo.samples import Attachment, GeneratedDocument, SampleFactory, build_zip, dian_subject
from tui_recepcion.dian.extract import extract_file, extract_message
from tui_recepcion.dian.model import SavedFile
from tui_recepcion.engine.prepare import PrepareSettings, prepare
from tui_recepcion.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    FileBatch,
    Outcome,
    Store,
    document_content_sha256,
    save_document_files,
)
from tui_recepcion.store import files as files_module

ACCOUNT = "principal"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def forged_xml(generated: GeneratedDocument, factor: int = 10) -> bytes:
    """The signed document with its PayableAmount multiplied: what a forger sends."""
    old = f">{generated.total:.2f}</cbc:PayableAmount>".encode()
    assert generated.xml.count(old) == 1
    return generated.xml.replace(old, f">{generated.total * factor:.2f}</cbc:PayableAmount>".encode())


def mail(factory: SampleFactory, generated: GeneratedDocument, container: bytes, pdf: bytes,
         *extra: tuple[str, bytes]) -> bytes:
    stem = f"ad{generated.supplier.nit}{generated.number}"
    entries = [(f"{stem}.xml", container), (f"{stem}.pdf", pdf), *extra]
    return factory.email(dian_subject(generated), [Attachment(f"z{stem}.zip", build_zip(entries))],
                         sender=generated.supplier)


def document_row(store: Store) -> list[tuple]:
    with store._db.lock:  # the rows exactly as stored, on either backend
        return [tuple(row) for row in store._db.execute("SELECT * FROM documents ORDER BY id").fetchall()]


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def record(store: Store, key: str, raw: bytes, *, through_workers: bool) -> Outcome:
    """Record one message as the engine does (worker side writes the files) or as
    `importar` does (the store writes them)."""
    if through_workers:
        outcome = prepare(PrepareSettings(ACCOUNT, None, store.documents_dir), (key, raw))
        return replace(outcome, destination="Procesados", failed_destination="Fallidos")
    else:
        outcome = Outcome(key, extract_message(raw), sha(raw), "Procesados", failed_destination="Fallidos")
    return outcome


@pytest.mark.parametrize("through_workers", [True, False], ids=["archivos-del-proceso-auxiliar", "archivos-del-almacen"])
def test_tampered_resend_leaves_the_stored_document_byte_identical(
    store: Store, store_location: Path | str, factory: SampleFactory, capsys: pytest.CaptureFixture[str], through_workers: bool
) -> None:
    generated = factory.document()
    genuine = mail(factory, generated, factory.container(generated), factory.pdf(generated))
    (first,) = store.record_outcomes(ACCOUNT, [record(store, "imap:1:1", genuine, through_workers=through_workers)])
    assert first.added == (generated.cufe,)
    (stored,) = store.documents()
    assert stored.xml_path is not None and stored.pdf_path is not None
    row_before = document_row(store)
    xml_before, pdf_before = stored.xml_path.read_bytes(), stored.pdf_path.read_bytes()
    files_before = files_under(store.documents_dir)

    # A stranger resends the CUFE (printed on every invoice) with ten times the amount and another PDF.
    forged = forged_xml(generated)
    tampered = mail(factory, generated, factory.container(generated, embedded=forged.decode()), factory.pdf(generated))
    (result,) = store.record_outcomes(ACCOUNT, [record(store, "imap:1:2", tampered, through_workers=through_workers)])

    # The stored document: row and files byte-identical, nothing renamed or removed.
    assert document_row(store) == row_before
    assert stored.xml_path.read_bytes() == xml_before and stored.pdf_path.read_bytes() == pdf_before
    after = files_under(store.documents_dir)
    assert {name: data for name, data in after.items() if name in files_before} == files_before
    (still,) = store.documents()
    assert still.document.total == generated.total

    # The message failed as a conflict, towards Fallidos.
    assert result.conflicts == (generated.cufe,) and result.added == () and result.duplicates == ()
    entry = result.entry
    assert (entry.status, entry.reason, entry.destination) == ("fallido", "cufe_en_conflicto", "Fallidos")
    assert generated.cufe in entry.detail and generated.number in entry.detail
    assert "no se modificó" in entry.detail and "evidencia" in entry.detail
    assert store.get_message(ACCOUNT, "imap:1:2") == entry

    # The forged content is kept apart as evidence, in new files.
    (conflict,) = store.conflicts()
    assert (conflict.account, conflict.cufe, conflict.source_key) == (ACCOUNT, generated.cufe, "imap:1:2")
    assert conflict.stored_number == generated.number and conflict.stored_xml_path == stored.xml_path
    assert conflict.xml_path is not None and conflict.xml_path != stored.xml_path
    assert conflict.pdf_path is not None and conflict.pdf_path != stored.pdf_path
    assert f"{generated.total * 10:.2f}".encode() in conflict.xml_path.read_bytes()
    assert conflict.content_sha256 == document_content_sha256([SavedFile("xml", conflict.xml_path.read_bytes())])
    assert set(after) - set(files_before) == {
        str(conflict.xml_path.relative_to(store.documents_dir)), str(conflict.pdf_path.relative_to(store.documents_dir))}
    assert store.conflicts("otra") == []

    # `mensajes` shows it like any failure, in every format.
    database = ["--base-datos", str(store_location)]
    assert main(["mensajes", "--formato", "json", *database]) == 0
    records = {record["origen"]: record for record in json.loads(capsys.readouterr().out)}
    assert (records["imap:1:2"]["estado"], records["imap:1:2"]["motivo"]) == ("fallido", "cufe_en_conflicto")
    assert generated.cufe in records["imap:1:2"]["detalle"]
    assert main(["mensajes", "--estado", "fallido", *database]) == 0
    table = capsys.readouterr().out
    assert "cufe_en_conflicto" in table and "Fallidos" in table
    assert main(["mensajes", "--formato", "csv", *database]) == 0
    assert "cufe_en_conflicto" in capsys.readouterr().out


def test_a_conflict_inside_one_batch_and_new_documents_of_the_same_message(store: Store,
                                                                           factory: SampleFactory) -> None:
    first, other = factory.document(), factory.document()
    genuine = mail(factory, first, factory.container(first), factory.pdf(first))
    # One message carries the forged first document and a genuine new one.
    forged_and_new = mail(factory, first, factory.container(first, embedded=forged_xml(first, 3).decode()),
                          factory.pdf(first), (f"ad{other.number}.xml", factory.container(other)))
    outcomes = [record(store, key, raw, through_workers=True)
                for key, raw in (("imap:1:1", genuine), ("imap:1:2", forged_and_new))]
    results = store.record_outcomes(ACCOUNT, outcomes)
    assert results[0].added == (first.cufe,) and results[0].entry.status == "procesado"
    assert results[1].conflicts == (first.cufe,) and results[1].added == (other.cufe,)
    assert (results[1].entry.status, results[1].entry.reason) == ("fallido", "cufe_en_conflicto")
    assert results[1].entry.cufes == (first.cufe, other.cufe)
    totals = {row.document.cufe: row.document.total for row in store.documents()}
    assert totals == {first.cufe: first.total, other.cufe: other.total}
    (conflict,) = store.conflicts(ACCOUNT)
    assert conflict.source_key == "imap:1:2" and conflict.stored_number == first.number


def test_a_resend_with_a_new_container_and_pdf_is_a_duplicate_and_leaves_no_files(
    store: Store, factory: SampleFactory
) -> None:
    generated = factory.document()
    store.record_outcomes(ACCOUNT, [record(store, "imap:1:1", mail(factory, generated, factory.container(generated),
                                                                   factory.pdf(generated)), through_workers=True)])
    files_before = files_under(store.documents_dir)
    # The supplier's system regenerates the container (other ids, signature) and the PDF.
    again = mail(factory, generated, factory.container(generated), factory.pdf(generated))
    (result,) = store.record_outcomes(ACCOUNT, [record(store, "imap:1:2", again, through_workers=True)])
    assert result.duplicates == (generated.cufe,) and result.conflicts == ()
    assert result.entry.status == "procesado" and result.entry.destination == "Procesados"
    # The worker had written the new container and PDF; nothing references them, so they are gone.
    assert files_under(store.documents_dir) == files_before
    assert store.conflicts() == []


def test_bare_document_and_its_container_are_the_same_content(store: Store, factory: SampleFactory) -> None:
    generated = factory.document()
    bare = extract_file("f.xml", generated.xml)
    contained = extract_file("g.xml", factory.container(generated))
    assert document_content_sha256(bare.files[generated.cufe]) == document_content_sha256(
        contained.files[generated.cufe])
    store.record_outcome(ACCOUNT, "archivo:1", bare, "h1")
    result = store.record_outcome(ACCOUNT, "archivo:2", contained, "h2")
    assert result.duplicates == (generated.cufe,) and result.entry.status == "procesado"


@pytest.mark.parametrize("style", ["zip", "bare_container", "bare_document", "no_declaration"])
@pytest.mark.parametrize("kind", ["Invoice", "CreditNote", "DebitNote"])
def test_the_extractors_content_hash_is_the_hash_of_the_file_on_disk(factory: SampleFactory, tmp_path: Path,
                                                                      kind: str, style: str) -> None:
    # The extractor hashes the tree it parsed; a stored file is hashed from its bytes. Rows
    # are compared by either, so the two must never differ.
    mail = factory.document_email(kind, style=style)
    extraction = extract_message(mail.raw)
    (cufe,) = mail.cufes
    xml = next(saved for saved in extraction.files[cufe] if saved.kind == "xml")
    assert xml.content_sha256 is not None
    paths = save_document_files(tmp_path, ACCOUNT, extraction.documents[0], extraction.files[cufe])
    on_disk = document_content_sha256([SavedFile("xml", paths["xml"].read_bytes())])
    assert xml.content_sha256 == on_disk
    assert on_disk != hashlib.sha256(paths["xml"].read_bytes()).hexdigest()  # the signed document, not the file


def test_rows_stored_before_content_hashes_are_compared_by_their_file(tmp_path: Path, factory: SampleFactory) -> None:
    path, documents = tmp_path / "v5.db", tmp_path / "documentos"
    raw = sqlite3.connect(path)
    for statement in (statement for step in MIGRATIONS[:5] for statement in step):
        raw.execute(statement)
    raw.execute("PRAGMA user_version = 5")
    raw.commit()
    raw.close()
    generated = factory.document()
    extraction = extract_file("f.xml", factory.container(generated))
    # A document stored by the previous version: old file name, no content hash.
    old_file = documents / ACCOUNT / f"{generated.cufe[:16]}-factura.xml"
    old_file.parent.mkdir(parents=True)
    old_file.write_bytes(extraction.files[generated.cufe][0].data)
    with Store.open(path, documents) as store:
        assert store.schema_version() == SCHEMA_VERSION
        store.record_outcome(ACCOUNT, "k0", extraction, "h0")
    raw = sqlite3.connect(path)
    raw.execute("UPDATE documents SET content_sha256 = NULL, xml_path = ?", (str(old_file),))
    raw.commit()
    raw.close()
    with Store.open(path, documents) as store:
        row_before = document_row(store)
        same = store.record_outcome(ACCOUNT, "k1", extract_file("g.xml", factory.container(generated)), "h1")
        assert same.duplicates == (generated.cufe,)
        forged = extract_file("h.xml", factory.container(generated, embedded=forged_xml(generated).decode()))
        conflict = store.record_outcome(ACCOUNT, "k2", forged, "h2", failed_destination="Fallidos")
        assert conflict.conflicts == (generated.cufe,) and conflict.entry.reason == "cufe_en_conflicto"
        assert document_row(store) == row_before  # the old row is not even given its hash
        assert old_file.read_bytes() == extraction.files[generated.cufe][0].data
        (row,) = store.documents()
        assert row.xml_path == old_file  # old names stay valid


def test_without_a_documents_folder_the_values_decide(store_location: Path | str, factory: SampleFactory) -> None:
    with Store.open(store_location) as store:
        generated = factory.document()

        def outcome(key: str, data: bytes) -> Outcome:
            # As a worker sends it without a documents folder: no files, no paths, no hash.
            return Outcome(key, replace(extract_file("f.xml", data), files={}), sha(data), saved_files={})

        store.record_outcomes(ACCOUNT, [outcome("k1", generated.xml)])
        results = store.record_outcomes(ACCOUNT, [outcome("k2", factory.container(generated)),
                                                  outcome("k3", forged_xml(generated))])
        assert results[0].duplicates == (generated.cufe,)
        assert results[1].conflicts == (generated.cufe,) and results[1].entry.reason == "cufe_en_conflicto"
        (conflict,) = store.conflicts()
        assert conflict.xml_path is None and conflict.stored_number == generated.number


# ---- files written once --------------------------------------------------------------------


def test_files_are_written_once_and_reused_when_identical(tmp_path: Path, factory: SampleFactory) -> None:
    generated = factory.document()
    document = extract_file("f.xml", generated.xml).documents[0]
    files = [SavedFile("xml", generated.xml), SavedFile("pdf", b"%PDF-1.4 uno")]
    first = save_document_files(tmp_path, ACCOUNT, document, files)
    assert first["xml"].name == f"{generated.cufe[:16]}-factura-{sha(generated.xml)[:8]}.xml"
    identity = {kind: (path.stat().st_ino, path.stat().st_mtime_ns) for kind, path in first.items()}
    again = save_document_files(tmp_path, ACCOUNT, document, files)
    assert again == first
    assert {kind: (path.stat().st_ino, path.stat().st_mtime_ns) for kind, path in again.items()} == identity
    # Other bytes never take a stored file's name.
    other = save_document_files(tmp_path, ACCOUNT, document, [SavedFile("pdf", b"%PDF-1.4 dos")])
    assert other["pdf"] != first["pdf"] and first["pdf"].read_bytes() == b"%PDF-1.4 uno"
    # Not even when a file squats the short name: the longer hash is used instead.
    data = b"%PDF-1.4 tres"
    squatted = first["pdf"].with_name(f"{generated.cufe[:16]}-factura-{sha(data)[:8]}.pdf")
    squatted.write_bytes(b"otra cosa")
    third = save_document_files(tmp_path, ACCOUNT, document, [SavedFile("pdf", data)])
    assert third["pdf"].name == f"{generated.cufe[:16]}-factura-{sha(data)[:16]}.pdf"
    assert squatted.read_bytes() == b"otra cosa" and third["pdf"].read_bytes() == data
    assert not [path for path in first["xml"].parent.iterdir() if path.name.startswith(".tmp-")]


@pytest.mark.parametrize("flush", ["syncfs", "fsync"])
def test_a_batch_writes_every_document_once_and_leaves_no_temporary_file(
        tmp_path: Path, factory: SampleFactory, monkeypatch: pytest.MonkeyPatch, flush: str) -> None:
    if flush == "fsync":  # as where syncfs(2) does not report write errors
        monkeypatch.setattr("tui_recepcion.store.files._SYNCFS", None)
    first, second = factory.document(), factory.document()
    pdf = b"%PDF-1.4 la misma factura impresa dos veces"
    batch = FileBatch(tmp_path)
    paths = [batch.add(ACCOUNT, extract_file("f.xml", generated.xml).documents[0],
                       [SavedFile("xml", generated.xml), SavedFile("pdf", pdf)])
             for generated in (first, second, first)]  # the first again: the same names, written once
    assert not list(tmp_path.rglob(f"{first.cufe[:16]}*"))  # nothing under a final name before the commit
    batch.commit()
    assert paths[0] == paths[2] and paths[0]["xml"] != paths[1]["xml"]
    assert paths[0]["xml"].read_bytes() == first.xml and paths[1]["xml"].read_bytes() == second.xml
    assert all(mode(path) == 0o600 for path in paths[1].values())
    written = sorted(path.name for path in tmp_path.rglob("*") if path.is_file())
    assert written == sorted(path.name for entry in paths[:2] for path in entry.values())  # no .tmp- left


def test_syncfs_is_used_where_linux_reports_its_write_errors() -> None:
    release = tuple(int(part) for part in re.findall(r"\d+", platform.release())[:2])
    expected = sys.platform.startswith("linux") and release >= (5, 8)
    assert (files_module._SYNCFS is not None) == expected


# ---- permissions ---------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_documents_and_evidence_are_private(tmp_path: Path, factory: SampleFactory,
                                                     permissive_umask: None) -> None:
    existing = tmp_path / "existente"
    existing.mkdir()
    existing.chmod(0o755)
    database = existing / "estado" / "tui" / "recepcion.db"
    documents = existing / "documentos"
    generated = factory.document()
    with Store.open(database, documents) as store:
        store.append_events([(ACCOUNT, "prueba", {})])  # the WAL and shared-memory files exist now
        assert {mode(path) for path in (database, database.with_name("recepcion.db-wal"),
                                        database.with_name("recepcion.db-shm"))} == {0o600}
        assert mode(database.parent) == mode(database.parent.parent) == 0o700
        assert mode(existing) == 0o755  # folders the store did not create are left alone

        genuine = mail(factory, generated, factory.container(generated), factory.pdf(generated))
        store.record_outcomes(ACCOUNT, [record(store, "k1", genuine, through_workers=True)])
        forged = mail(factory, generated, factory.container(generated, embedded=forged_xml(generated).decode()),
                      factory.pdf(generated))
        store.record_outcomes(ACCOUNT, [record(store, "k2", forged, through_workers=False)])
        (row,) = store.documents()
        (conflict,) = store.conflicts()
        evidence = [conflict.xml_path, conflict.pdf_path]
        assert {mode(path) for path in (row.xml_path, row.pdf_path, *evidence)} == {0o600}
        folder = row.xml_path.parent
        assert {mode(path) for path in (documents, folder.parent.parent, folder.parent, folder)} == {0o700}


def test_amount_in_forged_xml_really_differs(factory: SampleFactory) -> None:
    """The tamper tests rely on the forgery changing what is parsed, not only bytes."""
    generated = factory.document()
    forged = extract_file("f.xml", forged_xml(generated)).documents[0]
    assert forged.cufe == generated.cufe and forged.total == generated.total * 10 != Decimal(0)
