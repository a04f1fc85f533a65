"""The store APIs the engine uses to isolate poison messages, and how store faults surface."""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import pickle
import sqlite3
from pathlib import Path

import pytest

from tui_recepcion.cli import main
from tui_recepcion.demo.samples import SampleFactory
from tui_recepcion.dian.extract import extract_file
from tui_recepcion.dian.model import Extraction, Failure, SavedFile
from tui_recepcion.dian.reasons import Reason
from tui_recepcion.store import (
    KEPT_ON_SERVER,
    UNKNOWN_RAW_SHA256,
    Store,
    StoreError,
    database_problem,
    save_document_files,
)

ACCOUNT = "principal"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- attempts ------------------------------------------------------------------------------


def test_attempts_are_counted_across_passes_and_dropped_once_decided(store_location: Path | str,
                                                                      factory: SampleFactory) -> None:
    path = store_location
    with Store.open(path) as store:
        assert store.record_attempt(ACCOUNT, "imap:1:5", "fetch", "conexión perdida") == 1
        assert store.record_attempt(ACCOUNT, "imap:1:5", "fetch", "tiempo agotado") == 2
        assert store.record_attempt(ACCOUNT, "imap:1:6", "fetch", "x") == 1
        assert store.record_attempt("otra", "imap:1:5", "fetch", "x") == 1
    with Store.open(path) as store:  # a new pass, a new process
        assert store.record_attempt(ACCOUNT, "imap:1:5", "fetch", "otra vez") == 3
        assert store.attempts(ACCOUNT, ["imap:1:5", "imap:1:6", "imap:1:7"]) == {"imap:1:5": 3, "imap:1:6": 1}
        assert store.attempts(ACCOUNT, []) == {}
        # Recording the message (a failure or an outcome) drops its count.
        store.record_failure(ACCOUNT, "imap:1:5", reason=Reason.NO_SE_PUDO_LEER, detail="x", destination="Fallidos",
                             raw_sha256=None)
        assert store.attempts(ACCOUNT, ["imap:1:5"]) == {}
        store.record_attempt(ACCOUNT, "imap:1:8", "store", "disco lleno")
        extraction = extract_file("f.xml", factory.container(factory.document()))
        store.record_outcome(ACCOUNT, "imap:1:8", extraction, "h")
        assert store.attempts(ACCOUNT, ["imap:1:8"]) == {}
        assert store.attempts("otra", ["imap:1:5"]) == {"imap:1:5": 1}


def test_many_keys_are_looked_up_in_batches(store: Store) -> None:
    for index in range(1200):
        store.record_attempt(ACCOUNT, f"k{index}", "fetch", "x")
    keys = [f"k{index}" for index in range(1300)]
    assert store.attempts(ACCOUNT, keys) == {f"k{index}": 1 for index in range(1200)}


# ---- failures decided by the engine ----------------------------------------------------------


def test_record_failure_is_a_ledger_row_and_idempotent(store: Store) -> None:
    entry = store.record_failure(ACCOUNT, "imap:3:9", reason=Reason.MENSAJE_DEMASIADO_GRANDE,
                                 detail="El correo ocupa 52428800 bytes; el máximo es 41943040.",
                                 destination="Fallidos", raw_sha256=None, subject="Factura grande",
                                 message_id="<g@x>")
    assert (entry.status, entry.reason, entry.destination, entry.raw_sha256) == (
        "fallido", "mensaje_demasiado_grande", "Fallidos", UNKNOWN_RAW_SHA256)
    assert (entry.subject, entry.message_id, entry.cufes, entry.disposed_at) == ("Factura grande", "<g@x>", (), None)
    assert "52428800" in (entry.detail or "")
    assert store.get_message(ACCOUNT, "imap:3:9") == entry
    again = store.record_failure(ACCOUNT, "imap:3:9", reason=Reason.NO_SE_PUDO_LEER, detail="otro",
                                 destination="Otra", raw_sha256="abc")
    assert again == entry
    hashed = store.record_failure(ACCOUNT, "pop3:U1", reason=Reason.NO_SE_PUDO_LEER, detail="RETR falló 3 veces",
                                  destination=None, raw_sha256="ab" * 32)
    assert hashed.raw_sha256 == "ab" * 32 and hashed.destination is None
    # An outcome for a key already recorded as a failure changes nothing either.
    late = store.record_outcome(ACCOUNT, "imap:3:9", Extraction(failure=Failure(Reason.SIN_ADJUNTOS, "x")), "h")
    assert late.already_recorded and late.entry == entry


def test_a_refused_forward_is_a_visible_failure_kept_on_the_server(
    store: Store, store_location: Path | str, factory: SampleFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    extraction = extract_file("f.xml", factory.container(factory.document()))
    store.record_outcome(ACCOUNT, "pop3:U1", extraction, "h1", "respaldo")
    store.record_outcome(ACCOUNT, "pop3:U2", Extraction(failure=Failure(Reason.ZIP_CORRUPTO, "El ZIP está dañado.")),
                         "h2", "respaldo")
    reply = "552 5.3.4 Message size exceeds fixed maximum message size"
    refused = store.mark_forward_refused(ACCOUNT, "pop3:U1", reply)
    assert (refused.status, refused.reason, refused.destination) == ("fallido", "reenvio_rechazado", KEPT_ON_SERVER)
    assert refused.forward_refused and refused.disposed_at is None and refused.forwarded_at is None
    assert reply in (refused.detail or "") and "procesado" in (refused.detail or "")
    assert refused.cufes == extraction.cufes and store.document_count() == 1  # the invoice stays stored
    assert store.mark_forward_refused(ACCOUNT, "pop3:U1", "otra respuesta") == refused
    failed = store.mark_forward_refused(ACCOUNT, "pop3:U2", "500 5.5.2 Line too long\r\n")
    assert "zip_corrupto" in (failed.detail or "") and "El ZIP está dañado." in (failed.detail or "")
    assert "\r" not in (failed.detail or "")
    with pytest.raises(ValueError):
        store.mark_forward_refused(ACCOUNT, "pop3:nada", reply)
    # Other failures are not refused forwards, nor a refused row once disposed of.
    other = store.record_failure(ACCOUNT, "pop3:U3", reason=Reason.NO_SE_PUDO_LEER, detail="x", destination=None,
                                 raw_sha256=None)
    assert not other.forward_refused

    assert main(["mensajes", "--formato", "json", "--base-datos", str(store_location)]) == 0
    records = {record["origen"]: record for record in json.loads(capsys.readouterr().out)}
    assert (records["pop3:U1"]["estado"], records["pop3:U1"]["motivo"], records["pop3:U1"]["destino"]) == (
        "fallido", "reenvio_rechazado", "servidor")
    assert reply in records["pop3:U1"]["detalle"]


def test_a_reused_uidl_retires_the_old_row(store: Store) -> None:
    failed = Extraction(failure=Failure(Reason.SIN_ADJUNTOS, "x"))
    old_hash = "a1" * 32
    store.record_outcome(ACCOUNT, "pop3:U7", failed, old_hash, "respaldo")
    with pytest.raises(ValueError):  # not disposed of yet: still the live message
        store.retire_message(ACCOUNT, "pop3:U7")
    with pytest.raises(ValueError):
        store.retire_message(ACCOUNT, "pop3:nada")
    store.mark_disposed(ACCOUNT, ["pop3:U7"], "respaldo")
    store.record_attempt(ACCOUNT, "pop3:U7", "RETR", "x")
    store.retire_message(ACCOUNT, "pop3:U7")
    assert store.lookup_messages(ACCOUNT, ["pop3:U7"]) == {}
    retired_key = f"pop3:U7#{old_hash[:16]}"
    retired = store.get_message(ACCOUNT, retired_key)
    assert retired is not None and retired.raw_sha256 == old_hash and retired.disposed_at is not None
    assert store.attempts(ACCOUNT, ["pop3:U7"]) == {}
    # The new message under the same UIDL is recorded with the live key.
    new = store.record_outcome(ACCOUNT, "pop3:U7", failed, "b2" * 32, "respaldo")
    assert not new.already_recorded
    # Reused again with the old bytes: the retired name is taken, the row id keeps them apart.
    store.mark_disposed(ACCOUNT, ["pop3:U7"])
    store.retire_message(ACCOUNT, "pop3:U7")
    store.record_outcome(ACCOUNT, "pop3:U7", failed, old_hash, "respaldo")
    store.mark_disposed(ACCOUNT, ["pop3:U7"])
    store.retire_message(ACCOUNT, "pop3:U7")
    keys = [entry.source_key for entry in store.messages()]
    assert keys[:2] == [retired_key, f"pop3:U7#{'b2' * 8}"] and keys[2].startswith(retired_key + "-")
    # A row without a known hash retires under its row id.
    store.record_failure(ACCOUNT, "pop3:U9", reason=Reason.NO_SE_PUDO_LEER, detail="x", destination=None,
                         raw_sha256=None)
    store.mark_disposed(ACCOUNT, ["pop3:U9"])
    store.retire_message(ACCOUNT, "pop3:U9")
    (unknown,) = [e for e in store.messages() if e.source_key.startswith("pop3:U9")]
    assert unknown.source_key.startswith("pop3:U9#") and len(unknown.source_key) > len("pop3:U9#")


# ---- faults --------------------------------------------------------------------------------


def test_store_errors_keep_their_class_across_processes() -> None:
    error = StoreError("El disco está lleno.", transient=True)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is StoreError and str(copy) == "El disco está lleno." and copy.transient
    assert not pickle.loads(pickle.dumps(StoreError("dañada"))).transient


def test_a_full_database_is_a_transient_disk_full_error(tmp_path: Path) -> None:
    # SQLite's own page limit gives the very error a full disk gives (SQLITE_FULL).
    with Store.open(tmp_path / "r.db") as store:
        (pages,) = store._db.execute("PRAGMA page_count").fetchone()
        store._db.execute(f"PRAGMA max_page_count = {pages}")
        failed = Extraction(failure=Failure(Reason.SIN_ADJUNTOS, "x" * 20_000))
        with pytest.raises(StoreError, match="disco está lleno") as caught:
            for index in range(50):
                store.record_outcome(ACCOUNT, f"k{index}", failed, "h")
    assert caught.value.transient
    assert pickle.loads(pickle.dumps(caught.value)).transient


def test_a_locked_database_is_transient_and_a_corrupt_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    Store.open(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError) as caught:
            other.execute("BEGIN IMMEDIATE")
        problem = database_problem(caught.value, path)
        assert problem.transient and "ocupada" in str(problem)
    finally:
        other.close()
        holder.execute("ROLLBACK")
        holder.close()
    garbage = tmp_path / "basura.db"
    garbage.write_bytes(b"esto no es sqlite" * 100)
    with pytest.raises(StoreError) as broken:
        Store.open(garbage)
    assert not broken.value.transient and "dañada" in str(broken.value)


def test_newer_schema_is_not_transient(tmp_path: Path) -> None:
    path = tmp_path / "futuro.db"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 999")
    raw.close()
    with pytest.raises(StoreError, match="más nueva") as caught:
        Store.open(path)
    assert not caught.value.transient


def failing(number: int):
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(number, os.strerror(number))
    return fail


@pytest.fixture(params=["syncfs", "fsync"])
def full_disk_at_flush(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up when the store flushes document files: through syncfs(2), or through
    the fsync of each file used where syncfs does not report write errors."""
    def syncfs_full(descriptor: int) -> int:
        ctypes.set_errno(errno.ENOSPC)
        return -1

    monkeypatch.setattr("tui_recepcion.store.files._SYNCFS", syncfs_full if request.param == "syncfs" else None)
    monkeypatch.setattr("tui_recepcion.store.files.os.fsync", failing(errno.ENOSPC))


def test_document_files_on_a_full_disk(tmp_path: Path, factory: SampleFactory, full_disk_at_flush: None) -> None:
    generated = factory.document()
    document = extract_file("f.xml", generated.xml).documents[0]
    with pytest.raises(StoreError, match="disco está lleno") as caught:
        save_document_files(tmp_path / "docs", ACCOUNT, document, [SavedFile("xml", generated.xml)])
    assert caught.value.transient
    copy = pickle.loads(pickle.dumps(caught.value))  # it crosses from a worker process
    assert copy.transient and str(copy) == str(caught.value)
    assert [path.name for path in (tmp_path / "docs").rglob("*") if path.is_file()] == []  # no temp file left


def test_document_files_without_permission(tmp_path: Path, factory: SampleFactory,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    generated = factory.document()
    document = extract_file("f.xml", generated.xml).documents[0]
    monkeypatch.setattr("tui_recepcion.store.files.os.mkdir", failing(errno.EACCES))
    with pytest.raises(StoreError, match="Sin permiso") as caught:
        save_document_files(tmp_path / "docs", ACCOUNT, document, [SavedFile("xml", generated.xml)])
    assert not caught.value.transient


def test_record_outcome_on_a_full_disk_records_nothing(store: Store, factory: SampleFactory, full_disk_at_flush: None,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    extraction = extract_file("f.xml", factory.container(factory.document()))
    with pytest.raises(StoreError, match="disco está lleno") as caught:
        store.record_outcome(ACCOUNT, "k", extraction, "h")
    assert caught.value.transient
    monkeypatch.undo()
    assert store.messages() == [] and store.document_count() == 0
    assert store.record_outcome(ACCOUNT, "k", extraction, "h").added == extraction.cufes
