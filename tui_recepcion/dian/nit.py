"""The NIT and its check digit (dígito de verificación).

The check digit itself is computed in `config.nit` (the configuration verifies it too, and
sits below `dian`); this module adds what documents need.
"""

from __future__ import annotations

import re

from tui_recepcion.config.nit import check_digit as check_digit  # re-exported: dian's callers import it here
from tui_recepcion.config.nit import parse_nit as parse_nit


def split_nit(value: str) -> tuple[str, str | None]:
    """`"900.123.456-7"` → `("900123456", "7")`; anything else is kept, minus spaces and dots."""
    compact = re.sub(r"[\s.]", "", value)
    match = re.fullmatch(r"(\d+)-(\d)", compact)
    if match:
        return match.group(1), match.group(2)
    return compact, None
