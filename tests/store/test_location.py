"""Where the store is: an SQLite file or a PostgreSQL URL, from --base-datos, the variable or
the config (in that order), with a URL's password never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_recepcion import paths
from tui_recepcion.config import parse_config, write_config
from tui_recepcion.store.location import describe, is_postgres_url, mask_url, scrub

URL = "postgresql://recepcion:Cl%40ve-9@db.empresa.co:5432/recepcion?sslmode=require"


def test_urls_are_told_apart_from_files() -> None:
    assert is_postgres_url(URL) and is_postgres_url("postgres://h/b") and is_postgres_url("POSTGRESQL:///b")
    assert not is_postgres_url("/var/lib/recepcion.db") and not is_postgres_url(Path("postgresql:/x"))
    assert not is_postgres_url("sqlite:///r.db")


@pytest.mark.parametrize("url, shown", [
    (URL, "postgresql://recepcion:***@db.empresa.co:5432/recepcion?sslmode=require"),
    ("postgresql://u@h/b?password=abc&sslmode=verify-full", "postgresql://u@h/b?password=***&sslmode=verify-full"),
    ("postgresql://u@h/b", "postgresql://u@h/b"),
    ("postgresql://u:[roto@h/b", "postgresql://***@h/…"),
])
def test_the_password_is_masked(url: str, shown: str) -> None:
    assert mask_url(url) == shown == describe(url)


def test_driver_text_is_scrubbed_of_the_password_in_every_form() -> None:
    text = scrub("FATAL: clave Cl@ve-9 o Cl%40ve-9 rechazada", URL)
    assert "Cl@ve" not in text and "Cl%40ve" not in text and text.count("***") == 2


def config_with(database: str) -> object:
    config, problems = parse_config(f'[general]\nbase_datos = "{database}"\n', require_accounts=False)
    assert problems == [] and config is not None
    return config


def test_the_variable_wins_over_the_config_and_the_command_line_over_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_with(str(tmp_path / "archivo.db"))
    monkeypatch.delenv(paths.DATABASE_VARIABLE, raising=False)
    assert paths.database_path(config) == tmp_path / "archivo.db"
    monkeypatch.setenv(paths.DATABASE_VARIABLE, URL)
    assert paths.database_path(config) == URL
    assert paths.database_path(config, use_environment=False) == tmp_path / "archivo.db"
    assert paths.database_path(config, str(tmp_path / "otra.db")) == tmp_path / "otra.db"
    assert paths.lock_dir(config) == paths.data_dir() / "bloqueos"  # no file to sit next to
    monkeypatch.setenv(paths.DATABASE_VARIABLE, str(tmp_path / "de-la-variable.db"))
    assert paths.database_path(config) == tmp_path / "de-la-variable.db"
    assert paths.lock_dir(config) == tmp_path / "bloqueos"


def test_base_datos_keeps_a_url_as_text_and_writes_it_back(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(paths.DATABASE_VARIABLE, raising=False)
    config = config_with("postgresql://recepcion@db.empresa.co/recepcion")
    assert config.general.database == "postgresql://recepcion@db.empresa.co/recepcion"
    assert paths.database_path(config) == "postgresql://recepcion@db.empresa.co/recepcion"
    target = tmp_path / "config.toml"
    write_config(config, target)
    assert 'base_datos = "postgresql://recepcion@db.empresa.co/recepcion"' in target.read_text(encoding="utf-8")


def test_an_incomplete_url_is_a_problem_naming_key_and_line() -> None:
    config, problems = parse_config('[general]\nbase_datos = "postgresql://"\n', require_accounts=False)
    assert config is None and len(problems) == 1
    (problem,) = problems
    assert (problem.key, problem.line) == ("general.base_datos", 2) and "incompleta" in problem.message
