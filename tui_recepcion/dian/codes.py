"""DIAN's codes, each defined once: document types, response codes, taxes, identification
schemes and environments (Anexo Técnico de Factura Electrónica de Venta, version 1.9).

These are DIAN's own values as they appear in the XML, the email subject, the store and the
JSON output; the Spanish names are what people see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final


@dataclass(frozen=True, slots=True)
class DocumentType:
    """One DIAN document type (`cbc:InvoiceTypeCode`, or implied by the root element)."""

    code: str
    name: str  # "Nota crédito"
    plural: str  # "notas crédito", for counts
    short: str = ""  # for a narrow table column ("Conting. DIAN"); the name when empty

    @property
    def label(self) -> str:
        """"91 Nota crédito": the code with its meaning, as people see it."""
        return f"{self.code} {self.name}"


# Document types (table 13.1.3). Invoices carry one of 01–04 in InvoiceTypeCode; a
# CreditNote is always 91 and a DebitNote always 92 (it has no type-code element).
SALES_INVOICE: Final = "01"
EXPORT_INVOICE: Final = "02"
CONTINGENCY_INVOICE: Final = "03"  # issued on paper by the supplier, transmitted later
DIAN_CONTINGENCY_INVOICE: Final = "04"  # issued while DIAN's platform was down
SUPPORT_DOCUMENT: Final = "05"  # purchases from those not obliged to invoice
CREDIT_NOTE: Final = "91"
DEBIT_NOTE: Final = "92"
# Documentos equivalentes electrónicos (Resolución 000165 de 2023): the ones a company
# receives most, shown with their meaning if they arrive.
POS_EQUIVALENT: Final = "20"  # tiquete de máquina registradora con sistema POS
UTILITIES_EQUIVALENT: Final = "60"  # servicios públicos domiciliarios
SUPPORT_ADJUSTMENT_NOTE: Final = "95"
EVENT: Final = "96"  # an ApplicationResponse (acuse, aceptación, reclamo…)

DOCUMENT_TYPES: Mapping[str, DocumentType] = MappingProxyType({
    kind.code: kind
    for kind in (
        DocumentType(SALES_INVOICE, "Factura de venta", "facturas", "Factura"),
        DocumentType(EXPORT_INVOICE, "Factura de exportación", "facturas de exportación", "Exportación"),
        DocumentType(CONTINGENCY_INVOICE, "Contingencia del facturador", "facturas de contingencia",
                     "Contingencia"),
        DocumentType(DIAN_CONTINGENCY_INVOICE, "Contingencia DIAN", "facturas de contingencia DIAN",
                     "Conting. DIAN"),
        DocumentType(SUPPORT_DOCUMENT, "Documento soporte", "documentos soporte", "Doc. soporte"),
        DocumentType(POS_EQUIVALENT, "Documento equivalente POS", "documentos equivalentes POS", "POS"),
        DocumentType(UTILITIES_EQUIVALENT, "Servicios públicos", "documentos de servicios públicos",
                     "Serv. públicos"),
        DocumentType(CREDIT_NOTE, "Nota crédito", "notas crédito"),
        DocumentType(DEBIT_NOTE, "Nota débito", "notas débito"),
        DocumentType(SUPPORT_ADJUSTMENT_NOTE, "Nota de ajuste del documento soporte", "notas de ajuste",
                     "Nota ajuste"),
        DocumentType(EVENT, "Evento", "eventos"),
    )
})
# The types this program stores (Invoice 01–04, CreditNote, DebitNote), in display order.
STORED_DOCUMENT_TYPES: tuple[str, ...] = (
    SALES_INVOICE, EXPORT_INVOICE, CONTINGENCY_INVOICE, DIAN_CONTINGENCY_INVOICE, CREDIT_NOTE, DEBIT_NOTE,
)


def document_type_name(code: str) -> str:
    """"Nota crédito" for "91"; "" for a code DIAN does not define."""
    kind = DOCUMENT_TYPES.get(code)
    return kind.name if kind else ""


def document_type_label(code: str, *, short: bool = False) -> str:
    """"91 Nota crédito" (`short`: "04 Conting. DIAN"); the bare code when DIAN defines none."""
    kind = DOCUMENT_TYPES.get(code)
    if kind is None:
        return code
    return f"{code} {kind.short or kind.name}" if short else kind.label


# DIAN's verdict in the ApplicationResponse (`cbc:ResponseCode`); DIAN writes "02" or "002".
VALIDATED: Final = "02"  # Documento validado por la DIAN
REJECTED: Final = "04"  # Documento rechazado por la DIAN
RESPONSE_NAMES: Mapping[str, str] = MappingProxyType({
    VALIDATED: "Documento validado por la DIAN",
    REJECTED: "Documento rechazado por la DIAN",
})


# The verdict in one word, for tables and details («02 Validado»).
RESPONSE_SHORT: Mapping[str, str] = MappingProxyType({VALIDATED: "Validado", REJECTED: "Rechazado"})


def response_label(code: str | None) -> str:
    """"02 Validado" for DIAN's "02" (or "002"); "—" when there is no response."""
    normal = normalize_response_code(code)
    if not normal:
        return "—"
    meaning = RESPONSE_SHORT.get(normal)
    return f"{normal} {meaning}" if meaning else normal


def normalize_response_code(code: str | None) -> str | None:
    """DIAN writes "02" or "002" for the same verdict: both become "02"."""
    if code is None:
        return None
    return code.lstrip("0").zfill(2) if code.isdigit() else code


# Taxes (`cac:TaxScheme/cbc:ID`, table 13.2.2).
IVA: Final = "01"
IC: Final = "02"
ICA: Final = "03"
INC: Final = "04"
RETE_IVA: Final = "05"
RETE_RENTA: Final = "06"
RETE_ICA: Final = "07"
NO_TAX: Final = "ZZ"  # "No aplica": also what a tax without a scheme is recorded as
TAX_NAMES: Mapping[str, str] = MappingProxyType({
    IVA: "IVA",
    IC: "IC",
    ICA: "ICA",
    INC: "INC",
    RETE_IVA: "ReteIVA",
    RETE_RENTA: "ReteRenta",
    RETE_ICA: "ReteICA",
    NO_TAX: "No aplica",
})
# The taxes the CUFE formula covers, in its order (IVA, INC, ICA).
CUFE_TAXES: tuple[str, ...] = (IVA, INC, ICA)

# Identification schemes (`schemeName` of `cbc:CompanyID`, table 13.2.1).
ID_CC: Final = "13"  # cédula de ciudadanía
ID_NIT: Final = "31"
ID_SCHEME_NAMES: Mapping[str, str] = MappingProxyType({ID_CC: "Cédula de ciudadanía", ID_NIT: "NIT"})

# Environments (`cbc:ProfileExecutionID`).
PRODUCTION: Final = "1"
TESTING: Final = "2"
ENVIRONMENT_NAMES: Mapping[str, str] = MappingProxyType({PRODUCTION: "Producción", TESTING: "Pruebas"})

DIAN_NIT: Final = "800197268"  # DIAN's own NIT, the sender of every ApplicationResponse
