"""UBL 2.1 as DIAN uses it: AttachedDocument containers and bare Invoice/CreditNote/DebitNote.

Children are matched by local name (`{*}`), so old test files with other namespace
prefixes or URIs parse alike; the root must carry the real UBL namespace. Number, dates
and amounts always come from the signed document, never from the container.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no annotations; lxml-stubs is not a dependency

from tui_recepcion.dian import codes, xml
from tui_recepcion.dian.application_response import EventProblem, own_uuid, parse_events, referenced_cufe
from tui_recepcion.dian.codes import VALIDATED as VALIDATED  # re-exported: extract checks against it
from tui_recepcion.dian.codes import normalize_response_code
from tui_recepcion.dian.content import signed_content_sha256
from tui_recepcion.dian.limits import Limits
from tui_recepcion.dian.model import (
    ABSENT,
    CREDIT_NOTE,
    DEBIT_NOTE,
    INVOICE,
    Document,
    Party,
    ReceivedEvent,
    Reference,
    SignatureCheck,
    Tax,
)
from tui_recepcion.dian.nit import split_nit as split_nit  # re-exported: the store imports it from here
from tui_recepcion.dian.reasons import Reason
from tui_recepcion.dian.signature import check_signature

ATTACHED_DOCUMENT = "AttachedDocument"
APPLICATION_RESPONSE = "ApplicationResponse"
_UBL_PREFIX = "urn:oasis:names:specification:ubl:schema:xsd:"
_DOCUMENT_KINDS = (INVOICE, CREDIT_NOTE, DEBIT_NOTE)
_KNOWN_ROOTS = (*_DOCUMENT_KINDS, ATTACHED_DOCUMENT, APPLICATION_RESPONSE)

CUFE_RE = re.compile(r"^[0-9a-f]{96}$")
_AMOUNT_RE = re.compile(r"^[+-]?\d{1,20}(\.\d{1,10})?$")
_MAX_FIELD_CHARS = 300
DIAN_NIT = "800197268"  # the sender of DIAN's own ApplicationResponses
_NO_DIAN_RESPONSE = SignatureCheck(ABSENT, "No viene la respuesta de la DIAN (ApplicationResponse) que firmarla.")


class DianProblem(Exception):
    """An XML that is not a usable DIAN document; `code` is a reason code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def root_kind(root: etree._Element) -> str | None:
    """`Invoice`, `CreditNote`, `DebitNote`, `AttachedDocument`, `ApplicationResponse` or None."""
    if not isinstance(root.tag, str):
        return None
    name = etree.QName(root)
    localname: str = name.localname
    if localname in _KNOWN_ROOTS and name.namespace == f"{_UBL_PREFIX}{localname}-2":
        return localname
    return None


class SignedDocument:
    """A document read from an XML file, and the hash of the signed document it was read
    from (`dian.content`), taken from the tree already parsed."""

    __slots__ = ("content_sha256", "document")

    def __init__(self, document: Document, content_sha256: str) -> None:
        self.document, self.content_sha256 = document, content_sha256


Parsed = SignedDocument | tuple[ReceivedEvent, ...]
"""A document, or the events of an ApplicationResponse (bare or in a container)."""


def parse_dian_xml(data: bytes, *, limits: Limits) -> Parsed:
    """The document in an AttachedDocument or a bare Invoice/CreditNote/DebitNote, or the
    events of an ApplicationResponse (bare or in an AttachedDocument).

    Raises `xml.XmlRejected` for bytes that are not acceptable XML and `DianProblem`
    for XML that is not a valid DIAN document or event.
    """
    root = xml.parse(data, max_bytes=limits.max_xml_bytes)
    kind = root_kind(root)
    if kind == ATTACHED_DOCUMENT:
        return _parse_container(root, limits)
    if kind in _DOCUMENT_KINDS:
        content = signed_content_sha256(root)  # before anything else reads the tree
        return SignedDocument(_parse_document(root, kind, dian_validation=None, issuer_signature=check_signature(root),
                                              dian_signature=_NO_DIAN_RESPONSE), content)
    if kind == APPLICATION_RESPONSE:
        return _events(root, dian_validation=None, dian_signature=None)
    local = etree.QName(root).localname if isinstance(root.tag, str) else "?"
    raise DianProblem(Reason.XML_NO_DIAN, f"La raíz del XML es «{_clip(local, 60)}», que no es un documento DIAN.")


def _events(root: etree._Element, *, dian_validation: str | None,
            dian_signature: SignatureCheck | None) -> tuple[ReceivedEvent, ...]:
    signature: SignatureCheck | None = check_signature(root)
    sender = _party(root.find("{*}SenderParty"))
    if dian_signature is None and sender is not None and sender.nit == DIAN_NIT:
        dian_signature, signature = signature, None  # a notice DIAN wrote and signed itself
    try:
        return parse_events(root, dian_validation=dian_validation, issuer_signature=signature,
                            dian_signature=dian_signature)
    except EventProblem as problem:
        raise DianProblem(problem.code, problem.detail) from None


def _parse_container(root: etree._Element, limits: Limits) -> Parsed:
    description = root.find("{*}Attachment/{*}ExternalReference/{*}Description")
    embedded_text = (description.text or "").strip() if description is not None else ""
    if not embedded_text:
        raise DianProblem(
            Reason.DOCUMENTO_EMBEBIDO_INVALIDO,
            "El contenedor no trae el documento (Attachment/ExternalReference/Description vacío).",
        )
    try:
        inner = xml.parse(embedded_text.encode("utf-8"), max_bytes=limits.max_xml_bytes, force_utf8=True)
    except xml.XmlRejected as error:
        if error.code == Reason.ZIP_EXCEDE_LIMITES:
            raise
        raise DianProblem(Reason.DOCUMENTO_EMBEBIDO_INVALIDO, f"El documento embebido no es XML válido: {error.detail}") from None
    kind = root_kind(inner)
    reference = root.find("{*}ParentDocumentLineReference/{*}DocumentReference")
    response = _dian_response(reference, limits)
    container_uuid = _text(reference, "{*}UUID") if reference is not None else None
    if kind == APPLICATION_RESPONSE:
        events = _events(inner, dian_validation=response.code, dian_signature=response.signature)
        # DIAN's response and the container name the event's CUDE (or the invoice's CUFE).
        linked = {events[0].cude, *(event.cufe for event in events)}
        for other, where in ((container_uuid, "del contenedor"), (response.cufe, "de la respuesta de la DIAN")):
            if other and other.lower() not in linked:
                raise DianProblem(Reason.DOCUMENTO_EMBEBIDO_INVALIDO,
                                  f"El UUID {where} no coincide con el CUDE del evento {events[0].number or ''}".rstrip() + ".")
        return events
    if kind not in _DOCUMENT_KINDS:
        raise DianProblem(
            Reason.DOCUMENTO_EMBEBIDO_INVALIDO,
            "El contenedor no trae una factura, una nota crédito o débito ni un evento.",
        )
    content = signed_content_sha256(inner)  # before anything else reads the tree
    document = _parse_document(inner, kind, dian_validation=response.code, issuer_signature=check_signature(inner),
                               dian_signature=response.signature or _NO_DIAN_RESPONSE)
    if container_uuid and container_uuid.lower() != document.cufe and _names_dian_response(container_uuid, reference, response):
        container_uuid = None  # the provider wrote the CUDE of DIAN's response; it refers to this document
    for other, where in ((container_uuid, "del contenedor"), (response.cufe, "de la respuesta de la DIAN")):
        if other and other.lower() != document.cufe:
            raise DianProblem(
                Reason.DOCUMENTO_EMBEBIDO_INVALIDO,
                f"El CUFE {where} no coincide con el del documento {document.number}.",
            )
    return SignedDocument(document, content)


def _names_dian_response(uuid: str, reference: etree._Element | None, response: _DianResponse) -> bool:
    """True when a container's UUID is the CUDE of the DIAN ApplicationResponse it embeds
    (some technology providers write that instead of the invoice's CUFE)."""
    if reference is None or response.own_uuid is None:
        return False
    element = reference.find("{*}UUID")
    scheme = ((element.get("schemeName") if element is not None else None) or "").upper()
    return uuid.lower() == response.own_uuid or scheme == "CUDE-SHA384"


class _DianResponse:
    """DIAN's ApplicationResponse in a container: its verdict, the UUID it refers to, its
    own UUID (CUDE) and its signature."""

    __slots__ = ("code", "cufe", "own_uuid", "signature")

    def __init__(self, code: str | None = None, cufe: str | None = None, own: str | None = None,
                 signature: SignatureCheck | None = None) -> None:
        self.code, self.cufe, self.own_uuid, self.signature = code, cufe, own, signature


def _dian_response(reference: etree._Element | None, limits: Limits) -> _DianResponse:
    """DIAN's verdict on the embedded document, from the response it embeds or, failing
    that, the container's summary; a container without DIAN's response has none to sign."""
    if reference is None:
        return _DianResponse()
    found = _DianResponse()
    description = reference.find("{*}Attachment/{*}ExternalReference/{*}Description")
    text = (description.text or "").strip() if description is not None else ""
    if text:
        try:
            response = xml.parse(text.encode("utf-8"), max_bytes=limits.max_xml_bytes, force_utf8=True)
        except xml.XmlRejected:
            response = None  # fall back to the container's summary below
        if response is not None and root_kind(response) == APPLICATION_RESPONSE:
            found = _DianResponse(_text(response, "{*}DocumentResponse/{*}Response/{*}ResponseCode"),
                                  referenced_cufe(response), own_uuid(response), check_signature(response))
    if found.code is None:
        found.code = _text(reference, "{*}ResultOfVerification/{*}ValidationResultCode")
    found.code = normalize_response_code(found.code)
    return found


def _parse_document(root: etree._Element, kind: str, *, dian_validation: str | None,
                    issuer_signature: SignatureCheck | None = None,
                    dian_signature: SignatureCheck | None = None) -> Document:
    children = _Children(root)
    number = children.text("ID")
    if not number:
        raise _invalid("no tiene número (cbc:ID)")
    cufe = (children.text("UUID") or "").lower()
    if not cufe:
        raise DianProblem(Reason.SIN_CUFE, f"El documento {number} no tiene CUFE/CUDE (cbc:UUID).")
    if not CUFE_RE.match(cufe):
        raise DianProblem(Reason.SIN_CUFE, f"El CUFE/CUDE del documento {number} no tiene 96 caracteres hexadecimales.")
    issue_date = _date(children.text("IssueDate"))
    if issue_date is None:
        raise _invalid(f"el documento {number} no tiene una fecha de emisión válida")
    if kind == INVOICE:
        tipo = children.text("InvoiceTypeCode") or codes.SALES_INVOICE
        totals_tag, fallback_tag = "LegalMonetaryTotal", "RequestedMonetaryTotal"
    elif kind == CREDIT_NOTE:
        tipo = codes.CREDIT_NOTE
        totals_tag, fallback_tag = "LegalMonetaryTotal", "RequestedMonetaryTotal"
    else:
        tipo = codes.DEBIT_NOTE  # DebitNote has no type-code element
        totals_tag, fallback_tag = "RequestedMonetaryTotal", "LegalMonetaryTotal"
    totals = children.first(totals_tag)
    if totals is None:
        totals = children.first(fallback_tag)
    total = _amount(totals, "{*}PayableAmount", number) if totals is not None else None
    if total is None:
        raise _invalid(f"el documento {number} no tiene valor a pagar (PayableAmount)")
    supplier = _party(children.find("AccountingSupplierParty", "{*}Party"))
    if supplier is None:
        raise _invalid(f"el documento {number} no identifica al emisor")
    customer = _party(children.find("AccountingCustomerParty", "{*}Party"))
    if customer is None:
        raise _invalid(f"el documento {number} no identifica al adquiriente")
    return Document(
        kind=kind,
        tipo=tipo,
        number=number,
        cufe=cufe,
        issue_date=issue_date,
        supplier=supplier,
        customer=customer,
        currency=children.text("DocumentCurrencyCode") or "COP",
        total=total,
        environment=children.text("ProfileExecutionID"),
        issue_time=children.text("IssueTime"),
        due_date=_date(children.text("DueDate")),
        subtotal=_amount(totals, "{*}LineExtensionAmount", number),
        tax_base=_amount(totals, "{*}TaxExclusiveAmount", number),
        tax_inclusive=_amount(totals, "{*}TaxInclusiveAmount", number),
        # Direct children only: `.//TaxTotal` would add every line's taxes again.
        taxes=tuple(_tax(element, number) for element in children.all("TaxTotal")),
        withholdings=tuple(_tax(element, number) for element in children.all("WithholdingTaxTotal")),
        dian_validation=dian_validation,
        reference=_reference(children) if kind != INVOICE else None,
        issuer_signature=issuer_signature,
        dian_signature=dian_signature,
    )


class _Children:
    """An element's child elements by local name, gathered in one pass: a document needs
    about twenty of them, and a wildcard `find` each scans the children again.
    `text`, `first` and `find` give what `_text`, `find("{*}name")` and
    `find("{*}name/path")` give on the element itself."""

    __slots__ = ("_by_name",)

    def __init__(self, element: etree._Element) -> None:
        by_name: dict[str, list[etree._Element]] = {}
        for child in element:
            if isinstance(child.tag, str):  # not a comment or processing instruction
                by_name.setdefault(child.tag.rpartition("}")[2], []).append(child)
        self._by_name = by_name

    def all(self, name: str) -> list[etree._Element]:
        return self._by_name.get(name, [])

    def first(self, name: str) -> etree._Element | None:
        found = self._by_name.get(name)
        return found[0] if found else None

    def find(self, name: str, path: str) -> etree._Element | None:
        for child in self.all(name):
            found = child.find(path)
            if found is not None:
                return found
        return None

    def text(self, name: str) -> str | None:
        return _element_text(self.first(name))


def _party(party: etree._Element | None) -> Party | None:
    if party is None:
        return None
    company_id = None
    for path in ("{*}PartyTaxScheme/{*}CompanyID", "{*}PartyLegalEntity/{*}CompanyID", "{*}PartyIdentification/{*}ID"):
        element = party.find(path)
        if element is not None and _clean(element.text):
            company_id = element
            break
    if company_id is None:
        return None
    nit, dv = split_nit(_clean(company_id.text))
    name = (
        _text(party, "{*}PartyTaxScheme/{*}RegistrationName")
        or _text(party, "{*}PartyLegalEntity/{*}RegistrationName")
        or _text(party, "{*}PartyName/{*}Name")
        or ""
    )
    dv = _clean(company_id.get("schemeID")) or dv
    return Party(nit=nit, name=name, dv=dv or None, id_scheme=_clean(company_id.get("schemeName")) or None)


def _tax(total: etree._Element, number: str) -> Tax:
    amount = _amount(total, "{*}TaxAmount", number)
    scheme = total.find("{*}TaxSubtotal/{*}TaxCategory/{*}TaxScheme")
    code = (_text(scheme, "{*}ID") if scheme is not None else None) or codes.NO_TAX
    name = (_text(scheme, "{*}Name") if scheme is not None else None) or code
    if amount is None:
        amount = sum(
            (_amount(sub, "{*}TaxAmount", number) or Decimal("0") for sub in total.iterfind("{*}TaxSubtotal")),
            Decimal("0"),
        )
    return Tax(code=code, name=name, amount=amount)


def _reference(children: _Children) -> Reference | None:
    billing = children.find("BillingReference", "{*}InvoiceDocumentReference")
    if billing is not None:
        number = _text(billing, "{*}ID")
        if number:
            cufe = _text(billing, "{*}UUID")
            return Reference(number=number, cufe=cufe.lower() if cufe else None,
                             issue_date=_date(_text(billing, "{*}IssueDate")))
    number = _element_text(children.find("DiscrepancyResponse", "{*}ReferenceID"))
    return Reference(number=number) if number else None


# Shared with application_response, which reads parties and dates the same way.
def parse_party(party: etree._Element | None) -> Party | None:
    return _party(party)


def parse_date(text: str | None) -> date | None:
    return _date(text)


def clean_text(text: str | None) -> str:
    return _clean(text)


def _amount(parent: etree._Element | None, path: str, number: str) -> Decimal | None:
    if parent is None:
        return None
    text = _text(parent, path)
    if text is None:
        return None
    if not _AMOUNT_RE.match(text):
        raise _invalid(f"el documento {number} tiene un valor no numérico en {path.removeprefix('{*}')}")
    return Decimal(text)


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _text(parent: etree._Element, path: str) -> str | None:
    return _element_text(parent.find(path))


def _element_text(element: etree._Element | None) -> str | None:
    return None if element is None else _clean(element.text) or None


def _clean(text: str | None) -> str:
    """Whitespace collapsed, control characters dropped, length bounded."""
    if not text:
        return ""
    if text.isprintable() and "  " not in text and text == text.strip():
        return _clip(text, _MAX_FIELD_CHARS)  # the common case, without a per-character pass
    return _clip(" ".join("".join(ch if ch.isprintable() else " " for ch in text[: _MAX_FIELD_CHARS * 2]).split()), _MAX_FIELD_CHARS)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _invalid(what: str) -> DianProblem:
    return DianProblem(Reason.DOCUMENTO_EMBEBIDO_INVALIDO, f"Documento incompleto: {what}.")
