"""RADIAN order rules and states: the pure function both reception and sending rely on."""

from __future__ import annotations

import pytest

from tui_recepcion.dian.radian import (
    CLAIM_REASONS,
    EVENT_NAMES,
    EventCode,
    EventOrderError,
    RadianState,
    allowed_next,
    check_next,
    claim_window_open,
    order_violations,
    radian_state,
)
from tui_recepcion.errors import RecepcionError


def test_codes_and_reasons_are_dians() -> None:
    assert [code.value for code in EventCode] == ["030", "031", "032", "033", "034"]
    assert set(EVENT_NAMES) == {code.value for code in EventCode}
    assert CLAIM_REASONS == {
        "01": "Documento con inconsistencias",
        "02": "Mercancía no entregada totalmente",
        "03": "Mercancía no entregada parcialmente",
        "04": "Servicio no prestado",
    }


@pytest.mark.parametrize(
    ("recorded", "code", "reason"),
    [
        ((), "030", None),
        (("030",), "032", None),
        (("030",), "031", "02"),
        (("030", "032"), "031", "04"),
        (("030", "032"), "033", None),
        (("030", "032"), "034", None),
    ],
)
def test_allowed_sequences(recorded: tuple[str, ...], code: str, reason: str | None) -> None:
    check_next(recorded, code, claim_reason=reason)


@pytest.mark.parametrize(
    ("recorded", "code", "reason", "problem", "conflicting"),
    [
        ((), "032", None, "falta_evento_previo", ("030",)),
        (("030",), "033", None, "falta_evento_previo", ("032",)),
        ((), "033", None, "falta_evento_previo", ("030", "032")),
        ((), "031", "01", "falta_evento_previo", ("030",)),
        (("030", "032", "033"), "031", "01", "excluido", ("033",)),
        (("030", "031"), "033", None, "excluido", ("031",)),
        (("030", "032", "031"), "034", None, "excluido", ("031",)),
        (("030", "032", "034"), "031", "01", "excluido", ("034",)),
        (("030",), "030", None, "repetido", ("030",)),
        (("030", "031"), "031", "01", "repetido", ("031",)),
        (("030",), "031", None, "motivo_reclamo", ()),
        (("030",), "031", "05", "motivo_reclamo", ()),
        ((), "030", "01", "motivo_reclamo", ()),
        ((), "035", None, "codigo_desconocido", ()),
    ],
)
def test_refused_sequences_say_why_in_spanish(
    recorded: tuple[str, ...], code: str, reason: str | None, problem: str, conflicting: tuple[str, ...]
) -> None:
    with pytest.raises(EventOrderError) as caught:
        check_next(recorded, code, claim_reason=reason)
    assert caught.value.problem == problem
    assert caught.value.code == code
    assert caught.value.conflicting == conflicting
    assert isinstance(caught.value, RecepcionError)
    message = str(caught.value)
    assert code in message or problem == "motivo_reclamo"
    assert "debe" in message or "ya" in message or "concepto" in message or "no es" in message


def test_033_before_032_and_031_after_033_are_refused() -> None:
    with pytest.raises(EventOrderError, match="antes debe registrarse 032"):
        check_next(["030"], "033")
    with pytest.raises(EventOrderError, match="ya tiene 033"):
        check_next(["030", "032", "033"], "031", claim_reason="01")


def test_allowed_next_follows_the_rules() -> None:
    assert allowed_next([]) == (EventCode.ACUSE,)
    assert allowed_next(["030"]) == (EventCode.RECLAMO, EventCode.RECIBO_BIEN)
    assert allowed_next(["030", "032"]) == (EventCode.RECLAMO, EventCode.ACEPTACION_EXPRESA, EventCode.ACEPTACION_TACITA)
    assert allowed_next(["030", "032", "033"]) == ()
    assert allowed_next(["030", "031"]) == (EventCode.RECIBO_BIEN,)


def test_order_violations_judges_a_received_stream_without_raising() -> None:
    assert order_violations(["030", "032", "033"]) == []
    problems = order_violations(["033", "030", "02", "030"])  # "02" is DIAN's verdict, not an event
    assert [(p.problem, p.code) for p in problems] == [("falta_evento_previo", "033"), ("repetido", "030")]


@pytest.mark.parametrize(
    ("codes", "state"),
    [
        ((), RadianState.SIN_EVENTOS),
        (("030",), RadianState.ACUSADO),
        (("030", "032"), RadianState.RECIBIDO),
        (("030", "031"), RadianState.RECLAMADO),
        (("030", "032", "031"), RadianState.RECLAMADO),
        (("032", "030", "033"), RadianState.ACEPTADO_EXPRESAMENTE),
        (("030", "032", "034"), RadianState.ACEPTADO_TACITAMENTE),
    ],
)
def test_state_from_events(codes: tuple[str, ...], state: RadianState) -> None:
    assert radian_state(codes) is state
    assert claim_window_open(state) == (state in {RadianState.SIN_EVENTOS, RadianState.ACUSADO, RadianState.RECIBIDO})
