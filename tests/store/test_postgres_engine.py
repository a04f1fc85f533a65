"""The real engine on a PostgreSQL store, against the real Dovecot: `procesar` selects it from
TUI_RECEPCION_BASE_DATOS, and a connection lost in the middle of a pass is a transient
problem (nothing moved, nothing half-written), then the next pass does the work once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.servers.postgres import PostgresServer
from tests.support.engine_support import ACCOUNT, expected_outcomes, sample_mailbox, write_account
from tui_recepcion import cli
from tui_recepcion.engine.service import AccountProcessor, Engine
from tui_recepcion.store import StoreError
from tui_recepcion.store import ledger as ledger_module


def test_procesar_uses_the_postgresql_store_of_the_variable(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, postgres_url: str,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    mails = sample_mailbox(good=6)
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in mails])
    account = write_account(tmp_path, clean_dovecot, tls_certs)
    monkeypatch.setenv("TUI_RECEPCION_BASE_DATOS", postgres_url.replace("postgres@", "postgres:Secreta-9@"))
    config = ["--config", str(account.config_path)]

    assert cli.main([*config, "procesar", "--una-vez"]) == 0
    good, bad, cufes = expected_outcomes(mails)
    assert f"Resumen: {good} procesados, {bad} fallidos" in capsys.readouterr().out
    assert not account.database.exists()  # the config's SQLite file was not used

    assert cli.main([*config, "documentos", "--formato", "json"]) == 0
    assert {document["cufe"] for document in json.loads(capsys.readouterr().out)} == cufes
    assert cli.main([*config, "mensajes", "--formato", "json", "--estado", "fallido"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == bad
    assert cli.main([*config, "almacen", "estado", "--formato", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["motor"] == "postgresql" and status["conteos"]["documentos"] == len(cufes)
    assert "Secreta" not in json.dumps(status)


def test_a_connection_lost_mid_pass_is_transient_and_the_next_pass_does_the_work_once(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, postgres_url: str, postgres_server: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mails = sample_mailbox(good=5)
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in mails])
    account = write_account(tmp_path, clean_dovecot, tls_certs)
    monkeypatch.setenv("TUI_RECEPCION_BASE_DATOS", postgres_url)
    config = account.config()
    real_insert = ledger_module.insert_document
    killed: list[int] = []

    def insert_then_lose_the_connection(db, *args, **kwargs):  # type: ignore[no-untyped-def]
        row = real_insert(db, *args, **kwargs)
        if not killed:
            (pid,) = db.execute("SELECT pg_backend_pid()").fetchone()
            with postgres_server.admin() as admin:
                admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
            killed.append(int(pid))
        return row

    with Engine.open(config) as engine:
        assert engine.store.backend == "postgresql"
        monkeypatch.setattr(ledger_module, "insert_document", insert_then_lose_the_connection)
        with pytest.raises(StoreError) as caught:
            AccountProcessor(engine, config.account(ACCOUNT)).run_pass()
        assert killed and caught.value.transient
        # Nothing was committed, so nothing was moved: every message waits in INBOX.
        assert engine.store.messages() == [] and engine.store.document_count() == 0
        assert len(clean_dovecot.messages(RECEPCION)) == len(mails)

        result = AccountProcessor(engine, config.account(ACCOUNT)).run_pass()
        good, bad, cufes = expected_outcomes(mails)
        assert (result.processed, result.failed) == (good, bad)
        assert {row.document.cufe for row in engine.store.documents()} == cufes
        assert engine.store.document_count() == len(cufes)  # each document stored once
        assert clean_dovecot.messages(RECEPCION) == []
