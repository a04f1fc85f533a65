"""XAdES-EPES signature of an event, with DIAN's signature policy (política de firma v2).

Made with python-xmlsec (libxmlsec1): the same library signs the WS-Security header of the
SOAP call (zeep's `wsse.signature`), so one well-kept C implementation of XML-DSig does both;
this module only lays out the template DIAN asks for: an enveloped signature in the second
`ext:UBLExtension`, three references (the document, the KeyInfo and the SignedProperties),
RSA-SHA256 and SHA-256 digests, inclusive C14N, and the XAdES SignedProperties with the
signing time, the certificate's digest and issuer/serial, the policy's identifier and hash.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import xmlsec
from lxml import etree  # type: ignore[import-untyped]

from tui_recepcion.radian.event import COLOMBIA, NS, _q
from tui_recepcion.radian.identity import SigningIdentity
from tui_recepcion.radian.problems import RadianError

# DIAN's signature policy as DIAN publishes it (Anexo técnico, «Política de firma»): the
# policy document's URL and the SHA-256 of that PDF, base64. DIAN's own sample events and the
# signatures of real DIAN documents carry exactly these two values.
POLICY_IDENTIFIER = "https://facturaelectronica.dian.gov.co/politicadefirma/v2/politicadefirmav2.pdf"
POLICY_HASH = "dMoMvtcG5aIzgYo0tIsSQeVJBDnUnfSOfBpxXrmor0Y="
POLICY_DESCRIPTION = "Política de firma para facturas electrónicas de la República de Colombia."
CLAIMED_ROLE = "supplier"  # the role DIAN's sample events carry: the event's own issuer signs

C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"


def _ds(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, _q("ds", name), attributes)
    if text is not None:
        element.text = text
    return element


def _xades(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, _q("xades", name), attributes)
    if text is not None:
        element.text = text
    return element


def _reference(signed_info: etree._Element, uri: str, *, enveloped: bool = False, **attributes: str) -> None:
    reference = _ds(signed_info, "Reference", URI=uri, **attributes)
    if enveloped:
        _ds(_ds(reference, "Transforms"), "Transform", Algorithm=ENVELOPED)
    _ds(reference, "DigestMethod", Algorithm=SHA256)
    _ds(reference, "DigestValue")


def _signed_properties(parent: etree._Element, signature_id: str, identity: SigningIdentity,
                       signing_time: datetime) -> etree._Element:
    qualifying = _xades(_ds(parent, "Object"), "QualifyingProperties", Target=f"#{signature_id}")
    properties = _xades(qualifying, "SignedProperties", Id=f"{signature_id}-signedprops")
    signature_properties = _xades(properties, "SignedSignatureProperties")
    _xades(signature_properties, "SigningTime", signing_time.astimezone(COLOMBIA).isoformat(timespec="seconds"))
    cert = _xades(_xades(signature_properties, "SigningCertificate"), "Cert")
    digest = _xades(cert, "CertDigest")
    _ds(digest, "DigestMethod", Algorithm=SHA256)
    _ds(digest, "DigestValue", identity.certificate_sha256_base64())
    issuer_serial = _xades(cert, "IssuerSerial")
    _ds(issuer_serial, "X509IssuerName", identity.issuer_name())
    _ds(issuer_serial, "X509SerialNumber", identity.serial_number())
    policy = _xades(_xades(signature_properties, "SignaturePolicyIdentifier"), "SignaturePolicyId")
    policy_id = _xades(policy, "SigPolicyId")
    _xades(policy_id, "Identifier", POLICY_IDENTIFIER)
    _xades(policy_id, "Description", POLICY_DESCRIPTION)
    policy_hash = _xades(policy, "SigPolicyHash")
    _ds(policy_hash, "DigestMethod", Algorithm=SHA256)
    _ds(policy_hash, "DigestValue", POLICY_HASH)
    _xades(_xades(_xades(signature_properties, "SignerRole"), "ClaimedRoles"), "ClaimedRole", CLAIMED_ROLE)
    data_format = _xades(_xades(properties, "SignedDataObjectProperties"), "DataObjectFormat",
                         ObjectReference=f"#{signature_id}-ref0")
    _xades(data_format, "MimeType", "text/xml")
    _xades(data_format, "Encoding", "UTF-8")
    return properties


def sign_event(document: etree._Element, identity: SigningIdentity, signing_time: datetime) -> bytes:
    """Sign `document` (built by `event.build_event`) in place; returns the signed XML bytes."""
    slots = document.findall(f"{_q('ext', 'UBLExtensions')}/{_q('ext', 'UBLExtension')}/{_q('ext', 'ExtensionContent')}")
    if len(slots) != 2 or len(slots[1]):
        raise RadianError("El evento no tiene el lugar de la firma (segunda ext:UBLExtension vacía).")
    signature_id = f"xmldsig-{uuid.uuid4()}"
    signature = _ds(slots[1], "Signature", Id=signature_id)
    signed_info = _ds(signature, "SignedInfo")
    _ds(signed_info, "CanonicalizationMethod", Algorithm=C14N)
    _ds(signed_info, "SignatureMethod", Algorithm=RSA_SHA256)
    _reference(signed_info, "", enveloped=True, Id=f"{signature_id}-ref0")
    _reference(signed_info, f"#{signature_id}-keyinfo")
    _reference(signed_info, f"#{signature_id}-signedprops", Type=SIGNED_PROPERTIES_TYPE)
    _ds(signature, "SignatureValue", Id=f"{signature_id}-sigvalue")
    key_info = _ds(signature, "KeyInfo", Id=f"{signature_id}-keyinfo")
    _ds(_ds(key_info, "X509Data"), "X509Certificate", identity.certificate_der_base64())
    modulus, exponent = identity.public_numbers_base64()
    rsa_value = _ds(_ds(key_info, "KeyValue"), "RSAKeyValue")  # as DIAN's sample events carry it
    _ds(rsa_value, "Modulus", modulus)
    _ds(rsa_value, "Exponent", exponent)
    properties = _signed_properties(signature, signature_id, identity, signing_time)
    context = xmlsec.SignatureContext()
    context.register_id(properties, "Id")
    context.register_id(key_info, "Id")
    try:
        context.key = xmlsec.Key.from_memory(identity.key_pem(), xmlsec.constants.KeyDataFormatPem)
        context.sign(signature)
    except xmlsec.Error as error:
        raise RadianError(f"No se pudo firmar el evento ({type(error).__name__}).") from None
    return bytes(etree.tostring(document, xml_declaration=True, encoding="UTF-8", standalone=False))


__all__ = ["NS", "POLICY_HASH", "POLICY_IDENTIFIER", "sign_event"]
