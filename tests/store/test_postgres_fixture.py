"""The PostgreSQL test server itself works: loopback only, a fresh database per test, auto-marked."""

from __future__ import annotations

import psycopg
import pytest

from tests.servers.postgres import PostgresServer


def test_each_test_gets_an_empty_database_of_its_own(postgres_url: str, postgres_server: PostgresServer) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        tables = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        connection.execute("CREATE TABLE marca (id INTEGER PRIMARY KEY)")
        database = connection.execute("SELECT current_database()").fetchone()
    assert tables == (0,)
    assert database is not None and database[0] != "postgres"
    assert postgres_url == postgres_server.url(str(database[0]))


def test_the_server_listens_on_loopback_only(postgres_server: PostgresServer) -> None:
    with postgres_server.admin() as connection:
        listen = connection.execute("SHOW listen_addresses").fetchone()
        version = connection.execute("SHOW server_version_num").fetchone()
    assert listen == ("127.0.0.1",)
    assert version is not None and 150000 <= int(str(version[0])) < 160000


def test_tests_using_the_server_are_marked_integration(request: pytest.FixtureRequest, postgres_url: str) -> None:
    assert request.node.get_closest_marker("integration") is not None
