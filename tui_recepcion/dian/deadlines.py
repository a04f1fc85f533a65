"""The deadline to claim (031) a received invoice: three business days in Colombia.

Art. 773 num. 3 C. de Co. (as changed by Ley 1231 de 2008 and Ley 2010 de 2019) and Decreto
1154 de 2020 (art. 2.2.2.5.4): an invoice the buyer does not claim against within three
business days is tacitly and irrevocably accepted. How the days are counted:

- the day that starts the clock does not count (art. 829 num. 2 C. de Co.);
- days of a legal term are business days (art. 829 par. 1 C. de Co.): Sundays and Colombian
  public holidays are not (Ley 51 de 1983 moves most holidays to the next Monday; the
  `holidays` package has Colombia's calendar, with Easter's movable feasts);
- Saturdays: Colombian law excludes from legal terms only holidays and days of vacancy (art.
  62 Ley 4 de 1913, Código de Régimen Político y Municipal), and a Saturday is neither, so by
  default a Saturday counts as a business day. Commerce and DIAN's platform work on
  Saturdays. `saturday_is_business_day=False` (config `sabado_habil = false`) is for those
  whose counsel reads it otherwise.

What starts the clock differs between sources: the law speaks of the reception of the
invoice (art. 773) and of the goods or service (Decreto 1154, and DIAN's rules DC24c/DC24e
count from the 032 event); some providers count from the issue date. The setting
`plazo_reclamo_desde` is "recepcion" (default: the day the document reached the mailbox)
or "emision" (the issue date).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import holidays

from tui_recepcion.config import General
from tui_recepcion.dian.radian import EventCode, RadianState, claim_window_open, radian_state

CLAIM_BUSINESS_DAYS = 3
ClockStart = Literal["recepcion", "emision"]
CLOCK_STARTS: tuple[ClockStart, ...] = ("recepcion", "emision")
DEFAULT_CLOCK_START: ClockStart = "recepcion"
_EVENT_CODES = frozenset(code.value for code in EventCode)


@functools.lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("CO", years=year))


def is_business_day(day: date, *, saturday_is_business_day: bool = True) -> bool:
    if day.weekday() == 6 or (day.weekday() == 5 and not saturday_is_business_day):
        return False
    return day not in _holidays(day.year)


def add_business_days(start: date, days: int, *, saturday_is_business_day: bool = True) -> date:
    """The `days`-th business day after `start` (`start` itself never counts)."""
    current, counted = start, 0
    while counted < days:
        current += timedelta(days=1)
        if is_business_day(current, saturday_is_business_day=saturday_is_business_day):
            counted += 1
    return current


def next_business_day(day: date, *, saturday_is_business_day: bool = True) -> date:
    return add_business_days(day, 1, saturday_is_business_day=saturday_is_business_day)


def claim_deadline(start: date, *, saturday_is_business_day: bool = True) -> date:
    """The last day to claim a document whose clock started on `start`."""
    return add_business_days(start, CLAIM_BUSINESS_DAYS, saturday_is_business_day=saturday_is_business_day)


def business_days_left(start: date, deadline: date, today: date, *, saturday_is_business_day: bool = True) -> int:
    """Business days still available to claim, today included: 3 on the day the clock starts,
    1 on the deadline itself, 0 once it has passed."""
    day, left = max(today, start + timedelta(days=1)), 0
    while day <= deadline:
        if is_business_day(day, saturday_is_business_day=saturday_is_business_day):
            left += 1
        day += timedelta(days=1)
    return left


@dataclass(frozen=True, slots=True)
class ClaimRules:
    """How the deadline is counted here (config: `plazo_reclamo_desde`, `sabado_habil`)."""

    clock_start: ClockStart = DEFAULT_CLOCK_START
    saturday_is_business_day: bool = True


def rules_for(general: General) -> ClaimRules:
    """The rules the configuration's [general] table sets."""
    start: ClockStart = "emision" if general.claim_clock_start == "emision" else "recepcion"
    return ClaimRules(start, general.saturday_business_day)


@dataclass(frozen=True, slots=True)
class ClaimStatus:
    """The receiver's standing on one document: its RADIAN state and, while it can still
    claim or accept, the deadline."""

    state: RadianState
    deadline: date | None
    """None once the state is final (claimed or accepted)."""
    days_left: int = 0

    @property
    def open(self) -> bool:
        return self.deadline is not None and self.days_left > 0

    @property
    def expired(self) -> bool:
        """The window closed without a claim or an express acceptance: tacitly accepted by law
        (the issuer may still have to register the 034)."""
        return self.deadline is not None and self.days_left == 0

    def closes_by(self, day: date) -> bool:
        return self.open and self.deadline is not None and self.deadline <= day

    def phrase(self) -> str:
        """«quedan 2 días hábiles para reclamar», for the TUI and the CLI."""
        if self.deadline is None:
            return ""
        if self.days_left == 0:
            return "plazo para reclamar vencido"
        if self.days_left == 1:
            return "queda 1 día hábil para reclamar"
        return f"quedan {self.days_left} días hábiles para reclamar"

    def next_step(self) -> str:
        """What the company can do now, in words."""
        if self.state is RadianState.SIN_EVENTOS:
            return "falta el acuse de recibo (030)"
        if self.state is RadianState.ACUSADO:
            return "falta el recibo del bien o servicio (032), o reclamar (031)"
        if self.state is RadianState.RECIBIDO:
            return "aceptar (033) o reclamar (031)"
        return ""


def claim_status(codes: Iterable[str], *, received: date, issued: date, today: date,
                 clock_start: ClockStart = DEFAULT_CLOCK_START,
                 saturday_is_business_day: bool = True) -> ClaimStatus:
    """State and deadline from the events that count (030–034 DIAN did not reject)."""
    state = radian_state(code for code in codes if code in _EVENT_CODES)
    if not claim_window_open(state):
        return ClaimStatus(state, None)
    start = issued if clock_start == "emision" else received
    deadline = claim_deadline(start, saturday_is_business_day=saturday_is_business_day)
    left = business_days_left(start, deadline, today, saturday_is_business_day=saturday_is_business_day)
    return ClaimStatus(state, deadline, left)
