"""The NIT as Colombians write it, and DIAN's check digit (dígito de verificación, DV).

A technician copies the NIT from the RUT: «901.234.567-7», «901234567-7», «901234567», with
or without spaces. The configuration keeps the NIT (digits only, `nit_receptor`) and its check
digit (`dv_receptor`) apart, so a document's NIT is compared without the digit. The check
digit is DIAN's módulo 11 with its published weights; it lives here, below `dian`, because
the configuration verifies it too (`dian.nit` re-exports it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# DIAN's weights for the módulo-11 check digit, from the NIT's last digit leftwards.
_WEIGHTS = (3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71)
MIN_NIT_DIGITS = 5
MAX_NIT_DIGITS = 12
# «901.234.567-7», «901 234 567 - 8», «901234567»: groups of digits, one optional «-DV».
_WRITTEN = re.compile(r"(?P<nit>[0-9][0-9. ]*?)\s*(?:-\s*(?P<dv>[0-9]))?")
EXAMPLE = "901.234.567-7"


class NitError(ValueError):
    """A NIT that cannot be read, or whose check digit is wrong; the message is Spanish.

    `expected` is the right check digit when the one written is wrong.
    """

    def __init__(self, message: str, expected: str | None = None) -> None:
        super().__init__(message)
        self.expected = expected


@dataclass(frozen=True, slots=True)
class ParsedNit:
    nit: str  # digits only, without the check digit
    dv: str | None  # the check digit as written, verified; None when none was written


def check_digit(nit: str) -> str:
    """DIAN's módulo-11 check digit of a NIT given as digits only: "800197268" → "4"."""
    if not nit.isdigit() or len(nit) > len(_WEIGHTS):
        raise ValueError(f"not a NIT: {nit!r}")
    total = sum(int(digit) * weight for digit, weight in zip(reversed(nit), _WEIGHTS, strict=False))
    remainder = total % 11
    return str(remainder if remainder < 2 else 11 - remainder)


def _shown(text: str, limit: int = 40) -> str:
    text = "".join(char if char.isprintable() else "?" for char in text)
    return f"«{text if len(text) <= limit else text[:limit] + '…'}»"


def wrong_digit_message(nit: str, written: str) -> str:
    return f"el dígito de verificación del NIT {format_nit(nit)} es {check_digit(nit)}, no {written} (revise el RUT)"


def verify_check_digit(nit: str, dv: str) -> None:
    """NitError saying which digit was expected when `dv` is not `nit`'s check digit."""
    expected = check_digit(nit)
    if dv != expected:
        raise NitError(wrong_digit_message(nit, dv), expected)


def parse_nit(text: str) -> ParsedNit:
    """The NIT and check digit written in `text` (dots, spaces, «-DV» allowed), verified."""
    written = text.strip()
    if not written:
        raise NitError("no puede estar vacío")
    match = _WRITTEN.fullmatch(written)
    digits = re.sub(r"[. ]", "", match["nit"]) if match else ""
    if not match or not digits.isdigit():
        raise NitError(f"{_shown(written)} no es un NIT: escriba sus números, p. ej. {EXAMPLE}")
    if not MIN_NIT_DIGITS <= len(digits) <= MAX_NIT_DIGITS:
        raise NitError(f"{_shown(written)} no es un NIT: tiene {len(digits)} cifras (se esperan entre "
                       f"{MIN_NIT_DIGITS} y {MAX_NIT_DIGITS} sin el dígito de verificación)")
    dv = match["dv"]
    if dv is not None:
        verify_check_digit(digits, dv)
    return ParsedNit(digits, dv)


def format_nit(nit: str, dv: str | None = None) -> str:
    """"901234567", "7" → "901.234.567-7" (thousands dots, as on the RUT)."""
    grouped = f"{int(nit):,}".replace(",", ".") if nit.isdigit() else nit
    if nit.isdigit() and nit.startswith("0"):
        grouped = nit  # leading zeros would vanish in the number
    return f"{grouped}-{dv}" if dv is not None else grouped
