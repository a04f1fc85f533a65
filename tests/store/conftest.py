"""The store's tests run on both backends: `store_location` (tests/servers/postgres.py) is an
SQLite file or a fresh PostgreSQL database (the real server); `store` is opened on it.

A test that is about one backend only (SQLite's WAL file, PostgreSQL's lost connection)
takes `tmp_path` or `postgres_url` directly instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_recepcion.store import Store


@pytest.fixture
def store(store_location: Path | str, tmp_path: Path) -> Iterator[Store]:
    with Store.open(store_location, tmp_path / "documentos") as opened:
        yield opened


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """A umask that would let group and others read: the store's own modes must not depend on it."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)
