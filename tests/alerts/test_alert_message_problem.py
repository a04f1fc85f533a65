"""Alerts about messages the engine set aside, sent through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from tests.servers.certs import TestCertificates
from tests.servers.smtp import SmtpServer
from tests.support.alert_support import MAILBOX, NOTIFY, Clock, alert_account, body, parsed, race_two_senders, subjects
from tui_recepcion.alerts import MESSAGE_ALERT_MAX_AGE, MESSAGE_PROBLEM, Alerts
from tui_recepcion.config import Account
from tui_recepcion.demo.samples import Attachment, SampleFactory, build_zip, dian_subject
from tui_recepcion.dian.extract import extract_message
from tui_recepcion.dian.reasons import Reason
from tui_recepcion.events import AlertSent, Event
from tui_recepcion.store import Store

CONFLICT_SUBJECT = f"Alerta: posible factura falsificada en el buzón {MAILBOX}"
REFUSED_SUBJECT = f"Alerta: un correo del buzón {MAILBOX} no se pudo reenviar al respaldo"
UNREADABLE_SUBJECT = f"Alerta: un correo del buzón {MAILBOX} no se pudo leer"


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "recepcion.db", tmp_path / "documentos") as opened:
        yield opened


@pytest.fixture
def account(clean_smtp: SmtpServer, tls_certs: TestCertificates, monkeypatch: pytest.MonkeyPatch) -> Account:
    return alert_account(clean_smtp, tls_certs.ca_file, monkeypatch, expiry=None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def record_conflict(store: Store, factory: SampleFactory) -> tuple[str, str]:
    """A stored invoice and a forged resend of its CUFE; returns (source key, detail)."""
    generated = factory.document()

    def mail(container: bytes) -> bytes:
        return factory.email(dian_subject(generated), [Attachment("f.zip", build_zip([("f.xml", container)]))],
                             sender=generated.supplier)

    store.record_outcome("principal", "imap:1:1", extract_message(mail(factory.container(generated))), "h1")
    old = f">{generated.total:.2f}</cbc:PayableAmount>".encode()
    forged = generated.xml.replace(old, b">99999999.00</cbc:PayableAmount>").decode()
    result = store.record_outcome("principal", "imap:1:2", extract_message(mail(factory.container(generated,
                                  embedded=forged))), "h2", failed_destination="Fallidos")
    assert result.entry.reason == Reason.CUFE_EN_CONFLICTO and result.entry.detail
    return result.entry.source_key, result.entry.detail


def test_a_conflict_is_alerted_once_with_the_evidence(store: Store, account: Account, clean_smtp: SmtpServer,
                                                      clock: Clock, factory: SampleFactory) -> None:
    events: list[Event] = []
    alerts = Alerts(store, clock=clock, emit=events.append)
    key, detail = record_conflict(store, factory)
    alerts.message_problem(account, source_key=key, reason=Reason.CUFE_EN_CONFLICTO, detail=detail)
    alerts.message_problem(account, source_key=key, reason=Reason.CUFE_EN_CONFLICTO, detail=detail)
    alerts.evaluate([account])
    (received,) = clean_smtp.messages()
    assert received.rcpt_tos == (NOTIFY,)
    message = parsed(received)
    assert message["Subject"] == CONFLICT_SUBJECT and message["Auto-Submitted"] == "auto-generated"
    text = body(message)
    (conflict,) = store.conflicts("principal")
    assert "La factura guardada no se modificó" in text
    assert f"(documento {conflict.stored_number})" in text
    assert str(conflict.xml_path) in text  # where the evidence is
    assert "carpeta «Fallidos»" in text and key in text
    assert "No pague ni registre" in text and "catalogo-vpfe.dian.gov.co" in text
    # The AlertSent event, emitted and logged like the other alerts.
    (sent,) = [event for event in events if isinstance(event, AlertSent)]
    assert (sent.alert, sent.recipient, sent.detail) == (MESSAGE_PROBLEM, NOTIFY, CONFLICT_SUBJECT)
    logged = [row for row in store.events_after(0) if row.kind == AlertSent.kind]
    assert [(row.payload["alert"], row.payload["detail"]) for row in logged] == [(MESSAGE_PROBLEM, CONFLICT_SUBJECT)]


def test_a_refused_forward_says_the_message_stays_on_the_server(
    store: Store, account: Account, clean_smtp: SmtpServer, clock: Clock, factory: SampleFactory
) -> None:
    pop3 = replace(account, protocol="pop3", port=995)
    mail = factory.document_email()
    store.record_outcome("principal", "pop3:U1", extract_message(mail.raw), "h1", "respaldo")
    reply = "552 5.3.4 Message size exceeds fixed maximum message size"
    entry = store.mark_forward_refused("principal", "pop3:U1", reply)
    alerts = Alerts(store, clock=clock)
    alerts.message_problem(pop3, source_key="pop3:U1", reason=Reason.REENVIO_RECHAZADO, detail=entry.detail or "")
    assert subjects(clean_smtp) == [REFUSED_SUBJECT]
    text = body(parsed(clean_smtp.messages()[0]))
    assert reply in text and "se conserva en el servidor POP3" in text
    assert f"Asunto: {entry.subject}" in text
    assert "guarde o reenvíe ese correo a mano" in text


def test_each_message_and_reason_has_its_own_alert(store: Store, account: Account, clean_smtp: SmtpServer,
                                                   clock: Clock) -> None:
    alerts = Alerts(store, clock=clock)
    for key in ("imap:1:7", "imap:1:8"):
        alerts.message_problem(account, source_key=key, reason=Reason.NO_SE_PUDO_LEER,
                               detail="El servidor cortó la conexión tres veces.")
    alerts.message_problem(account, source_key="imap:1:8", reason=Reason.MENSAJE_DEMASIADO_GRANDE,
                           detail="52 MB")
    alerts.message_problem(account, source_key="imap:1:7", reason=Reason.NO_SE_PUDO_LEER, detail="otra vez")
    assert subjects(clean_smtp) == [UNREADABLE_SUBJECT, UNREADABLE_SUBJECT,
                                    f"Alerta: un correo del buzón {MAILBOX} no se pudo procesar"]
    text = body(parsed(clean_smtp.messages()[0]))
    assert "El servidor cortó la conexión tres veces." in text and "carpeta «Fallidos»" in text
    assert "tui-recepcion importar" in text
    # Without correo_notificacion nothing is sent, and nothing is recorded to send later.
    alerts.message_problem(replace(account, notify_email=None), source_key="imap:1:9",
                           reason=Reason.NO_SE_PUDO_LEER, detail="x")
    alerts.evaluate([account])
    assert len(clean_smtp.messages()) == 3


def test_a_failed_send_is_retried_by_evaluate_then_given_up(
    store: Store, account: Account, clean_smtp: SmtpServer, closed_port: int, clock: Clock
) -> None:
    down = replace(account, smtp=replace(account.smtp, port=closed_port))
    alerts = Alerts(store, clock=clock)
    alerts.message_problem(down, source_key="imap:1:7", reason=Reason.NO_SE_PUDO_LEER, detail="conexión perdida")
    (status,) = alerts.status([down])
    (pending,) = status.pending
    assert pending.kind == MESSAGE_PROBLEM and pending.failed and pending.attempts == 1
    assert pending.next_attempt_at == clock.now + timedelta(minutes=5)
    clock.advance(minutes=1)
    alerts.evaluate([account])  # not due yet
    assert clean_smtp.messages() == []
    clock.advance(minutes=5)
    (status,) = alerts.evaluate([account])
    assert subjects(clean_smtp) == [UNREADABLE_SUBJECT] and status.pending == ()
    assert "conexión perdida" in body(parsed(clean_smtp.messages()[0]))  # composed again from what was stored
    # One that keeps failing for longer than MESSAGE_ALERT_MAX_AGE is skipped, not retried forever.
    alerts.message_problem(down, source_key="imap:1:8", reason=Reason.NO_SE_PUDO_LEER, detail="x")
    clock.advance(seconds=MESSAGE_ALERT_MAX_AGE.total_seconds() + 60)
    (status,) = alerts.evaluate([account])
    assert len(clean_smtp.messages()) == 1 and status.pending == ()
    assert {r.key: r.state for r in store.alert_records("principal")} == {
        f"{Reason.NO_SE_PUDO_LEER}:imap:1:7": "enviada", f"{Reason.NO_SE_PUDO_LEER}:imap:1:8": "omitida"}


def test_two_processes_alerting_the_same_message_send_one_email(
    tmp_path: Path, account: Account, clean_smtp: SmtpServer, clock: Clock
) -> None:
    """Each sender holds its send until the other has tried, so both surely raced for the claim."""
    path = tmp_path / "compartida.db"
    Store.open(path).close()
    race_two_senders(path, clock, lambda alerts: alerts.message_problem(
        account, source_key="pop3:U1", reason=Reason.REENVIO_RECHAZADO, detail="554 rechazado"))
    assert subjects(clean_smtp) == [REFUSED_SUBJECT]
    with Store.open(path) as store:
        (record,) = store.alert_records("principal")
        assert (record.state, record.attempts) == ("enviada", 1)
