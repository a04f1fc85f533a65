"""The service survives the network (issue 12): `procesar` without --una-vez through a fault proxy.

Several faults in a row (cuts, a reset, a stall the pass bound ends, every connection dropped
as on a server restart) must leave the process alive; once the proxy is disarmed it must
converge by itself (fresh mail delivered before each fault is all processed), and SIGTERM
must end it with status 0 within 5 s. A connection dropped during login must be retried
within seconds, with no authentication pause and no authentication alert.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.certs import TestCertificates
from tests.servers.dovecot import RECEPCION, RESPALDO, DovecotServer
from tests.servers.faultproxy import Fault, FaultProxy
from tests.support.engine_support import ACCOUNT
from tests.support.fault_support import (
    Service,
    assert_imap_converged,
    assert_no_traceback,
    auth_incidents,
    auth_problem_events,
    imap_converged,
    poll_until,
    run_procesar,
    write_proxied_account,
)
from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory

# The pass bound ends a stalled pass; retries start after 0.2 s (fault_support.SERVICE_ENV).
SERVICE_ENV = {"TUI_RECEPCION_PASADA_MAX_SEGUNDOS": "3"}
CONVERGE_SECONDS = 30.0
# Past an idle session (TLS, login, SELECT, IDLE: a few KB) and inside a pass of fresh mail
# (~100 KB per batch below), so only processing passes are hit.
MID_PASS = 40_000


@pytest.fixture
def proxy(clean_dovecot: DovecotServer) -> Iterator[FaultProxy]:
    with FaultProxy(clean_dovecot.ports.port_for("imap", "ssl")) as proxy:
        yield proxy


@pytest.fixture
def service_for(tmp_path: Path):
    started: list[Service] = []

    def start(config_path: Path, env: dict | None = None) -> Service:
        service = Service(config_path, tmp_path, env={**SERVICE_ENV, **(env or {})})
        started.append(service)
        return service

    yield start
    for service in started:
        service.kill()


def _batches(count: int, size: int) -> list[list]:
    factory = SampleFactory(seed=31, receiver=DEFAULT_RECEIVER, pdf_size=4_000)
    mails = factory.mailbox(good=count * size - 10, failing_each=1)  # ten bad mails, spread by the shuffle
    return [mails[index * size:(index + 1) * size] for index in range(count)]


def _stop(service: Service) -> None:
    code, seconds = service.terminate(within=5.0)
    assert code == 0, f"SIGTERM: código {code} tras {seconds:.1f} s\n{service.describe()}"
    assert_no_traceback(*service.output())


def test_the_service_survives_a_series_of_faults_and_converges(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs: TestCertificates, proxy: FaultProxy, service_for,
) -> None:
    faults = [
        ("a cut mid-pass", Fault.cut(MID_PASS, "down", times=0)),
        ("a reset mid-pass", Fault.reset(MID_PASS, "down", times=0)),
        ("a cut further into the pass", Fault.cut(MID_PASS * 2, "down", times=0)),
        ("a stall mid-pass (the pass bound ends it)", Fault.stall(MID_PASS, "down", times=0)),
    ]
    batches = _batches(len(faults) + 2, 8)
    account = write_proxied_account(tmp_path, clean_dovecot, tls_certs, proxy)
    delivered: list = []

    def deliver(batch: list) -> None:
        clean_dovecot.deliver(RECEPCION, [mail.raw for mail in batch])
        delivered.extend(batch)

    def converged() -> bool:
        return imap_converged(clean_dovecot, delivered, account.database)

    deliver(batches[0])
    service = service_for(account.config_path)
    poll_until(converged, CONVERGE_SECONDS, "the first batch was processed", interval=0.3,
               describe=service.describe)
    for (what, fault), batch in zip(faults, batches[1:], strict=False):
        fired = proxy.fired()
        proxy.arm(fault)  # every new session until disarmed: the retries are hit too
        deliver(batch)
        # At least one faulted session: a cut after some messages arrived may be healed within
        # the pass (the source reconnects and reads only the rest), or take the service's retry.
        poll_until(lambda: proxy.fired() >= fired + 1 or not service.alive(), CONVERGE_SECONDS,  # noqa: B023
                   f"{what}: a faulted session", interval=0.1, describe=service.describe)
        service.assert_alive(f"after {what}")
        proxy.disarm()
        poll_until(converged, CONVERGE_SECONDS, f"after {what}, the mailbox converged", interval=0.3,
                   describe=service.describe)
        service.assert_alive(f"after {what}, converged")

    # A server restart as the client sees it: every connection dropped in the middle of a pass.
    fired = proxy.fired()
    proxy.arm(Fault.stall(MID_PASS, "down"))
    deliver(batches[-1])
    poll_until(lambda: proxy.fired() > fired or not service.alive(), CONVERGE_SECONDS, "a pass reached the stall",
               interval=0.05, describe=service.describe)
    proxy.drop_all()
    service.assert_alive("after every connection was dropped")
    poll_until(converged, CONVERGE_SECONDS, "after the drop, the mailbox converged", interval=0.3,
               describe=service.describe)
    service.assert_alive("at the end")
    assert_imap_converged(clean_dovecot, delivered, account.database)
    _stop(service)


@pytest.mark.parametrize("drops", [1, 2])
def test_a_login_drop_in_service_mode_is_retried_at_once_without_alert(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs: TestCertificates, proxy: FaultProxy, service_for,
    drops: int,
) -> None:
    # The cut falls where the server's answer to the login starts: the credentials were
    # accepted and the client hears nothing (see `_login_answer_offset`).
    [batch] = _batches(1, 12)
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in batch])
    account = write_proxied_account(tmp_path, clean_dovecot, tls_certs, proxy,
                                    extra={"correo_notificacion": "tecnico@prueba.co"})
    login_answer = _login_answer_offset(clean_dovecot, tls_certs, tmp_path / "medida")
    proxy.arm(Fault.cut(login_answer, "down", times=drops))
    service = service_for(account.config_path)
    # No one-hour authentication pause: with retries from 0.2 s it converges within seconds.
    poll_until(lambda: imap_converged(clean_dovecot, batch, account.database) or not service.alive(), 15.0,
               "the mailbox was processed after the login drop", interval=0.2, describe=service.describe)
    service.assert_alive("after the login drop")
    assert proxy.fired() == drops
    assert auth_incidents(account.database) == [], "a dropped connection was taken for a refused password"
    assert auth_problem_events(account.database) == []
    _stop(service)


def _login_answer_offset(dovecot: DovecotServer, certs: TestCertificates, workdir: Path) -> int:
    """Where the server's answer to the login starts, in the down stream of a session.

    Measured on a clean one-pass run against the (empty) backup mailbox through a probe
    proxy: its turn boundaries are the TLS handshake (two), the capabilities, then the
    login answer; the mailbox under test is left alone for the service.
    """
    workdir.mkdir()
    with FaultProxy(dovecot.ports.port_for("imap", "ssl")) as probe:
        account = write_proxied_account(workdir, dovecot, certs, probe,
                                        extra={"usuario": RESPALDO.address})
        secret = tomllib.loads(account.config_path.read_text(encoding="utf-8"))["cuentas"][ACCOUNT]["secreto"]
        Path(secret.removeprefix("archivo:")).write_text(RESPALDO.password, encoding="utf-8")
        run = run_procesar(account.config_path)
        assert run.returncode == 0, run.describe()
        starts = sorted({down for _up, down in probe.connections[0].turns()})
    return starts[3]
