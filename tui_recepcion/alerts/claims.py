"""The daily summary of invoices about to be tacitly accepted (`resumen_reclamos = true`).

Once a day per account, to its `correo_notificacion`: the received invoices whose window to
claim (three business days) closes today or on the next business day, with what is missing.
Nothing is sent on a day with none. Same delivery as the other alerts (claim, send, record,
retry), keyed by the day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage

from tui_recepcion.alerts.messages import Envelope, _body, _message, long_date
from tui_recepcion.config import Account
from tui_recepcion.dian.deadlines import ClaimRules, next_business_day
from tui_recepcion.output import money
from tui_recepcion.store import Store
from tui_recepcion.store.radian_events import BOGOTA

CLAIMS_SUMMARY = "resumen_reclamos"
RECENT_DAYS = 15  # a claim window lasts at most nine calendar days


@dataclass(frozen=True, slots=True)
class ClosingInvoice:
    number: str
    supplier: str
    supplier_nit: str
    total: str
    currency: str
    deadline: date
    phrase: str
    next_step: str


def closing_invoices(store: Store, account: str, today: date, rules: ClaimRules) -> list[ClosingInvoice]:
    """The account's invoices whose claim window closes by the next business day, soonest first."""
    since = datetime.combine(today - timedelta(days=RECENT_DAYS), time(), tzinfo=BOGOTA)
    rows = store.recently_received(account, since)
    limit = next_business_day(today, saturday_is_business_day=rules.saturday_is_business_day)
    found = []
    for row, info in zip(rows, store.radian_of(rows, today=today, rules=rules), strict=True):
        status = info.status
        if status.closes_by(limit) and status.deadline is not None:
            document = row.document
            found.append(ClosingInvoice(document.number, document.supplier.name, document.supplier.nit,
                                        str(document.total), document.currency, status.deadline, status.phrase(),
                                        status.next_step()))
    return sorted(found, key=lambda item: (item.deadline, item.number))


def claims_summary_message(account: Account, envelope: Envelope, today: date,
                           invoices: list[ClosingInvoice]) -> EmailMessage:
    count = len(invoices)
    what = "1 factura se aceptará" if count == 1 else f"{count} facturas se aceptarán"
    subject = f"Resumen: {what} tácitamente si no se reclama ({long_date(today)})"
    lines = [
        f"- {item.number} de {item.supplier} (NIT {item.supplier_nit}), {money(item.total)} {item.currency}: "
        f"vence el {item.deadline:%d/%m/%Y}, {item.phrase}; {item.next_step}."
        for item in invoices
    ]
    body = [
        f"{what.capitalize()} tácitamente e irrevocablemente (art. 773 del Código de Comercio) si no se "
        "reclama (evento 031) antes de que venza el plazo de tres días hábiles:",
        "\n".join(lines),
        "Revíselas en tui-recepcion (Documentos, filtro «Por vencer») o con «tui-recepcion pendientes». "
        "Si la mercancía o el servicio están conformes, no hace falta hacer nada.",
    ]
    return _message(envelope, subject, _body(account, body))


__all__ = ["CLAIMS_SUMMARY", "ClosingInvoice", "claims_summary_message", "closing_invoices"]
