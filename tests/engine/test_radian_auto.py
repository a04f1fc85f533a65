"""The automatic acuse (030, + 032 with recibo_automatico) after a pass stores invoices: off by
default, through the same sender and rules, against the HTTPS stand-in of DIAN; never fails a pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.test_pipeline_maildir import deliver
from tests.radian.certificates import CompanyCertificate, make_company_certificate
from tests.radian.conftest import PASSWORD_VARIABLE, PIN_VARIABLE, make_company
from tests.servers.certs import TestCertificates
from tests.servers.dian import DianStandIn
from tui_recepcion.config import Account, Config, General
from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory
from tui_recepcion.engine.service import AccountProcessor, Engine
from tui_recepcion.mailbox.maildir import MaildirSource
from tui_recepcion.providers import shared_registry
from tui_recepcion.store import Store


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> CompanyCertificate:
    return make_company_certificate(tmp_path_factory.mktemp("empresa"))


def _pass(tmp_path: Path, company, factory: SampleFactory, mails: int = 2) -> tuple[Store, list[str]]:
    inbox = tmp_path / "Maildir"
    generated = [factory.document_email() for _ in range(mails)]
    deliver(inbox, generated)
    account = Account(id="local", provider="generic", auth_type="basica", protocol="imap", host="localhost",
                      port=993, security="ssl", username="recepcion@example.co", receiver_nit=DEFAULT_RECEIVER.nit)
    config = Config(general=General(database=tmp_path / "almacen.db", documents_dir=tmp_path / "documentos"),
                    accounts={"local": account}, company=company)
    store = Store.open(tmp_path / "almacen.db", tmp_path / "documentos")
    engine = Engine(config, store, shared_registry())
    processor = AccountProcessor(engine, account, source_factory=lambda: MaildirSource(inbox))
    processor.run_pass()
    return store, [mail.cufes[0] for mail in generated]


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch, certificate: CompanyCertificate) -> None:
    monkeypatch.setenv(PASSWORD_VARIABLE, certificate.password)
    monkeypatch.setenv(PIN_VARIABLE, "13579")


def test_a_pass_sends_the_automatic_acuse_and_recibo(tmp_path: Path, certificate: CompanyCertificate,
                                                      secrets_env: None, dian_server: DianStandIn,
                                                      tls_certs: TestCertificates, factory: SampleFactory) -> None:
    company = make_company(certificate, auto_acknowledge=True, auto_receipt=True, service_url=dian_server.url,
                           ca_file=tls_certs.ca_file)
    store, cufes = _pass(tmp_path, company, factory)
    with store:
        assert sorted((sent.cufe, sent.code) for sent in dian_server.sends()) == sorted(
            (cufe, code) for cufe in cufes for code in ("030", "032"))
        assert {send.requested_by for send in store.radian_sends()} == {"automático (acuse_automatico en [empresa])"}
        assert not any(sent.code == "033" for sent in dian_server.sends())


def test_off_by_default(tmp_path: Path, certificate: CompanyCertificate, secrets_env: None,
                        dian_server: DianStandIn, tls_certs: TestCertificates, factory: SampleFactory) -> None:
    company = make_company(certificate, service_url=dian_server.url, ca_file=tls_certs.ca_file)
    store, _ = _pass(tmp_path, company, factory)
    with store:
        assert dian_server.state.received == [] and store.radian_sends() == []


def test_dian_down_never_fails_the_pass(tmp_path: Path, certificate: CompanyCertificate, secrets_env: None,
                                        dian_server: DianStandIn, tls_certs: TestCertificates,
                                        factory: SampleFactory) -> None:
    dian_server.script("error500", "error500")
    company = make_company(certificate, auto_acknowledge=True, service_url=dian_server.url, ca_file=tls_certs.ca_file)
    store, cufes = _pass(tmp_path, company, factory)
    with store:
        assert len(store.documents()) == 2  # the mail was processed all the same
        assert sorted(send.state for send in store.radian_sends()) == ["incierto", "incierto"]
