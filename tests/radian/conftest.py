"""Fixtures of the RADIAN tests: a throwaway company certificate, [empresa], a store with invoices."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.radian.certificates import CompanyCertificate, make_company_certificate
from tui_recepcion.config import Company
from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory
from tui_recepcion.dian.extract import extract_message
from tui_recepcion.radian.settings import SendingProfile, load_profile
from tui_recepcion.store import Store

PIN = "81723"
PASSWORD_VARIABLE = "TUI_RECEPCION_PRUEBA_CLAVE_P12"
PIN_VARIABLE = "TUI_RECEPCION_PRUEBA_PIN"
SOFTWARE_ID = "5c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e"


@pytest.fixture(scope="session")
def company_certificate(tmp_path_factory: pytest.TempPathFactory) -> CompanyCertificate:
    return make_company_certificate(tmp_path_factory.mktemp("empresa"))


def make_company(certificate: CompanyCertificate, **overrides: object) -> Company:
    values: dict[str, object] = dict(
        nit=DEFAULT_RECEIVER.nit, name=DEFAULT_RECEIVER.name, certificate=certificate.pkcs12,
        certificate_password_ref=f"env:{PASSWORD_VARIABLE}", software_id=SOFTWARE_ID, pin_ref=f"env:{PIN_VARIABLE}",
        environment="habilitacion", test_set_id="0c5d7e1a-2b3c-4d5e-8f90-a1b2c3d4e5f6",
        person_first_name="Ana María", person_family_name="Gómez Ruiz", person_id_type="13", person_id="52123456",
        person_job_title="Auxiliar contable", person_department="Contabilidad",
    )
    values.update(overrides)
    return Company(**values)  # type: ignore[arg-type]


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch, company_certificate: CompanyCertificate) -> None:
    monkeypatch.setenv(PASSWORD_VARIABLE, company_certificate.password)
    monkeypatch.setenv(PIN_VARIABLE, PIN)


@pytest.fixture
def profile(secrets_env: None, company_certificate: CompanyCertificate) -> SendingProfile:
    return load_profile(make_company(company_certificate))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "almacen.db", tmp_path / "documentos") as opened:
        yield opened


def store_invoice(store: Store, factory: SampleFactory, key: str = "imap:1:1", **options: object) -> str:
    """Store one generated invoice (as the engine would) and return its CUFE."""
    mail = factory.document_email(**options)
    extraction = extract_message(mail.raw)
    store.record_outcome("principal", key, extraction, hashlib.sha256(mail.raw).hexdigest(), "Procesados")
    return mail.cufes[0]


def empresa_table(certificate: CompanyCertificate, service_url: str, ca_file: Path) -> str:
    """An [empresa] table for config.toml whose service is the DIAN stand-in at `service_url`."""
    return f"""\
[empresa]
nit = "{DEFAULT_RECEIVER.nit}"
razon_social = "{DEFAULT_RECEIVER.name}"
certificado = "{certificate.pkcs12}"
clave_certificado = "env:{PASSWORD_VARIABLE}"
software_id = "{SOFTWARE_ID}"
pin = "env:{PIN_VARIABLE}"
ambiente = "habilitacion"
set_pruebas = "0c5d7e1a-2b3c-4d5e-8f90-a1b2c3d4e5f6"
persona_nombre = "Ana María"
persona_apellido = "Gómez Ruiz"
persona_tipo_documento = "13"
persona_documento = "52123456"
persona_cargo = "Auxiliar contable"
persona_area = "Contabilidad"
url_servicio = "{service_url}"
certificados_ca = "{ca_file}"
"""

