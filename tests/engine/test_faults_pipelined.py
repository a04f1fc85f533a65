"""A connection cut while several pipelined commands are in flight loses and duplicates nothing.

The engine sends commands ahead of their answers (IMAP flights, POP3 PIPELINING, ESMTP
PIPELINING). Here the conversation is plaintext on loopback, so a clean pass recorded by the
`FaultProxy` shows where each answer starts; an identical mailbox is then run with a cut
placed between two answers of one flight: the client has sent several commands, heard some
of them answered, and the rest (which the server may well have carried out: a MOVE, a DELE)
it never hears. The faulted run's own recording proves the commands were in flight at the
cut. Every run must end the documented way and one clean rerun converge: every message in
exactly one place, forwarded exactly once, every good document stored once.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomlkit

from tests.servers.certs import TestCertificates
from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.servers.faultproxy import ConnectionStats, Fault, FaultProxy
from tests.servers.smtp import SmtpServer
from tests.support.engine_support import ACCOUNT
from tests.support.fault_support import (
    Rig,
    assert_clean_rerun,
    assert_documented_exit,
    mailbox,
    run_procesar,
    write_proxied_account,
)

GOOD = 12  # + one bad mail of each failure reason


def _plaintext_smtp(config_path: Path) -> None:
    """The backup relay in plaintext, so the proxy can read the conversation."""
    document = tomllib.loads(config_path.read_text(encoding="utf-8"))
    document["cuentas"][ACCOUNT]["smtp"]["seguridad"] = "ninguna"
    config_path.write_text(tomlkit.dumps(document), encoding="utf-8")


@pytest.fixture(scope="module")
def plaintext_smtp(tls_certs: TestCertificates) -> Iterator[SmtpServer]:
    server = SmtpServer(tls_certs.server, implicit_tls=False, offer_starttls=False, plaintext_auth=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def plain_rig(tmp_path: Path, clean_dovecot: DovecotServer, tls_certs: TestCertificates,
              plaintext_smtp: SmtpServer) -> Iterator:
    made: list[Rig] = []

    def make(protocol: str) -> Rig:
        work = tmp_path / f"{protocol}-{len(made)}"
        work.mkdir()
        clean_dovecot.reset()
        smtp = plaintext_smtp if protocol == "pop3" else None
        if smtp is not None:
            smtp.clear()
        mails = list(mailbox(GOOD))
        clean_dovecot.deliver(RECEPCION, [mail.raw for mail in mails])
        mail_proxy = FaultProxy(clean_dovecot.ports.port_for(protocol, "ninguna"), record=True).start()
        smtp_proxy = FaultProxy(smtp.port, record=True).start() if smtp is not None else None
        account = write_proxied_account(work, clean_dovecot, tls_certs, mail_proxy, protocol=protocol,
                                        security="ninguna", smtp=smtp, smtp_proxy=smtp_proxy)
        if smtp is not None:
            _plaintext_smtp(account.config_path)
        rig = Rig(protocol, clean_dovecot, mails, mail_proxy, smtp_proxy, smtp, account.config_path,
                  account.database, [proxy for proxy in (mail_proxy, smtp_proxy) if proxy is not None])
        made.append(rig)
        return rig

    yield make
    for rig in made:
        for proxy in rig.proxies:
            proxy.stop()


def _clean_transcript(plain_rig, protocol: str, target: str) -> ConnectionStats:
    rig = plain_rig(protocol)
    assert_documented_exit(run_procesar(rig.config_path), codes=(0,))
    rig.assert_converged()
    proxy = rig.mail_proxy if target == "mail" else rig.smtp_proxy
    assert proxy is not None
    [stats] = proxy.connections  # one session per pass
    return stats


def _nth(pattern: bytes, data: bytes | bytearray, index: int) -> int:
    found = [match.start() for match in re.finditer(pattern, data)]
    assert len(found) > index, f"{pattern!r} aparece {len(found)} veces en la conversación limpia"
    return found[index]


def _cut_and_converge(rig: Rig, proxy: FaultProxy, offset: int) -> ConnectionStats:
    proxy.arm(Fault.cut(offset, "down"))
    run = run_procesar(rig.config_path)
    assert_documented_exit(run)
    assert proxy.fired() == 1, "the cut never fired: the test proved nothing"
    faulted = proxy.connections[0]
    rig.disarm()
    assert_clean_rerun(rig.config_path)
    rig.assert_converged()
    return faulted


# --- IMAP: a flight of STORE + MOVE, and the opening flight -------------------------------

def test_imap_cut_between_the_answers_to_store_and_move(plain_rig) -> None:
    clean = _clean_transcript(plain_rig, "imap", "mail")
    # The batch's disposal: STORE \Seen and MOVE in one flight. Cut just after the STORE's
    # answer: the server moved the mail, the client never hears it.
    store = _nth(rb"[A-Z0-9]+ OK Store completed", clean.down_bytes, 0)
    offset = clean.down_bytes.index(b"\r\n", store) + 2
    rig = plain_rig("imap")
    faulted = _cut_and_converge(rig, rig.mail_proxy, offset)
    assert re.search(rb"UID STORE [^\r\n]*\r\n[A-Z0-9]+ UID MOVE ", faulted.up_bytes), "STORE and MOVE were not one flight"
    assert b"Move completed" not in faulted.down_bytes, "the MOVE was not in flight at the cut"


def test_imap_cut_inside_the_opening_flight(plain_rig) -> None:
    clean = _clean_transcript(plain_rig, "imap", "mail")
    namespace = _nth(rb"[A-Z0-9]+ OK Namespace completed", clean.down_bytes, 0)
    offset = clean.down_bytes.index(b"\r\n", namespace) + 2  # LIST, SELECT and the listing in flight
    rig = plain_rig("imap")
    faulted = _cut_and_converge(rig, rig.mail_proxy, offset)
    assert re.search(rb"NAMESPACE\r\n[^\r\n]+ LIST [^\r\n]*\r\n[^\r\n]+ SELECT INBOX\r\n[^\r\n]+ UID FETCH 1:\*",
                     faulted.up_bytes), "the opening commands were not one flight"
    assert b"Select completed" not in faulted.down_bytes


# --- POP3: RETRs in flight, DELEs in flight -----------------------------------------------

def test_pop3_cut_with_several_retrs_in_flight(plain_rig) -> None:
    clean = _clean_transcript(plain_rig, "pop3", "mail")
    offset = _nth(rb"\+OK \d+ octets\r\n", clean.down_bytes, 2) + 100  # inside the third message
    rig = plain_rig("pop3")
    faulted = _cut_and_converge(rig, rig.mail_proxy, offset)
    sent = faulted.up_bytes.count(b"RETR ")
    answered = len(re.findall(rb"\+OK \d+ octets\r\n", faulted.down_bytes))
    assert sent - answered >= 2, f"{sent} RETR sent, {answered} answered: not several in flight"


def test_pop3_cut_among_the_deles(plain_rig) -> None:
    # DELE answers are read at the end of the batch, so the client goes on forwarding and
    # asking for deletions after the connection died under the first answer; none commits
    # (no QUIT), and the rerun deletes without forwarding again.
    clean = _clean_transcript(plain_rig, "pop3", "mail")
    first = _nth(rb"\+OK Marked to be deleted\.\r\n", clean.down_bytes, 0)
    offset = clean.down_bytes.index(b"\r\n", first) + 2
    rig = plain_rig("pop3")
    faulted = _cut_and_converge(rig, rig.mail_proxy, offset)
    sent = faulted.up_bytes.count(b"DELE ")
    answered = faulted.down_bytes.count(b"Marked to be deleted")
    assert sent >= 2 and answered < sent, f"{sent} DELE sent, {answered} answered: none in flight"


# --- SMTP: MAIL, RCPT and DATA in flight ----------------------------------------------------

def test_smtp_cut_with_the_envelope_in_flight(plain_rig) -> None:
    clean = _clean_transcript(plain_rig, "pop3", "smtp")
    # The second forward: its MAIL answered, its RCPT and DATA not yet.
    data = _nth(rb"354 ", clean.down_bytes, 1)
    rcpt_reply = clean.down_bytes.rindex(b"250 ", 0, data)
    rig = plain_rig("pop3")
    assert rig.smtp_proxy is not None
    faulted = _cut_and_converge(rig, rig.smtp_proxy, rcpt_reply)
    assert re.search(rb"MAIL FROM:<[^\r\n]*\r\nRCPT TO:<[^\r\n]*\r\nDATA\r\n", faulted.up_bytes), \
        "MAIL, RCPT and DATA were not one write"
    assert faulted.down_bytes.count(b"354 ") == 1, "the second envelope was answered before the cut"
