"""Shared fixtures for the whole suite."""

from __future__ import annotations

import pytest

from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory

# Real mail servers on loopback (Dovecot, aiosmtpd) and clean mailboxes: see the module.
# A real PostgreSQL 15 on loopback and a fresh database per test: tests/servers/postgres.py.
pytest_plugins = ("tests.servers.fixtures", "tests.servers.postgres")


@pytest.fixture
def factory() -> SampleFactory:
    return SampleFactory(seed=1234, receiver=DEFAULT_RECEIVER, pdf_size=4_000)


@pytest.fixture
def receiver_nit() -> str:
    return DEFAULT_RECEIVER.nit
