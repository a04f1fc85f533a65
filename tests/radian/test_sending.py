"""Sending events to a local HTTPS stand-in of DIAN (tests/servers/dian.py) that verifies the
WS-Security signature: every answer is stored as what it is, and a retry never makes two events."""

from __future__ import annotations

import pytest
from lxml import etree

from tests.servers.certs import TestCertificates
from tests.servers.dian import DianStandIn
from tui_recepcion.demo.samples import OTHER_RECEIVER, SampleFactory
from tui_recepcion.dian.model import ReceivedEvent
from tui_recepcion.radian.client import DianClient, DianWsSecurity
from tui_recepcion.radian.problems import SendRefused
from tui_recepcion.radian.sender import AcceptanceConfirmation, EventSender
from tui_recepcion.radian.settings import SendingProfile
from tui_recepcion.store import Store

from .conftest import store_invoice

WHO = "prueba@equipo-contable"


def _sender(store: Store, profile: SendingProfile, server: DianStandIn, certs: TestCertificates,
            timeout: float = 10.0) -> EventSender:
    return EventSender(store, profile, DianClient(server.url, profile.identity, ca_file=certs.ca_file, timeout=timeout))


def test_accepted_event_is_stored_with_dians_words(store: Store, profile: SendingProfile, dian_server: DianStandIn,
                                                   tls_certs: TestCertificates, factory: SampleFactory) -> None:
    cufe = store_invoice(store, factory)
    result = _sender(store, profile, dian_server, tls_certs).send(cufe, "030", requested_by=WHO)
    assert result.state == "aceptado" and result.at_dian
    assert "ha sido autorizada" in result.message and "AAH17" in result.message
    (row,) = store.radian_sends(cufe)
    assert (row.code, row.state, row.requested_by, row.status_code) == ("030", "aceptado", WHO, "00")
    assert row.number.startswith("ACR")
    assert dian_server.state.security_failures == []
    (sent,) = dian_server.sends(cufe)
    assert sent.code == "030" and sent.cude == row.cude
    assert [entry.action for entry in store.radian_send_log(row.row)] == ["reservar", "enviar"]
    assert {entry.requested_by for entry in store.radian_send_log(row.row)} == {WHO}


def test_rejected_event_keeps_the_rule_codes_and_may_be_sent_again(
        store: Store, profile: SendingProfile, dian_server: DianStandIn, tls_certs: TestCertificates,
        factory: SampleFactory) -> None:
    cufe = store_invoice(store, factory)
    sender = _sender(store, profile, dian_server, tls_certs)
    dian_server.script("rechazar")
    result = sender.send(cufe, "030", requested_by=WHO)
    assert result.state == "rechazado" and not result.at_dian
    assert [rule.code for rule in result.rules] == ["AAH07", "LGC01"]
    assert "Regla AAH07, Rechazo: El NIT del receptor" in result.message
    (row,) = store.radian_sends(cufe)
    assert row.state == "rechazado" and [rule[0] for rule in row.rules] == ["AAH07", "LGC01"]
    again = sender.send(cufe, "030", requested_by=WHO)  # after fixing what DIAN said
    assert again.state == "aceptado" and again.event_number == result.event_number
    assert len(dian_server.sends(cufe)) == 2  # a rejected event is not registered: sending again is right


def test_regla_90_means_already_registered(store: Store, profile: SendingProfile, dian_server: DianStandIn,
                                           tls_certs: TestCertificates, factory: SampleFactory) -> None:
    cufe = store_invoice(store, factory)
    dian_server.script("regla90")
    result = _sender(store, profile, dian_server, tls_certs).send(cufe, "030", requested_by=WHO)
    assert result.state == "registrado" and result.at_dian
    assert "Documento procesado anteriormente" in result.message
    assert store.radian_sent_codes(cufe) == {"030"}


def test_a_timed_out_send_is_read_back_before_any_retry(store: Store, profile: SendingProfile,
                                                        dian_server: DianStandIn, tls_certs: TestCertificates,
                                                        factory: SampleFactory) -> None:
    cufe = store_invoice(store, factory)
    dian_server.script("demorar")  # DIAN registers the event but the answer never arrives in time
    impatient = _sender(store, profile, dian_server, tls_certs, timeout=1.0)
    first = impatient.send(cufe, "030", requested_by=WHO)
    assert first.state == "incierto" and "no respondió a tiempo" in first.message
    assert dian_server.holding.is_set()
    retry = _sender(store, profile, dian_server, tls_certs).send(cufe, "030", requested_by=WHO)
    assert retry.state == "registrado" and "GetStatusEvent" in retry.message
    assert len(dian_server.sends(cufe)) == 1  # never two events of one kind for one CUFE
    assert [r.operation for r in dian_server.state.received] == ["SendEventUpdateStatus", "GetStatusEvent"]
    with pytest.raises(SendRefused) as refused:
        _sender(store, profile, dian_server, tls_certs).send(cufe, "030", requested_by=WHO)
    assert refused.value.code == "orden"  # 030 is recorded now: a third try is refused locally
    assert len(dian_server.sends(cufe)) == 1


def test_a_timed_out_send_that_did_not_reach_dian_is_sent_again(
        store: Store, profile: SendingProfile, dian_server: DianStandIn, tls_certs: TestCertificates,
        factory: SampleFactory) -> None:
    cufe = store_invoice(store, factory)
    dian_server.script("error500")
    first = _sender(store, profile, dian_server, tls_certs).send(cufe, "030", requested_by=WHO)
    assert first.state == "incierto" and "HTTP 500" in first.message
    retry = _sender(store, profile, dian_server, tls_certs).send(cufe, "030", requested_by=WHO)
    assert retry.state == "aceptado"
    assert [r.operation for r in dian_server.state.received] == [
        "SendEventUpdateStatus", "GetStatusEvent", "SendEventUpdateStatus"]


def test_order_rules_are_enforced_before_signing(store: Store, profile: SendingProfile, dian_server: DianStandIn,
                                                 tls_certs: TestCertificates, factory: SampleFactory) -> None:
    cufe = store_invoice(store, factory)
    sender = _sender(store, profile, dian_server, tls_certs)
    for code in ("032", "033", "031"):
        with pytest.raises(SendRefused) as refused:
            sender.send(cufe, code, requested_by=WHO, claim_reason="01" if code == "031" else None,
                        confirmation=AcceptanceConfirmation(cufe, "x") if code == "033" else None)
        assert refused.value.code in ("orden", "confirmacion_requerida")
    assert dian_server.state.received == [] and store.radian_sends(cufe) == []


def test_acceptance_needs_its_own_confirmation_and_never_goes_in_bulk(
        store: Store, profile: SendingProfile, dian_server: DianStandIn, tls_certs: TestCertificates,
        factory: SampleFactory) -> None:
    cufe = store_invoice(store, factory)
    other = store_invoice(store, factory, key="imap:1:2")
    sender = _sender(store, profile, dian_server, tls_certs)
    for result in sender.send_many([cufe, other], ["030", "032"], requested_by=WHO):
        assert not isinstance(result, SendRefused) and result.state == "aceptado"
    with pytest.raises(SendRefused) as bulk:
        sender.send_many([cufe], ["033"], requested_by=WHO)
    assert bulk.value.code == "aceptacion_en_lote"
    number = store.document_by_cufe(cufe).document.number
    other_number = store.document_by_cufe(other).document.number
    for confirmation in (None, AcceptanceConfirmation(other, other_number), AcceptanceConfirmation(cufe, "OTRA")):
        with pytest.raises(SendRefused) as refused:
            sender.send(cufe, "033", requested_by=WHO, confirmation=confirmation)
        assert refused.value.code == "confirmacion_requerida"
    assert not any(sent.code == "033" for sent in dian_server.sends())
    accepted = sender.send(cufe, "033", requested_by=WHO, confirmation=AcceptanceConfirmation(cufe, number))
    assert accepted.state == "aceptado"


def test_the_stand_in_refuses_a_request_whose_ws_security_signature_is_broken(
        store: Store, profile: SendingProfile, dian_server: DianStandIn, tls_certs: TestCertificates,
        factory: SampleFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    cufe = store_invoice(store, factory)
    original = DianWsSecurity.apply

    def tampered(self: DianWsSecurity, envelope: etree._Element, headers: dict[str, str]):
        envelope, headers = original(self, envelope, headers)
        body = envelope.find("{http://www.w3.org/2003/05/soap-envelope}Body")
        body[0][0].text = "X" + (body[0][0].text or "")  # one byte more after signing
        return envelope, headers

    monkeypatch.setattr(DianWsSecurity, "apply", tampered)
    result = _sender(store, profile, dian_server, tls_certs).send(cufe, "030", requested_by=WHO)
    assert result.state == "incierto" and "Error de seguridad" in result.message
    assert dian_server.state.security_failures == ["la firma WS-Security no es válida"]
    assert dian_server.sends() == []


def test_what_dian_accepts_joins_the_documents_events_and_received_events_count(
        store: Store, profile: SendingProfile, dian_server: DianStandIn, tls_certs: TestCertificates,
        factory: SampleFactory) -> None:
    cufe = store_invoice(store, factory)
    sender = _sender(store, profile, dian_server, tls_certs)
    sender.send(cufe, "030", requested_by=WHO)
    (event,) = store.radian_events(cufe=cufe)
    assert (event.code, event.origin, event.cude) == ("030", "registrado", dian_server.sends(cufe)[0].cude)
    # An acuse that reached the store by mail (e.g. sent earlier by another program) counts too.
    other = store_invoice(store, factory, key="imap:1:2")
    store.record_events("principal", [ReceivedEvent(code="030", cude="d" * 96, cufe=other, issue_date=None,
                                                    sender=None, receiver=None)], "recibido")
    with pytest.raises(SendRefused) as refused:
        sender.send(other, "030", requested_by=WHO)
    assert refused.value.code == "orden" and "ya está registrado" in str(refused.value)
    assert sender.send(other, "032", requested_by=WHO).state == "aceptado"
    assert [sent.code for sent in dian_server.sends(other)] == ["032"]


def test_the_stand_in_is_wsdl_shaped(profile: SendingProfile, dian_server: DianStandIn,
                                     tls_certs: TestCertificates) -> None:
    """zeep can load the stand-in's own WSDL (GET ?wsdl) and call it, signed, like DIAN's."""
    import requests
    import zeep
    from zeep.transports import Transport

    session = requests.Session()
    session.trust_env = False
    session.verify = str(tls_certs.ca_file)
    client = zeep.Client(f"{dian_server.url}?wsdl", transport=Transport(session=session),
                         wsse=DianWsSecurity(profile.identity))
    result = client.service.GetStatusEvent(trackId="ab" * 48)
    assert result.StatusCode == "67" and "no tiene a la fecha eventos" in result.StatusDescription
    assert dian_server.state.security_failures == []


def test_only_invoices_addressed_to_the_company_get_its_events(
        store: Store, profile: SendingProfile, dian_server: DianStandIn, tls_certs: TestCertificates) -> None:
    other = SampleFactory(seed=77, receiver=OTHER_RECEIVER)
    cufe = store_invoice(store, other)
    with pytest.raises(SendRefused) as refused:
        _sender(store, profile, dian_server, tls_certs).send(cufe, "030", requested_by=WHO)
    assert refused.value.code == "documento_ajeno" and OTHER_RECEIVER.nit in str(refused.value)
    assert dian_server.state.received == []
