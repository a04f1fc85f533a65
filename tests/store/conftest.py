"""The store's tests run on both backends: `store_location` is an SQLite file or a fresh
PostgreSQL database (the real server of tests/servers/postgres.py); `store` is opened on it.

A test that is about one backend only (SQLite's WAL file, PostgreSQL's lost connection)
takes `tmp_path` or `postgres_url` directly instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_recepcion.store import Store

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    # The PostgreSQL fixture is asked for at run time, so mark the test here.
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.integration),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_location(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a test's store lives: a new SQLite file, or a new, empty PostgreSQL database."""
    if backend == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return tmp_path / "db" / "recepcion.db"


@pytest.fixture
def store(store_location: Path | str, tmp_path: Path) -> Iterator[Store]:
    with Store.open(store_location, tmp_path / "documentos") as opened:
        yield opened
