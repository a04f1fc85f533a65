"""`tui-recepcion eventos enviar|estado|generar|habilitacion` against the HTTPS stand-in of DIAN:
what DIAN answered is shown in Spanish and the exit code says whether the events are at DIAN."""

from __future__ import annotations

import base64
import logging
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.radian.certificates import CompanyCertificate, make_company_certificate
from tests.radian.conftest import PASSWORD_VARIABLE, PIN_VARIABLE, empresa_table, store_invoice
from tests.servers.certs import TestCertificates
from tests.servers.dian import DianStandIn
from tui_recepcion import cli
from tui_recepcion.demo.samples import SampleFactory
from tui_recepcion.store import Store

# Distinctive values, so that finding them anywhere means they leaked.
PIN = "PIN-del-software-8f3Q2"


def private_key_forms(pem: bytes) -> list[str]:
    """The forms the private part of an RSA key could leak in: the PEM, and d, p, q as base64 and hex.

    (The PEM's first lines hold the modulus, which the certificate shows publicly: only the
    lines after it are secret on their own.)"""
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    numbers = key.private_numbers()
    forms = [pem.decode(), *pem.decode().splitlines()[8:-1]]
    for value in (numbers.d, numbers.p, numbers.q):
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        forms += [base64.b64encode(raw).decode()[:40], raw.hex()[:40], str(value)[:40]]
    return forms


def write_config(path: Path, certificate: CompanyCertificate, server: DianStandIn, certs: TestCertificates) -> Path:
    path.write_text(empresa_table(certificate, server.url, certs.ca_file), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def company_certificate(tmp_path_factory: pytest.TempPathFactory) -> CompanyCertificate:
    return make_company_certificate(tmp_path_factory.mktemp("empresa"))


@pytest.fixture
def setup(tmp_path: Path, company_certificate: CompanyCertificate, dian_server: DianStandIn,
          tls_certs: TestCertificates, monkeypatch: pytest.MonkeyPatch, factory: SampleFactory):
    monkeypatch.setenv(PASSWORD_VARIABLE, company_certificate.password)
    monkeypatch.setenv(PIN_VARIABLE, PIN)
    config = write_config(tmp_path / "config.toml", company_certificate, dian_server, tls_certs)
    database = tmp_path / "almacen.db"
    with Store.open(database, tmp_path / "documentos") as store:
        cufes = [store_invoice(store, factory, key=f"imap:1:{n}") for n in (1, 2)]
        numbers = [store.document_by_cufe(cufe).document.number for cufe in cufes]
    base = ["--config", str(config)]
    tail = ["--base-datos", str(database), "--solicitante", "contadora"]
    return base, tail, cufes, numbers, database


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_enviar_acknowledges_and_receives(setup, capsys, dian_server: DianStandIn) -> None:
    base, tail, (cufe, _), (number, _), _ = setup
    code, out = _run(capsys, *base, "eventos", "enviar", "--tipo", "030,032", "--cufe", cufe, *tail)
    assert code == 0, out
    assert re.search(rf"030 \(acuse de recibo\) de {re.escape(number)} \[ACR\d+\]: aceptado", out)
    assert re.search(rf"032 \(recibo del bien\) de {re.escape(number)} \[RBS\d+\]: aceptado", out)
    assert "ha sido autorizada" in out
    assert [sent.code for sent in dian_server.sends(cufe)] == ["030", "032"]


def test_enviar_shows_a_rejection_with_dians_rules(setup, capsys, dian_server: DianStandIn) -> None:
    base, tail, (cufe, _), _, database = setup
    dian_server.script("rechazar")
    code, out = _run(capsys, *base, "eventos", "enviar", "--tipo", "030", "--cufe", cufe, *tail)
    assert code == 1
    assert ": rechazado" in out
    assert "Regla AAH07, Rechazo: El NIT del receptor no corresponde" in out and "Regla LGC01" in out
    with Store.open(database) as store:
        assert store.radian_sends(cufe)[0].state == "rechazado"


def test_enviar_shows_regla_90_as_registered(setup, capsys, dian_server: DianStandIn) -> None:
    base, tail, (cufe, _), _, _ = setup
    dian_server.script("regla90")
    code, out = _run(capsys, *base, "eventos", "enviar", "--tipo", "030", "--cufe", cufe, *tail)
    assert code == 0 and ": registrado" in out and "Documento procesado anteriormente" in out


def test_enviar_after_a_timeout_reads_back_and_never_sends_twice(setup, capsys, dian_server: DianStandIn) -> None:
    base, tail, (cufe, _), _, _ = setup
    dian_server.script("demorar")
    code, out = _run(capsys, *base, "eventos", "enviar", "--tipo", "030", "--cufe", cufe, *tail,
                     "--tiempo-espera", "1")
    assert code == 1 and ": incierto" in out and "no respondió a tiempo" in out
    code, out = _run(capsys, *base, "eventos", "enviar", "--tipo", "030", "--cufe", cufe, *tail)
    assert code == 0 and ": registrado" in out
    assert len(dian_server.sends(cufe)) == 1


def test_enviar_shows_an_http_500(setup, capsys, dian_server: DianStandIn) -> None:
    base, tail, (cufe, _), _, _ = setup
    dian_server.script("error500")
    code, out = _run(capsys, *base, "eventos", "enviar", "--tipo", "030", "--cufe", cufe, *tail)
    assert code == 1 and ": incierto" in out and "HTTP 500" in out


def test_acceptance_needs_its_confirmation_and_one_document(setup, capsys, dian_server: DianStandIn) -> None:
    base, tail, (cufe, other), (number, _), _ = setup
    assert _run(capsys, *base, "eventos", "enviar", "--tipo", "030,032", "--cufe", cufe, *tail)[0] == 0
    code, out = _run(capsys, *base, "eventos", "enviar", "--tipo", "033", "--cufe", cufe, *tail)
    assert code == 2 and "--confirmar-aceptacion" in out
    code, out = _run(capsys, *base, "eventos", "enviar", "--tipo", "033", "--pendientes",
                     "--confirmar-aceptacion", number, *tail)
    assert code == 2 and "documento por documento" in out
    code, out = _run(capsys, *base, "eventos", "enviar", "--tipo", "033", "--cufe", cufe, "--cufe", other,
                     "--confirmar-aceptacion", number, *tail)
    assert code == 2
    code, out = _run(capsys, *base, "eventos", "enviar", "--tipo", "033", "--cufe", cufe,
                     "--confirmar-aceptacion", "OTRO-NUMERO", *tail)
    assert code == 1 and "confirmación explícita" in out
    assert not [sent for sent in dian_server.sends() if sent.code == "033"]
    code, out = _run(capsys, *base, "eventos", "enviar", "--tipo", "033", "--cufe", cufe,
                     "--confirmar-aceptacion", number, *tail)
    assert code == 0 and ": aceptado" in out


def test_pendientes_sends_only_what_is_missing(setup, capsys, dian_server: DianStandIn) -> None:
    base, tail, (cufe, other), _, _ = setup
    assert _run(capsys, *base, "eventos", "enviar", "--tipo", "030", "--cufe", cufe, *tail)[0] == 0
    code, out = _run(capsys, *base, "eventos", "enviar", "--tipo", "030", "--pendientes", *tail)
    assert code == 0, out
    assert [sent.cufe for sent in dian_server.sends()] == [cufe, other]


def test_generar_signs_without_sending(setup, capsys, dian_server: DianStandIn, tmp_path: Path) -> None:
    base, tail, (cufe, _), _, database = setup
    target = tmp_path / "acuse.xml"
    code, out = _run(capsys, *base, "eventos", "generar", "--tipo", "030", "--cufe", cufe, "--salida", str(target), *tail)
    assert code == 0 and "no se envió" in out
    assert b"<ds:SignatureValue" in target.read_bytes()
    assert dian_server.state.received == []
    with Store.open(database) as store:
        assert store.radian_sends(cufe) == []
    code, out = _run(capsys, *base, "eventos", "generar", "--tipo", "030", "--cufe", cufe, "--salida", str(target), *tail)
    assert code == 1 and "ya existe" in out


def test_estado_shows_local_sends_and_what_dian_has(setup, capsys, dian_server: DianStandIn) -> None:
    base, tail, (cufe, _), (number, _), _ = setup
    assert _run(capsys, *base, "eventos", "enviar", "--tipo", "030", "--cufe", cufe, *tail)[0] == 0
    code, out = _run(capsys, *base, "eventos", "estado", "--cufe", cufe, *tail)
    assert code == 0, out
    assert f"Documento {number}" in out and "aceptado, 1 intento(s), pedido por contadora" in out
    assert "Eventos registrados: 030 (acuse de recibo)" in out


def test_habilitacion_prints_what_dian_answered(setup, capsys, dian_server: DianStandIn) -> None:
    base, tail, (cufe, other), (number, other_number), _ = setup
    code, out = _run(capsys, *base, "eventos", "habilitacion", "--cufe", cufe, "--cufe", other,
                     "--reclamar", other, "--motivo", "02", "--aceptar", cufe, "--confirmar-aceptacion", number, *tail)
    assert code == 0, out
    assert "Habilitación de eventos — software" in out and dian_server.url in out
    assert out.count(": aceptado") == 6
    assert sorted(sent.code for sent in dian_server.sends()) == ["030", "030", "031", "032", "032", "033"]


def test_secrets_never_appear_in_config_logs_database_or_screen(
        setup, capsys, dian_server: DianStandIn, company_certificate: CompanyCertificate, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    base, tail, (cufe, _), (number, _), database = setup
    caplog.set_level(logging.DEBUG)  # zeep logs whole envelopes at DEBUG
    screens = []
    dian_server.script("aceptar", "demorar")
    for argv in (["eventos", "enviar", "--tipo", "030", "--cufe", cufe],
                 ["eventos", "enviar", "--tipo", "032", "--cufe", cufe, "--tiempo-espera", "1"],
                 ["eventos", "enviar", "--tipo", "032", "--cufe", cufe],
                 ["eventos", "estado", "--cufe", cufe],
                 ["eventos", "generar", "--tipo", "033", "--cufe", cufe, "--confirmar-aceptacion", number,
                  "--salida", str(tmp_path / "aceptacion.xml")]):
        screens.append(_run(capsys, *base, *argv, *tail)[1])
    secrets = [PIN, company_certificate.password, *private_key_forms(company_certificate.private_key_pem)]
    written = [path for path in tmp_path.rglob("*") if path.is_file() and path != company_certificate.pkcs12]
    assert database in written and (tmp_path / "aceptacion.xml") in written
    haystacks = {str(path): path.read_bytes().decode("utf-8", "replace") for path in written}
    haystacks["pantalla"] = "\n".join(screens)
    haystacks["registro"] = "\n".join(f"{record.getMessage()} {record.args!r}" for record in caplog.records)
    haystacks["lo que recibió la DIAN"] = "\n".join(r.envelope.decode() + (r.event_xml or b"").decode()
                                                     for r in dian_server.state.received)
    assert len(haystacks["registro"]) > 1000  # the envelopes were logged: the check below means something
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"un secreto aparece en {where}"
