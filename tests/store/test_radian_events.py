"""RADIAN events in the store: each of 030–034, bare and in a container, linked to its CUFE."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from tests.support.radian_support import container_xml, dian_response_xml, event_xml, signed_document
from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory
from tui_recepcion.dian import extract_file
from tui_recepcion.store import Outcome, Store


@pytest.fixture
def store(store_location: Path | str):  # SQLite and PostgreSQL (tests/servers/postgres.py)
    with Store.open(store_location) as opened:
        yield opened


def _record(store: Store, key: str, xml: bytes) -> None:
    outcome = Outcome(key, extract_file(f"{key}.xml", xml), hashlib.sha256(xml).hexdigest(), "Procesados")
    assert outcome.extraction.ok, outcome.extraction.failure
    store.record_received_events("principal", [outcome])
    (result,) = store.record_outcomes("principal", [outcome])
    assert result.entry.status == "procesado"


def _container(event: bytes) -> bytes:
    cude = extract_file("e.xml", event).events[0].cude
    return container_xml(event, parent_uuid=cude, response=dian_response_xml(cude), scheme="CUDE-SHA384")


@pytest.mark.parametrize("code", ["030", "031", "032", "033", "034"])
@pytest.mark.parametrize("form", ["suelto", "contenedor"])
def test_each_event_is_stored_and_linked(store: Store, code: str, form: str) -> None:
    invoice, cufe = signed_document(SampleFactory(seed=51), customer=DEFAULT_RECEIVER)
    _record(store, "factura", invoice)
    event = event_xml(code, cufe, reason="02" if code == "031" else None)
    _record(store, "evento", event if form == "suelto" else _container(event))
    (stored,) = store.radian_events(cufe=cufe)
    assert (stored.code, stored.cufe, stored.document_stored, stored.origin) == (code, cufe, True, "recibido")
    assert stored.dian_validation == (None if form == "suelto" else "02")
    assert stored.claim_reason == ("02" if code == "031" else None)
    assert stored.issue_date == date(2026, 3, 2) and len(stored.cude) == 96
    (row,) = store.documents()
    (info,) = store.radian_of([row], today=date(2026, 3, 3))
    assert [event.code for event in info.events] == [code]


def test_a_second_copy_completes_dians_verdict_and_never_duplicates(store: Store) -> None:
    cufe = "ab" * 48
    event = event_xml("032", cufe)
    _record(store, "suelto", event)
    _record(store, "contenedor", _container(event))
    _record(store, "suelto-otra-vez", event + b"\n")
    (stored,) = store.radian_events(cufe=cufe)
    assert stored.dian_validation == "02" and stored.firma_dian == "valida"
    assert stored.source_key == "suelto" and not stored.document_stored


def test_a_rejected_event_is_kept_but_does_not_count(store: Store) -> None:
    invoice, cufe = signed_document(SampleFactory(seed=52), customer=DEFAULT_RECEIVER)
    _record(store, "factura", invoice)
    event = event_xml("030", cufe)
    cude = extract_file("e.xml", event).events[0].cude
    rejected = container_xml(event, parent_uuid=cude, response=dian_response_xml(cude, code="04"))
    _record(store, "rechazado", rejected)
    (stored,) = store.radian_events(cufe=cufe)
    assert stored.dian_validation == "04" and not stored.counts
    (info,) = store.radian_of(store.documents(), today=date(2026, 3, 3))
    assert info.status.state.value == "sin_eventos"
