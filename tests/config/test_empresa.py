"""[empresa]: the settings for sending RADIAN events, read and checked like the rest of config.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_recepcion import cli
from tui_recepcion.config import EMPRESA_FIELDS, parse_config

REPO = Path(__file__).resolve().parents[2]


def _empresa(certificate: Path, **changes: str) -> str:
    values = {
        "nit": '"900373979-1"', "razon_social": '"Mi Empresa S.A.S."', "certificado": f'"{certificate}"',
        "clave_certificado": '"env:CLAVE_P12_PRUEBA"', "software_id": '"fa326ca7-c1f8-40d3-a6fc-24d7c1040607"',
        "pin": '"env:PIN_PRUEBA"', "ambiente": '"habilitacion"',
    }
    values.update(changes)
    return "[empresa]\n" + "".join(f"{key} = {value}\n" for key, value in values.items() if value)


@pytest.fixture
def certificate(tmp_path: Path) -> Path:
    path = tmp_path / "empresa.p12"
    path.write_bytes(b"\x30\x82")  # only its existence is checked when reading
    return path


def test_a_valid_empresa_becomes_the_company(certificate: Path) -> None:
    config, problems = parse_config(_empresa(certificate, recibo_automatico="true", acuse_automatico="true"),
                                    require_accounts=False)
    assert problems == [] and config is not None and config.company is not None
    company = config.company
    assert (company.nit_digits, company.given_check_digit, company.environment) == ("900373979", "1", "habilitacion")
    assert company.pin_ref == "env:PIN_PRUEBA" and company.auto_acknowledge and company.auto_receipt


def test_the_nit_may_come_without_check_digit(certificate: Path) -> None:
    config, _ = parse_config(_empresa(certificate, nit='"900373979"'), require_accounts=False)
    assert config is not None and config.company is not None and config.company.given_check_digit is None


@pytest.mark.parametrize(("key", "value", "words"), [
    ("nit", '"900.373.979-99"', "NIT de la empresa"),
    ("ambiente", '"pruebas"', '"habilitacion", "produccion"'),
    ("pin", '"20191"', "keyring"),  # the value itself is refused: only where it lives
    ("clave_certificado", '"mi-clave"', "keyring"),
    ("certificado", '"/no/existe.p12"', "no existe"),
    ("software_id", '"x"', "identificador del software"),
    ("persona_tipo_documento", '"99"', "tipo de documento"),
])
def test_each_bad_value_names_file_key_and_line(tmp_path: Path, certificate: Path, capsys: pytest.CaptureFixture[str],
                                                key: str, value: str, words: str) -> None:
    text = _empresa(certificate, **{key: value})
    path = tmp_path / "config.toml"
    path.write_text(text)
    line = next(number for number, row in enumerate(text.splitlines(), 1) if row.startswith(f"{key} ="))
    assert cli.main(["--config", str(path), "validar"]) == 1
    out = capsys.readouterr().out
    assert f"{path}:{line}: empresa.{key}:" in out and words in out


def test_validar_checks_that_the_secrets_can_be_found(tmp_path: Path, certificate: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIN_PRUEBA", raising=False)
    monkeypatch.setenv("CLAVE_P12_PRUEBA", "algo")
    path = tmp_path / "config.toml"
    path.write_text(_empresa(certificate))
    assert cli.main(["--config", str(path), "validar"]) == 1
    out = capsys.readouterr().out
    assert f"{path}:7: empresa.pin: la variable de entorno PIN_PRUEBA no está definida" in out


def test_a_missing_required_key_and_the_receipt_without_acknowledgement(tmp_path: Path, certificate: Path) -> None:
    config, problems = parse_config(_empresa(certificate, software_id="", recibo_automatico="true"),
                                    require_accounts=False)
    assert config is None
    found = {(problem.key, problem.message) for problem in problems}
    assert ("empresa.software_id", "falta este campo obligatorio") in found
    assert any(key == "empresa.recibo_automatico" and "acuse_automatico" in message for key, message in found)


def test_the_example_documents_every_empresa_key() -> None:
    text = (REPO / "config.toml.example").read_text(encoding="utf-8")
    for spec in EMPRESA_FIELDS:
        assert f"{spec.key} =" in text, spec.key
