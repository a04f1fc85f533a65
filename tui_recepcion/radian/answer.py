"""DIAN's answer (`DianResponse`) to SendEventUpdateStatus and GetStatusEvent, as plain facts.

- accepted: `IsValid` true (notifications may come along, e.g. «Regla: AAH17, Notificación: …»);
- already registered: a rejection whose rules include «Regla: 90» («documento procesado
  anteriormente»): the event is at DIAN, so for us it is registered, not failed;
- rejected: the other rules («Regla: CODE, Rechazo: mensaje»), kept with DIAN's Spanish words.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from tui_recepcion.dian import xml as safe_xml
from tui_recepcion.radian.problems import RadianError

Outcome = Literal["aceptado", "rechazado", "ya_registrado"]
_RULE = re.compile(r"^\s*Regla:\s*([A-Za-z0-9_.-]+)\s*,\s*(Rechazo|Notificaci[oó]n)?\s*:?\s*(.*)$", re.DOTALL)
_RULE_90 = re.compile(r"Regla:\s*90\b", re.IGNORECASE)
MAX_ANSWER_XML = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    kind: str  # "Rechazo" | "Notificación" | "" (DIAN did not say)
    message: str

    def line(self) -> str:
        kind = f"{self.kind}: " if self.kind else ""
        return f"Regla {self.code}, {kind}{self.message}"


@dataclass(frozen=True, slots=True)
class DianAnswer:
    is_valid: bool
    status_code: str
    status_description: str
    status_message: str
    rules: tuple[Rule, ...]
    document_key: str | None = None
    xml: bytes | None = None  # XmlBase64Bytes decoded: DIAN's ApplicationResponse

    @property
    def outcome(self) -> Outcome:
        if self.is_valid:
            return "aceptado"
        if any(rule.code == "90" for rule in self.rules) or _RULE_90.search(self.status_description):
            return "ya_registrado"
        return "rechazado"

    def summary(self) -> str:
        """One Spanish paragraph of what DIAN said (status, then every rule)."""
        head = " ".join(part for part in (self.status_description, self.status_message) if part) or "(sin descripción)"
        lines = [f"DIAN ({self.status_code or 'sin código'}): {head}"]
        lines += [f"  {rule.line()}" for rule in self.rules]
        return "\n".join(lines)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def parse_rules(messages: Iterable[str]) -> tuple[Rule, ...]:
    rules = []
    for message in messages:
        match = _RULE.match(message or "")
        if match:
            kind = match[2] or ""
            rules.append(Rule(match[1], "Notificación" if kind.startswith("Notific") else kind, " ".join(match[3].split())))
        elif message and message.strip():
            rules.append(Rule("", "", " ".join(message.split())))
    return tuple(rules)


def answer_from(result: Any) -> DianAnswer:
    """A zeep `DianResponse` object (or a mapping with its fields) as a DianAnswer."""
    def field(name: str) -> Any:
        return result.get(name) if isinstance(result, dict) else getattr(result, name, None)

    if result is None:
        raise RadianError("La DIAN respondió sin resultado (respuesta vacía).", transient=True)
    errors = field("ErrorMessage")
    messages = errors.get("string") if isinstance(errors, dict) else getattr(errors, "string", None)
    raw = field("XmlBase64Bytes")
    if isinstance(raw, str):
        raw = base64.b64decode(raw)
    return DianAnswer(
        is_valid=bool(field("IsValid")),
        status_code=_text(field("StatusCode")),
        status_description=_text(field("StatusDescription")),
        status_message=_text(field("StatusMessage")),
        rules=parse_rules(messages or ()),
        document_key=_text(field("XmlDocumentKey")) or None,
        xml=raw or None,
    )


_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"


def registered_codes(answer: DianAnswer) -> frozenset[str]:
    """The event codes DIAN says a document has (GetStatusEvent's ApplicationResponse)."""
    if not answer.xml:
        return frozenset()
    try:
        root = safe_xml.parse(answer.xml, max_bytes=MAX_ANSWER_XML)
    except safe_xml.XmlRejected:
        raise RadianError("La respuesta de la DIAN a la consulta de eventos no es un XML válido.", transient=True) from None
    codes = root.findall(f".//{{{_CAC}}}DocumentResponse/{{{_CAC}}}Response/{{{_CBC}}}ResponseCode")
    return frozenset(code.text.strip() for code in codes if code.text and code.text.strip())
