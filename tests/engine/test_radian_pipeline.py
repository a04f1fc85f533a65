"""RADIAN events and signatures through a real pass over a Maildir: events go to Procesados and
are stored linked to their CUFE; a broken signature never loses the document."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.engine.test_pipeline_maildir import deliver, files_in
from tests.support.radian_support import container_xml, dian_response_xml, event_xml, signed_document
from tui_recepcion.demo.samples import DEFAULT_RECEIVER, Attachment, SampleFactory, SampleMail, build_email, build_zip
from tui_recepcion.dian import extract_file
from tui_recepcion.dian.radian import RadianState, order_violations, radian_state
from tui_recepcion.engine.pipeline import Pipeline
from tui_recepcion.engine.prepare import extractor
from tui_recepcion.mailbox.maildir import MaildirSource
from tui_recepcion.store import DocumentFilter, MessageFilter, Store

ACCOUNT = "local"


def _mail(name: str, attachments: list[Attachment]) -> SampleMail:
    raw = build_email(subject=f"Evento;{name}", sender="cliente@example.co", to="recepcion@example.co",
                      attachments=attachments)
    return SampleMail(name, raw, None)


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "recepcion.db", tmp_path / "documentos") as opened:
        yield opened


def _run(inbox: Path, store: Store, **options) -> None:
    Pipeline(ACCOUNT, MaildirSource(inbox), store, receiver_nit=DEFAULT_RECEIVER.nit, batch_size=4, **options).run_pass()


def test_events_030_to_034_bare_and_in_containers_are_stored_and_linked(tmp_path: Path, store: Store) -> None:
    factory = SampleFactory(seed=18)
    invoice, cufe = signed_document(factory, customer=DEFAULT_RECEIVER)
    mails = [_mail("factura", [Attachment("fv.xml", invoice, "application/xml")])]
    cudes = {}
    for code in ("030", "032", "031", "033", "034"):
        event = event_xml(code, cufe, reason="03" if code == "031" else None)
        if code in ("030", "033"):  # bare XML
            mails.append(_mail(code, [Attachment(f"{code}.xml", event, "application/xml")]))
        else:  # a zip with the container and DIAN's response, as providers mail them
            cude = extract_file("e.xml", event).events[0].cude
            cudes[code] = cude
            container = container_xml(event, parent_uuid=cude, response=dian_response_xml(cude),
                                      scheme="CUDE-SHA384")
            mails.append(_mail(code, [Attachment(f"{code}.zip", build_zip([(f"ad{code}.xml", container)]))]))
    orphan = event_xml("030", "ee" * 48)  # an event about an invoice the store does not have
    mails.append(_mail("huerfano", [Attachment("o.xml", orphan, "application/xml")]))
    inbox = tmp_path / "Maildir"
    deliver(inbox, mails)
    _run(inbox, store)

    assert files_in(inbox / ".Procesados") == len(mails) and files_in(inbox / ".Fallidos") == 0
    assert all(entry.status == "procesado" for entry in store.messages(MessageFilter(account=ACCOUNT)))
    events = store.radian_events(cufe=cufe)
    assert sorted(event.code for event in events) == ["030", "031", "032", "033", "034"]
    assert all(event.document_stored and event.origin == "recibido" for event in events)
    by_code = {event.code: event for event in events}
    assert by_code["031"].claim_reason == "03"
    assert by_code["032"].dian_validation == "02" and by_code["032"].cude == cudes["032"]
    assert by_code["030"].firma_emisor == "valida" and by_code["032"].firma_dian == "valida"
    (orphaned,) = store.radian_events(cufe="ee" * 48)
    assert not orphaned.document_stored
    # Received events are facts: a 031 and a 033 both arrived; the state says accepted, and
    # the order rules flag the conflict (see dian.radian.order_violations).
    assert radian_state(e.code for e in events) is RadianState.ACEPTADO_EXPRESAMENTE
    assert [p.problem for p in order_violations(e.code for e in events)] != []

    # Delivered again (a resend): nothing is stored twice.
    deliver(inbox, mails[1:3])
    _run(inbox, store)
    assert len(store.radian_events(cufe=cufe)) == 5


def _tampered(xml: bytes) -> bytes:
    return re.sub(rb"(<cbc:PayableAmount[^>]*>)(\d)", lambda m: m[1] + (b"9" if m[2] != b"9" else b"8"), xml, count=1)


@pytest.mark.parametrize("strict", [False, True], ids=["por-defecto", "exigir-firma-valida"])
def test_a_broken_signature_never_loses_the_document(tmp_path: Path, store: Store, strict: bool) -> None:
    factory = SampleFactory(seed=19)
    good, good_cufe = signed_document(factory, customer=DEFAULT_RECEIVER)
    bad, bad_cufe = signed_document(factory, customer=DEFAULT_RECEIVER)
    unsigned = re.sub(rb"<ds:Signature .*?</ds:Signature>", b"", signed_document(factory, customer=DEFAULT_RECEIVER)[0],
                      flags=re.S)
    inbox = tmp_path / "Maildir"
    deliver(inbox, [_mail(name, [Attachment(f"{name}.xml", xml, "application/xml")])
                    for name, xml in (("buena", good), ("alterada", _tampered(bad)), ("sin-firma", unsigned))])
    _run(inbox, store, **({"extract": extractor(True)} if strict else {}))

    documents = {row.document.cufe: row.document for row in store.documents(DocumentFilter(account=ACCOUNT))}
    assert len(documents) == 3  # all stored, whatever their signature
    assert documents[good_cufe].issuer_signature.status == "valida"
    assert documents[bad_cufe].issuer_signature.status == "invalida"
    assert sorted(d.issuer_signature.status for d in documents.values()) == ["ausente", "invalida", "valida"]
    ledger = store.messages(MessageFilter(account=ACCOUNT))
    failed = [entry for entry in ledger if entry.status == "fallido"]
    if strict:
        assert [entry.reason for entry in failed] == ["firma_invalida"]
        assert files_in(inbox / ".Fallidos") == 1 and files_in(inbox / ".Procesados") == 2
    else:
        assert failed == [] and files_in(inbox / ".Procesados") == 3
