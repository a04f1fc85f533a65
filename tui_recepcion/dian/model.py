"""What extraction produces: documents, their parties and taxes, or a failure."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal, TypeVar

# Document kinds are the UBL root element names.
INVOICE = "Invoice"
CREDIT_NOTE = "CreditNote"
DEBIT_NOTE = "DebitNote"

PRODUCTION = "1"
TEST = "2"

_Value = TypeVar("_Value")


def compact_pickling(cls: type[_Value]) -> type[_Value]:
    """Pickle a frozen, slotted dataclass as the tuple of its fields, named once per class.

    These values travel back from the extraction workers with every message. The state
    functions `dataclass(frozen=True, slots=True)` adds look the class's fields up again for
    every object pickled and every object unpickled: for a pass, a visible share of the CPU.
    """
    names = tuple(item.name for item in dataclasses.fields(cls))  # type: ignore[arg-type]  # a dataclass, by contract
    values_of: Callable[[Any], Any] = operator.attrgetter(*names)
    if len(names) == 1:
        single = values_of
        values_of = lambda value: (single(value),)  # noqa: E731  # attrgetter of one name gives no tuple
    assign = object.__setattr__  # frozen: the dataclass's own __setattr__ refuses

    def state(value: Any) -> tuple[Any, ...]:
        return values_of(value)  # type: ignore[no-any-return]  # a tuple, by the branch above

    def restore(value: Any, values: tuple[Any, ...]) -> None:
        for name, item in zip(names, values, strict=True):
            assign(value, name, item)

    setattr(cls, "__getstate__", state)  # noqa: B010  # replaces the dataclass's per-object lookup
    setattr(cls, "__setstate__", restore)  # noqa: B010
    return cls


@compact_pickling
@dataclass(frozen=True, slots=True)
class Party:
    """An issuer or buyer: NIT (or other id), its check digit and registered name."""

    nit: str
    name: str
    dv: str | None = None
    id_scheme: str | None = None
    """DIAN identification type from `@schemeName`: 31 NIT, 13 cédula, …"""


@compact_pickling
@dataclass(frozen=True, slots=True)
class Tax:
    """One direct-child TaxTotal (or WithholdingTaxTotal) of a document."""

    code: str
    name: str
    amount: Decimal


@compact_pickling
@dataclass(frozen=True, slots=True)
class Reference:
    """The invoice a credit or debit note refers to (`cac:BillingReference`)."""

    number: str
    cufe: str | None = None
    issue_date: date | None = None


SignatureStatus = Literal["valida", "invalida", "ausente"]
VALID: SignatureStatus = "valida"
INVALID: SignatureStatus = "invalida"
ABSENT: SignatureStatus = "ausente"


@compact_pickling
@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """Whether an XML signature is intact against the certificate in its own KeyInfo.

    `valida` says only that the signed content was not altered after signing with that
    certificate's key; trust in the certificate (its chain up to a Colombian certification
    authority) is judged separately, from `certificate` (base64 DER), when shown.
    """

    status: SignatureStatus
    detail: str = ""
    subject: str | None = None
    issuer: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    signing_time: str | None = None
    certificate_nit: str | None = None
    certificate: str | None = field(default=None, repr=False)


NO_SIGNATURE = SignatureCheck(ABSENT, "El documento no trae firma (ds:Signature).")


@compact_pickling
@dataclass(frozen=True, slots=True)
class Document:
    """One DIAN electronic document, with values taken from the signed document."""

    kind: str
    """`Invoice`, `CreditNote` or `DebitNote`."""
    tipo: str
    """01–04 for invoices (InvoiceTypeCode), 91 credit note, 92 debit note."""
    number: str
    cufe: str
    """CUFE/CUDE, 96 lower-case hex characters."""
    issue_date: date
    supplier: Party
    customer: Party
    currency: str
    total: Decimal
    """PayableAmount."""
    environment: str | None = None
    """ProfileExecutionID: "1" production, "2" test."""
    issue_time: str | None = None
    due_date: date | None = None
    subtotal: Decimal | None = None
    """LineExtensionAmount."""
    tax_base: Decimal | None = None
    """TaxExclusiveAmount."""
    tax_inclusive: Decimal | None = None
    """TaxInclusiveAmount."""
    taxes: tuple[Tax, ...] = ()
    withholdings: tuple[Tax, ...] = ()
    dian_validation: str | None = None
    """DIAN ApplicationResponse code ("02" validated); None for a bare document."""
    reference: Reference | None = None
    issuer_signature: SignatureCheck | None = None
    """The issuer's XAdES signature of the document (None: not checked)."""
    dian_signature: SignatureCheck | None = None
    """DIAN's signature of its ApplicationResponse (None: not checked; absent without one)."""

    @property
    def signature_broken(self) -> bool:
        """True when a signature that is there does not verify (the document is still kept)."""
        return any(check is not None and check.status == INVALID
                   for check in (self.issuer_signature, self.dian_signature))

    @property
    def is_test(self) -> bool:
        return self.environment == TEST

    @property
    def tax_total(self) -> Decimal:
        return sum((tax.amount for tax in self.taxes), Decimal("0"))

    @property
    def withholding_total(self) -> Decimal:
        return sum((tax.amount for tax in self.withholdings), Decimal("0"))


@compact_pickling
@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    """One `cac:DocumentResponse` of a received ApplicationResponse: a RADIAN event (030–034)
    about an invoice, or a DIAN notice (its verdict 02/04 on a document or an event).

    `cufe` is the UUID it refers to (`cac:DocumentReference/cbc:UUID`), which may name a
    document this store does not have; `cude` is the ApplicationResponse's own UUID.
    """

    code: str
    cude: str
    cufe: str
    issue_date: date | None
    sender: Party | None
    receiver: Party | None
    number: str | None = None
    """The event's own number (`cbc:ID`)."""
    issue_time: str | None = None
    description: str | None = None
    reference_number: str | None = None
    reference_type: str | None = None
    claim_reason: str | None = None
    """031: the claim concept 01–04 (`cbc:ResponseCode/@listID`)."""
    environment: str | None = None
    dian_validation: str | None = None
    """DIAN's verdict on the event, when it came in a container with DIAN's response."""
    issuer_signature: SignatureCheck | None = None
    dian_signature: SignatureCheck | None = None


@compact_pickling
@dataclass(frozen=True, slots=True)
class Failure:
    """Why a message yielded no document: a code from `reasons.REASONS` and a Spanish detail."""

    code: str
    detail: str


@compact_pickling
@dataclass(frozen=True, slots=True)
class SavedFile:
    """A file worth keeping next to a document: its container XML or its PDF."""

    kind: Literal["xml", "pdf"]
    data: bytes = field(repr=False)
    content_sha256: str | None = None
    """For the XML: the hash of its signed document (`dian.content`), computed by the
    extractor on the tree it parsed, so the store need not parse the file again."""

    def __repr__(self) -> str:  # never dump untrusted bytes into logs
        return f"SavedFile(kind={self.kind!r}, {len(self.data)} bytes)"


@compact_pickling
@dataclass(frozen=True, slots=True)
class SubjectHint:
    """What the email subject claims (`NIT;Nombre;Número;Tipo;Nombre comercial[;Línea]`)."""

    nit: str | None = None
    name: str | None = None
    number: str | None = None
    tipo: str | None = None
    trade_name: str | None = None
    business_line: str | None = None


@compact_pickling
@dataclass(frozen=True, slots=True)
class HintMismatch:
    """A field where the subject disagrees with the XML (the XML wins)."""

    field: str
    subject_value: str
    xml_value: str


_NO_FILES: Mapping[str, tuple[SavedFile, ...]] = MappingProxyType({})


@dataclass(frozen=True)
class Extraction:
    """The outcome of reading one message or file.

    Success means at least one document and no failure; otherwise `failure` says why.
    `files` maps each document's CUFE to the files worth saving with it.
    """

    documents: tuple[Document, ...] = ()
    failure: Failure | None = None
    message_id: str | None = None
    subject: str | None = None
    sender: str | None = None
    date: datetime | None = None
    subject_hint: SubjectHint | None = None
    hint_mismatches: tuple[HintMismatch, ...] = ()
    files: Mapping[str, tuple[SavedFile, ...]] = field(default_factory=lambda: _NO_FILES, hash=False, repr=False)
    events: tuple[ReceivedEvent, ...] = ()
    """RADIAN events and DIAN notices the message carried (stored apart from documents)."""

    @property
    def ok(self) -> bool:
        return self.failure is None and bool(self.documents or self.events)

    @property
    def cufes(self) -> tuple[str, ...]:
        return tuple(doc.cufe for doc in self.documents)
