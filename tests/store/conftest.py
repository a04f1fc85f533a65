"""The store's tests run on both backends: `store_location` (tests/servers/postgres.py) is an
SQLite file or a fresh PostgreSQL database (the real server); `store` is opened on it.

A test that is about one backend only (SQLite's WAL file, PostgreSQL's lost connection)
takes `tmp_path` or `postgres_url` directly instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_recepcion.store import Store


@pytest.fixture
def store(store_location: Path | str, tmp_path: Path) -> Iterator[Store]:
    with Store.open(store_location, tmp_path / "documentos") as opened:
        yield opened
