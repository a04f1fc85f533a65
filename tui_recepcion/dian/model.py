"""What extraction produces: documents, their parties and taxes, or a failure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

# Document kinds are the UBL root element names.
INVOICE = "Invoice"
CREDIT_NOTE = "CreditNote"
DEBIT_NOTE = "DebitNote"

PRODUCTION = "1"
TEST = "2"


@dataclass(frozen=True, slots=True)
class Party:
    """An issuer or buyer: NIT (or other id), its check digit and registered name."""

    nit: str
    name: str
    dv: str | None = None
    id_scheme: str | None = None
    """DIAN identification type from `@schemeName`: 31 NIT, 13 cédula, …"""


@dataclass(frozen=True, slots=True)
class Tax:
    """One direct-child TaxTotal (or WithholdingTaxTotal) of a document."""

    code: str
    name: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Reference:
    """The invoice a credit or debit note refers to (`cac:BillingReference`)."""

    number: str
    cufe: str | None = None
    issue_date: date | None = None


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

    @property
    def is_test(self) -> bool:
        return self.environment == TEST

    @property
    def tax_total(self) -> Decimal:
        return sum((tax.amount for tax in self.taxes), Decimal("0"))

    @property
    def withholding_total(self) -> Decimal:
        return sum((tax.amount for tax in self.withholdings), Decimal("0"))


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a message yielded no document: a code from `reasons.REASONS` and a Spanish detail."""

    code: str
    detail: str


@dataclass(frozen=True, slots=True)
class SavedFile:
    """A file worth keeping next to a document: its container XML or its PDF."""

    kind: Literal["xml", "pdf"]
    data: bytes = field(repr=False)

    def __repr__(self) -> str:  # never dump untrusted bytes into logs
        return f"SavedFile(kind={self.kind!r}, {len(self.data)} bytes)"


@dataclass(frozen=True, slots=True)
class SubjectHint:
    """What the email subject claims (`NIT;Nombre;Número;Tipo;Nombre comercial[;Línea]`)."""

    nit: str | None = None
    name: str | None = None
    number: str | None = None
    tipo: str | None = None
    trade_name: str | None = None
    business_line: str | None = None


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

    @property
    def ok(self) -> bool:
        return self.failure is None and bool(self.documents)

    @property
    def cufes(self) -> tuple[str, ...]:
        return tuple(doc.cufe for doc in self.documents)
