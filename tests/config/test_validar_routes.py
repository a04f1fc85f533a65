"""`validar` applies the rules that need the providers (issue 14, scenarios 4, 5 and 6): a POP3
account without an SMTP route is an error with its line; Outlook with Autenticación Básica is
a warning with the OAuth2 path; a wrong check digit is an error naming the right one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.test_validar import validar, write

POP3 = """\
[cuentas.sede]
proveedor = "generic"
tipo_servidor = "basica"
protocolo = "pop3"
servidor = "mail.empresa.co"
puerto = 995
seguridad = "ssl"
usuario = "recepcion@empresa.co"
secreto = "keyring"
correo_respaldo = "respaldo@empresa.co"
"""
SMTP = """
[cuentas.sede.smtp]
servidor = "smtp.empresa.co"
puerto = 587
seguridad = "starttls"
"""


def test_a_pop3_account_without_smtp_is_refused_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, POP3)
    code, out = validar(path, capsys)
    assert code == 1
    assert f"{path}:1: cuentas.sede.smtp: con POP3 hace falta un servidor SMTP" in out


def test_with_its_smtp_table_it_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = validar(write(tmp_path, POP3 + SMTP), capsys)
    assert code == 0, out


def test_outlook_with_basic_authentication_is_warned_about(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (POP3 + SMTP).replace('proveedor = "generic"', 'proveedor = "outlook"').replace("mail.empresa.co", "outlook.office365.com")
    path = write(tmp_path, text)
    code, out = validar(path, capsys)
    assert code == 0
    assert f"{path}:3: advertencia: cuentas.sede.tipo_servidor: Microsoft rechaza la Autenticación Básica" in out
    assert "OAuth2" in out and "autorizar" in out


def test_a_wrong_check_digit_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, POP3 + 'nit_receptor = "901.234.567"\ndv_receptor = "8"\n' + SMTP)
    code, out = validar(path, capsys)
    assert code == 1
    assert f"{path}:12: cuentas.sede.dv_receptor: el dígito de verificación del NIT 901.234.567 es 7, no 8" in out


def test_a_nit_with_its_check_digit_glued_on_is_warned_about(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, POP3 + 'nit_receptor = "9012345677"\n' + SMTP)
    code, out = validar(path, capsys)
    assert code == 0
    assert 'advertencia: cuentas.sede.nit_receptor: parece incluir el dígito de verificación al final (901.234.567-7)' in out
