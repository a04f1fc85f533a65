"""The ApplicationResponse of one buyer's event, laid out as DIAN's sample events are.

The document is built unsigned, with an empty second `ext:UBLExtension` where `xades.py`
puts the signature. Element order follows the UBL 2.1 ApplicationResponse schema (the tests
validate against OASIS's XSD) and the element paths of DIAN's samples for each code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type information

from tui_recepcion.dian.radian import CLAIM_REASONS, EventCode, event_name
from tui_recepcion.radian.cude import CudeParts, event_cude, software_security_code
from tui_recepcion.secrets import Secret

NS = {
    None: "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "ext": "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2",
    "sts": "dian:gov:co:facturaelectronica:Structures-2-1",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xades": "http://uri.etsi.org/01903/v1.3.2#",
    "xades141": "http://uri.etsi.org/01903/v1.4.1#",
}
DIAN_NIT = "800197268"
DIAN_CHECK_DIGIT = "4"
DIAN_AGENCY = {"schemeAgencyID": "195", "schemeAgencyName": "CO, DIAN (Dirección de Impuestos y Aduanas Nacionales)"}
PROFILE_ID = "DIAN 2.1: ApplicationResponse de la Factura Electrónica de Venta"
COLOMBIA = timezone(timedelta(hours=-5), "America/Bogota")  # Colombia keeps -05:00 all year
SENDABLE = (EventCode.ACUSE, EventCode.RECLAMO, EventCode.RECIBO_BIEN, EventCode.ACEPTACION_EXPRESA)
WITH_PERSON = (EventCode.ACUSE, EventCode.RECIBO_BIEN)  # DIAN's samples name who received
QR_BASE = {"1": "https://catalogo-vpfe.dian.gov.co", "2": "https://catalogo-vpfe-hab.dian.gov.co"}


@dataclass(frozen=True, slots=True)
class EventParty:
    """Sender (the company) or receiver (the invoice's issuer) of the event."""

    id: str  # digits, without check digit
    name: str
    check_digit: str | None = None
    scheme: str = "31"  # DIAN identification type: 31 NIT, 13 cédula…


@dataclass(frozen=True, slots=True)
class Person:
    """Who received the invoice or the goods (030, 032)."""

    first_name: str
    family_name: str
    id_type: str
    id: str
    job_title: str | None = None
    department: str | None = None


@dataclass(frozen=True, slots=True)
class EventRequest:
    code: str  # 030, 031, 032, 033
    number: str  # the event's own consecutive number (cbc:ID)
    issued_at: datetime  # the sending moment; shown in Colombia's time
    environment: str  # ProfileExecutionID: "1" production, "2" habilitación
    sender: EventParty
    receiver: EventParty
    document_number: str
    cufe: str
    document_type: str  # 01…04 (facturas electrónicas de venta)
    software_id: str
    claim_reason: str | None = None
    person: Person | None = None

    @property
    def local_time(self) -> datetime:
        return self.issued_at.astimezone(COLOMBIA)

    def cude_parts(self) -> CudeParts:
        moment = self.local_time
        return CudeParts(
            number=self.number, issue_date=moment.strftime("%Y-%m-%d"), issue_time=moment.strftime("%H:%M:%S-05:00"),
            sender_id=self.sender.id, receiver_id=self.receiver.id, response_code=self.code,
            document_id=self.document_number, document_type=self.document_type,
        )


def _q(prefix: str | None, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def _add(parent: etree._Element, prefix: str | None, local: str, text: str | None = None, /,
         **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, _q(prefix, local), {key: value for key, value in attributes.items()})
    if text is not None:
        element.text = text
    return element


def _party(parent: etree._Element, tag: str, party: EventParty) -> None:
    scheme = _add(_add(parent, "cac", tag), "cac", "PartyTaxScheme")
    _add(scheme, "cbc", "RegistrationName", party.name)
    attributes = dict(DIAN_AGENCY)
    if party.check_digit is not None:
        attributes["schemeID"] = party.check_digit
    attributes["schemeName"] = party.scheme
    _add(scheme, "cbc", "CompanyID", party.id, **attributes)
    tax = _add(scheme, "cac", "TaxScheme")
    _add(tax, "cbc", "ID", "01")
    _add(tax, "cbc", "Name", "IVA")


def _dian_extensions(parent: etree._Element, request: EventRequest, pin: Secret) -> None:
    content = _add(_add(parent, "ext", "UBLExtension"), "ext", "ExtensionContent")
    dian = _add(content, "sts", "DianExtensions")
    _add(_add(dian, "sts", "InvoiceSource"), "cbc", "IdentificationCode", "CO", listAgencyID="6",
         listAgencyName="United Nations Economic Commission for Europe",
         listSchemeURI="urn:oasis:names:specification:ubl:codelist:gc:CountryIdentificationCode-2.1")
    provider = _add(dian, "sts", "SoftwareProvider")
    provider_attributes = {"schemeID": request.sender.check_digit or "", "schemeName": "31", **DIAN_AGENCY}
    _add(provider, "sts", "ProviderID", request.sender.id, **provider_attributes)
    _add(provider, "sts", "SoftwareID", request.software_id, **DIAN_AGENCY)
    _add(dian, "sts", "SoftwareSecurityCode", software_security_code(request.software_id, pin, request.number),
         **DIAN_AGENCY)
    authorization = _add(dian, "sts", "AuthorizationProvider")
    _add(authorization, "sts", "AuthorizationProviderID", DIAN_NIT, schemeID=DIAN_CHECK_DIGIT, schemeName="31",
         **DIAN_AGENCY)
    qr_base = QR_BASE.get(request.environment, QR_BASE["1"])
    _add(dian, "sts", "QRCode", f"{qr_base}/document/searchqr?documentkey={request.cufe}")


def build_event(request: EventRequest, pin: Secret) -> etree._Element:
    """The unsigned ApplicationResponse of `request`, its CUDE computed with `pin`."""
    root = etree.Element(_q(None, "ApplicationResponse"), nsmap=NS)
    extensions = _add(root, "ext", "UBLExtensions")
    _dian_extensions(extensions, request, pin)
    _add(_add(extensions, "ext", "UBLExtension"), "ext", "ExtensionContent")  # the signature goes here
    parts = request.cude_parts()
    _add(root, "cbc", "UBLVersionID", "UBL 2.1")
    _add(root, "cbc", "CustomizationID", "1")
    _add(root, "cbc", "ProfileID", PROFILE_ID)
    _add(root, "cbc", "ProfileExecutionID", request.environment)
    _add(root, "cbc", "ID", request.number)
    _add(root, "cbc", "UUID", event_cude(parts, pin), schemeID=request.environment, schemeName="CUDE-SHA384")
    _add(root, "cbc", "IssueDate", parts.issue_date)
    _add(root, "cbc", "IssueTime", parts.issue_time)
    _add(root, "cbc", "Note", f"{event_name(request.code)}: documento {request.document_number}")
    _party(root, "SenderParty", request.sender)
    _party(root, "ReceiverParty", request.receiver)
    document_response = _add(root, "cac", "DocumentResponse")
    response = _add(document_response, "cac", "Response")
    if request.code == EventCode.RECLAMO and request.claim_reason is not None:
        _add(response, "cbc", "ResponseCode", request.code, name=CLAIM_REASONS[request.claim_reason],
             listID=request.claim_reason)
    else:
        _add(response, "cbc", "ResponseCode", request.code)
    _add(response, "cbc", "Description", event_name(request.code))
    reference = _add(document_response, "cac", "DocumentReference")
    _add(reference, "cbc", "ID", request.document_number)
    _add(reference, "cbc", "UUID", request.cufe, schemeName="CUFE-SHA384")
    _add(reference, "cbc", "DocumentTypeCode", request.document_type)
    if request.code in WITH_PERSON and request.person is not None:
        person = _add(_add(document_response, "cac", "IssuerParty"), "cac", "Person")
        _add(person, "cbc", "ID", request.person.id, schemeName=request.person.id_type)
        _add(person, "cbc", "FirstName", request.person.first_name)
        _add(person, "cbc", "FamilyName", request.person.family_name)
        if request.person.job_title:
            _add(person, "cbc", "JobTitle", request.person.job_title)
        if request.person.department:
            _add(person, "cbc", "OrganizationDepartment", request.person.department)
    return root


def event_cude_of(document: etree._Element) -> str:
    """The CUDE written in a built event (its cbc:UUID)."""
    return str(document.findtext(_q("cbc", "UUID")) or "")
