"""The optional automatic acuse (030, and 032 for services) right after a document is stored.

Off by default ([empresa] `acuse_automatico`, `recibo_automatico`). The processor notes the
invoices each pass stored (its `MessageHandled` events) and, when the pass is over, sends
their events through `radian.sender` with the same rules as a person would (order rules, one
event per CUFE and code, read-back after a timeout). Never 033: acceptance is never automatic.
Nothing here can fail a pass: problems are logged and the event stays pending for
`tui-recepcion eventos enviar --pendientes`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from tui_recepcion.config import Company
from tui_recepcion.errors import RecepcionError
from tui_recepcion.events import Event, MessageHandled
from tui_recepcion.store import Store

if TYPE_CHECKING:  # the SOAP and XML-DSig libraries load only when the feature is on
    from tui_recepcion.radian.sender import EventSender

log = logging.getLogger(__name__)

SenderFactory = Callable[[Company, Store], "EventSender"]


def default_sender(company: Company, store: Store) -> EventSender:
    from tui_recepcion.radian.client import DianClient
    from tui_recepcion.radian.sender import EventSender
    from tui_recepcion.radian.settings import load_profile

    profile = load_profile(company)
    return EventSender(store, profile, DianClient(profile.service_url, profile.identity, ca_file=profile.ca_file))


class AutomaticEvents:
    """Collects the invoices stored during a pass and sends their automatic events after it."""

    def __init__(self, company: Company | None, store: Store, *, sender_factory: SenderFactory = default_sender) -> None:
        self._company = company
        self._store = store
        self._factory = sender_factory
        self._codes: tuple[str, ...] = ()
        self._invoice_types: tuple[str, ...] = ()
        if company is not None and company.auto_acknowledge:
            from tui_recepcion.radian.sender import INVOICE_TYPES, automatic_codes

            self._codes = automatic_codes(company.auto_acknowledge, company.auto_receipt)
            self._invoice_types = INVOICE_TYPES
        self._cufes: list[str] = []

    @property
    def enabled(self) -> bool:
        return bool(self._codes)

    def note(self, event: Event) -> None:
        if not self._codes or not isinstance(event, MessageHandled) or event.status != "procesado":
            return
        self._cufes.extend(summary.cufe for summary in event.documents
                           if not summary.duplicated and summary.tipo in self._invoice_types)

    def send_pending(self) -> int:
        """Send what the pass noted; returns how many events reached DIAN. Never raises."""
        cufes, self._cufes = list(dict.fromkeys(self._cufes)), []
        if not cufes or self._company is None:
            return 0
        from tui_recepcion.radian.problems import SendRefused
        from tui_recepcion.radian.sender import AUTOMATIC

        try:
            sender = self._factory(self._company, self._store)
        except RecepcionError as problem:
            log.warning("acuse automático: no se pudo preparar el envío a la DIAN: %s", problem)
            return 0
        sent = 0
        for cufe in cufes:
            for code in self._codes:
                try:
                    result = sender.send(cufe, code, requested_by=AUTOMATIC)
                except SendRefused as refused:
                    log.info("acuse automático: %s de %s… no se envió: %s", code, cufe[:16], refused)
                    break
                except RecepcionError as problem:  # the store: the event stays pending
                    log.warning("acuse automático: %s de %s… falló: %s", code, cufe[:16], problem)
                    break
                if not result.at_dian:
                    log.warning("acuse automático: %s de %s quedó %s: %s", code, result.document_number,
                                result.state, result.message.splitlines()[0])
                    break
                sent += 1
        return sent
