"""Typed events the engine emits while it works.

Each event goes to the caller's `emit` callback (the TUI turns it into a Textual message)
and to the store's event log, so a dashboard can follow a headless service on the same
machine. `to_payload`/`from_payload` are the log's JSON form; they carry no secret.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from tui_recepcion.vocabulary import MessageStatus

EngineState = Literal["inactivo", "conectando", "procesando", "esperando", "error"]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    kind: ClassVar[str] = "evento"
    account: str
    at: datetime = field(default_factory=_now)

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = _plain(self)
        payload.pop("account")
        return payload


def _plain(value: Any) -> Any:
    """Dataclasses as dicts, tuples as lists: `dataclasses.asdict` without its deep copy
    of every value, which made the event log a visible share of a pass's CPU."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: _plain(getattr(value, name)) for name in _field_names(type(value))}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged(Event):
    """The engine's state; `detail` is for people, the typed fields are for programs."""

    kind: ClassVar[str] = "estado"
    state: EngineState
    detail: str = ""
    next_run: datetime | None = None  # when waiting (or backing off): the next pass


@dataclass(frozen=True, slots=True, kw_only=True)
class PassStarted(Event):
    kind: ClassVar[str] = "pasada_iniciada"
    pending: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentSummary:
    """What the dashboard's table shows of one stored document."""

    cufe: str
    tipo: str
    numero: str
    nit_emisor: str
    nombre_emisor: str
    total: str  # a decimal string, never a float
    duplicated: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageHandled(Event):
    """A message's outcome was committed to the store (before it is moved or forwarded)."""

    kind: ClassVar[str] = "mensaje"
    source_key: str
    message_id: str | None
    subject: str | None
    status: MessageStatus
    reason: str | None
    reason_detail: str | None
    destination: str
    documents: tuple[DocumentSummary, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagesDisposed(Event):
    """Messages left the inbox: moved to a folder, or forwarded and deleted."""

    kind: ClassVar[str] = "dispuestos"
    count: int
    destination: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageKept(Event):
    """A message stays on the server on purpose (POP3: the backup relay refused it for good);
    later passes skip it, and the alert tells the technician what to do."""

    kind: ClassVar[str] = "retenido"
    source_key: str
    subject: str | None
    reason: str
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PassFinished(Event):
    kind: ClassVar[str] = "pasada_terminada"
    processed: int
    failed: int
    duplicates: int
    remaining: int
    seconds: float
    cancelled: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineProblem(Event):
    """Something stopped or interrupted processing; `transient` problems are retried."""

    kind: ClassVar[str] = "problema"
    code: str
    message: str
    transient: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertSent(Event):
    kind: ClassVar[str] = "alerta"
    alert: str
    recipient: str
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigApplied(Event):
    """The service (`procesar`, process `pid`) runs this account with the config.toml whose
    text hashes to `version`; the dashboard compares it with the file's."""

    kind: ClassVar[str] = "configuracion"
    version: str
    path: str
    pid: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigRejected(Event):
    """A changed config.toml (`version`) was invalid; the service keeps the one it runs."""

    kind: ClassVar[str] = "configuracion_rechazada"
    version: str
    message: str


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        StateChanged, PassStarted, MessageHandled, MessageKept, MessagesDisposed, PassFinished, EngineProblem, AlertSent,
        ConfigApplied, ConfigRejected,
    )
}


def event_from_payload(kind: str, account: str, payload: dict[str, Any]) -> Event | None:
    """Rebuild an event from the log; None for kinds this version does not know."""
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        return None
    values = dict(payload)
    values["account"] = account
    values["at"] = datetime.fromisoformat(values["at"]) if "at" in values else _now()
    if values.get("next_run") is not None:  # absent from logs written before the field existed
        values["next_run"] = datetime.fromisoformat(values["next_run"])
    if cls is MessageHandled:
        values["documents"] = tuple(DocumentSummary(**document) for document in values.get("documents", ()))
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{key: value for key, value in values.items() if key in known})
