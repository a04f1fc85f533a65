"""The claim deadline: three Colombian business days, across holidays and year ends."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui_recepcion.dian.deadlines import (
    business_days_left,
    claim_deadline,
    claim_status,
    is_business_day,
    next_business_day,
)
from tui_recepcion.dian.radian import RadianState


def test_colombian_holidays_and_sundays_are_not_business_days() -> None:
    assert not is_business_day(date(2026, 3, 23))  # San José, moved to Monday (Ley 51 de 1983)
    assert not is_business_day(date(2026, 4, 3))  # Viernes Santo
    assert not is_business_day(date(2026, 12, 25))
    assert not is_business_day(date(2027, 1, 1))
    assert not is_business_day(date(2026, 3, 22))  # a Sunday
    assert is_business_day(date(2026, 3, 21))  # a Saturday counts by default (art. 62 Ley 4 de 1913)
    assert not is_business_day(date(2026, 3, 21), saturday_is_business_day=False)
    assert is_business_day(date(2026, 3, 24))


def test_received_the_friday_before_a_monday_holiday() -> None:
    friday = date(2026, 3, 20)  # Monday 23 is San José
    # Saturday 21 (1), Sunday and the holiday skipped, Tuesday 24 (2), Wednesday 25 (3).
    assert claim_deadline(friday) == date(2026, 3, 25)
    # Without Saturdays: Tuesday 24, Wednesday 25, Thursday 26.
    assert claim_deadline(friday, saturday_is_business_day=False) == date(2026, 3, 26)
    assert next_business_day(date(2026, 3, 22)) == date(2026, 3, 24)


@pytest.mark.parametrize(
    ("start", "deadline"),
    [
        (date(2026, 12, 30), date(2027, 1, 4)),  # 31 Dec, New Year skipped, Saturday 2, Monday 4
        (date(2025, 12, 31), date(2026, 1, 5)),  # Friday 2, Saturday 3, Monday 5
        (date(2026, 12, 24), date(2026, 12, 29)),  # Christmas skipped: Saturday 26, Monday 28, Tuesday 29
        (date(2026, 1, 9), date(2026, 1, 14)),  # Saturday 10, Monday 12 Reyes skipped, 13, 14
    ],
)
def test_year_ends_and_holidays(start: date, deadline: date) -> None:
    assert claim_deadline(start) == deadline


def test_days_left_counts_today_and_reaches_zero_after_the_deadline() -> None:
    friday = date(2026, 3, 20)
    deadline = claim_deadline(friday)
    assert business_days_left(friday, deadline, friday) == 3
    assert business_days_left(friday, deadline, date(2026, 3, 23)) == 2  # on the holiday: Tue and Wed left
    assert business_days_left(friday, deadline, deadline) == 1
    assert business_days_left(friday, deadline, deadline + timedelta(days=1)) == 0


def test_claim_status_phrases_and_settings() -> None:
    received, issued = date(2026, 3, 20), date(2026, 3, 18)
    status = claim_status([], received=received, issued=issued, today=date(2026, 3, 24))
    assert status.state is RadianState.SIN_EVENTOS
    assert status.deadline == date(2026, 3, 25)
    assert status.phrase() == "quedan 2 días hábiles para reclamar"
    assert status.next_step() == "falta el acuse de recibo (030)"
    by_issue = claim_status([], received=received, issued=issued, today=date(2026, 3, 24), clock_start="emision")
    assert by_issue.deadline == date(2026, 3, 21)
    assert by_issue.expired and by_issue.phrase() == "plazo para reclamar vencido"
    last = claim_status(["030"], received=received, issued=issued, today=date(2026, 3, 25))
    assert last.phrase() == "queda 1 día hábil para reclamar" and last.closes_by(date(2026, 3, 25))


def test_final_states_have_no_deadline_and_dian_notices_do_not_count() -> None:
    accepted = claim_status(["030", "032", "033"], received=date(2026, 3, 20), issued=date(2026, 3, 20),
                            today=date(2026, 3, 21))
    assert accepted.state is RadianState.ACEPTADO_EXPRESAMENTE and accepted.deadline is None
    notice = claim_status(["02"], received=date(2026, 3, 20), issued=date(2026, 3, 20), today=date(2026, 3, 21))
    assert notice.state is RadianState.SIN_EVENTOS


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)), st.booleans())
def test_deadline_is_three_business_days_later(start: date, saturdays: bool) -> None:
    deadline = claim_deadline(start, saturday_is_business_day=saturdays)
    assert is_business_day(deadline, saturday_is_business_day=saturdays)
    between = [start + timedelta(days=n) for n in range(1, (deadline - start).days + 1)]
    assert sum(is_business_day(day, saturday_is_business_day=saturdays) for day in between) == 3
    assert (deadline - start).days <= 9
