"""Received ApplicationResponse documents: RADIAN events and DIAN's notices.

Shape (DIAN's sample events of the Caja de herramientas RADIAN, Anexo 1.9): the response's own
`cbc:UUID` (schemeName CUDE-SHA384) is its CUDE; `cbc:ID`, `cbc:IssueDate`, `cbc:IssueTime`;
`cac:SenderParty` (who writes the event: the buyer for 030–033, the issuer for 034) and
`cac:ReceiverParty` (`cac:PartyTaxScheme/cbc:CompanyID`, as in invoices); then one or more
`cac:DocumentResponse`, each with `cac:Response/cbc:ResponseCode` (030–034, or DIAN's verdict
02/04), for a 031 the claim concept in `cbc:ResponseCode/@listID` (and its name in `@name`),
and `cac:DocumentReference` (`cbc:ID` number, `cbc:UUID` the CUFE referred to,
`cbc:DocumentTypeCode`).
"""

from __future__ import annotations

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no annotations

from tui_recepcion.dian.model import ReceivedEvent, SignatureCheck
from tui_recepcion.dian.radian import CLAIM_REASONS, EventCode
from tui_recepcion.dian.reasons import Reason

MAX_RESPONSES = 50  # DIAN's GetStatusEvent answers list every event; mail carries one


class EventProblem(Exception):
    """An ApplicationResponse that cannot be stored as an event; `code` is a reason code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def parse_events(root: etree._Element, *, dian_validation: str | None = None,
                 issuer_signature: SignatureCheck | None = None,
                 dian_signature: SignatureCheck | None = None) -> tuple[ReceivedEvent, ...]:
    """The events of one ApplicationResponse root; raises `EventProblem` when it has none
    that can be linked to a document (no CUDE, no response code, no referenced CUFE)."""
    # Imported here: ubl imports this module, and these helpers belong to ubl.
    from tui_recepcion.dian.ubl import CUFE_RE, clean_text, parse_date, parse_party

    cude = (clean_text(root.findtext("{*}UUID")) or "").lower()
    if not CUFE_RE.match(cude):
        raise EventProblem(Reason.SIN_CUFE, "El evento (ApplicationResponse) no tiene un CUDE de 96 caracteres hexadecimales.")
    sender = parse_party(root.find("{*}SenderParty"))
    receiver = parse_party(root.find("{*}ReceiverParty"))
    number = clean_text(root.findtext("{*}ID")) or None
    issue_date = parse_date(clean_text(root.findtext("{*}IssueDate")))
    issue_time = clean_text(root.findtext("{*}IssueTime")) or None
    environment = clean_text(root.findtext("{*}ProfileExecutionID")) or None
    events: list[ReceivedEvent] = []
    problems: list[str] = []
    for response in root.iterfind("{*}DocumentResponse"):
        if len(events) >= MAX_RESPONSES:
            break
        code_element = response.find("{*}Response/{*}ResponseCode")
        code = clean_text(code_element.text if code_element is not None else None)
        reference = response.find("{*}DocumentReference")
        cufe = (clean_text(reference.findtext("{*}UUID")) if reference is not None else "").lower()
        if not code or len(code) > 10:
            problems.append("sin código de respuesta (cbc:ResponseCode)")
            continue
        if not CUFE_RE.match(cufe):
            problems.append(f"el evento {code} no refiere un CUFE de 96 caracteres hexadecimales")
            continue
        claim = None
        if code == EventCode.RECLAMO and code_element is not None:
            listed = clean_text(code_element.get("listID"))
            claim = listed if listed in CLAIM_REASONS else (listed[:10] or None)
        events.append(ReceivedEvent(
            code=code,
            cude=cude,
            cufe=cufe,
            issue_date=issue_date,
            sender=sender,
            receiver=receiver,
            number=number,
            issue_time=issue_time,
            description=clean_text(response.findtext("{*}Response/{*}Description")) or None,
            reference_number=(clean_text(reference.findtext("{*}ID")) or None) if reference is not None else None,
            reference_type=(clean_text(reference.findtext("{*}DocumentTypeCode")) or None)
            if reference is not None else None,
            claim_reason=claim,
            environment=environment,
            dian_validation=dian_validation,
            issuer_signature=issuer_signature,
            dian_signature=dian_signature,
        ))
    if not events:
        why = problems[0] if problems else "no trae ninguna respuesta (cac:DocumentResponse)"
        reason = Reason.SIN_CUFE if "CUFE" in why else Reason.DOCUMENTO_EMBEBIDO_INVALIDO
        raise EventProblem(reason, f"El evento (ApplicationResponse) {why}.")
    return tuple(events)


def referenced_cufe(root: etree._Element) -> str | None:
    """The UUID DIAN's response refers to (its first DocumentResponse), lower case."""
    text = root.findtext("{*}DocumentResponse/{*}DocumentReference/{*}UUID")
    return text.strip().lower() if text else None


def own_uuid(root: etree._Element) -> str | None:
    text = root.findtext("{*}UUID")
    return text.strip().lower() if text else None


