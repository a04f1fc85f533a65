"""The NIT and its check digit (dígito de verificación)."""

from __future__ import annotations

import re

# DIAN's weights for the módulo-11 check digit, from the NIT's last digit leftwards.
_WEIGHTS = (3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71)


def check_digit(nit: str) -> str:
    """DIAN's módulo-11 check digit of a NIT given as digits only: "800197268" → "4"."""
    if not nit.isdigit() or len(nit) > len(_WEIGHTS):
        raise ValueError(f"not a NIT: {nit!r}")
    total = sum(int(digit) * weight for digit, weight in zip(reversed(nit), _WEIGHTS, strict=False))
    remainder = total % 11
    return str(remainder if remainder < 2 else 11 - remainder)


def split_nit(value: str) -> tuple[str, str | None]:
    """`"900.123.456-7"` → `("900123456", "7")`; anything else is kept, minus spaces and dots."""
    compact = re.sub(r"[\s.]", "", value)
    match = re.fullmatch(r"(\d+)-(\d)", compact)
    if match:
        return match.group(1), match.group(2)
    return compact, None
