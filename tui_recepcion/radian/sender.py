"""Sending one buyer's event safely, and the rules that protect the company.

Before anything is signed: the event must be one the buyer sends (030, 031, 032, 033), the
document a stored invoice (01–04), the order rules (`dian.radian.check_next`, over what DIAN
already has from us and the events received for the document) must allow it, and 033 —
aceptación expresa, irrevocable — needs an explicit confirmation naming that one document;
bulk sending never includes it. Then the store's one row for (CUFE, code) is claimed: a
previous attempt that got no answer makes this one read DIAN's state back (GetStatusEvent)
first, so a timed-out send followed by a retry never makes two events. The event's date is
the sending moment. Every attempt is logged with who asked for it.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tui_recepcion.dian.model import Party, ReceivedEvent
from tui_recepcion.dian.radian import EventCode, EventOrderError, check_next, event_label, event_name
from tui_recepcion.radian.answer import DianAnswer, Rule, registered_codes
from tui_recepcion.radian.client import DianClient
from tui_recepcion.radian.event import (
    COLOMBIA,
    SENDABLE,
    WITH_PERSON,
    EventParty,
    EventRequest,
    build_event,
    event_cude_of,
)
from tui_recepcion.radian.problems import RadianError, SendRefused
from tui_recepcion.radian.settings import SendingProfile
from tui_recepcion.radian.xades import sign_event
from tui_recepcion.store import AlreadySent, DocumentFilter, DocumentRow, Store
from tui_recepcion.store.radian_sends import ACCEPTED, REGISTERED, REJECTED, UNCERTAIN

log = logging.getLogger("tui_recepcion.radian")

NUMBER_PREFIXES = {EventCode.ACUSE: "ACR", EventCode.RECLAMO: "REC", EventCode.RECIBO_BIEN: "RBS",
                   EventCode.ACEPTACION_EXPRESA: "ACE"}
INVOICE_TYPES = ("01", "02", "03", "04")  # events are about facturas electrónicas de venta
BULK_CODES = (EventCode.ACUSE, EventCode.RECIBO_BIEN)  # never 033, never a claim without its reason


@dataclass(frozen=True, slots=True)
class AcceptanceConfirmation:
    """A person's explicit «yes, accept this one invoice» (033): its CUFE and its number."""

    cufe: str
    document_number: str


@dataclass(frozen=True, slots=True)
class SendResult:
    cufe: str
    code: str
    document_number: str
    state: str  # aceptado | rechazado | registrado | incierto
    event_number: str
    message: str  # Spanish: what DIAN answered, or why there is no answer
    rules: tuple[Rule, ...] = ()

    @property
    def at_dian(self) -> bool:
        return self.state in (ACCEPTED, REGISTERED)


ReceivedCodes = Callable[[str], Iterable[str]]


def zip_event(file_stem: str, xml: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{file_stem}.xml", xml)
    return buffer.getvalue()


class EventSender:
    """Sends the company's events for stored documents (see the module)."""

    def __init__(self, store: Store, profile: SendingProfile, client: DianClient, *,
                 received_codes: ReceivedCodes | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._store = store
        self._profile = profile
        self._client = client
        self._received_codes = received_codes or self._stored_event_codes
        self._clock = clock

    @property
    def profile(self) -> SendingProfile:
        return self._profile

    def _stored_event_codes(self, cufe: str) -> list[str]:
        """The document's events in the store (received by mail, or recorded) that count."""
        return [event.code for event in self._store.radian_events(cufe=cufe) if event.counts]

    # --- checks -------------------------------------------------------------------------------

    def _document(self, cufe: str) -> DocumentRow:
        row = self._store.document_by_cufe(cufe)
        if row is None:
            raise SendRefused("documento_desconocido", f"No hay ningún documento guardado con el CUFE {cufe}.")
        if row.document.tipo not in INVOICE_TYPES:
            raise SendRefused("tipo_no_enviable", (
                f"El documento {row.document.number} es de tipo {row.document.tipo}: los eventos RADIAN son para "
                "facturas electrónicas de venta (01 a 04)."))
        return row

    def recorded(self, cufe: str) -> set[str]:
        """The events a document already has: ours at DIAN and those received by mail."""
        return set(self._store.radian_sent_codes(cufe)) | set(self._received_codes(cufe))

    def check(self, cufe: str, code: str, *, claim_reason: str | None = None,
              confirmation: AcceptanceConfirmation | None = None) -> DocumentRow:
        """Every rule that protects the company; SendRefused (Spanish) when one says no."""
        if code not in SENDABLE:
            raise SendRefused("tipo_no_enviable", (
                f"El evento {code} no lo envía el comprador; se pueden enviar 030 (acuse), 031 (reclamo), "
                "032 (recibo del bien o servicio) y 033 (aceptación expresa)."))
        row = self._document(cufe)
        buyer = row.document.customer
        if buyer.nit != self._profile.sender.id:
            raise SendRefused("documento_ajeno", (
                f"La factura {row.document.number} está dirigida a {buyer.name} (NIT {buyer.nit}), no a la empresa "
                f"de [empresa] (NIT {self._profile.sender.id}): solo el comprador envía sus eventos."))
        if code == EventCode.ACEPTACION_EXPRESA and (
                confirmation is None or confirmation.cufe != cufe
                or confirmation.document_number.strip() != row.document.number):
            raise SendRefused("confirmacion_requerida", (
                f"La aceptación expresa (033) de la factura {row.document.number} es irrevocable: se envía solo con "
                "una confirmación explícita para ese documento (en la línea de comandos, "
                f"--confirmar-aceptacion {row.document.number})."))
        try:
            check_next(self.recorded(cufe), code, claim_reason=claim_reason)
        except EventOrderError as error:
            raise SendRefused("orden", str(error)) from None
        if code in WITH_PERSON and self._profile.person is None:
            raise SendRefused("datos_incompletos", (
                f"El {event_label(code).lower()} ({code}) lleva los datos de quien recibe: complete persona_nombre, "
                "persona_apellido y persona_documento en [empresa]."))
        return row

    # --- building -----------------------------------------------------------------------------

    def _request(self, row: DocumentRow, code: str, number: str, claim_reason: str | None,
                 moment: datetime) -> EventRequest:
        supplier = row.document.supplier
        receiver = EventParty(supplier.nit, supplier.name, supplier.dv, supplier.id_scheme or "31")
        return EventRequest(
            code=code, number=number, issued_at=moment, environment=self._profile.environment_code,
            sender=self._profile.sender, receiver=receiver, document_number=row.document.number,
            cufe=row.document.cufe, document_type=row.document.tipo, software_id=self._profile.company.software_id,
            claim_reason=claim_reason, person=self._profile.person if code in WITH_PERSON else None,
        )

    def _signed(self, row: DocumentRow, code: str, number: str, claim_reason: str | None) -> tuple[bytes, str]:
        """The signed ApplicationResponse dated now (the sending moment), and its CUDE."""
        moment = self._clock()
        document = build_event(self._request(row, code, number, claim_reason, moment), self._profile.pin)
        cude = event_cude_of(document)
        return sign_event(document, self._profile.identity, moment), cude

    def generate(self, cufe: str, code: str, *, claim_reason: str | None = None,
                 confirmation: AcceptanceConfirmation | None = None) -> bytes:
        """Build and sign without sending or reserving anything (for review: `eventos generar`)."""
        row = self.check(cufe, code, claim_reason=claim_reason, confirmation=confirmation)
        return self._signed(row, code, f"{NUMBER_PREFIXES[EventCode(code)]}REVISION", claim_reason)[0]

    # --- sending ------------------------------------------------------------------------------

    def send(self, cufe: str, code: str, *, requested_by: str, claim_reason: str | None = None,
             confirmation: AcceptanceConfirmation | None = None) -> SendResult:
        row = self.check(cufe, code, claim_reason=claim_reason, confirmation=confirmation)
        try:
            claim = self._store.claim_radian_send(cufe, code, requested_by=requested_by, claim_reason=claim_reason,
                                                  number_prefix=NUMBER_PREFIXES[EventCode(code)])
        except AlreadySent as already:
            raise SendRefused("ya_registrado" if already.state != "enviando" else "en_curso", str(already)) from None
        attempt = _Attempt(self, row, code, claim.row, claim.number, requested_by, claim_reason)
        if claim.uncertain:
            try:
                found = code in registered_codes(self._client.status_event(cufe))
            except RadianError as error:
                return attempt.finish(UNCERTAIN, "consultar", str(error))
            if found:
                previous = next((send.cude for send in self._store.radian_sends(cufe) if send.code == code), None)
                return attempt.finish(REGISTERED, "consultar",
                                      "La DIAN ya tenía registrado este evento (consulta GetStatusEvent).",
                                      cude=previous)
        try:
            xml, cude = self._signed(row, code, claim.number, claim_reason)
        except RadianError as error:
            # Nothing left this machine: the row may be claimed again as a plain retry.
            return attempt.finish(REJECTED, "firmar", str(error))
        stem = f"ar{self._profile.sender.id:0>10}{claim.number}"
        try:
            answer = self._client.send_event(zip_event(stem, xml))
        except RadianError as error:
            return attempt.finish(UNCERTAIN, "enviar", str(error), cude=cude, event_xml=xml)
        state = {"aceptado": ACCEPTED, "ya_registrado": REGISTERED, "rechazado": REJECTED}[answer.outcome]
        return attempt.finish(state, "enviar", answer.summary(), rules=answer.rules, status_code=answer.status_code,
                              cude=cude, event_xml=xml)

    def record_at_dian(self, row: DocumentRow, code: str, number: str, cude: str, claim_reason: str | None) -> None:
        """What DIAN now has from us joins the document's events (store/radian_events.py)."""
        company = self._profile.sender
        supplier = row.document.supplier
        moment = self._clock().astimezone(COLOMBIA)
        event = ReceivedEvent(
            code=code, cude=cude, cufe=row.document.cufe, issue_date=moment.date(),
            sender=Party(company.id, company.name, company.check_digit, company.scheme),
            receiver=Party(supplier.nit, supplier.name, supplier.dv, supplier.id_scheme), number=number,
            issue_time=moment.strftime("%H:%M:%S-05:00"), description=event_name(code),
            reference_number=row.document.number, reference_type=row.document.tipo, claim_reason=claim_reason,
            environment=self._profile.environment_code, dian_validation="02",
        )
        self._store.record_events(row.account, [event])

    def send_many(self, cufes: Sequence[str], codes: Sequence[str], *, requested_by: str) -> list[SendResult | SendRefused]:
        """Bulk: each document in turn, each code in order; never 033 nor 031 (SendRefused before anything)."""
        bulk_refused = [code for code in codes if code not in BULK_CODES]
        if bulk_refused:
            raise SendRefused("aceptacion_en_lote", (
                "En lote solo se envían 030 (acuse) y 032 (recibo del bien o servicio): la aceptación expresa (033) "
                "y el reclamo (031) se envían documento por documento."))
        results: list[SendResult | SendRefused] = []
        for cufe in cufes:
            for code in codes:
                try:
                    results.append(self.send(cufe, code, requested_by=requested_by))
                except SendRefused as refused:
                    results.append(refused)
                    break  # a later code of the same document would fail its order rule too
        return results

    def pending(self, codes: Sequence[str]) -> list[str]:
        """CUFEs of stored invoices that still lack one of `codes` (oldest first)."""
        return [row.document.cufe for row in self._store.documents(DocumentFilter())
                if row.document.tipo in INVOICE_TYPES and not set(codes) <= self.recorded(row.document.cufe)]

    def status(self, cufe: str) -> tuple[DianAnswer, frozenset[str]]:
        """What DIAN has for the document (GetStatusEvent) and the event codes in it."""
        answer = self._client.status_event(cufe)
        return answer, registered_codes(answer)


@dataclass(frozen=True, slots=True)
class _Attempt:
    """One claimed send: how to close it (the store row and its log, the recorded event, the result)."""

    sender: EventSender
    document: DocumentRow
    code: str
    row: int
    number: str
    requested_by: str
    claim_reason: str | None

    def finish(self, state: str, action: str, message: str, *, rules: Sequence[Rule] = (),
               status_code: str | None = None, cude: str | None = None, event_xml: bytes | None = None) -> SendResult:
        self.sender._store.finish_radian_send(
            self.row, state, requested_by=self.requested_by, action=action, cude=cude, status_code=status_code,
            answer=message, rules=[(rule.code, rule.kind, rule.message) for rule in rules],
            event_xml=event_xml.decode("utf-8") if event_xml else None)
        if state in (ACCEPTED, REGISTERED) and cude:
            self.sender.record_at_dian(self.document, self.code, self.number, cude, self.claim_reason)
        log.info("Evento %s del documento %s (%s): %s; pedido por %s", self.code, self.document.document.number,
                 self.number, state, self.requested_by)
        return SendResult(self.document.document.cufe, self.code, self.document.document.number, state, self.number,
                          message, tuple(rules))


def automatic_codes(acknowledge: bool, receipt: bool) -> tuple[str, ...]:
    """The events [empresa] asks to send right after a document is stored (off by default)."""
    if not acknowledge:
        return ()
    return (EventCode.ACUSE, EventCode.RECIBO_BIEN) if receipt else (EventCode.ACUSE,)


AUTOMATIC = "automático (acuse_automatico en [empresa])"
