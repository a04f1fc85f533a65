from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tui_recepcion.demo.samples import SampleFactory, build_zip
from tui_recepcion.dian.extract import extract_file, extract_message
from tui_recepcion.dian.model import Extraction, Failure
from tui_recepcion.dian.reasons import Reason
from tui_recepcion.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    DocumentFilter,
    MessageFilter,
    Store,
    StoreError,
)
from tui_recepcion.store.documents import search_key


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_migrates_an_empty_file_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "nuevo.db"
    path.touch()
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # WAL is a property of the file
    tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"messages", "documents", "events", "alerts"} <= tables
    raw.close()
    with Store.open(path) as again:  # reopening runs no migration twice
        assert again.schema_version() == SCHEMA_VERSION


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "futuro.db"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(StoreError, match="más nueva"):
        Store.open(path)


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "basura.db"
    path.write_bytes(b"esto no es sqlite" * 100)
    with pytest.raises(StoreError):
        Store.open(path)


def test_record_outcome_stores_documents_files_and_ledger(store: Store, factory: SampleFactory) -> None:
    mail = factory.document_email(style="zip")
    extraction = extract_message(mail.raw)
    result = store.record_outcome("principal", "imap:7:1", extraction, sha(mail.raw), "Procesados")
    assert result.added == mail.cufes and result.duplicates == () and not result.already_recorded
    entry = result.entry
    assert (entry.status, entry.reason, entry.destination, entry.cufes) == ("procesado", None, "Procesados", mail.cufes)
    assert entry.message_id == extraction.message_id and entry.subject == extraction.subject
    (row,) = store.documents()
    assert row.document == extraction.documents[0]  # every field round-trips, amounts exactly
    assert row.message_id == extraction.message_id
    assert row.xml_path is not None and row.pdf_path is not None
    assert row.xml_path.read_bytes() == extraction.files[mail.cufes[0]][0].data
    assert row.pdf_path.read_bytes().startswith(b"%PDF-")
    # Generated names under documents/<account>/YYYY/MM, never names from the mail.
    relative = row.xml_path.relative_to(store.documents_dir)
    issue = row.document.issue_date
    assert relative.parts[:3] == ("principal", f"{issue:%Y}", f"{issue:%m}")
    assert re.fullmatch(rf"{mail.cufes[0][:16]}-factura-[0-9a-f]{{8}}\.xml", relative.name)


def test_same_document_twice_is_stored_once(store: Store, factory: SampleFactory) -> None:
    generated = factory.document()
    container = factory.container(generated)
    first = extract_file("a.xml", container)
    second = extract_file("b.zip", build_zip([("otro-nombre.xml", container)]))
    store.record_outcome("principal", "imap:1:1", first, sha(b"1"), "Procesados")
    result = store.record_outcome("principal", "imap:1:2", second, sha(b"2"), "Procesados")
    assert result.added == () and result.duplicates == (generated.cufe,)
    assert result.entry.status == "procesado"  # a duplicate is not a failure
    assert store.document_count() == 1
    # Another account keeps its own copy.
    store.record_outcome("otra", "imap:1:1", first, sha(b"1"), "Procesados")
    assert store.document_count() == 2 and store.document_count("otra") == 1


def test_record_outcome_is_idempotent(store: Store, factory: SampleFactory) -> None:
    mail = factory.document_email()
    extraction = extract_message(mail.raw)
    first = store.record_outcome("principal", "pop3:UIDL1", extraction, sha(mail.raw), "respaldo")
    failed = Extraction(failure=Failure(Reason.ZIP_CORRUPTO, "otro"))
    again = store.record_outcome("principal", "pop3:UIDL1", failed, "otro-hash", "Fallidos")
    assert again.already_recorded and again.entry == first.entry
    assert again.added == () and store.document_count() == 1
    assert len(store.messages()) == 1


def test_failures_are_recorded_with_reason(store: Store) -> None:
    failed = Extraction(failure=Failure(Reason.SIN_ADJUNTOS, "El correo no trae adjuntos."), message_id="<m@x>",
                        subject="Hola")
    result = store.record_outcome("principal", "imap:1:9", failed, sha(b"x"), "Fallidos")
    entry = result.entry
    assert (entry.status, entry.reason, entry.detail, entry.cufes) == ("fallido", "sin_adjuntos",
                                                                       "El correo no trae adjuntos.", ())
    assert store.messages(MessageFilter(status="fallido")) == [entry]
    assert store.messages(MessageFilter(status="procesado")) == []
    assert store.message_counts() == {"principal": {"procesado": 0, "fallido": 1}}


def test_empty_extraction_without_failure_is_a_programming_error(store: Store) -> None:
    with pytest.raises(ValueError):
        store.record_outcome("principal", "k", Extraction(), "h")
    assert store.messages() == []


def test_lookup_in_batches_keeps_the_hash(store: Store) -> None:
    failed = Extraction(failure=Failure(Reason.SIN_ADJUNTOS, "x"))
    for uid in range(1, 1201):
        store.record_outcome("principal", f"imap:5:{uid}", failed, f"hash{uid}", "Fallidos")
    keys = [f"imap:5:{uid}" for uid in range(0, 1300)]
    found = store.lookup_messages("principal", keys)
    assert set(found) == {f"imap:5:{uid}" for uid in range(1, 1201)}
    assert store.lookup_messages("otra", keys) == {}
    assert found["imap:5:7"].raw_sha256 == "hash7"


def test_mark_forwarded_and_disposed(store: Store) -> None:
    failed = Extraction(failure=Failure(Reason.SIN_ADJUNTOS, "x"))
    for key in ("pop3:a", "pop3:b", "pop3:c"):
        store.record_outcome("principal", key, failed, key, None)
    assert store.mark_forwarded("principal", "pop3:a")
    stamp = store.get_message("principal", "pop3:a").forwarded_at
    assert stamp is not None
    store.mark_forwarded("principal", "pop3:a")  # a second forward keeps the first time
    assert store.get_message("principal", "pop3:a").forwarded_at == stamp
    assert not store.mark_forwarded("principal", "pop3:zzz")
    assert store.mark_disposed("principal", ["pop3:a", "pop3:b", "pop3:zzz"], "respaldo") == 2
    entries = store.lookup_messages("principal", ["pop3:a", "pop3:b", "pop3:c"])
    assert entries["pop3:a"].disposed_at and entries["pop3:a"].destination == "respaldo"
    assert entries["pop3:b"].disposed_at and entries["pop3:c"].disposed_at is None


def test_event_log_is_ordered_and_bounded(store_location: Path | str) -> None:
    with Store.open(store_location, max_events=100) as store:
        assert store.last_event_id() == 0
        for batch in range(10):
            last = store.append_events(("principal", "mensaje", {"n": batch * 30 + i, "monto": Decimal("1.50")})
                                       for i in range(30))
        assert last == 300 == store.last_event_id()
        events = store.events_after(0, limit=1000)
        assert [event.id for event in events] == list(range(201, 301))
        assert events[-1].payload == {"n": 299, "monto": "1.50"}
        assert [event.id for event in store.events_after(295, limit=3)] == [296, 297, 298]


def test_documents_filters(store: Store, factory: SampleFactory) -> None:
    from tui_recepcion.demo.samples import SUPPLIERS

    alamos = next(s for s in SUPPLIERS if "ÁLAMOS" in s.name)
    docs = [factory.document(supplier=alamos), factory.document(supplier=SUPPLIERS[0]),
            factory.document("CreditNote", supplier=SUPPLIERS[0])]
    for index, generated in enumerate(docs):
        extraction = extract_file("f.xml", factory.container(generated))
        store.record_outcome("principal" if index < 2 else "otra", f"k{index}", extraction, f"h{index}", "P")
    numbers = lambda rows: [row.document.number for row in rows]  # noqa: E731
    assert numbers(store.documents(DocumentFilter(supplier="alamos"))) == [docs[0].number]  # accents, case
    assert numbers(store.documents(DocumentFilter(supplier=f"{alamos.nit}-{alamos.dv}"))) == [docs[0].number]
    assert numbers(store.documents(DocumentFilter(tipo="91"))) == [docs[2].number]
    assert numbers(store.documents(DocumentFilter(account="principal"))) == [docs[0].number, docs[1].number]
    first_day = docs[1].issue.date()
    assert all(row.document.issue_date >= first_day for row in store.documents(DocumentFilter(since=first_day)))
    assert store.documents(DocumentFilter(until=date(2000, 1, 1))) == []
    assert store.documents(DocumentFilter(supplier="100%_")) == []


def test_amounts_round_trip_exactly(store: Store, factory: SampleFactory) -> None:
    generated = factory.document()
    xml = generated.xml.replace(f">{generated.total:.2f}</cbc:PayableAmount>".encode(),
                                b">123456789012345.6789</cbc:PayableAmount>")
    store.record_outcome("principal", "k", extract_file("f.xml", xml), "h", None)
    (row,) = store.documents()
    assert row.document.total == Decimal("123456789012345.6789")
    assert str(row.document.total) == "123456789012345.6789"
    # Stored as text on both backends (a REAL or NUMERIC would come back as a number).
    assert store._db.execute("SELECT total FROM documents").fetchone() == ("123456789012345.6789",)


def test_account_names_never_escape_the_documents_folder(store: Store, factory: SampleFactory) -> None:
    extraction = extract_file("f.xml", factory.container(factory.document()))
    store.record_outcome("../../fuera", "k", extraction, "h", None)
    (row,) = store.documents()
    assert row.xml_path.resolve().is_relative_to(store.documents_dir.resolve())


def test_concurrent_writers_share_the_database(store_location: Path | str) -> None:
    """Two processes' worth of connections (one per thread) write without 'database is locked'."""
    path = store_location
    Store.open(path).close()
    errors: list[BaseException] = []

    def writer(account: str) -> None:
        try:
            with Store.open(path) as store:
                for i in range(50):
                    store.record_outcome(account, f"k{i}", Extraction(failure=Failure(Reason.SIN_ADJUNTOS, "x")),
                                         f"h{i}", None)
                    store.append_events([(account, "mensaje", {"i": i})])
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Store.open(path) as store:
        assert store.message_counts() == {name: {"procesado": 0, "fallido": 50} for name in "abc"}
        assert len(store.events_after(0, limit=1000)) == 150


# ---- alert state ---------------------------------------------------------------------------

T0 = datetime(2027, 3, 26, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)


def test_alerts_table_is_migrated_from_schema_2_keeping_rows(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    raw = sqlite3.connect(path)
    for statement in (*MIGRATIONS[0], *MIGRATIONS[1]):
        raw.execute(statement)
    raw.execute("INSERT INTO alerts (account, kind, key, state, updated_at) VALUES "
                "('principal', 'vencimiento_aviso', '2027-03-31', 'enviada', '2027-03-26T12:00:00.000+00:00')")
    raw.execute("PRAGMA user_version = 2")
    raw.commit()
    raw.close()
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        (record,) = store.alert_records("principal")
        assert (record.state, record.created_at, record.closed_at) == ("enviada", T0, None)
        # A sent alert is never claimed again.
        assert store.claim_alert("principal", "vencimiento_aviso", "2027-03-31", now=T0, lease=LEASE) is None


def test_alert_claims_are_exclusive_until_they_expire(store: Store) -> None:
    claim = store.claim_alert("a", "k", "1", now=T0, lease=LEASE)
    assert claim is not None and claim.attempt == 1
    assert store.claim_alert("a", "k", "1", now=T0 + timedelta(minutes=9), lease=LEASE) is None
    (record,) = store.alert_records("a")
    assert record.claimed_at(T0) and record.attempts == 1 and record.state == "pendiente"
    # The holder died: after the lease anyone may claim it, and the late holder's failure
    # no longer overwrites the new claim.
    second = store.claim_alert("a", "k", "1", now=T0 + LEASE, lease=LEASE)
    assert second is not None and second.attempt == 2
    store.alert_failed(claim, now=T0 + LEASE, error="tarde", retry_at=T0 + LEASE)
    assert store.alert_records("a")[0].last_error is None
    store.alert_sent(second, now=T0 + LEASE, recipient="t@e.co")
    (record,) = store.alert_records("a")
    assert (record.state, record.sent_at, record.recipient, record.claimed_until) == ("enviada", T0 + LEASE,
                                                                                      "t@e.co", None)


def test_the_alert_records_of_many_accounts_are_each_accounts_own(store: Store) -> None:
    for account, key in [("a", "1"), ("b", "1"), ("a", "2")]:
        assert store.claim_alert(account, "k", key, now=T0, lease=LEASE) is not None
    accounts = ["a", "b", "sin-alertas", *(f"otra{index}" for index in range(600))]  # more than one batch
    found = store.alert_records_of(accounts)
    assert set(found) == set(accounts)
    assert found["a"] == store.alert_records("a") and [r.key for r in found["a"]] == ["1", "2"]
    assert found["b"] == store.alert_records("b") and found["sin-alertas"] == [] and found["otra599"] == []


def test_a_failed_alert_waits_for_its_retry_time(store: Store) -> None:
    claim = store.claim_alert("a", "k", "1", now=T0, lease=LEASE)
    assert claim is not None
    store.alert_failed(claim, now=T0, error="SMTP caído", retry_at=T0 + timedelta(minutes=5))
    (record,) = store.alert_records("a")
    assert (record.last_error, record.next_attempt_at, record.claimed_until) == (
        "SMTP caído", T0 + timedelta(minutes=5), None)
    assert store.claim_alert("a", "k", "1", now=T0 + timedelta(minutes=4), lease=LEASE) is None
    assert store.claim_alert("a", "k", "1", now=T0 + timedelta(minutes=4), lease=LEASE, ignore_backoff=True)


def test_skipping_leaves_claimed_and_sent_alerts_alone(store: Store) -> None:
    store.skip_alert("a", "nuevo", "1", now=T0)
    assert store.claim_alert("a", "reclamado", "1", now=T0, lease=LEASE)
    store.skip_alert("a", "reclamado", "1", now=T0)
    states = {record.kind: record.state for record in store.alert_records("a")}
    assert states == {"nuevo": "omitida", "reclamado": "pendiente"}
    assert store.claim_alert("a", "nuevo", "1", now=T0, lease=LEASE) is None


def test_incidents_open_once_and_close(store: Store) -> None:
    first = store.open_incident("a", "acceso", now=T0, detail="uno")
    again = store.open_incident("a", "acceso", now=T0 + timedelta(minutes=1), detail="dos")
    assert again == first and first.detail == "uno" and first.key == "1"
    assert store.close_incidents("a", "acceso", now=T0) == 1
    assert store.close_incidents("a", "acceso", now=T0) == 0
    # Same instant, new incident: it gets its own key, the closed one stays as history.
    second = store.open_incident("a", "acceso", now=T0, detail="tres")
    assert second.key == "2" and second.closed_at is None
    assert [(r.key, r.closed_at) for r in store.alert_records("a")] == [("1", T0), ("2", None)]
    closed = store.alert_records("a")[0]
    assert store.claim_alert("a", "acceso", closed.key, now=T0, lease=LEASE) is None


def test_subject_mismatches_are_kept_in_the_ledger(store: Store, factory: SampleFactory) -> None:
    from tui_recepcion.demo.samples import Attachment

    generated = factory.document()
    raw = factory.email("900000001;OTRA EMPRESA;XX1;01;Otra",
                        [Attachment("f.zip", build_zip([("f.xml", factory.container(generated))]))])
    store.record_outcome("a", "k1", extract_message(raw), hashlib.sha256(raw).hexdigest(), "Procesados")
    (entry,) = store.messages()
    assert entry.status == "procesado"  # a hint, not a failure
    assert len(entry.subject_mismatches) == 2
    assert any(text.startswith("numero: asunto «XX1» ≠ XML «") for text in entry.subject_mismatches)
    assert store.lookup_messages("a", ["k1"])["k1"].subject_mismatches == entry.subject_mismatches


@pytest.mark.parametrize(("name", "key"), [
    ("ALAMOS S.A.S.", "alamos s.a.s."),
    ("Álamos Ñandú Cía", "alamos nandu cia"),
    ("ﬁnca Straße", "finca strasse"),  # compatibility forms and ß fold too
    ("Ｆｕｌｌ", "full"),
])
def test_search_key_folds_case_accents_and_compatibility_forms(name: str, key: str) -> None:
    assert search_key(name) == key
    assert search_key(name) == key  # cached: the same answer again
