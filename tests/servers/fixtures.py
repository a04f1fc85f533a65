"""Pytest plugin with the mail-server fixtures; tests/conftest.py loads it.

Servers are session-scoped and start lazily, the first time a test asks for them.
The `clean_*` fixtures are function-scoped: they empty the server's mailboxes (or the
SMTP inbox) before the test and hand back the same server. A Dovecot that cannot start
is a setup error carrying its log, never a skip.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import net
from tests.servers.certs import TestCertificates, make_test_certificates
from tests.servers.dian import DianStandIn
from tests.servers.dovecot import (
    CON_PREFIJO,
    DEFAULT,
    SIN_MOVE,
    SIN_STARTTLS,
    UIDL_POR_ARCHIVO,
    DovecotPool,
    DovecotServer,
)
from tests.servers.oauth import (
    TokenIntrospection,
    TokenRegistry,
    XOAuth2Smtp,
    dovecot_oauth2_options,
)
from tests.servers.smtp import SmtpServer

# A test that uses any of these talks to a real server on loopback: it is an integration
# test, so `pytest -m "not integration"` leaves it out and stays fast.
SERVER_FIXTURES = frozenset({"dovecot_pool", "smtp_server", "smtps_server", "smtp_sin_starttls_server",
                             "smtp_xoauth2_server", "token_introspection", "smtp_2mb_server", "dian_server"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: talks to a real server on loopback (Dovecot, SMTP, PostgreSQL)")
    # aiosmtpd warns when AUTH is allowed without STARTTLS; on the implicit-TLS server
    # the whole connection is encrypted, so the warning does not apply.
    config.addinivalue_line(
        "filterwarnings", "ignore:Requiring AUTH while not requiring TLS:UserWarning"
    )


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory) -> TestCertificates:
    return make_test_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def dovecot_pool(tls_certs: TestCertificates) -> Iterator[DovecotPool]:
    """Starts Dovecot variants on first use (a failure is a setup error, never a skip)."""
    pool = DovecotPool(tls_certs.server)
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture(scope="session")
def dovecot(dovecot_pool: DovecotPool) -> DovecotServer:
    """Full Dovecot: IMAP (+STARTTLS), IMAPS, POP3 (+STLS), POP3S; MOVE, UIDPLUS, IDLE."""
    return dovecot_pool.get(DEFAULT)


@pytest.fixture(scope="session")
def dovecot_sin_move(dovecot_pool: DovecotPool) -> DovecotServer:
    """Dovecot whose IMAP capabilities lack MOVE (UIDPLUS and IDLE remain)."""
    return dovecot_pool.get(SIN_MOVE)


@pytest.fixture(scope="session")
def dovecot_sin_starttls(dovecot_pool: DovecotPool) -> DovecotServer:
    """Dovecot with `ssl = no`: plaintext IMAP and POP3 only, STARTTLS never offered."""
    return dovecot_pool.get(SIN_STARTTLS)


@pytest.fixture(scope="session")
def dovecot_con_prefijo(dovecot_pool: DovecotPool) -> DovecotServer:
    """Dovecot whose personal namespace is `INBOX.` with `.` as the hierarchy delimiter."""
    return dovecot_pool.get(CON_PREFIJO)


@pytest.fixture(scope="session")
def oauth_tokens() -> TokenRegistry:
    """The access tokens the OAuth2 mail servers accept (tests issue and revoke them)."""
    return TokenRegistry()


@pytest.fixture(scope="session")
def token_introspection(oauth_tokens: TokenRegistry) -> Iterator[TokenIntrospection]:
    """The introspection endpoint Dovecot's oauth2 passdb asks about every token."""
    endpoint = TokenIntrospection(oauth_tokens)
    with endpoint.server:
        yield endpoint


@pytest.fixture(scope="session")
def dovecot_oauth2(
    dovecot_pool: DovecotPool,
    token_introspection: TokenIntrospection,
    tmp_path_factory: pytest.TempPathFactory,
) -> DovecotServer:
    """Dovecot that also accepts XOAUTH2/OAUTHBEARER tokens, checked by `token_introspection`."""
    options = dovecot_oauth2_options(token_introspection.url, tmp_path_factory.mktemp("oauth2"))
    return dovecot_pool.get(options)


@pytest.fixture(scope="session")
def dovecot_uidl_archivo(dovecot_pool: DovecotPool) -> DovecotServer:
    """Dovecot whose POP3 UIDL is the Maildir file name (`pop3_uidl_format = %f`)."""
    return dovecot_pool.get(UIDL_POR_ARCHIVO)


@pytest.fixture
def clean_dovecot_uidl_archivo(dovecot_uidl_archivo: DovecotServer) -> DovecotServer:
    dovecot_uidl_archivo.reset()
    return dovecot_uidl_archivo


@pytest.fixture
def clean_dovecot(dovecot: DovecotServer) -> DovecotServer:
    dovecot.reset()
    return dovecot


@pytest.fixture
def clean_dovecot_sin_move(dovecot_sin_move: DovecotServer) -> DovecotServer:
    dovecot_sin_move.reset()
    return dovecot_sin_move


@pytest.fixture
def clean_dovecot_sin_starttls(dovecot_sin_starttls: DovecotServer) -> DovecotServer:
    dovecot_sin_starttls.reset()
    return dovecot_sin_starttls


@pytest.fixture
def clean_dovecot_con_prefijo(dovecot_con_prefijo: DovecotServer) -> DovecotServer:
    dovecot_con_prefijo.reset()
    return dovecot_con_prefijo


def _run_smtp(
    certs: TestCertificates, *, implicit_tls: bool, offer_starttls: bool = True, **options: object
) -> Iterator[SmtpServer]:
    server = SmtpServer(certs.server, implicit_tls=implicit_tls, offer_starttls=offer_starttls, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def smtp_server(tls_certs: TestCertificates) -> Iterator[SmtpServer]:
    """SMTP submission with STARTTLS required before AUTH (like port 587)."""
    yield from _run_smtp(tls_certs, implicit_tls=False)


@pytest.fixture(scope="session")
def smtps_server(tls_certs: TestCertificates) -> Iterator[SmtpServer]:
    """SMTP submission over implicit TLS (like port 465)."""
    yield from _run_smtp(tls_certs, implicit_tls=True)


@pytest.fixture(scope="session")
def smtp_sin_starttls_server(tls_certs: TestCertificates) -> Iterator[SmtpServer]:
    """SMTP that offers neither STARTTLS nor AUTH (a misconfigured or wrong port)."""
    yield from _run_smtp(tls_certs, implicit_tls=False, offer_starttls=False)


SMTP_2MB_LIMIT = 2 * 1024 * 1024


@pytest.fixture(scope="session")
def smtp_2mb_server(tls_certs: TestCertificates) -> Iterator[SmtpServer]:
    """SMTP submission (STARTTLS) that refuses messages over 2 MiB with 552, as relays do."""
    yield from _run_smtp(tls_certs, implicit_tls=False, data_size_limit=SMTP_2MB_LIMIT)


@pytest.fixture
def clean_smtp_2mb(smtp_2mb_server: SmtpServer) -> SmtpServer:
    smtp_2mb_server.clear()
    return smtp_2mb_server


@pytest.fixture(scope="session")
def smtp_xoauth2_server(tls_certs: TestCertificates, oauth_tokens: TokenRegistry) -> Iterator[SmtpServer]:
    """SMTP submission (STARTTLS) that accepts only AUTH XOAUTH2 with `oauth_tokens`."""
    server = XOAuth2Smtp(tls_certs.server, oauth_tokens)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clean_smtp(smtp_server: SmtpServer) -> SmtpServer:
    smtp_server.clear()
    return smtp_server


@pytest.fixture
def clean_smtps(smtps_server: SmtpServer) -> SmtpServer:
    smtps_server.clear()
    return smtps_server


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections (a mail service that is down)."""
    with net.closed_port() as port:
        yield port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers (for timeouts)."""
    with net.silent_server() as port:
        yield port


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On failure, attach what each Dovecot the test used logged since its mailbox was reset."""
    report = yield
    if report.failed:
        values = getattr(item, "funcargs", {}).values()
        servers = {id(v): v for v in values if isinstance(v, DovecotServer)}  # clean_x is x
        for server in servers.values():
            report.sections.append(
                (f"registro de {server.options.name}", server.log_since_reset() or "(vacío)")
            )
    return report


@pytest.fixture
def dian_server(tls_certs: TestCertificates) -> Iterator[DianStandIn]:
    """A fresh HTTPS stand-in of DIAN's event service (tests/servers/dian.py)."""
    with DianStandIn(tls_certs.server) as server:
        yield server

