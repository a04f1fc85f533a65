"""The account model and `validar`: every rule, every problem located by key and line."""

from __future__ import annotations

import stat
from datetime import date
from pathlib import Path

import pytest

from tui_recepcion import cli
from tui_recepcion.config import (
    ACCOUNT_FIELDS,
    GENERAL_FIELDS,
    OAUTH_FIELDS,
    SMTP_FIELDS,
    Account,
    ConfigProblems,
    SmtpSettings,
    load_config,
    load_config_or_empty,
    parse_account,
    parse_config,
    resolve_config_path,
    save_account,
    validate_config,
)
from tui_recepcion.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

VALID_IMAP = """\
[general]
intervalo_minutos = 5

[cuentas.principal]
proveedor = "outlook"
tipo_servidor = "basica"
protocolo = "imap"
servidor = "outlook.office365.com"
puerto = 993
seguridad = "ssl"
usuario = "recepcion@empresa.co"
secreto = "keyring"
"""


def problems_of(text: str) -> dict[str, tuple[int | None, str]]:
    config, problems = parse_config(text, Path("config.toml"))
    assert (config is None) == bool(problems)
    return {problem.key: (problem.line, problem.message) for problem in problems}


def with_account_lines(*lines: str) -> str:
    return VALID_IMAP + "".join(line + "\n" for line in lines)


def test_valid_config_gives_the_account_model() -> None:
    config, problems = parse_config(with_account_lines('fecha_expiracion = 2027-03-31', 'correo_notificacion = "t@empresa.co"'))
    assert problems == []
    assert config is not None
    account = config.account(None)
    assert account == Account(
        id="principal",
        provider="outlook",
        auth_type="basica",
        protocol="imap",
        host="outlook.office365.com",
        port=993,
        security="ssl",
        username="recepcion@empresa.co",
        secret_ref="keyring",
        password_expiry=date(2027, 3, 31),
        notify_email="t@empresa.co",
    )
    assert config.general.interval_minutes == 5


@pytest.mark.parametrize("missing", [spec.key for spec in ACCOUNT_FIELDS if spec.required])
def test_each_required_field_is_reported_with_its_key(missing: str) -> None:
    text = "\n".join(line for line in VALID_IMAP.splitlines() if not line.startswith(f"{missing} ="))
    found = problems_of(text)
    assert found[f"cuentas.principal.{missing}"] == (4, "falta este campo obligatorio")


@pytest.mark.parametrize("port", ["0", "65536", '"993"', "true", "-1"])
def test_port_must_be_an_integer_in_range(port: str) -> None:
    found = problems_of(VALID_IMAP.replace("puerto = 993", f"puerto = {port}"))
    line, message = found["cuentas.principal.puerto"]
    assert line == 9
    assert "puerto" in message or "entero" in message


@pytest.mark.parametrize("port", [1, 65535])
def test_port_bounds_are_accepted(port: int) -> None:
    assert problems_of(VALID_IMAP.replace("puerto = 993", f"puerto = {port}")) == {}


@pytest.mark.parametrize("host", ["mail..empresa.co", "-mail.empresa.co", "mail empresa.co", "a" * 64 + ".co", ""])
def test_host_syntax(host: str) -> None:
    found = problems_of(VALID_IMAP.replace('"outlook.office365.com"', f'"{host}"'))
    assert found["cuentas.principal.servidor"][0] == 8


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "mail.empresa.co", "localhost", "outlook.office365.com."])
def test_host_syntax_accepts_names_and_addresses(host: str) -> None:
    assert problems_of(VALID_IMAP.replace('"outlook.office365.com"', f'"{host}"')) == {}


@pytest.mark.parametrize("key", ["correo_notificacion", "correo_respaldo"])
@pytest.mark.parametrize("address", ["tecnico", "tecnico@", "@empresa.co", "tec nico@empresa.co", "t@empresa", "t..x@empresa.co"])
def test_email_syntax(key: str, address: str) -> None:
    found = problems_of(with_account_lines(f'{key} = "{address}"'))
    assert found[f"cuentas.principal.{key}"] == (13, f"«{address}» no es una dirección de correo válida")


def test_pop3_requires_a_backup_address() -> None:
    found = problems_of(VALID_IMAP.replace('"imap"', '"pop3"').replace("993", "995"))
    assert "obligatorio" in found["cuentas.principal.correo_respaldo"][1]


def test_pop3_backup_cannot_be_the_reception_mailbox() -> None:
    text = VALID_IMAP.replace('"imap"', '"pop3"') + 'correo_respaldo = "RECEPCION@empresa.co"\n'
    found = problems_of(text)
    assert found["cuentas.principal.correo_respaldo"] == (13, "debe ser otro buzón, no el mismo buzón de recepción")


def test_pop3_with_a_backup_address_is_valid() -> None:
    assert problems_of(VALID_IMAP.replace('"imap"', '"pop3"') + 'correo_respaldo = "respaldo@empresa.co"\n') == {}


def test_expiry_date_requires_a_notification_address() -> None:
    found = problems_of(with_account_lines("fecha_expiracion = 2027-03-31"))
    assert "obligatorio" in found["cuentas.principal.correo_notificacion"][1]


@pytest.mark.parametrize("value", ['"31/02/2027"', "2027-03-31T10:00:00", "20270331"])
def test_expiry_date_must_be_a_date(value: str) -> None:
    found = problems_of(with_account_lines(f"fecha_expiracion = {value}", 'correo_notificacion = "t@empresa.co"'))
    assert "fecha" in found["cuentas.principal.fecha_expiracion"][1]


def test_plaintext_requires_explicit_permission() -> None:
    plaintext = VALID_IMAP.replace('"ssl"', '"ninguna"').replace("993", "143")
    assert "permitir_sin_cifrado" in problems_of(plaintext)["cuentas.principal.seguridad"][1]
    assert problems_of(plaintext + "permitir_sin_cifrado = true\n") == {}


def test_plaintext_smtp_also_requires_permission() -> None:
    text = with_account_lines("[cuentas.principal.smtp]", 'servidor = "smtp.empresa.co"', "puerto = 25", 'seguridad = "ninguna"')
    assert "permitir_sin_cifrado" in problems_of(text)["cuentas.principal.smtp.seguridad"][1]


def test_unknown_keys_and_sections_are_reported() -> None:
    text = VALID_IMAP.replace("[general]\n", "[general]\ncolor = 1\n") + 'contrasena = "x"\n[extra]\n'
    found = problems_of(text)
    assert found["general.color"][0] == 2 and found["general.color"][1].startswith("clave desconocida")
    assert found["cuentas.principal.contrasena"][0] == 14
    assert "sección desconocida" in found["extra"][1]


def test_unknown_keys_are_warnings_the_program_keeps_working_with(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(VALID_IMAP + 'inventario_interno = "A-17"\n[extra]\nx = 1\n', encoding="utf-8")
    config = load_config(path)  # the TUI and procesar open it
    assert list(config.accounts) == ["principal"]
    problems = validate_config(path)
    assert problems and all(problem.warning for problem in problems)
    assert "advertencia: cuentas.principal.inventario_interno: clave desconocida" in "\n".join(map(str, problems))


def test_secret_value_itself_is_rejected_without_echoing_it() -> None:
    found = problems_of(VALID_IMAP.replace('secreto = "keyring"', 'secreto = "Hunter2!"'))
    line, message = found["cuentas.principal.secreto"]
    assert line == 12
    assert "Hunter2" not in message


@pytest.mark.parametrize("ref", ["keyring", "env:RECEPCION_CLAVE", "archivo:/etc/tui-recepcion/clave"])
def test_secret_references(ref: str) -> None:
    assert problems_of(VALID_IMAP.replace('"keyring"', f'"{ref}"')) == {}


@pytest.mark.parametrize("ref", ["env:1BAD", "archivo:relativa/clave", "vault:x"])
def test_bad_secret_references(ref: str) -> None:
    assert "cuentas.principal.secreto" in problems_of(VALID_IMAP.replace('"keyring"', f'"{ref}"'))


def test_several_problems_are_reported_together_with_keys_and_lines() -> None:
    text = """\
[general]
intervalo_minutos = 0

[cuentas.principal]
proveedor = "outlook"
tipo_servidor = "kerberos"
protocolo = "pop3"
servidor = "mail..empresa.co"
puerto = 70000
seguridad = "ninguna"
usuario = "recepcion@empresa.co"
secreto = "keyring"
fecha_expiracion = 2027-03-31

[cuentas.Segunda]
protocolo = "imap"
"""
    found = problems_of(text)
    assert found["general.intervalo_minutos"][0] == 2
    assert found["cuentas.principal.tipo_servidor"][0] == 6
    assert found["cuentas.principal.servidor"][0] == 8
    assert found["cuentas.principal.puerto"][0] == 9
    assert found["cuentas.principal.seguridad"][0] == 10
    assert "cuentas.principal.correo_respaldo" in found
    assert "cuentas.principal.correo_notificacion" in found
    assert found["cuentas.Segunda"][0] == 15
    assert found["cuentas.Segunda.servidor"] == (15, "falta este campo obligatorio")


def test_toml_syntax_error_names_its_line() -> None:
    found = problems_of(VALID_IMAP + "puerto = = 3\n")
    assert found["(sintaxis)"][0] == 13


def test_no_accounts_is_a_problem() -> None:
    assert "cuentas" in problems_of("[general]\nintervalo_minutos = 5\n")


def test_same_folder_for_processed_and_failed_is_rejected() -> None:
    found = problems_of(with_account_lines('carpeta_procesados = "Listos"', 'carpeta_fallidos = "listos"'))
    assert "distinta" in found["cuentas.principal.carpeta_fallidos"][1]


def test_inbox_is_not_a_destination_folder() -> None:
    assert "cuentas.principal.carpeta_fallidos" in problems_of(with_account_lines('carpeta_fallidos = "INBOX"'))


def test_ca_bundle_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "no-existe.pem"
    found = problems_of(with_account_lines(f'certificados_ca = "{missing}"'))
    assert "no existe" in found["cuentas.principal.certificados_ca"][1]
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert problems_of(with_account_lines(f'certificados_ca = "{bundle}"')) == {}


def test_receiver_nit_is_digits_without_check_digit() -> None:
    assert "NIT" in problems_of(with_account_lines('nit_receptor = "901234567-1"'))["cuentas.principal.nit_receptor"][1]
    assert problems_of(with_account_lines('nit_receptor = "901234567"')) == {}


def test_unknown_time_zone_is_rejected() -> None:
    assert "zona horaria" in problems_of(with_account_lines('zona_horaria = "America/Medellin"'))["cuentas.principal.zona_horaria"][1]


def test_oauth2_token_cannot_live_in_an_environment_variable() -> None:
    text = VALID_IMAP.replace('"basica"', '"oauth2"').replace('"keyring"', '"env:TOKEN"')
    assert "oauth2" in problems_of(text)["cuentas.principal.secreto"][1]


def test_account_ids_are_slugs() -> None:
    text = VALID_IMAP.replace("[cuentas.principal]", '[cuentas."Cuenta Principal"]')
    assert any(key.startswith('cuentas."Cuenta Principal"') for key in problems_of(text))


def test_parse_account_applies_the_same_rules_for_the_form() -> None:
    account, problems = parse_account("nueva", {"protocolo": "pop3", "puerto": 99999})
    assert account is None
    keys = {".".join(path) for path, _ in problems}
    assert {"cuentas.nueva.puerto", "cuentas.nueva.servidor", "cuentas.nueva.correo_respaldo"} <= keys


def test_load_config_raises_with_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(VALID_IMAP.replace("993", "0").replace('"ssl"', '"x"'))
    with pytest.raises(ConfigProblems) as raised:
        load_config(path)
    assert {problem.key for problem in raised.value.problems} == {"cuentas.principal.puerto", "cuentas.principal.seguridad"}
    assert f"{path}:9" in str(raised.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No existe el archivo de configuración"):
        load_config(tmp_path / "config.toml")
    assert load_config_or_empty(tmp_path / "config.toml").accounts == {}


def test_choosing_among_several_accounts(tmp_path: Path) -> None:
    second = VALID_IMAP.split("\n\n", 1)[1].replace("principal", "segunda").replace("recepcion@", "segunda@")
    text = VALID_IMAP + second
    config, problems = parse_config(text)
    assert problems == [] and config is not None
    with pytest.raises(ConfigError, match="--cuenta"):
        config.account(None)
    assert config.account("segunda").id == "segunda"
    with pytest.raises(ConfigError, match="No existe la cuenta «otra»"):
        config.account("otra")


def test_save_account_round_trips_atomically_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    account = Account(
        id="principal",
        provider="generic",
        auth_type="basica",
        protocol="pop3",
        host="mail.empresa.co",
        port=995,
        security="ssl",
        username="recepcion@empresa.co",
        secret_ref="archivo:/etc/tui-recepcion/clave",
        backup_email="respaldo@empresa.co",
        password_expiry=date(2027, 1, 15),
        notify_email="t@empresa.co",
        smtp=SmtpSettings("smtp.empresa.co", 587, "starttls"),
    )
    save_account(path, account)
    save_account(path, Account(**{**_fields(account), "id": "segunda", "protocol": "imap", "port": 993, "username": "segunda@empresa.co"}))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temporary left behind
    config = load_config(path)
    assert config.accounts["principal"] == account
    assert config.accounts["segunda"].protocol == "imap"
    assert "fecha_expiracion = 2027-01-15" in path.read_text()


def _fields(account: Account) -> dict:
    return {name: getattr(account, name) for name in account.__dataclass_fields__}


def test_config_path_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TUI_RECEPCION_CONFIG", str(tmp_path / "env.toml"))
    assert resolve_config_path(str(tmp_path / "cli.toml")) == tmp_path / "cli.toml"
    assert resolve_config_path(None) == tmp_path / "env.toml"
    monkeypatch.delenv("TUI_RECEPCION_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert resolve_config_path(None) == tmp_path / "xdg" / "tui-recepcion" / "config.toml"


def test_example_file_is_valid_and_documents_every_key() -> None:
    text = (REPO / "config.toml.example").read_text(encoding="utf-8")
    config, problems = parse_config(text)
    assert problems == []
    for spec in ACCOUNT_FIELDS + SMTP_FIELDS + OAUTH_FIELDS + GENERAL_FIELDS:
        assert f"{spec.key} =" in text, spec.key


def test_validar_prints_every_problem_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text(VALID_IMAP.replace("993", "0").replace('"ssl"', '"x"'))
    assert cli.main(["--config", str(path), "validar"]) == 1
    out = capsys.readouterr()
    assert f"{path}:9: cuentas.principal.puerto:" in out.out
    assert f"{path}:10: cuentas.principal.seguridad:" in out.out
    assert "2 problemas" in out.err


def test_validar_accepts_a_valid_file_through_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text(VALID_IMAP)
    monkeypatch.setenv("TUI_RECEPCION_CONFIG", str(path))
    assert cli.main(["validar"]) == 0
    assert "configuración válida" in capsys.readouterr().out


def test_validar_reports_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--config", str(tmp_path / "nada.toml"), "validar"]) == 1
    assert "No existe el archivo de configuración" in capsys.readouterr().err


def test_cli_speaks_spanish(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(["--help"])
    assert raised.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("uso: tui-recepcion")
    assert "opciones:" in out and "muestra esta ayuda y termina" in out
    with pytest.raises(SystemExit) as raised:
        cli.main(["documentos", "--formato", "xml"])
    assert raised.value.code == 2
    assert "opción inválida" in capsys.readouterr().err
