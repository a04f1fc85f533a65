"""Received ApplicationResponse events (030–034 and DIAN's notices), bare and in containers,
and containers whose UUID is the CUDE of DIAN's response."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.radian_support import (
    DIAN_NIT,
    container_xml,
    cude_for,
    dian_response_xml,
    event_xml,
    signed_document,
)
from tui_recepcion.demo.samples import Attachment, SampleFactory, build_email, build_zip
from tui_recepcion.dian import REASONS, extract_file, extract_message

CUFE = "ab" * 48


@pytest.mark.parametrize("code", ["030", "031", "032", "033", "034"])
def test_bare_event_is_an_event_linked_to_the_cufe(code: str) -> None:
    xml = event_xml(code, CUFE, reason="02" if code == "031" else None)
    result = extract_file("evento.xml", xml)
    assert result.ok and result.failure is None and result.documents == ()
    (event,) = result.events
    assert (event.code, event.cufe) == (code, CUFE)
    assert len(event.cude) == 96 and event.number == f"EV{code}abab"
    assert event.issue_date is not None and event.issue_date.isoformat() == "2026-03-02"
    assert event.reference_number == "SETP990000002" and event.reference_type == "01"
    assert event.claim_reason == ("02" if code == "031" else None)
    assert event.issuer_signature is not None and event.issuer_signature.status == "valida"
    if code == "034":  # the issuer writes it, to DIAN
        assert event.sender is not None and event.sender.nit == "900373115"
        assert event.receiver is not None and event.receiver.nit == DIAN_NIT
    else:
        assert event.sender is not None and event.sender.nit == "900108281"


@pytest.mark.parametrize("code", ["030", "031", "032", "033", "034"])
@pytest.mark.parametrize("scheme", ["CUDE-SHA384", "CUFE-SHA384"])
def test_event_in_a_container_carries_dians_verdict(code: str, scheme: str) -> None:
    event = event_xml(code, CUFE, reason="01" if code == "031" else None)
    cude = extract_file("e.xml", event).events[0].cude
    xml = container_xml(event, parent_uuid=cude if scheme == "CUDE-SHA384" else CUFE,
                        response=dian_response_xml(cude), scheme=scheme)
    result = extract_file("ad.xml", xml)
    assert result.ok, result.failure
    (found,) = result.events
    assert (found.code, found.cufe, found.cude, found.dian_validation) == (code, CUFE, cude, "02")
    assert found.dian_signature is not None and found.dian_signature.status == "valida"
    assert found.dian_signature.certificate_nit == DIAN_NIT


def test_events_by_mail_in_a_zip_with_a_pdf_are_not_xml_no_dian() -> None:
    xml = event_xml("030", CUFE)
    raw = build_email(subject="Evento;FEV500;900108281;Comprador;EV030;030", sender="c@example.co", to="r@example.co",
                      attachments=[Attachment("evento.zip", build_zip([("ad.xml", xml), ("ad.pdf", b"%PDF-1.4")]))])
    result = extract_message(raw)
    assert result.ok and [e.code for e in result.events] == ["030"]


def test_dian_notice_is_an_event_signed_by_dian() -> None:
    result = extract_file("notice.xml", dian_response_xml(CUFE, code="02"))
    (notice,) = result.events
    assert notice.code == "02" and notice.cufe == CUFE
    assert notice.issuer_signature is None
    assert notice.dian_signature is not None and notice.dian_signature.status == "valida"


def test_the_same_event_twice_in_a_message_is_one_event() -> None:
    event = event_xml("032", CUFE)
    cude = extract_file("e.xml", event).events[0].cude
    container = container_xml(event, parent_uuid=cude, response=dian_response_xml(cude))
    raw = build_email(subject="Evento", sender="c@example.co", to="r@example.co",
                      attachments=[Attachment("e.zip", build_zip([("a.xml", event), ("b.xml", container)]))])
    (found,) = extract_message(raw).events
    assert found.dian_validation == "02"  # the copy with DIAN's verdict is kept


def test_event_container_with_a_foreign_uuid_is_rejected() -> None:
    event = event_xml("030", CUFE)
    cude = extract_file("e.xml", event).events[0].cude
    xml = container_xml(event, parent_uuid="cd" * 48, response=dian_response_xml(cude))
    result = extract_file("ad.xml", xml)
    assert result.failure is not None and result.failure.code == "documento_embebido_invalido"
    assert "del contenedor" in result.failure.detail


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda x: x.replace(b'schemeName="CUDE-SHA384">', b'schemeName="CUDE-SHA384">zz'), "sin_cufe"),
        (lambda x: x.replace(b'schemeName="CUFE-SHA384">' + CUFE.encode(), b'schemeName="CUFE-SHA384">123'), "sin_cufe"),
        (lambda x: x.replace(b"<cac:DocumentResponse>", b"<cac:Other>").replace(b"</cac:DocumentResponse>", b"</cac:Other>"),
         "documento_embebido_invalido"),
    ],
    ids=["cude-malo", "cufe-referido-malo", "sin-respuesta"],
)
def test_unlinkable_event_is_a_reason(mutate, reason: str) -> None:
    result = extract_file("e.xml", mutate(event_xml("030", CUFE, signed=False)))
    assert result.failure is not None and result.failure.code == reason


# --- containers written by real providers: the UUID is the CUDE of DIAN's response -------------


def _invoice_container(*, parent_uuid: str | None, response_refers_to: str | None = None, scheme: str) -> tuple[bytes, str]:
    invoice, cufe = signed_document()
    response = dian_response_xml(response_refers_to or cufe)
    response_cude = cude_for("dian", response_refers_to or cufe, "02")
    return container_xml(invoice, parent_uuid=parent_uuid or response_cude, response=response, scheme=scheme), cufe


def test_container_naming_the_cude_of_dians_response_is_accepted() -> None:
    xml, cufe = _invoice_container(parent_uuid=None, scheme="CUDE-SHA384")
    result = extract_file("ad.xml", xml)
    assert result.ok, result.failure
    (document,) = result.documents
    assert document.cufe == cufe and document.dian_validation == "02"
    assert document.issuer_signature is not None and document.issuer_signature.status == "valida"
    assert document.dian_signature is not None and document.dian_signature.status == "valida"


def test_a_real_mismatch_is_still_rejected_in_spanish() -> None:
    # DIAN's response is about another document: the container is not this invoice's.
    xml, _ = _invoice_container(parent_uuid=None, response_refers_to="ef" * 48, scheme="CUDE-SHA384")
    result = extract_file("ad.xml", xml)
    assert result.failure is not None and result.failure.code == "documento_embebido_invalido"
    assert "de la respuesta de la DIAN" in result.failure.detail
    xml, _ = _invoice_container(parent_uuid="12" * 48, scheme="CUFE-SHA384")
    result = extract_file("ad.xml", xml)
    assert result.failure is not None and "El CUFE del contenedor no coincide" in result.failure.detail
    assert "de el " not in result.failure.detail


# --- Hypothesis: anything shaped like an ApplicationResponse ends in events or a reason -------

_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="<&]\x00"), max_size=120)
_UUIDS = st.one_of(st.just(CUFE), st.just("cd" * 48), _TEXT, st.text("0123456789abcdefABCDEF", min_size=90, max_size=100))


@st.composite
def response_shaped(draw: st.DrawFn) -> bytes:
    parts = ['<ApplicationResponse xmlns="urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2" '
             'xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2" '
             'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">']
    if draw(st.booleans()):
        parts.append(f"<cbc:UUID>{draw(_UUIDS)}</cbc:UUID>")
    if draw(st.booleans()):
        parts.append(f"<cbc:IssueDate>{draw(_TEXT)}</cbc:IssueDate>")
    if draw(st.booleans()):
        parts.append(f"<cac:SenderParty><cac:PartyTaxScheme><cbc:CompanyID>{draw(_TEXT)}</cbc:CompanyID>"
                     "</cac:PartyTaxScheme></cac:SenderParty>")
    for _ in range(draw(st.integers(0, 3))):
        code = draw(st.one_of(st.sampled_from(["030", "031", "032", "033", "034", "02", ""]), _TEXT))
        listed = f' listID="{draw(_TEXT).replace(chr(34), "")}"' if draw(st.booleans()) else ""
        parts.append(f"<cac:DocumentResponse><cac:Response><cbc:ResponseCode{listed}>{code}</cbc:ResponseCode>"
                     f"</cac:Response><cac:DocumentReference><cbc:UUID>{draw(_UUIDS)}</cbc:UUID>"
                     "</cac:DocumentReference></cac:DocumentResponse>")
    if draw(st.booleans()):
        parts.append('<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
                     f"<ds:SignedInfo><ds:Reference URI=\"\"/></ds:SignedInfo><ds:KeyInfo><ds:X509Data>"
                     f"<ds:X509Certificate>{draw(_TEXT)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>")
    parts.append("</ApplicationResponse>")
    return "".join(parts).encode("utf-8")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(response_shaped(), st.booleans())
def test_any_application_response_ends_in_events_or_a_reason(xml: bytes, wrap: bool) -> None:
    data = container_xml(xml, parent_uuid=CUFE, response=None) if wrap else xml
    result = extract_file("x.xml", data)
    assert result.ok != (result.failure is not None)
    if result.failure is not None:
        assert result.failure.code in REASONS and result.failure.code != "error_interno"
    else:
        assert result.events and all(len(event.cufe) == 96 for event in result.events)


def test_demo_factory_still_yields_documents_with_a_signature_state() -> None:
    factory = SampleFactory(seed=3)
    mail = factory.document_email()
    (document,) = extract_message(mail.raw).documents
    # The demo's signatures are shaped like real ones, with random bytes: honestly not intact.
    assert document.issuer_signature is not None and document.issuer_signature.status == "invalida"
