"""The event's CUDE and its SoftwareSecurityCode, as DIAN's Anexo técnico defines them.

CUDE = SHA-384(Num_DE + Fec_Emi + Hor_Emi + NitFE + DocAdq + ResponseCode + ID +
DocumentTypeCode + Software-PIN): the event's own number, date and time (with «-05:00»),
the sender's and the receiver's identification numbers (no check digit), the event code,
the referenced document's number and type, and the software PIN. The PIN never appears in
the document; only its hash does.

SoftwareSecurityCode = SHA-384(SoftwareID + PIN + event number).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tui_recepcion.secrets import Secret


@dataclass(frozen=True, slots=True)
class CudeParts:
    """The values of the event that enter its CUDE, in the Anexo's order (the PIN apart)."""

    number: str  # cbc:ID of the event
    issue_date: str  # cbc:IssueDate, AAAA-MM-DD
    issue_time: str  # cbc:IssueTime, HH:MM:SS-05:00
    sender_id: str  # SenderParty CompanyID, without check digit
    receiver_id: str  # ReceiverParty CompanyID, without check digit
    response_code: str  # 030, 031, 032, 033
    document_id: str  # DocumentReference/cbc:ID (prefix and number of the invoice)
    document_type: str  # DocumentReference/cbc:DocumentTypeCode (01…)

    def text(self, pin: Secret) -> str:
        """The string that is hashed; it holds the PIN, so it is never logged nor stored."""
        return (self.number + self.issue_date + self.issue_time + self.sender_id + self.receiver_id
                + self.response_code + self.document_id + self.document_type + pin.reveal())


def event_cude(parts: CudeParts, pin: Secret) -> str:
    return hashlib.sha384(parts.text(pin).encode("utf-8")).hexdigest()


def software_security_code(software_id: str, pin: Secret, event_number: str) -> str:
    return hashlib.sha384((software_id + pin.reveal() + event_number).encode("utf-8")).hexdigest()
