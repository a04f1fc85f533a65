"""Token health in the store, and the reporting seam that feeds it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tui_recepcion.oauth.health import report_token_health, token_failed, token_refreshed
from tui_recepcion.store import MIGRATIONS, SCHEMA_VERSION, Store


def test_refreshes_and_failures_are_recorded_per_account(store_location: Path | str) -> None:
    with Store.open(store_location) as store:  # on SQLite and on PostgreSQL
        assert store.token_health("principal") is None
        store.record_token_refresh("principal")
        first = store.token_health("principal")
        assert first is not None and first.healthy and first.last_failure_at is None

        store.record_token_failure(
            "principal", "token_revocado", "Microsoft ya no acepta la autorización guardada…"
        )
        failed = store.token_health("principal")
        assert failed is not None and not failed.healthy
        assert failed.last_refresh_at == first.last_refresh_at
        assert failed.last_failure_code == "token_revocado"

        store.record_token_refresh("principal")
        again = store.token_health("principal")
        assert (
            again is not None and again.healthy and again.last_failure_code == "token_revocado"
        )  # history kept
        assert store.token_health("otra") is None


def test_an_older_database_gains_the_table(tmp_path: Path) -> None:
    # A database written by the version before token health: the migrations up to it.
    path = tmp_path / "r.db"
    before = next(index for index, step in enumerate(MIGRATIONS) if "oauth_tokens" in step[0])
    raw = sqlite3.connect(path)
    for step in MIGRATIONS[:before]:
        for statement in step:
            raw.execute(statement)
    raw.execute(f"PRAGMA user_version = {before}")
    raw.commit()
    raw.close()
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        store.record_token_failure("principal", "sin_autorizacion", "no autorizada")
        health = store.token_health("principal")
        assert health is not None and health.last_refresh_at is None and not health.healthy


class _Broken:
    def record_token_refresh(self, account: str) -> None:
        raise RuntimeError("base de datos cerrada")

    def record_token_failure(self, account: str, code: str, message: str) -> None:
        raise RuntimeError("base de datos cerrada")


def test_reports_reach_the_sinks_only_while_registered_and_a_broken_one_is_ignored(tmp_path: Path) -> None:
    with Store.open(tmp_path / "r.db") as store:
        token_refreshed("principal")  # nobody listening yet
        assert store.token_health("principal") is None
        with report_token_health(_Broken()), report_token_health(store):
            token_refreshed("principal")
            token_failed("secundaria", "token_revocado", "revocado")
        token_failed("principal", "token_revocado", "después")  # no longer listening
        principal, secundaria = store.token_health("principal"), store.token_health("secundaria")
    assert principal is not None and principal.healthy
    assert secundaria is not None and secundaria.last_failure == "revocado"
