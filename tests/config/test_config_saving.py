"""Saving config.toml edits the technician's file: comments, blank lines, key order and keys the
program does not manage survive; only what changed is rewritten (tui_recepcion.config.writing)."""

from __future__ import annotations

import stat
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from tests.ui.support import SIZE, type_into, wait_until
from tui_recepcion.config import Account, ConfigProblems, SmtpSettings, load_config, parse_config, save_account
from tui_recepcion.ui.app import create_app
from tui_recepcion.ui.form import FormScreen

HAND_WRITTEN = """\
# Configuración de la sede Bogotá: la mantiene Juan (ext. 204)
[general]
intervalo_minutos = 5

# Buzón de facturas de proveedores
[cuentas.principal]
proveedor = "generic"   # servidor propio, no Outlook
tipo_servidor = "basica"
protocolo = "IMAP"
servidor = "mail.empresa.co"
# 993 es SSL; no cambiar sin avisar a sistemas
puerto = 993  # abierto en el firewall
seguridad = "ssl"
usuario = "recepcion@empresa.co"
secreto = "env:CLAVE_RECEPCION"
revisado_por = "Juan, 2024-05-02"

[cuentas.principal.smtp]
servidor = "smtp.empresa.co"  # relé interno
puerto = 587
seguridad = "starttls"

# Inventario del técnico: el programa no lo usa
[inventario]
equipo = "srv-recepcion-01"
ubicacion = "rack 3"
"""


def _hand_written(tmp_path: Path) -> tuple[Path, Account]:
    path = tmp_path / "config.toml"
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    config, problems = parse_config(HAND_WRITTEN, path, allow_unknown=True)
    assert config is not None and all(problem.warning for problem in problems)
    return path, config.accounts["principal"]


def test_saving_an_account_keeps_comments_unknown_keys_and_tables(tmp_path: Path) -> None:
    path, account = _hand_written(tmp_path)
    save_account(path, replace(account, port=143, security="starttls"))
    text = path.read_text(encoding="utf-8")
    expected = (HAND_WRITTEN.replace("puerto = 993  # abierto", "puerto = 143  # abierto")
                .replace('seguridad = "ssl"', 'seguridad = "starttls"'))
    assert text == expected  # every other byte as the technician wrote it: comments, blank lines, order
    assert 'revisado_por = "Juan, 2024-05-02"' in text and "[inventario]" in text
    assert 'protocolo = "IMAP"' in text  # the same value written another way is left alone
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temporary left behind
    saved = parse_config(text, path, allow_unknown=True)[0]
    assert saved is not None and saved.accounts["principal"].port == 143


def test_a_new_account_is_appended_and_the_rest_of_the_file_kept(tmp_path: Path) -> None:
    path, account = _hand_written(tmp_path)
    second = replace(account, id="compras", username="compras@empresa.co", smtp=None, secret_ref="keyring",
                     password_expiry=date(2027, 3, 31), notify_email="juan@empresa.co")
    save_account(path, second)
    text = path.read_text(encoding="utf-8")
    head, inventory = HAND_WRITTEN.split("# Inventario del técnico")
    assert text.startswith(head)  # the first account untouched, comments included
    assert text.endswith("# Inventario del técnico" + inventory)  # the unknown table after it, as written
    added = text[len(head):text.index("# Inventario")]
    assert added.startswith("[cuentas.compras]\n") and "fecha_expiracion = 2027-03-31\n" in added
    saved = parse_config(text, path, allow_unknown=True)[0]
    assert saved is not None and saved.accounts["compras"] == second
    assert saved.accounts["principal"] == account


def test_removing_the_smtp_table_keeps_the_comment_that_introduces_the_next_table(tmp_path: Path) -> None:
    path, account = _hand_written(tmp_path)
    save_account(path, replace(account, smtp=None))
    text = path.read_text(encoding="utf-8")
    assert "[cuentas.principal.smtp]" not in text and "relé interno" not in text
    assert "\n\n# Inventario del técnico: el programa no lo usa\n[inventario]\n" in text
    assert 'revisado_por = "Juan, 2024-05-02"\n\n#' in text  # one blank line, not two


def test_a_changed_subtable_value_keeps_its_comment(tmp_path: Path) -> None:
    path, account = _hand_written(tmp_path)
    assert account.smtp is not None
    save_account(path, replace(account, smtp=replace(account.smtp, host="relay.empresa.co")))
    assert 'servidor = "relay.empresa.co"  # relé interno\n' in path.read_text(encoding="utf-8")


def test_the_first_save_writes_a_complete_file(tmp_path: Path) -> None:
    path = tmp_path / "nuevo" / "config.toml"
    account = Account(id="principal", provider="generic", auth_type="basica", protocol="imap",
                      host="mail.empresa.co", port=993, security="ssl", username="recepcion@empresa.co",
                      smtp=SmtpSettings("smtp.empresa.co", 465, "ssl"))
    save_account(path, account)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("[cuentas.principal]\n") and text.endswith("autenticar = true\n")
    assert 'zona_horaria = "America/Bogota"' in text  # a new table shows every key
    assert load_config(path).account(None) == account


def test_a_file_with_a_syntax_error_is_not_touched(tmp_path: Path) -> None:
    path, account = _hand_written(tmp_path)
    broken = HAND_WRITTEN.replace("puerto = 587", "puerto = ")
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(ConfigProblems, match=r"config.toml:\d+: \(sintaxis\): TOML inválido"):
        save_account(path, replace(account, port=143))
    assert path.read_text(encoding="utf-8") == broken


async def test_saving_from_the_form_keeps_the_technicians_comments_and_unknown_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAVE_RECEPCION", "no-se-usa")
    path = tmp_path / "config.toml"
    text = (f'# Sede Bogotá\n[general]\nbase_datos = "{tmp_path / "recepcion.db"}"\n'
            f'carpeta_documentos = "{tmp_path / "documentos"}"\n\n'
            + HAND_WRITTEN[HAND_WRITTEN.index("# Buzón"):HAND_WRITTEN.index("[cuentas.principal.smtp]")]
            + "# Fin de las cuentas\n" + HAND_WRITTEN[HAND_WRITTEN.index("# Inventario"):])
    path.write_text(text, encoding="utf-8")
    app = create_app(path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="abrir el formulario")
        await type_into(pilot, "#f-puerto", "143")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "puerto = 143" in path.read_text(encoding="utf-8"), what="guardar")
    saved = path.read_text(encoding="utf-8")
    assert saved == text.replace("puerto = 993", "puerto = 143")
