"""A private PostgreSQL 15 for integration tests, from Debian's `postgresql` package.

`initdb` refuses to run as root, so the cluster lives in a temporary directory owned by the
`postgres` user and every server binary runs as that user. The server listens on 127.0.0.1
only, on a free port, with `trust` authentication (no password on loopback, for tests) and
durability off (fsync, full-page writes): a crash loses nothing a test needs.

Fixtures (this module is a pytest plugin; tests/conftest.py loads it):
- `postgres_server`, session-scoped: one server for the whole run, started on first use; a
  server that cannot start is a setup error carrying its log, never a skip;
- `postgres_url`, function-scoped: a fresh, empty database for each test, dropped after it;
- `backend` / `store_location`: a test that takes `store_location` runs twice, on a new
  SQLite file and on a fresh PostgreSQL database (the store on both backends).
Tests that use the server are auto-marked `integration`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.servers.net import LOOPBACK, free_port

BIN_DIR = Path("/usr/lib/postgresql/15/bin")
OS_USER = "postgres"
SUPERUSER = "postgres"
START_TIMEOUT = 30


class PostgresError(RuntimeError):
    """PostgreSQL is missing or did not start; the message carries the log tail."""


class PostgresServer:
    """One throwaway cluster: `start()`, `create_database()`/`drop_database()`, `stop()`."""

    def __init__(self, bin_dir: Path = BIN_DIR) -> None:
        self.bin_dir = bin_dir
        self.port = 0
        self.root = Path()
        self._names = count(1)
        self._started = False

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{LOOPBACK}:{self.port}/{database}"

    def start(self) -> None:
        if not (self.bin_dir / "initdb").exists():
            raise PostgresError(f"no está PostgreSQL 15 en {self.bin_dir} (paquete Debian «postgresql»)")
        account = pwd.getpwnam(OS_USER)
        self.root = Path(tempfile.mkdtemp(prefix="tui-recepcion-pg-"))
        os.chown(self.root, account.pw_uid, account.pw_gid)
        os.chmod(self.root, 0o700)
        self.port = free_port()
        self._run(
            "initdb", "-D", str(self.data_dir), "-A", "trust", "-U", SUPERUSER,
            "-E", "UTF8", "--locale", "C.UTF-8", "--no-sync",
        )
        self.resume()

    def resume(self) -> None:
        """Start the server (again, on the same data and port)."""
        options = " ".join((
            f"-p {self.port}",
            f"-c listen_addresses={LOOPBACK}",
            f"-c unix_socket_directories={self.root}",
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            "-c max_connections=200",
        ))
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-o", options,
            "-w", "-t", str(START_TIMEOUT), "start",
        )
        self._started = True

    def pause(self, mode: str = "fast") -> None:
        """Stop the server, ending every connection (`resume` starts it again). "fast" keeps
        what was committed; "immediate" is a crash, and with this test server's durability
        off it may lose the last commits."""
        if self._started:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")
            self._started = False

    def stop(self) -> None:
        self.pause("immediate")
        if self.root != Path() and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit superuser connection to the maintenance database."""
        return psycopg.connect(self.url(), autocommit=True)

    def create_database(self) -> str:
        name = f"prueba_{os.getpid()}_{next(self._names)}"
        with self.admin() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as connection:  # FORCE: ends whatever a test left connected
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(sin registro)"

    def _run(self, program: str, *args: str) -> None:
        try:
            subprocess.run(
                [str(self.bin_dir / program), *args], user=OS_USER, cwd=self.root,
                check=True, capture_output=True, timeout=START_TIMEOUT + 15,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            output = (error.stderr or b"").decode(errors="replace") if isinstance(error.stderr, bytes) else ""
            raise PostgresError(f"{program} falló: {output}\n{self.log_tail()}") from error


# A test that uses one of these talks to a real PostgreSQL on loopback: an integration test.
POSTGRES_FIXTURES = frozenset({"postgres_server", "postgres_url"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL 15 on 127.0.0.1 for the whole run (a failure to start is a setup error)."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, empty database of its own for this test."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    # The PostgreSQL fixture is asked for at run time, so the mark is given here.
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
