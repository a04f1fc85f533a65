"""The DIAN email subject, `NIT;Nombre;Número;Código tipo;Nombre comercial[;Línea de negocio]`.

It is only a hint: senders add spaces, use spaces instead of `;`, or drop fields. The XML
decides; a disagreement is recorded, never fatal.
"""

from __future__ import annotations

import re

from tui_recepcion.dian.codes import DOCUMENT_TYPES
from tui_recepcion.dian.model import Document, HintMismatch, SubjectHint
from tui_recepcion.dian.nit import split_nit

_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|rv|fw|fwd|tr|enc|rif)\s*:\s*)+", re.IGNORECASE)
_NIT = re.compile(r"^\d[\d.]{4,16}(?:-\d)?$")


def parse_subject(subject: str | None) -> SubjectHint | None:
    """The hint in a DIAN subject, or None when the subject does not follow the format."""
    if not subject:
        return None
    text = _REPLY_PREFIX.sub("", subject).strip()
    if ";" in text:
        fields = [field.strip() or None for field in text.split(";")]
        fields += [None] * (6 - len(fields))
        nit = _nit(fields[0])
        if nit is None:
            return None
        return SubjectHint(
            nit=nit,
            name=fields[1],
            number=fields[2],
            tipo=_tipo(fields[3]),
            trade_name=fields[4],
            business_line=fields[5],
        )
    return _parse_space_separated(text.split())


def _parse_space_separated(tokens: list[str]) -> SubjectHint | None:
    """`900123456 ACME SAS FE123 01 ACME`: the type code is the anchor, the token before
    it the number, the tokens between NIT and number the name."""
    if not tokens:
        return None
    nit = _nit(tokens[0])
    if nit is None:
        return None
    for index in range(2, len(tokens)):
        if tokens[index] in DOCUMENT_TYPES and any(ch.isdigit() for ch in tokens[index - 1]):
            return SubjectHint(
                nit=nit,
                name=" ".join(tokens[1 : index - 1]) or None,
                number=tokens[index - 1],
                tipo=tokens[index],
                trade_name=" ".join(tokens[index + 1 :]) or None,
            )
    return SubjectHint(nit=nit, name=" ".join(tokens[1:]) or None)


def compare(hint: SubjectHint | None, document: Document) -> tuple[HintMismatch, ...]:
    """Fields where the subject disagrees with the document."""
    if hint is None:
        return ()
    mismatches = []
    if hint.nit and hint.nit != document.supplier.nit:
        mismatches.append(HintMismatch("nit_emisor", hint.nit, document.supplier.nit))
    if hint.number and _key(hint.number) != _key(document.number):
        mismatches.append(HintMismatch("numero", hint.number, document.number))
    if hint.tipo and hint.tipo != document.tipo:
        mismatches.append(HintMismatch("tipo", hint.tipo, document.tipo))
    return tuple(mismatches)


def _nit(value: str | None) -> str | None:
    if not value or not _NIT.match(value.replace(" ", "")):
        return None
    return split_nit(value)[0]


def _tipo(value: str | None) -> str | None:
    if value and value.isdigit() and len(value) <= 3:
        return value.zfill(2)
    return value


def _key(number: str) -> str:
    return "".join(number.split()).upper()
