"""RADIAN events (ApplicationResponse about an invoice): codes, Spanish labels, order rules.

The codes and reasons are DIAN's (Anexo técnico RADIAN, Resolución 000085 de 2022). The order
rules are a pure function, so the same rules judge an event the company is about to send and
the stream of events received by mail:

- 032 (recibo del bien o servicio) needs 030 (acuse de recibo);
- 033 (aceptación expresa) needs 030 and 032;
- 031 (reclamo) needs 030; 031 and 033 exclude each other (a claimed invoice is not
  accepted, an accepted one can no longer be claimed);
- 034 (aceptación tácita, written by the issuer) needs 030 and 032 and excludes 031 and 033;
- no two events of one code for the same document.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

from tui_recepcion.errors import RecepcionError


class EventCode(StrEnum):
    """`cac:DocumentResponse/cac:Response/cbc:ResponseCode` of a RADIAN event."""

    ACUSE = "030"
    RECLAMO = "031"
    RECIBO_BIEN = "032"
    ACEPTACION_EXPRESA = "033"
    ACEPTACION_TACITA = "034"


# DIAN's names, as the Anexo writes them (what a person reads in the detail and in listings).
EVENT_NAMES: Mapping[str, str] = MappingProxyType({
    EventCode.ACUSE: "Acuse de recibo de la factura electrónica de venta",
    EventCode.RECLAMO: "Reclamo de la factura electrónica de venta",
    EventCode.RECIBO_BIEN: "Recibo del bien o prestación del servicio",
    EventCode.ACEPTACION_EXPRESA: "Aceptación expresa",
    EventCode.ACEPTACION_TACITA: "Aceptación tácita",
})

# Short labels for narrow table columns.
EVENT_LABELS: Mapping[str, str] = MappingProxyType({
    EventCode.ACUSE: "Acuse de recibo",
    EventCode.RECLAMO: "Reclamo",
    EventCode.RECIBO_BIEN: "Recibo del bien",
    EventCode.ACEPTACION_EXPRESA: "Aceptación expresa",
    EventCode.ACEPTACION_TACITA: "Aceptación tácita",
})


class ClaimReason(StrEnum):
    """Concepto de reclamo of a 031 (DIAN's table of claim concepts, 01–04)."""

    INCONSISTENCIAS = "01"
    NO_ENTREGADA_TOTAL = "02"
    NO_ENTREGADA_PARCIAL = "03"
    SERVICIO_NO_PRESTADO = "04"


CLAIM_REASONS: Mapping[str, str] = MappingProxyType({
    ClaimReason.INCONSISTENCIAS: "Documento con inconsistencias",
    ClaimReason.NO_ENTREGADA_TOTAL: "Mercancía no entregada totalmente",
    ClaimReason.NO_ENTREGADA_PARCIAL: "Mercancía no entregada parcialmente",
    ClaimReason.SERVICIO_NO_PRESTADO: "Servicio no prestado",
})


def event_name(code: str) -> str:
    """DIAN's name of an event code; "Evento 035" for a code outside 030–034."""
    return EVENT_NAMES.get(code, f"Evento {code}")


def event_label(code: str) -> str:
    return EVENT_LABELS.get(code, f"Evento {code}")


def claim_reason_name(code: str) -> str:
    return CLAIM_REASONS.get(code, f"Concepto {code}")


# --- order rules -------------------------------------------------------------------------------

# What must already be recorded before an event, and what must not be.
_NEEDS: Mapping[str, tuple[EventCode, ...]] = MappingProxyType({
    EventCode.ACUSE: (),
    EventCode.RECLAMO: (EventCode.ACUSE,),
    EventCode.RECIBO_BIEN: (EventCode.ACUSE,),
    EventCode.ACEPTACION_EXPRESA: (EventCode.ACUSE, EventCode.RECIBO_BIEN),
    EventCode.ACEPTACION_TACITA: (EventCode.ACUSE, EventCode.RECIBO_BIEN),
})
_EXCLUDED_BY: Mapping[str, tuple[EventCode, ...]] = MappingProxyType({
    EventCode.ACUSE: (),
    EventCode.RECLAMO: (EventCode.ACEPTACION_EXPRESA, EventCode.ACEPTACION_TACITA),
    EventCode.RECIBO_BIEN: (),
    EventCode.ACEPTACION_EXPRESA: (EventCode.RECLAMO, EventCode.ACEPTACION_TACITA),
    EventCode.ACEPTACION_TACITA: (EventCode.RECLAMO, EventCode.ACEPTACION_EXPRESA),
})

OrderProblem = Literal["codigo_desconocido", "falta_evento_previo", "excluido", "repetido", "motivo_reclamo"]


class EventOrderError(RecepcionError):
    """An event that the order rules do not allow now; `str()` is the Spanish reason.

    `problem` is stable (scripts and tests key on it); `code` is the refused event and
    `conflicting` the events that make it wrong (missing or already recorded).
    """

    def __init__(self, problem: OrderProblem, code: str, conflicting: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.problem: OrderProblem = problem
        self.code = code
        self.conflicting = conflicting

    def __repr__(self) -> str:
        return f"EventOrderError(problem={self.problem!r}, code={self.code!r}, conflicting={self.conflicting!r})"


def _names(codes: Iterable[str]) -> str:
    return " y ".join(f"{code} ({event_label(code).lower()})" for code in codes)


def check_next(recorded: Iterable[str], code: str, *, claim_reason: str | None = None) -> None:
    """Raise `EventOrderError` unless event `code` may follow the events already `recorded`.

    `claim_reason` is required for a 031 (01–04) and must be absent otherwise.
    """
    done = set(recorded)
    if code not in _NEEDS:
        raise EventOrderError(
            "codigo_desconocido", code, (),
            f"El código de evento {code!r} no es un evento RADIAN del adquirente o emisor (030 a 034).",
        )
    if code in done:
        raise EventOrderError(
            "repetido", code, (code,),
            f"El evento {_names([code])} ya está registrado para este documento; no se registra dos veces.",
        )
    excluded = tuple(other for other in _EXCLUDED_BY[code] if other in done)
    if excluded:
        raise EventOrderError(
            "excluido", code, excluded,
            f"No se puede registrar {_names([code])}: el documento ya tiene {_names(excluded)}, que lo excluye.",
        )
    missing = tuple(need for need in _NEEDS[code] if need not in done)
    if missing:
        raise EventOrderError(
            "falta_evento_previo", code, missing,
            f"No se puede registrar {_names([code])}: antes debe registrarse {_names(missing)}.",
        )
    if code == EventCode.RECLAMO and claim_reason not in CLAIM_REASONS:
        raise EventOrderError(
            "motivo_reclamo", code, (),
            "El reclamo (031) necesita un concepto de reclamo: 01 documento con inconsistencias, "
            "02 mercancía no entregada totalmente, 03 mercancía no entregada parcialmente o "
            "04 servicio no prestado.",
        )
    if code != EventCode.RECLAMO and claim_reason is not None:
        raise EventOrderError(
            "motivo_reclamo", code, (),
            f"Solo el reclamo (031) lleva concepto de reclamo; {_names([code])} no.",
        )


def allowed_next(recorded: Iterable[str]) -> tuple[EventCode, ...]:
    """The events that may follow `recorded`, in code order (a 031 still needs its reason)."""
    done = tuple(recorded)
    allowed: list[EventCode] = []
    for code in EventCode:
        try:
            check_next(done, code, claim_reason=ClaimReason.INCONSISTENCIAS if code == EventCode.RECLAMO else None)
        except EventOrderError:
            continue
        allowed.append(code)
    return tuple(allowed)


def order_violations(sequence: Iterable[str]) -> list[EventOrderError]:
    """Judge a stream of received events in the order they happened (never raises).

    Received events are facts: they are stored whatever their order; this says which of them
    broke the rules so the detail can show it. Unknown codes (DIAN notices) are ignored.
    """
    done: list[str] = []
    problems: list[EventOrderError] = []
    for code in sequence:
        if code not in _NEEDS:
            continue
        try:
            check_next(done, code, claim_reason=ClaimReason.INCONSISTENCIAS if code == EventCode.RECLAMO else None)
        except EventOrderError as problem:
            problems.append(problem)
        done.append(code)
    return problems


# --- the receiver's state of a document ----------------------------------------------------------


class RadianState(StrEnum):
    """Where a received document stands, from its events (the JSON `estado_radian`)."""

    SIN_EVENTOS = "sin_eventos"
    ACUSADO = "acusado"
    RECIBIDO = "recibido"
    RECLAMADO = "reclamado"
    ACEPTADO_EXPRESAMENTE = "aceptado_expresamente"
    ACEPTADO_TACITAMENTE = "aceptado_tacitamente"


STATE_LABELS: Mapping[str, str] = MappingProxyType({
    RadianState.SIN_EVENTOS: "Sin eventos",
    RadianState.ACUSADO: "Con acuse de recibo",
    RadianState.RECIBIDO: "Bien o servicio recibido",
    RadianState.RECLAMADO: "Reclamada",
    RadianState.ACEPTADO_EXPRESAMENTE: "Aceptada expresamente",
    RadianState.ACEPTADO_TACITAMENTE: "Aceptada tácitamente",
})

# States in which nothing more can happen to the document: acceptance is irrevocable (art. 773
# C. de Co.) and a claim ends the receiver's part.
FINAL_STATES: frozenset[RadianState] = frozenset({
    RadianState.RECLAMADO, RadianState.ACEPTADO_EXPRESAMENTE, RadianState.ACEPTADO_TACITAMENTE,
})


def radian_state(codes: Iterable[str]) -> RadianState:
    """The state a set of recorded events leaves a document in (order does not matter)."""
    done = set(codes)
    if EventCode.ACEPTACION_EXPRESA in done:
        return RadianState.ACEPTADO_EXPRESAMENTE
    if EventCode.RECLAMO in done:
        return RadianState.RECLAMADO
    if EventCode.ACEPTACION_TACITA in done:
        return RadianState.ACEPTADO_TACITAMENTE
    if EventCode.RECIBO_BIEN in done:
        return RadianState.RECIBIDO
    if EventCode.ACUSE in done:
        return RadianState.ACUSADO
    return RadianState.SIN_EVENTOS


def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state)


def claim_window_open(state: RadianState) -> bool:
    """True while the receiver can still claim (031) or accept: the deadline matters."""
    return state not in FINAL_STATES
