"""The daily summary of invoices about to be tacitly accepted, through the real test SMTP server."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.servers.certs import TestCertificates
from tests.servers.smtp import SmtpServer
from tests.support.alert_support import Clock, alert_account, body, parsed, subjects
from tests.support.radian_support import event_xml, signed_document
from tui_recepcion.alerts import Alerts
from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory
from tui_recepcion.dian import extract_file
from tui_recepcion.dian.deadlines import ClaimRules
from tui_recepcion.store import Outcome, Store

RECEIVED = datetime(2026, 3, 20, 20, 0, tzinfo=UTC)  # Friday 15:00 in Bogotá; Monday 23 is a holiday


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "recepcion.db") as opened:
        yield opened


def _receive(store: Store, path: Path, xml: bytes, key: str) -> None:
    outcome = Outcome(key, extract_file(f"{key}.xml", xml), hashlib.sha256(xml).hexdigest(), "Procesados")
    store.record_received_events("principal", [outcome])
    store.record_outcomes("principal", [outcome])


def test_summary_lists_invoices_closing_by_the_next_business_day_once_a_day(
    tmp_path: Path, store: Store, clean_smtp: SmtpServer, tls_certs: TestCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = alert_account(clean_smtp, tls_certs.ca_file, monkeypatch, expiry=None)
    factory = SampleFactory(seed=41)
    open_xml, _ = signed_document(factory, customer=DEFAULT_RECEIVER)
    accepted_xml, accepted_cufe = signed_document(factory, customer=DEFAULT_RECEIVER)
    _receive(store, tmp_path, open_xml, "abierta")
    _receive(store, tmp_path, accepted_xml, "aceptada")
    for code in ("030", "032", "033"):
        _receive(store, tmp_path, event_xml(code, accepted_cufe), f"ev{code}")
    with sqlite3.connect(tmp_path / "recepcion.db") as raw:
        raw.execute("UPDATE documents SET created_at = ?", (RECEIVED.isoformat(timespec="milliseconds"),))
    clock = Clock(RECEIVED + timedelta(hours=1))
    alerts = Alerts(store, clock=clock)

    alerts.claims_summary(account, ClaimRules())  # Friday: three business days left, nothing to say
    assert subjects(clean_smtp) == []

    clock.set(datetime(2026, 3, 24, 14, 0, tzinfo=UTC))  # Tuesday: the window closes on Wednesday 25
    alerts.claims_summary(account, ClaimRules())
    alerts.claims_summary(account, ClaimRules())  # the same day: not again
    (message,) = [parsed(m) for m in clean_smtp.messages()]
    assert str(message["Subject"]) == ("Resumen: 1 factura se aceptará tácitamente si no se reclama "
                                       "(24 de marzo de 2026)")
    text = body(message)
    assert "vence el 25/03/2026, quedan 2 días hábiles para reclamar; falta el acuse de recibo (030)" in text
    assert "art. 773" in text and "tui-recepcion pendientes" in text
    assert message["To"] == "tecnico@empresa.co"

    clock.set(datetime(2026, 3, 25, 14, 0, tzinfo=UTC))  # Wednesday, the last day: a new summary
    alerts.claims_summary(account, ClaimRules())
    assert len(subjects(clean_smtp)) == 2
    assert "queda 1 día hábil para reclamar" in body(parsed(clean_smtp.messages()[-1]))

    clock.set(datetime(2026, 3, 26, 14, 0, tzinfo=UTC))  # Thursday: closed, tacitly accepted; no summary
    alerts.claims_summary(account, ClaimRules())
    assert len(subjects(clean_smtp)) == 2
