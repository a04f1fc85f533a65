"""RADIAN in the Documentos screen: the state, deadline and signature cells, the filters, and
the detail's events and signatures. Kept apart so the screen only adds columns and lines."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path

from rich.text import Text

from tui_recepcion.dian.deadlines import ClaimRules, next_business_day
from tui_recepcion.dian.model import SignatureCheck
from tui_recepcion.dian.radian import claim_reason_name, event_name, order_violations, state_label
from tui_recepcion.dian.signature import TrustedRoots, chain_status, nit_matches, valid_at_signing
from tui_recepcion.store import DocumentRow, Store
from tui_recepcion.store.radian_events import BOGOTA, DocumentRadian

# A claim window lasts three business days, at most nine calendar days (Easter week).
RECENT_DAYS = 15
PENDING_ACK = "pendientes_acuse"
CLOSING = "por_vencer"
BROKEN_SIGNATURE = "firma_invalida"
RADIAN_FILTERS = (
    ("Todos los estados", ""),
    ("Pendientes de acuse", PENDING_ACK),
    ("Por vencer", CLOSING),
    ("Firma inválida", BROKEN_SIGNATURE),
)
_SHORT_STATES = {
    "sin_eventos": "Sin acuse",
    "acusado": "Acusada",
    "recibido": "Recibida",
    "reclamado": "Reclamada",
    "aceptado_expresamente": "Aceptada",
    "aceptado_tacitamente": "Tácita",
}
_SIGNATURE_WORDS = {"valida": "válida", "invalida": "INVÁLIDA", "ausente": "sin firma"}


def closes_soon(info: DocumentRadian, today: date) -> bool:
    """The claim window closes today or on the next business day (the dashboard's counter)."""
    return info.status.closes_by(next_business_day(today))


def dashboard_counts_by_account(store: Store, today: date, rules: ClaimRules) -> dict[str, tuple[int, int]]:
    """{account: (invoices whose claim window closes within one business day, documents with a
    broken signature)}, reading only the documents of the last weeks: the same few queries for
    1 account or 2,000 (accounts with nothing to count are absent)."""
    since = datetime.combine(today - timedelta(days=RECENT_DAYS), time(), tzinfo=BOGOTA)
    closing: Counter[str] = Counter()
    rows = store.recently_received(None, since)
    for row, info in zip(rows, store.radian_of(rows, today=today, rules=rules), strict=True):
        closing[row.account] += closes_soon(info, today)
    broken = store.broken_signature_counts()
    return {account: (closing[account], broken.get(account, 0)) for account in set(closing) | set(broken)}


def radian_counters(closing: int, broken: int) -> list[tuple[str, str] | str]:
    """The dashboard's RADIAN counters, shown only when there is something to act on."""
    parts: list[tuple[str, str] | str] = []
    if closing:
        parts += ["  Vencen ≤1 día ", (str(closing), "bold $text-warning")]
    if broken:
        parts += ["  Firma inválida ", (str(broken), "bold $text-error")]
    return parts


def keep_row(info: DocumentRadian, chosen: str, today: date) -> bool:
    if chosen == PENDING_ACK:
        return info.status.open and info.status.state.value == "sin_eventos"
    if chosen == CLOSING:
        return closes_soon(info, today)
    if chosen == BROKEN_SIGNATURE:
        return info.signature_broken
    return True


def radian_cells(info: DocumentRadian | None) -> tuple[Text, Text, Text]:
    """State, deadline (DD/MM/AAAA) and signature; a broken signature in red."""
    if info is None:
        return Text(""), Text(""), Text("")
    status = info.status
    state = Text(_SHORT_STATES.get(status.state.value, status.state.value) if info.applies else "—")
    if status.deadline is None:
        deadline = Text("—")
    else:
        deadline = Text(f"{status.deadline:%d/%m/%Y}", style="bold" if status.days_left == 1 else "")
        if status.expired:
            deadline.stylize("dim")
    signature = Text(_signature_word(info), style="bold red" if info.signature_broken else "")
    return state, deadline, signature


def _signature_word(info: DocumentRadian) -> str:
    if info.signature_broken:
        return "INVÁLIDA"
    return _SIGNATURE_WORDS.get(info.firma_emisor or "", "—")


def radian_lines(row: DocumentRow, info: DocumentRadian, roots_path: Path | None = None) -> list[str]:
    """The detail's RADIAN part: state and deadline, events in order, signatures (with the
    certificate chain judged against `certificados_firma` when configured)."""
    status = info.status
    lines = ["", f"Estado RADIAN: {state_label(status.state) if info.applies else 'no aplica (solo facturas)'}"]
    if status.deadline is not None:
        lines.append(f"Plazo para reclamar: {status.deadline:%d/%m/%Y} — {status.phrase()}")
        if status.next_step():
            lines.append(f"Falta: {status.next_step()}")
    if info.events:
        lines.append("Eventos (en orden):")
        for event in info.events:
            when = f"{event.issue_date:%d/%m/%Y}" if event.issue_date else "sin fecha"
            reason = f" — {claim_reason_name(event.claim_reason)}" if event.claim_reason else ""
            rejected = "" if event.counts else f" (la DIAN respondió {event.dian_validation}: no cuenta)"
            lines.append(f"  {when}  {event.code} {event_name(event.code)}{reason} · de "
                         f"{event.sender_name or event.sender_nit or '—'}{rejected}")
        for problem in order_violations(e.code for e in info.events if e.counts):
            lines.append(f"  ⚠ {problem}")
    else:
        lines.append("Eventos: ninguno recibido ni registrado.")
    document = row.document
    roots: TrustedRoots | None = None
    if roots_path is not None:
        try:
            roots = TrustedRoots.load(roots_path)
        except ValueError as problem:
            lines.append(f"certificados_firma: {problem}")
    lines += _signature_lines("Firma del emisor", document.issuer_signature, document.supplier.nit, roots)
    lines += _signature_lines("Firma de la DIAN", document.dian_signature, "800197268", roots)
    return lines


def _signature_lines(title: str, check: SignatureCheck | None, nit: str, roots: TrustedRoots | None) -> list[str]:
    if check is None:
        return [f"{title}: no verificada (documento guardado antes de verificar firmas)"]
    lines = [f"{title}: {_SIGNATURE_WORDS.get(check.status, check.status)} — {check.detail}"]
    if check.subject:
        lines.append(f"  Certificado: {check.subject}")
        lines.append(f"  Emitido por: {check.issuer or '—'} ({chain_status(check.certificate, roots)})")
        if check.not_before and check.not_after:
            at_signing = valid_at_signing(check)
            note = "" if at_signing is None else (" · vigente al firmar" if at_signing else " · NO vigente al firmar")
            lines.append(f"  Vigencia: {check.not_before:%d/%m/%Y} a {check.not_after:%d/%m/%Y}{note}")
        matches = nit_matches(check, nit)
        if matches is not None:
            lines.append(f"  NIT del certificado: {check.certificate_nit} "
                         + ("(coincide)" if matches else "(no coincide: puede ser el proveedor tecnológico)"))
    return lines
