"""`almacen migrar` copies an SQLite store with its whole history into PostgreSQL (rows equal,
a re-run is a no-op, another store's data is never merged); `almacen estado` shows backend,
masked location, schema version and counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tui_recepcion.cli import main
from tui_recepcion.demo.samples import SampleFactory
from tui_recepcion.dian.extract import extract_file
from tui_recepcion.dian.model import Extraction, Failure
from tui_recepcion.dian.reasons import Reason
from tui_recepcion.store import SCHEMA_VERSION, Store

ACCOUNT = "principal"
T0 = datetime(2027, 3, 26, 12, 0, tzinfo=UTC)


def with_password(url: str, password: str) -> str:
    """The same URL with a password (the test server trusts loopback, so any one works)."""
    return url.replace("postgres@", f"postgres:{password}@", 1)


def build_history(path: Path, documents: Path, factory: SampleFactory) -> None:
    """An SQLite store that was used: documents, a conflict, failures, attempts, events (some
    pruned), alerts and token health."""
    with Store.open(path, documents, max_events=5) as store:
        generated = factory.document()
        store.record_outcome(ACCOUNT, "imap:1:1", extract_file("a.xml", factory.container(generated)), "h1",
                             "Procesados")
        store.record_outcome("otra", "imap:1:1", extract_file("b.xml", factory.container(factory.document())),
                             "h2", "Procesados")
        forged = generated.xml.replace(f">{generated.total:.2f}</cbc:PayableAmount>".encode(), b">1.00</cbc:PayableAmount>")
        conflict = store.record_outcome(ACCOUNT, "imap:1:2", extract_file("c.xml", factory.container(
            generated, embedded=forged.decode())), "h3", "Procesados", failed_destination="Fallidos")
        assert conflict.conflicts
        store.record_outcome(ACCOUNT, "pop3:U1", Extraction(failure=Failure(Reason.SIN_ADJUNTOS, "x")), "h4", "respaldo")
        store.mark_disposed(ACCOUNT, ["imap:1:1", "pop3:U1"], "Procesados")
        store.record_attempt(ACCOUNT, "imap:1:9", "fetch", "se cortó la conexión")
        store.append_events((ACCOUNT, "mensaje", {"n": n}) for n in range(8))
        claim = store.claim_alert(ACCOUNT, "vencimiento_aviso", "2027-03-31", now=T0, lease=timedelta(minutes=5))
        assert claim is not None
        store.alert_sent(claim, now=T0, recipient="ti@prueba.co")
        store.open_incident(ACCOUNT, "acceso", now=T0, detail="Contraseña rechazada")
        store.record_token_refresh(ACCOUNT)
        store.record_token_failure("otra", "token_revocado", "El token fue revocado.")


def rows(store: Store) -> dict[str, list[tuple[object, ...]]]:
    db = store._db
    with db.lock:
        return {table: sorted((tuple(row) for row in db.execute(
                    f"SELECT {', '.join(db.columns(table))} FROM {table}").fetchall()), key=repr)
                for table in db.tables()}


def test_migrar_copies_the_whole_history_and_a_rerun_changes_nothing(
    tmp_path: Path, factory: SampleFactory, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source, documents = tmp_path / "recepcion.db", tmp_path / "documentos"
    build_history(source, documents, factory)
    target = with_password(postgres_url, "Secreta-Migrar-9")

    assert main(["almacen", "migrar", "--a", target, "--base-datos", str(source)]) == 0
    out = capsys.readouterr().out
    assert "Copiado" in out and "Documentos: 2" in out and "Secreta" not in out and "postgres:***@" in out

    with Store.open(source) as old, Store.open(postgres_url) as new:
        copied = rows(new)
        assert copied == rows(old)
        assert set(copied) >= {"messages", "documents", "document_conflicts", "message_attempts", "events",
                               "alerts", "oauth_tokens"}
        assert all(copied[table] for table in ("document_conflicts", "message_attempts", "alerts", "oauth_tokens"))
        assert new.table_counts() == old.table_counts()
        assert new.schema_version() == SCHEMA_VERSION
        # The history reads the same through the store, and ids go on after the copied ones.
        assert new.documents() == old.documents() and new.messages() == old.messages()
        assert new.conflicts() == old.conflicts() and new.alert_records(ACCOUNT) == old.alert_records(ACCOUNT)
        assert new.token_health("otra") == old.token_health("otra")
        assert new.last_event_id() == old.last_event_id() == 8
        assert new.append_events([(ACCOUNT, "mensaje", {"n": 8})]) == 9
        new.record_outcome(ACCOUNT, "imap:1:3", Extraction(failure=Failure(Reason.SIN_ADJUNTOS, "x")), "h5")
        ids = [int(row[0]) for row in new._db.execute("SELECT id FROM messages ORDER BY id").fetchall()]
        assert ids[-1] == max(ids[:-1]) + 1
        new._db.execute("DELETE FROM events WHERE id = 9")
        new._db.execute("DELETE FROM messages WHERE source_key = 'imap:1:3'")

    # Run again: the same data is there, nothing is copied twice.
    assert main(["almacen", "migrar", "--a", target, "--base-datos", str(source), "--formato", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ya_copiado"] is True and report["conteos"]["documentos"] == 2
    assert "Secreta" not in json.dumps(report)
    with Store.open(source) as old, Store.open(postgres_url) as new:
        assert rows(new) == rows(old)


def test_migrar_refuses_to_merge_into_a_store_with_other_data(
    tmp_path: Path, factory: SampleFactory, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    build_history(tmp_path / "a.db", tmp_path / "docs-a", factory)
    with Store.open(postgres_url) as other:  # another company's store
        other.record_outcome("ajena", "imap:7:1", Extraction(failure=Failure(Reason.SIN_ADJUNTOS, "x")), "h")
    assert main(["almacen", "migrar", "--a", postgres_url, "--base-datos", str(tmp_path / "a.db")]) == 1
    assert "ya tiene otros datos" in capsys.readouterr().err
    with Store.open(postgres_url) as other:
        assert [entry.account for entry in other.messages()] == ["ajena"] and other.document_count() == 0


def test_migrar_needs_a_postgresql_destination(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUI_RECEPCION_BASE_DATOS", raising=False)
    assert main(["almacen", "migrar", "--base-datos", str(tmp_path / "r.db")]) == 1
    assert "postgresql://" in capsys.readouterr().err
    assert main(["almacen", "migrar", "--a", str(tmp_path / "otra.db"), "--base-datos", str(tmp_path / "r.db")]) == 1
    capsys.readouterr()
    assert main(["almacen", "migrar", "--a", "postgresql://u@127.0.0.1:1/b", "--base-datos", str(tmp_path / "r.db")]) == 1
    assert "No existe el almacén SQLite" in capsys.readouterr().err and not (tmp_path / "r.db").exists()


def test_migrar_takes_the_destination_from_the_variable(
    tmp_path: Path, factory: SampleFactory, postgres_url: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    build_history(tmp_path / "r.db", tmp_path / "docs", factory)
    config = tmp_path / "config.toml"
    config.write_text(f'[general]\nbase_datos = "{tmp_path / "r.db"}"\n', encoding="utf-8")
    monkeypatch.setenv("TUI_RECEPCION_BASE_DATOS", with_password(postgres_url, "Clave-Var-1"))
    assert main(["--config", str(config), "almacen", "migrar"]) == 0  # from the config's file to the variable's URL
    capsys.readouterr()
    # From now on every command uses the variable's PostgreSQL store.
    assert main(["--config", str(config), "almacen", "estado", "--formato", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["motor"] == "postgresql" and status["conteos"]["documentos"] == 2
    assert "Clave-Var" not in status["ubicacion"] and "postgres:***@127.0.0.1" in status["ubicacion"]


@pytest.mark.parametrize("fmt", ["tabla", "json"])
def test_estado_on_both_backends(store_location: Path | str, backend: str, fmt: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    location = with_password(store_location, "Secreta-Estado") if backend == "postgresql" else str(store_location)
    with Store.open(location) as store:
        store.record_outcome(ACCOUNT, "k", Extraction(failure=Failure(Reason.SIN_ADJUNTOS, "x")), "h")
    assert main(["almacen", "estado", "--base-datos", location, "--formato", fmt]) == 0
    out = capsys.readouterr().out
    assert "Secreta" not in out
    if fmt == "json":
        status = json.loads(out)
        assert status["motor"] == backend and status["version_esquema"] == SCHEMA_VERSION
        assert status["conteos"]["mensajes"] == 1 and status["conteos"]["documentos"] == 0
    else:
        assert f"Versión del esquema: {SCHEMA_VERSION}" in out and "Mensajes: 1" in out
        assert ("Motor: PostgreSQL" if backend == "postgresql" else "Motor: SQLite") in out


def test_estado_of_a_server_that_is_down_is_an_error_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.servers.net import closed_port

    with closed_port() as port:
        assert main(["almacen", "estado", "--base-datos", f"postgresql://u:Oculta-7@127.0.0.1:{port}/b"]) == 1
    err = capsys.readouterr().err
    assert "No se pudo conectar con PostgreSQL" in err and "Oculta" not in err and "u:***@" in err


def test_migrar_copies_tables_added_by_later_steps_whatever_their_key(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tui_recepcion.store import MIGRATIONS, schema

    later = ("CREATE TABLE named_things (id TEXT PRIMARY KEY, n INTEGER NOT NULL)",
             "CREATE TABLE numbered_things (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    monkeypatch.setattr(schema, "MIGRATIONS", (*MIGRATIONS, later))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    source = tmp_path / "r.db"
    with Store.open(source) as store:
        store._db.executemany("INSERT INTO named_things (id, n) VALUES (?, ?)", [("uno", 1), ("dos", 2)])
        store._db.executemany("INSERT INTO numbered_things (id, name) VALUES (?, ?)", [(7, "siete"), (40, "cuarenta")])
    assert main(["almacen", "migrar", "--a", postgres_url, "--base-datos", str(source)]) == 0
    capsys.readouterr()
    with Store.open(source) as old, Store.open(postgres_url) as new:
        assert rows(new) == rows(old)
        assert new.table_counts()["named_things"] == 2
        added = new._db.execute("INSERT INTO numbered_things (name) VALUES (?)", ("nuevo",)).lastrowid
        assert added == 41
