"""Dates as Colombians write them (DD/MM/AAAA) and as TOML stores them (AAAA-MM-DD).

The form and the messages show DD/MM/AAAA; config.toml keeps TOML dates. A date is
"already past" in the account's own time zone, not in the machine's or UTC.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from tui_recepcion.config.model import DEFAULT_TIMEZONE

_DAY_FIRST = re.compile(r"(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
EXAMPLE = "05/12/2026"


def parse_date(text: str) -> date:
    """DD/MM/AAAA (also D/M/AAAA, DD-MM-AAAA) or AAAA-MM-DD; ValueError (Spanish) otherwise."""
    written = text.strip()
    day_first = _DAY_FIRST.fullmatch(written)
    iso = _ISO.fullmatch(written)
    try:
        if day_first:
            return date(int(day_first[3]), int(day_first[2]), int(day_first[1]))
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
    except ValueError:
        raise ValueError(f"{written} no es una fecha válida: use DD/MM/AAAA, p. ej. {EXAMPLE}") from None
    shown = written if len(written) <= 40 else written[:40] + "…"
    raise ValueError(f"«{shown}» no es una fecha: use DD/MM/AAAA, p. ej. {EXAMPLE}")


def format_date(value: date) -> str:
    """05/12/2026: how every screen and message shows a date."""
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def today_in(timezone: str = DEFAULT_TIMEZONE) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def is_past(value: date, today: date | None = None, timezone: str = DEFAULT_TIMEZONE) -> bool:
    """True when `value` is before today (in `timezone`): an expiry date already gone by."""
    return value < (today or today_in(timezone))
