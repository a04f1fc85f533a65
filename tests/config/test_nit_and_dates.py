"""The NIT the Colombian way and dates as Colombians write them (issue 14, scenarios 4 and 9)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.config.test_config import problems_of, with_account_lines
from tui_recepcion.config import (
    NitError,
    ParsedNit,
    format_date,
    format_nit,
    is_past,
    parse_config,
    parse_date,
    parse_nit,
)
from tui_recepcion.dian.nit import check_digit


@pytest.mark.parametrize("written", ["901.234.567-7", "901234567-7", " 901 234 567 - 7 ", "901.234.567"])
def test_a_nit_is_read_as_written_on_the_rut(written: str) -> None:
    parsed = parse_nit(written)
    assert parsed.nit == "901234567"
    assert parsed.dv == ("7" if "-" in written else None)


def test_a_wrong_check_digit_says_which_one_was_expected() -> None:
    with pytest.raises(NitError) as wrong:
        parse_nit("901.234.567-8")
    assert wrong.value.expected == "7"
    assert str(wrong.value) == "el dígito de verificación del NIT 901.234.567 es 7, no 8 (revise el RUT)"


@pytest.mark.parametrize("written", ["", "abc", "9-0-1", "12", "1234567890123", "901234567-"])
def test_what_is_not_a_nit_is_refused_in_spanish(written: str) -> None:
    with pytest.raises(NitError) as refused:
        parse_nit(written)
    assert "None" not in str(refused.value) and str(refused.value)


def test_check_digits_of_known_nits() -> None:
    assert check_digit("800197268") == "4"  # DIAN's own NIT
    assert check_digit("901234567") == "7"
    assert format_nit("901234567", "7") == "901.234.567-7"
    assert ParsedNit("901234567", "7") == parse_nit(format_nit("901234567", "7"))


def test_the_file_keeps_the_nit_and_its_check_digit_apart() -> None:
    config, problems = parse_config(with_account_lines('nit_receptor = "901.234.567"', 'dv_receptor = "7"'))
    assert config is not None, problems
    account = config.accounts["principal"]
    assert (account.receiver_nit, account.receiver_check_digit) == ("901234567", "7")


def test_validar_refuses_a_wrong_check_digit_and_a_glued_one() -> None:
    wrong = problems_of(with_account_lines('nit_receptor = "901234567"', 'dv_receptor = "8"'))
    assert "es 7, no 8" in wrong["cuentas.principal.dv_receptor"][1]
    glued = problems_of(with_account_lines('nit_receptor = "901.234.567-7"'))
    assert 'nit_receptor = "901234567" y dv_receptor = "7"' in glued["cuentas.principal.nit_receptor"][1]


@pytest.mark.parametrize("written", ["05/12/2026", "5/12/2026", "2026-12-05", " 05-12-2026 "])
def test_dates_in_both_forms(written: str) -> None:
    assert parse_date(written) == date(2026, 12, 5)


@pytest.mark.parametrize("written", ["31/02/2026", "12/2026", "mañana", "2026-13-01"])
def test_bad_dates_are_refused_with_the_expected_form(written: str) -> None:
    with pytest.raises(ValueError, match="DD/MM/AAAA"):
        parse_date(written)


def test_dates_are_shown_day_first_and_past_is_in_the_accounts_zone() -> None:
    assert format_date(date(2026, 12, 5)) == "05/12/2026"
    assert is_past(date(2026, 12, 4), today=date(2026, 12, 5))
    assert not is_past(date(2026, 12, 5), today=date(2026, 12, 5))


def test_the_file_accepts_a_day_first_expiry_date() -> None:
    config, problems = parse_config(with_account_lines('fecha_expiracion = "05/12/2026"', 'correo_notificacion = "t@empresa.co"'))
    assert config is not None, problems
    assert config.accounts["principal"].password_expiry == date(2026, 12, 5)


@given(st.text(max_size=60))
def test_any_text_is_a_nit_or_a_spanish_refusal(text: str) -> None:
    try:
        parsed = parse_nit(text)
    except NitError as error:
        # The refusal quotes what was typed; any other «None» would be the program's, not the user's.
        assert str(error) and ("None" in text or "None" not in str(error))
    else:
        assert parsed.nit.isdigit() and (parsed.dv is None or parsed.dv == check_digit(parsed.nit))


@given(st.text(max_size=40))
def test_any_text_is_a_date_or_a_spanish_refusal(text: str) -> None:
    try:
        parse_date(text)
    except ValueError as error:
        assert "DD/MM/AAAA" in str(error)


@given(st.from_regex(r"[0-9]{9}", fullmatch=True))
def test_a_nit_written_with_its_own_check_digit_is_always_accepted(nit: str) -> None:
    assert parse_nit(format_nit(nit, check_digit(nit))) == ParsedNit(nit, check_digit(nit))
