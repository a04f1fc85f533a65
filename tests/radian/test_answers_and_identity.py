"""DIAN's answers read as facts (hostile ones too), and the company certificate's failures in Spanish."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.radian.certificates import CompanyCertificate, make_company_certificate
from tests.radian.conftest import PIN, make_company
from tui_recepcion.radian.answer import answer_from, parse_rules, registered_codes
from tui_recepcion.radian.identity import load_identity
from tui_recepcion.radian.problems import RadianError
from tui_recepcion.radian.settings import SendingProfile, company_party, load_profile
from tui_recepcion.secrets import Secret


def _result(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"IsValid": False, "StatusCode": "99", "StatusDescription": "Validación contiene errores",
                               "StatusMessage": None, "ErrorMessage": {"string": []}, "XmlBase64Bytes": None}
    base.update(fields)
    return base


def test_rules_keep_code_kind_and_spanish_message() -> None:
    rules = parse_rules(["Regla: AAH07, Rechazo: El NIT   del receptor\n no corresponde",
                         "Regla: AAH17, Notificación: No fue informado el cargo", "texto libre"])
    assert [(rule.code, rule.kind) for rule in rules] == [("AAH07", "Rechazo"), ("AAH17", "Notificación"), ("", "")]
    assert rules[0].message == "El NIT del receptor no corresponde"


@pytest.mark.parametrize(("fields", "outcome"), [
    ({"IsValid": True, "StatusCode": "00"}, "aceptado"),
    ({"ErrorMessage": {"string": ["Regla: 90, Rechazo: Documento procesado anteriormente."]}}, "ya_registrado"),
    ({"ErrorMessage": {"string": ["Regla: LGC01, Rechazo: fecha"]}}, "rechazado"),
    ({"ErrorMessage": None}, "rechazado"),
])
def test_outcomes(fields: dict[str, object], outcome: str) -> None:
    assert answer_from(_result(**fields)).outcome == outcome


def test_an_empty_answer_is_a_transient_problem() -> None:
    with pytest.raises(RadianError) as error:
        answer_from(None)
    assert error.value.transient


def test_a_status_answer_with_a_doctype_is_refused() -> None:
    hostile = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>'
    answer = answer_from(_result(IsValid=True, XmlBase64Bytes=base64.b64encode(hostile).decode()))
    with pytest.raises(RadianError):
        registered_codes(answer)


def test_a_wrong_password_says_so_without_the_password(company_certificate: CompanyCertificate) -> None:
    with pytest.raises(RadianError) as error:
        load_identity(company_certificate.pkcs12, Secret("no-es-la-clave"))
    assert "la clave no corresponde" in str(error.value) and "no-es-la-clave" not in str(error.value)


def test_an_expired_certificate_is_refused(tmp_path: Path) -> None:
    expired = make_company_certificate(tmp_path, valid=False)
    with pytest.raises(RadianError) as error:
        load_identity(expired.pkcs12, Secret(expired.password))
    assert "no está vigente" in str(error.value)


def test_a_wrong_check_digit_is_caught(company_certificate: CompanyCertificate) -> None:
    with pytest.raises(RadianError) as error:
        company_party(make_company(company_certificate, nit="900373979-9"))
    assert "debería ser 1" in str(error.value)


def test_a_missing_pin_names_the_key(company_certificate: CompanyCertificate, secrets_env: None,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUI_RECEPCION_PRUEBA_PIN")
    with pytest.raises(RadianError) as error:
        load_profile(make_company(company_certificate))
    assert str(error.value).startswith("[empresa] pin:")


def test_the_profile_never_shows_its_secrets(profile: SendingProfile, company_certificate: CompanyCertificate) -> None:
    shown = repr(profile) + str(profile.identity) + repr(profile.pin)
    assert PIN not in shown and company_certificate.password not in shown and "PRIVATE" not in shown
