"""`validar` and config loading, issue 12: NUL in paths, sane dates, secrets this environment
can reach, one mailbox per account. Every problem names its file, key and line."""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from tui_recepcion import cli
from tui_recepcion.config import (
    Account,
    ConfigProblems,
    load_config,
    parse_config,
    save_account,
    validate_config,
)
from tui_recepcion.errors import ConfigError

ACCOUNT = """\
[cuentas.{id}]
proveedor = "generic"
tipo_servidor = "{auth}"
protocolo = "imap"
servidor = "{host}"
puerto = 993
seguridad = "ssl"
usuario = "{user}"
secreto = "{secret}"
"""


def account(id: str = "principal", *, host: str = "mail.empresa.co", user: str = "recepcion@empresa.co",
            secret: str = "keyring", auth: str = "basica") -> str:
    return ACCOUNT.format(id=id, host=host, user=user, secret=secret, auth=auth)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def located(path: Path) -> dict[str, tuple[int | None, str]]:
    return {problem.key: (problem.line, problem.message) for problem in validate_config(path)}


def validar(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(["--config", str(path), "validar"])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, out.out + out.err


# --- 2. Paths with a NUL byte ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('base_datos = "/var/lib/tui/recepcion\\u0000.db"', "general.base_datos"),
        ('carpeta_documentos = "/var/lib/tui/\\u0000docs"', "general.carpeta_documentos"),
    ],
)
def test_a_nul_in_a_general_path_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, key: str) -> None:
    path = write(tmp_path, f"[general]\n{line}\n\n" + account())
    found = located(path)
    assert found == {key: (2, "contiene un carácter nulo (NUL, \\0), que no se permite en rutas ni en ningún valor")}
    code, output = validar(path, capsys)
    assert code == 1
    assert f"{path}:2: {key}: contiene un carácter nulo (NUL" in output
    with pytest.raises(ConfigProblems):  # `procesar` loads the same way: it stops before using the path
        load_config(path)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('certificados_ca = "/etc/ssl/ca\\u0000.pem"', "certificados_ca"),
        ('zona_horaria = "America/Bogota\\u0000"', "zona_horaria"),
        ('carpeta_fallidos = "Fall\\u0000idos"', "carpeta_fallidos"),
    ],
)
def test_a_nul_in_an_account_value_is_located(tmp_path: Path, line: str, key: str) -> None:
    path = write(tmp_path, account() + line + "\n")
    line_number, message = located(path)[f"cuentas.principal.{key}"]
    assert line_number == 10
    assert "carácter nulo" in message or "caracteres no permitidos" in message


@pytest.mark.parametrize("secret", ["archivo:/etc/tui-recepcion/cla\\u0000ve", "env:CLAVE\\u0000X"])
def test_a_nul_in_a_secret_reference_is_located(tmp_path: Path, secret: str) -> None:
    path = write(tmp_path, account(secret=secret))
    assert located(path) == {
        "cuentas.principal.secreto": (9, "contiene un carácter nulo (NUL, \\0), que no se permite en rutas ni en ningún valor"),
    }


def test_a_raw_nul_in_the_file_is_located(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(account().encode() + b'carpeta_fallidos = "F\x00"\n')
    assert located(path) == {"(sintaxis)": (10, "el archivo contiene un carácter nulo (NUL), que TOML no admite; bórrelo")}


def test_a_control_character_in_a_key_is_escaped_when_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, account() + '"\\u001b[2J" = 1\n')
    code, output = validar(path, capsys)
    assert code == 0  # an unknown key is a warning: the program works with the file
    assert "\x1b" not in output
    assert f'{path}:10: advertencia: cuentas.principal."\\x1b[2J": clave desconocida' in output


# --- 3. Dates in a sane range -------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0001-01-01", "1999-12-31", "2100-01-01", "9999-12-31", '"0001-01-01"'])
def test_expiry_dates_outside_2000_2099_are_located(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, account() + f'correo_notificacion = "t@empresa.co"\nfecha_expiracion = {value}\n')
    shown = value.strip('"')
    assert located(path) == {
        "cuentas.principal.fecha_expiracion": (
            11, f"la fecha {shown} está fuera del rango admitido (2000-01-01 a 2099-12-31)",
        ),
    }


@pytest.mark.parametrize("value", ["2000-01-01", "2099-12-31"])
def test_the_range_bounds_are_accepted(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, account() + f'correo_notificacion = "t@empresa.co"\nfecha_expiracion = {value}\n')
    assert validate_config(path) == []
    assert load_config(path).account(None).password_expiry == date.fromisoformat(value)


@pytest.mark.parametrize("value", ["07:30:00", "2027-03-31T10:00:00Z", "2027-03-31 10:00:00", "2027-02-30"])
def test_odd_dates_are_problems_not_crashes(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, account() + f'correo_notificacion = "t@empresa.co"\nfecha_expiracion = {value}\n')
    found = located(path)
    assert len(found) == 1
    key, (line, message) = next(iter(found.items()))
    assert line == 11
    assert key in ("cuentas.principal.fecha_expiracion", "(sintaxis)")
    assert "fecha" in message


# --- 4. Secrets this environment can reach ---------------------------------------------------------


def test_an_unset_environment_variable_is_a_problem_of_validar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("RECEPCION_CLAVE_PRUEBA", raising=False)
    path = write(tmp_path, account(secret="env:RECEPCION_CLAVE_PRUEBA"))
    code, output = validar(path, capsys)
    assert code == 1
    assert f"{path}:9: cuentas.principal.secreto: la variable de entorno RECEPCION_CLAVE_PRUEBA no está definida" in output
    assert "EnvironmentFile=" in output  # the service's environment may differ: the message says so
    assert load_config(path).account(None).secret_ref == "env:RECEPCION_CLAVE_PRUEBA"  # loading does not check
    monkeypatch.setenv("RECEPCION_CLAVE_PRUEBA", "")
    assert "cuentas.principal.secreto" in located(path)
    monkeypatch.setenv("RECEPCION_CLAVE_PRUEBA", "S3creto")
    assert validar(path, capsys)[0] == 0


def _secret_file(tmp_path: Path, mode: int = 0o600) -> Path:
    secret = tmp_path / "clave"
    secret.write_text("S3creto\n")
    os.chmod(secret, mode)
    return secret


def test_a_private_regular_secret_file_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, account(secret=f"archivo:{_secret_file(tmp_path)}"))
    assert validar(path, capsys) == (0, f"{path}: configuración válida.\n")


def test_a_secret_file_others_can_read_is_a_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = _secret_file(tmp_path, 0o640)
    path = write(tmp_path, account(secret=f"archivo:{secret}"))
    code, output = validar(path, capsys)
    assert code == 1
    assert (f"{path}:9: cuentas.principal.secreto: el archivo de secreto {secret} tiene permisos 0640: "
            f"otros usuarios podrían leerlo. Ejecute: chmod 600 {secret}\n") in output


def test_a_missing_secret_file_is_a_problem(tmp_path: Path) -> None:
    secret = tmp_path / "no-existe"
    assert located(write(tmp_path, account(secret=f"archivo:{secret}"))) == {
        "cuentas.principal.secreto": (9, f"no existe el archivo de secreto {secret}"),
    }
    oauth = account(secret=f"archivo:{secret}", auth="oauth2")
    line, message = located(write(tmp_path, oauth))["cuentas.principal.secreto"]
    assert message.endswith("se crea al autorizar la cuenta (tui-recepcion autorizar)")


def test_a_fifo_secret_is_refused_by_validar_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "clave"
    os.mkfifo(fifo, 0o600)
    path = write(tmp_path, account(secret=f"archivo:{fifo}"))
    outcome: list[object] = []
    checker = threading.Thread(target=lambda: outcome.append(located(path)), daemon=True)
    checker.start()
    checker.join(10)  # the bound, not a synchronisation: the check returns at once
    assert not checker.is_alive(), "validar se quedó bloqueado leyendo una FIFO"
    assert outcome == [{
        "cuentas.principal.secreto": (9, f"el archivo de secreto {fifo} no es un archivo regular sino una tubería con nombre (FIFO)"),
    }]


@pytest.mark.parametrize("special", ["/dev/null", "DIR"])
def test_devices_and_directories_are_not_secret_files(tmp_path: Path, special: str) -> None:
    target = tmp_path if special == "DIR" else Path(special)
    line, message = located(write(tmp_path, account(secret=f"archivo:{target}")))["cuentas.principal.secreto"]
    assert line == 9
    assert "no es un archivo regular" in message


def test_every_secret_of_every_account_is_checked_and_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("CLAVE_SMTP_PRUEBA", raising=False)
    monkeypatch.delenv("CLAVE_DOS_PRUEBA", raising=False)
    loose = _secret_file(tmp_path, 0o644)
    text = (
        account(secret=f"archivo:{loose}")
        + '[cuentas.principal.smtp]\nservidor = "smtp.empresa.co"\npuerto = 587\nseguridad = "starttls"\n'
        + 'secreto = "env:CLAVE_SMTP_PRUEBA"\n\n'
        + account("segunda", user="segunda@empresa.co", secret="env:CLAVE_DOS_PRUEBA")
    )
    path = write(tmp_path, text)
    found = located(path)
    assert {key: line for key, (line, _) in found.items()} == {
        "cuentas.principal.secreto": 9,
        "cuentas.principal.smtp.secreto": 14,
        "cuentas.segunda.secreto": 24,
    }
    code, output = validar(path, capsys)
    assert code == 1 and "3 problemas" in output


# --- 6. One mailbox per account ----------------------------------------------------------------


@pytest.mark.parametrize(("auth", "code", "tail"), [
    ("basica", 0, "advertencia: cuentas.principal.proveedor: «retirado» no es un proveedor instalado "
                  "(instalados: generic, gmail, outlook); la cuenta usará solo su propio servidor y puerto"),
    ("oauth2", 1, "cuentas.principal.proveedor: «retirado» no es un proveedor instalado "
                  "(instalados: generic, gmail, outlook); una cuenta OAuth2 lo necesita para obtener su token"),
])
def test_a_provider_that_is_not_installed_is_named_by_validar(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               auth: str, code: int, tail: str) -> None:
    text = account(secret=f"archivo:{_secret_file(tmp_path)}", auth=auth).replace('"generic"', '"retirado"')
    path = write(tmp_path, text)
    exit_code, output = validar(path, capsys)
    assert exit_code == code
    assert f"{path}:2: {tail}\n" in output


def test_provider_rules_reach_the_accounts_of_cuentas_d(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # An account in cuentas.d/ID.toml is checked like one in config.toml, and its problem names
    # its own file and line (the body of an account file is the table without its header).
    secret = _secret_file(tmp_path)
    path = write(tmp_path, account(secret=f"archivo:{secret}"))
    folder = tmp_path / "cuentas.d"
    folder.mkdir()
    body = account("otra", user="otra@empresa.co", secret=f"archivo:{secret}", auth="oauth2")
    body = body.replace('"generic"', '"retirado"').split("\n", 1)[1]  # without [cuentas.otra]
    (folder / "otra.toml").write_text(body, encoding="utf-8")
    line = next(number for number, text in enumerate(body.splitlines(), 1) if text.startswith("proveedor"))
    exit_code, output = validar(path, capsys)
    assert exit_code == 1
    assert (f"{folder / 'otra.toml'}:{line}: proveedor: «retirado» no es un proveedor instalado "
            "(instalados: generic, gmail, outlook); una cuenta OAuth2 lo necesita para obtener su token\n") in output
    assert "1 problema en" in output


def test_two_accounts_on_the_same_mailbox_are_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = account() + "\n" + account("copia", host="MAIL.Empresa.CO.", user="Recepcion@EMPRESA.co")
    path = write(tmp_path, text)
    assert located(path) == {
        "cuentas.copia.usuario": (18, (
            "las cuentas «principal» y «copia» usan el mismo buzón («Recepcion@EMPRESA.co» en «MAIL.Empresa.CO.»): "
            "lo procesarían a la vez y cada documento se guardaría dos veces; deje una sola cuenta por buzón"
        )),
    }
    assert validar(path, capsys)[0] == 1
    with pytest.raises(ConfigProblems, match="mismo buzón"):
        load_config(path)


def test_the_same_mailbox_over_pop3_is_still_the_same_mailbox() -> None:
    pop3 = account("pop").replace('"imap"', '"pop3"').replace("993", "995") + 'correo_respaldo = "respaldo@empresa.co"\n'
    _, problems = parse_config(account() + "\n" + pop3)
    assert [problem.key for problem in problems] == ["cuentas.pop.usuario"]


def test_accounts_on_different_mailboxes_load_as_before(tmp_path: Path) -> None:
    text = (account() + "\n" + account("otro_usuario", user="compras@empresa.co") + "\n"
            + account("otro_servidor", host="imap.otra.co"))
    config = load_config(write(tmp_path, text))
    assert list(config.accounts) == ["principal", "otro_usuario", "otro_servidor"]
    assert config.accounts["otro_usuario"].username == "compras@empresa.co"
    assert config.accounts["otro_servidor"].host == "imap.otra.co"
    assert config.accounts["principal"].secret_ref == "keyring"


def test_the_form_cannot_save_a_second_account_on_the_same_mailbox(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    first = Account(id="principal", provider="generic", auth_type="basica", protocol="imap",
                    host="mail.empresa.co", port=993, security="ssl", username="recepcion@empresa.co")
    save_account(path, first)
    before = path.read_bytes()
    with pytest.raises(ConfigProblems, match="las cuentas «principal» y «copia» usan el mismo buzón"):
        save_account(path, replace(first, id="copia", username="RECEPCION@empresa.co"))
    assert path.read_bytes() == before  # nothing written
    save_account(path, replace(first, port=143, security="starttls"))  # replacing the same account is fine
    assert load_config(path).account(None).port == 143


# --- The config file itself ----------------------------------------------------------------------


def test_a_fifo_as_config_file_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            load_config(fifo)
        except ConfigError as error:
            outcome.append(error)

    loader = threading.Thread(target=run, daemon=True)
    loader.start()
    loader.join(10)  # the bound that proves it returned
    assert not loader.is_alive(), "leer config.toml se quedó bloqueado en una FIFO"
    assert [str(error) for error in outcome] == [
        f"El archivo de configuración {fifo} no es un archivo regular sino una tubería con nombre (FIFO).",
    ]


def test_a_directory_huge_or_binary_config_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no es un archivo regular sino un directorio"):
        load_config(tmp_path)
    huge = tmp_path / "grande.toml"
    huge.write_bytes(b"#" * (1024 * 1024 + 1))
    with pytest.raises(ConfigError, match="es demasiado grande"):
        load_config(huge)
    binary = tmp_path / "binario.toml"
    binary.write_bytes(b'[general]\n\nx = "\xff"\n')
    with pytest.raises(ConfigError, match=r"binario.toml:3: el archivo de configuración no está en UTF-8"):
        load_config(binary)


def test_a_home_that_does_not_exist_in_config_is_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path, '[general]\ncarpeta_documentos = "~usuario-que-no-existe-jamas/docs"\n\n' + account())
    assert located(path) == {"general.carpeta_documentos": (2, (
        "no se pudo expandir «~» en la ruta «~usuario-que-no-existe-jamas/docs»: escriba la ruta completa"
    ))}


def test_a_config_path_with_an_unknown_home_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--config", "~usuario-que-no-existe-jamas/config.toml", "validar"]) == 1
    assert "No existe el archivo de configuración ~usuario-que-no-existe-jamas/config.toml" in capsys.readouterr().err
