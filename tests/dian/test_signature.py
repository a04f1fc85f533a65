"""Signatures of received documents, with documents signed here by a throwaway certificate."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from tests.support.radian_support import (
    certification_authority,
    container_xml,
    dian_response_xml,
    signed_document,
    signer,
)
from tui_recepcion.dian import extract_file
from tui_recepcion.dian.signature import (
    CHAIN_NOT_CHECKED,
    CHAIN_TRUSTED,
    CHAIN_UNTRUSTED,
    TrustedRoots,
    chain_status,
    nit_matches,
    valid_at_signing,
)


def _issuer_check(xml: bytes):
    result = extract_file("f.xml", xml)
    assert result.ok, result.failure  # a broken signature never loses the document
    (document,) = result.documents
    assert document.issuer_signature is not None
    return document.issuer_signature


def test_intact_signature_is_valida_with_the_certificate_details() -> None:
    xml, _ = signed_document()
    check = _issuer_check(xml)
    assert check.status == "valida"
    assert check.subject is not None and "Proveedor de Pruebas" in check.subject
    assert check.issuer is not None and "Autoridad de Pruebas" in check.issuer
    assert check.not_before is not None and check.not_after is not None and check.not_before < check.not_after
    assert check.certificate_nit == "900373115"
    assert nit_matches(check, "900373115") is True and nit_matches(check, "800197268") is False


def test_one_byte_of_signed_content_changed_is_invalida() -> None:
    xml, _ = signed_document()
    tampered = re.sub(rb"<cbc:PayableAmount([^>]*)>(\d)", lambda m: b"<cbc:PayableAmount" + m[1] + b">"
                      + (b"9" if m[2] != b"9" else b"8"), xml, count=1)
    assert tampered != xml and len(tampered) == len(xml)
    check = _issuer_check(tampered)
    assert check.status == "invalida"
    assert check.detail.startswith("La firma no es válida")
    assert check.subject is not None  # who signed is still reported


def test_a_changed_signature_value_is_invalida() -> None:
    xml, _ = signed_document()
    value = re.search(rb"<ds:SignatureValue>([^<]+)<", xml)
    assert value is not None
    raw = bytearray(base64.b64decode(value[1]))
    raw[10] ^= 0x01
    tampered = xml.replace(value[1], base64.b64encode(bytes(raw)))
    assert _issuer_check(tampered).status == "invalida"


def test_signature_removed_is_ausente() -> None:
    xml, _ = signed_document()
    stripped = re.sub(rb"<ds:Signature .*?</ds:Signature>", b"", xml, flags=re.S)
    assert b"SignatureValue" not in stripped
    check = _issuer_check(stripped)
    assert check.status == "ausente"


def test_a_signature_over_its_keyinfo_only_does_not_vouch_for_the_document() -> None:
    xml, _ = signed_document()
    moved = xml.replace(b'URI=""', b'URI="#nothing"', 1)
    assert _issuer_check(moved).status == "invalida"


def test_dians_signature_in_a_container_is_checked_apart() -> None:
    invoice, cufe = signed_document()
    response = dian_response_xml(cufe)
    broken = response.replace(b"Documento validado por la DIAN", b"Documento validado por la DIAM")
    good = extract_file("ad.xml", container_xml(invoice, parent_uuid=cufe, response=response)).documents[0]
    bad_result = extract_file("ad.xml", container_xml(invoice, parent_uuid=cufe, response=broken))
    assert bad_result.ok
    bad = bad_result.documents[0]
    assert good.dian_signature is not None and good.dian_signature.status == "valida"
    assert bad.dian_signature is not None and bad.dian_signature.status == "invalida"
    assert bad.issuer_signature is not None and bad.issuer_signature.status == "valida"
    assert bad.signature_broken and not good.signature_broken


def test_require_valid_signature_fails_with_firma_invalida_and_keeps_the_document() -> None:
    xml, _ = signed_document()
    tampered = xml.replace(b"<cbc:Note>", b"<cbc:Note>x", 1) if b"<cbc:Note>" in xml else xml.replace(
        b"</cbc:RegistrationName>", b"x</cbc:RegistrationName>", 1)
    relaxed = extract_file("f.xml", tampered)
    strict = extract_file("f.xml", tampered, require_valid_signature=True)
    assert relaxed.ok and relaxed.failure is None
    assert strict.failure is not None and strict.failure.code == "firma_invalida"
    assert [d.cufe for d in strict.documents] == [d.cufe for d in relaxed.documents]


def test_chain_is_reported_separately(tmp_path: Path) -> None:
    xml, _ = signed_document()
    check = _issuer_check(xml)
    assert chain_status(check.certificate, None) == CHAIN_NOT_CHECKED
    bundle = tmp_path / "raices.pem"
    bundle.write_bytes(certification_authority().cert_pem)
    assert chain_status(check.certificate, TrustedRoots.load(bundle)) == CHAIN_TRUSTED
    other = tmp_path / "otra.pem"
    other.write_bytes(signer("900000999", "Otra Autoridad").cert_pem)
    assert chain_status(check.certificate, TrustedRoots.load(other)) == CHAIN_UNTRUSTED
    with pytest.raises(ValueError, match="raices-no.pem"):
        TrustedRoots.load(tmp_path / "raices-no.pem")
    bad = tmp_path / "malo.pem"
    bad.write_text("no es PEM")
    with pytest.raises(ValueError, match="no es un paquete PEM"):
        TrustedRoots.load(bad)


def test_validity_at_signing_time() -> None:
    xml, _ = signed_document()
    check = _issuer_check(xml)
    assert valid_at_signing(check) is None  # signxml's plain signature has no XAdES SigningTime
    from dataclasses import replace

    assert check.not_before is not None
    assert valid_at_signing(replace(check, signing_time=check.not_before.isoformat())) is True
    assert valid_at_signing(replace(check, signing_time="2001-01-01T00:00:00-05:00")) is False


def test_a_signature_with_too_many_references_is_refused_before_any_digest() -> None:
    xml, _ = signed_document()
    reference = re.search(rb"<ds:Reference URI=\"\">.*?</ds:Reference>", xml, re.S)
    assert reference is not None
    flooded = xml.replace(reference[0], reference[0] * 40, 1)
    check = _issuer_check(flooded)
    assert check.status == "invalida" and "40 referencias" in check.detail
