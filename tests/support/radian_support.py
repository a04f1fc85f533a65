"""Fixtures for RADIAN events and signatures: ApplicationResponse events written the way DIAN's
sample events (Caja de herramientas RADIAN) are, containers around them, and real XML
signatures made with a throwaway certificate.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner

from tui_recepcion.demo.samples import SampleFactory

UBL = "urn:oasis:names:specification:ubl:schema:xsd:"
CAC = f"{UBL}CommonAggregateComponents-2"
CBC = f"{UBL}CommonBasicComponents-2"
EXT = f"{UBL}CommonExtensionComponents-2"
DS = "http://www.w3.org/2000/09/xmldsig#"
DIAN_NIT = "800197268"
PLACEHOLDER = f'<ds:Signature xmlns:ds="{DS}" Id="placeholder"></ds:Signature>'

DESCRIPTIONS = {
    "030": "Acuse de recibo de Factura Electrónica de Venta",
    "031": "Reclamo de la Factura Electrónica de Venta",
    "032": "Recibo del bien y/o prestación del servicio",
    "033": "Aceptación expresa",
    "034": "Aceptación Tácita",
}


@dataclass(frozen=True)
class Signer:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def _certificate(nit: str, name: str, issuer: Signer | None = None) -> Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CO"),
        x509.NameAttribute(NameOID.COMMON_NAME, name),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, nit),
    ])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    certificate = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    return Signer(key, certificate)


@functools.cache
def certification_authority() -> Signer:
    """A throwaway certification authority (for the chain checks)."""
    return _certificate("900000001", "Autoridad de Pruebas")


@functools.cache
def signer(nit: str = "900373115", name: str = "Proveedor de Pruebas S.A.S.") -> Signer:
    """A throwaway signing certificate issued by `certification_authority()`, made once per test run."""
    return _certificate(nit, name, issuer=certification_authority())


def sign(xml: bytes, who: Signer | None = None) -> bytes:
    """`xml` signed (enveloped, RSA-SHA256) where its `PLACEHOLDER` is, as DIAN documents are."""
    who = who or signer()
    root = etree.fromstring(xml)
    signed = XMLSigner(signature_algorithm="rsa-sha256", digest_algorithm="sha256").sign(
        root, key=who.key_pem, cert=who.cert_pem
    )
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def signed_document(factory: SampleFactory | None = None, **kwargs: object) -> tuple[bytes, str]:
    """A bare signed invoice from the demo factory (its fake signature replaced): (xml, cufe)."""
    factory = factory or SampleFactory(seed=18)
    document = factory.document(**kwargs)  # type: ignore[arg-type]
    text = document.xml.decode("utf-8")
    start = text.index("<ds:Signature")
    end = text.index("</ds:Signature>") + len("</ds:Signature>")
    return sign((text[:start] + PLACEHOLDER + text[end:]).encode("utf-8")), document.cufe


def cude_for(*parts: str) -> str:
    return hashlib.sha384(":".join(parts).encode()).hexdigest()


def _party(role: str, nit: str, name: str) -> str:
    return (
        f"<cac:{role}><cac:PartyTaxScheme><cbc:RegistrationName>{name}</cbc:RegistrationName>"
        f'<cbc:CompanyID schemeAgencyID="195" schemeID="4" schemeName="31">{nit}</cbc:CompanyID>'
        "<cac:TaxScheme><cbc:ID>01</cbc:ID><cbc:Name>IVA</cbc:Name></cac:TaxScheme>"
        f"</cac:PartyTaxScheme></cac:{role}>"
    )


def event_xml(code: str, cufe: str, *, sender: tuple[str, str] = ("900108281", "Comprador S.A.S."),
              receiver: tuple[str, str] = ("900373115", "Proveedor S.A.S."), reason: str | None = None,
              issued: str = "2026-03-02", number: str | None = None, cude: str | None = None,
              signed: bool = True, declaration: bool = True, invoice_number: str = "SETP990000002") -> bytes:
    """An ApplicationResponse event 030–034 (or DIAN's 02) referring to the invoice `cufe`."""
    if code == "034":  # the issuer writes the tacit acceptance, to DIAN
        sender, receiver = receiver, (DIAN_NIT, "DIAN")
    number = number or f"EV{code}{cufe[:4]}"
    cude = cude or cude_for("evento", code, cufe, number)
    claim = f' name="Concepto" listID="{reason}"' if reason else ""
    person = ""
    if code in ("030", "032"):
        person = ("<cac:IssuerParty><cac:Person><cbc:ID schemeID=\"4\" schemeName=\"13\">1020304050</cbc:ID>"
                  "<cbc:FirstName>Ana</cbc:FirstName><cbc:FamilyName>Gómez</cbc:FamilyName>"
                  "<cbc:JobTitle>Almacenista</cbc:JobTitle></cac:Person></cac:IssuerParty>")
    note = "<cbc:Note>Manifiesto bajo la gravedad de juramento…</cbc:Note>" if code == "034" else ""
    text = (
        ('<?xml version="1.0" encoding="UTF-8" standalone="no"?>' if declaration else "")
        + f'<ApplicationResponse xmlns="{UBL}ApplicationResponse-2" xmlns:cac="{CAC}" xmlns:cbc="{CBC}" '
        f'xmlns:ext="{EXT}" xmlns:ds="{DS}">'
        f"<ext:UBLExtensions><ext:UBLExtension><ext:ExtensionContent>{PLACEHOLDER if signed else ''}"
        "</ext:ExtensionContent></ext:UBLExtension></ext:UBLExtensions>"
        "<cbc:UBLVersionID>UBL 2.1</cbc:UBLVersionID><cbc:CustomizationID>1</cbc:CustomizationID>"
        "<cbc:ProfileID>DIAN 2.1: ApplicationResponse de la Factura Electrónica de Venta</cbc:ProfileID>"
        f"<cbc:ProfileExecutionID>2</cbc:ProfileExecutionID><cbc:ID>{number}</cbc:ID>"
        f'<cbc:UUID schemeID="2" schemeName="CUDE-SHA384">{cude}</cbc:UUID>'
        f"<cbc:IssueDate>{issued}</cbc:IssueDate><cbc:IssueTime>10:15:00-05:00</cbc:IssueTime>{note}"
        + _party("SenderParty", *sender) + _party("ReceiverParty", *receiver)
        + f"<cac:DocumentResponse><cac:Response><cbc:ResponseCode{claim}>{code}</cbc:ResponseCode>"
        f"<cbc:Description>{DESCRIPTIONS.get(code, 'Documento validado por la DIAN')}</cbc:Description></cac:Response>"
        f"<cac:DocumentReference><cbc:ID>{invoice_number}</cbc:ID>"
        f'<cbc:UUID schemeName="CUFE-SHA384">{cufe}</cbc:UUID><cbc:DocumentTypeCode>01</cbc:DocumentTypeCode>'
        f"</cac:DocumentReference>{person}</cac:DocumentResponse></ApplicationResponse>"
    )
    data = text.encode("utf-8")
    return sign(data, signer(*sender)) if signed else data


def dian_response_xml(referenced: str, *, code: str = "02", signed: bool = True) -> bytes:
    """DIAN's ApplicationResponse validating the document or event `referenced` (a CUFE/CUDE)."""
    return event_xml(code, referenced, sender=(DIAN_NIT, "DIAN"), cude=cude_for("dian", referenced, code),
                     number=f"R{referenced[:6]}", signed=signed, declaration=False)


def container_xml(embedded: bytes, *, parent_uuid: str, response: bytes | None,
                  scheme: str = "CUFE-SHA384") -> bytes:
    """An AttachedDocument around `embedded`, with DIAN's `response` in ParentDocumentLineReference."""
    embedded_text = embedded.decode("utf-8").split("?>", 1)[-1] if embedded.startswith(b"<?xml") else embedded.decode()
    parent = ""
    if response is not None:
        parent = (
            "<cac:ParentDocumentLineReference><cbc:LineID>1</cbc:LineID><cac:DocumentReference>"
            f'<cbc:ID>X1</cbc:ID><cbc:UUID schemeName="{scheme}">{parent_uuid}</cbc:UUID>'
            "<cbc:DocumentType>ApplicationResponse</cbc:DocumentType><cac:Attachment><cac:ExternalReference>"
            f"<cbc:MimeCode>text/xml</cbc:MimeCode><cbc:Description><![CDATA[{response.decode()}]]></cbc:Description>"
            "</cac:ExternalReference></cac:Attachment><cac:ResultOfVerification>"
            "<cbc:ValidationResultCode>02</cbc:ValidationResultCode></cac:ResultOfVerification>"
            "</cac:DocumentReference></cac:ParentDocumentLineReference>"
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><AttachedDocument xmlns="{UBL}AttachedDocument-2" '
        f'xmlns:cac="{CAC}" xmlns:cbc="{CBC}"><cbc:UBLVersionID>UBL 2.1</cbc:UBLVersionID>'
        "<cbc:ID>123</cbc:ID>" + _party("SenderParty", "900108281", "Comprador S.A.S.")
        + _party("ReceiverParty", "900373115", "Proveedor S.A.S.")
        + "<cac:Attachment><cac:ExternalReference><cbc:MimeCode>text/xml</cbc:MimeCode>"
        f"<cbc:Description><![CDATA[{embedded_text}]]></cbc:Description></cac:ExternalReference></cac:Attachment>"
        + parent + "</AttachedDocument>"
    ).encode("utf-8")
