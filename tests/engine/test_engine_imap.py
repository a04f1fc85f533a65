"""The engine against a real Dovecot over IMAP: Procesados, Fallidos, and nothing twice."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import pytest

from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.support.engine_support import ACCOUNT, crlf, expected_outcomes, sample_mailbox, write_account
from tui_recepcion import cli
from tui_recepcion.engine.service import AccountProcessor, Engine
from tui_recepcion.events import Event, MessageHandled
from tui_recepcion.store import MessageFilter


def mailbox_state(dovecot: DovecotServer) -> dict[str, list[tuple[frozenset[str], bytes]]]:
    return {
        folder: sorted((message.flags, message.raw) for message in dovecot.messages(RECEPCION, dovecot.mailbox_name(folder)))
        for folder in ("INBOX", "Procesados", "Fallidos")
    }


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict]:
    assert cli.main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_good_mail_goes_to_procesados_and_bad_mail_to_fallidos(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, capsys: pytest.CaptureFixture[str], security: str
) -> None:
    mails = sample_mailbox()
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in mails])
    account = write_account(tmp_path, clean_dovecot, tls_certs, security=security)

    assert cli.main(["--config", str(account.config_path), "procesar", "--una-vez"]) == 0
    output = capsys.readouterr().out
    good, bad, cufes = expected_outcomes(mails)
    assert f"Resumen: {good} procesados, {bad} fallidos" in output

    state = mailbox_state(clean_dovecot)
    assert state["INBOX"] == []
    assert sorted(raw for _flags, raw in state["Procesados"]) == sorted(crlf(m.raw) for m in mails if m.expected_reason is None)
    assert sorted(raw for _flags, raw in state["Fallidos"]) == sorted(crlf(m.raw) for m in mails if m.expected_reason)
    assert all("\\Seen" in flags for flags, _raw in state["Procesados"])
    assert not any("\\Seen" in flags for flags, _raw in state["Fallidos"])

    config = ["--config", str(account.config_path)]
    messages = run_json(capsys, *config, "mensajes", "--formato", "json")
    assert sorted(m["motivo"] for m in messages if m["estado"] == "fallido") == sorted(
        m.expected_reason for m in mails if m.expected_reason
    )
    assert {m["destino"] for m in messages if m["estado"] == "fallido"} == {"Fallidos"}
    assert {m["destino"] for m in messages if m["estado"] == "procesado"} == {"Procesados"}
    documents = run_json(capsys, *config, "documentos", "--formato", "json")
    assert {d["cufe"] for d in documents} == cufes
    assert {d["cuenta"] for d in documents} == {ACCOUNT}


def test_a_second_run_changes_nothing(tmp_path: Path, clean_dovecot: DovecotServer, tls_certs) -> None:
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in sample_mailbox(good=6)])
    account = write_account(tmp_path, clean_dovecot, tls_certs)
    config = account.config()
    with Engine.open(config) as engine:
        AccountProcessor(engine, config.account(ACCOUNT)).run_pass()
        before = (mailbox_state(clean_dovecot), engine.store.messages(MessageFilter(account=ACCOUNT)))
        result = AccountProcessor(engine, config.account(ACCOUNT)).run_pass()
        after = (mailbox_state(clean_dovecot), engine.store.messages(MessageFilter(account=ACCOUNT)))
    assert (result.processed, result.failed) == (0, 0)
    assert after == before


def test_no_message_is_seen_before_its_outcome_is_committed(tmp_path: Path, clean_dovecot: DovecotServer, tls_certs) -> None:
    mails = sample_mailbox(good=4)
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in mails])
    account = write_account(tmp_path, clean_dovecot, tls_certs)
    config = account.config()
    flags_seen: list[set[str]] = []

    def inspect_inbox(point: str) -> None:
        if point == "after_commit":
            flags_seen.append({flag for message in clean_dovecot.messages(RECEPCION) for flag in message.flags})

    with Engine.open(config) as engine:
        AccountProcessor(engine, config.account(ACCOUNT), checkpoint=inspect_inbox).run_pass()
    assert flags_seen, "the pass never reached its commit"
    assert all("\\Seen" not in flags for flags in flags_seen)
    processed = clean_dovecot.messages(RECEPCION, "Procesados")
    assert processed and all("\\Seen" in message.flags for message in processed)


def test_already_read_mail_is_processed_too(tmp_path: Path, clean_dovecot: DovecotServer, tls_certs) -> None:
    mails = sample_mailbox(good=3)
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in mails], flags=("\\Seen",))
    account = write_account(tmp_path, clean_dovecot, tls_certs)
    config = account.config()
    with Engine.open(config) as engine:
        result = AccountProcessor(engine, config.account(ACCOUNT)).run_pass()
    assert result.processed + result.failed == len(mails)
    assert clean_dovecot.messages(RECEPCION) == []


def test_without_move_the_engine_copies_flags_and_uid_expunges(
    tmp_path: Path, clean_dovecot_sin_move: DovecotServer, tls_certs
) -> None:
    dovecot = clean_dovecot_sin_move
    mails = sample_mailbox(good=5)
    dovecot.deliver(RECEPCION, [mail.raw for mail in mails])
    # A message someone else marked deleted must survive: we never issue a bare EXPUNGE.
    dovecot.deliver(RECEPCION, [b"Subject: borrado por otro\r\n\r\nx\r\n"], flags=("\\Deleted",))
    account = write_account(tmp_path, dovecot, tls_certs)
    config = account.config()
    with Engine.open(config) as engine:
        result = AccountProcessor(engine, config.account(ACCOUNT)).run_pass()
    good, bad, _cufes = expected_outcomes(mails)
    assert (result.processed, result.failed) == (good, bad)
    inbox = dovecot.messages(RECEPCION)
    assert [message.flags for message in inbox] == [frozenset({"\\Deleted"})]
    assert len(dovecot.messages(RECEPCION, dovecot.mailbox_name("Procesados"))) == good
    assert len(dovecot.messages(RECEPCION, dovecot.mailbox_name("Fallidos"))) == bad


def test_folders_are_created_under_the_namespace_prefix(
    tmp_path: Path, clean_dovecot_con_prefijo: DovecotServer, tls_certs
) -> None:
    dovecot = clean_dovecot_con_prefijo
    mails = sample_mailbox(good=2)
    dovecot.deliver(RECEPCION, [mail.raw for mail in mails])
    account = write_account(tmp_path, dovecot, tls_certs)
    config = account.config()
    with Engine.open(config) as engine:
        AccountProcessor(engine, config.account(ACCOUNT)).run_pass()
    assert {"INBOX.Procesados", "INBOX.Fallidos"} <= set(dovecot.folders(RECEPCION))
    assert len(dovecot.messages(RECEPCION, "INBOX.Procesados")) == 2
    ledger = Engine.open(config).store.messages(MessageFilter(account=ACCOUNT))
    assert {entry.destination for entry in ledger} <= {"Procesados", "Fallidos"}


def test_wrong_password_exits_1_with_a_spanish_reason_and_no_retry(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, capsys: pytest.CaptureFixture[str]
) -> None:
    mails = sample_mailbox(good=1)
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in mails])
    account = write_account(tmp_path, clean_dovecot, tls_certs, password="equivocada")
    assert cli.main(["--config", str(account.config_path), "procesar", "--una-vez"]) == 1
    err = capsys.readouterr().err
    assert "Error en la cuenta «principal»" in err
    assert "rechazó el usuario «recepcion@prueba.co» o la contraseña" in err
    assert "equivocada" not in err
    assert clean_dovecot.log_since_reset().count("auth failed") == 1
    assert len(clean_dovecot.messages(RECEPCION)) == len(mails)


def test_the_service_processes_new_mail_within_seconds_with_idle(tmp_path: Path, clean_dovecot: DovecotServer, tls_certs) -> None:
    import threading

    account = write_account(tmp_path, clean_dovecot, tls_certs)
    config = account.config()
    handled = threading.Semaphore(0)

    def emit(event: Event) -> None:
        if isinstance(event, MessageHandled):
            handled.release()

    with Engine.open(config) as engine:
        processor = AccountProcessor(engine, config.account(ACCOUNT), emit=emit)
        service = threading.Thread(target=processor.serve)
        service.start()
        try:
            mail = sample_mailbox(good=1)[0]
            clean_dovecot.deliver(RECEPCION, [mail.raw])
            # The interval is 5 minutes: only IDLE can bring the message in this quickly.
            assert handled.acquire(timeout=20)
        finally:
            processor.cancel.set()
            service.join(timeout=10)
        assert not service.is_alive()
    assert clean_dovecot.messages(RECEPCION) == []


def test_an_authentication_failure_alerts_once_per_incident(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, smtp_server, capsys: pytest.CaptureFixture[str]
) -> None:
    smtp_server.clear()
    account = write_account(
        tmp_path, clean_dovecot, tls_certs, password="vencida", smtp=smtp_server,
        extra={"correo_notificacion": "tecnico@empresa.co"},
    )
    argv = ["--config", str(account.config_path), "procesar", "--una-vez"]
    assert cli.main(argv) == 1
    assert cli.main(argv) == 1  # the same incident: no second alert
    alerts = smtp_server.wait_for(1)
    assert len(smtp_server.messages()) == 1
    assert alerts[0].rcpt_tos == ("tecnico@empresa.co",)
    parsed = email.message_from_bytes(alerts[0].raw, policy=email.policy.default)
    assert parsed["Subject"].startswith("Alerta: no se pudo iniciar sesión en el buzón recepcion@prueba.co")
    assert "enviada a tecnico@empresa.co" in capsys.readouterr().out
