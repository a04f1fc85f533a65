"""Saving one account is a merge (issue 14, scenarios 1 and 2): only the keys the form edited
are written into the file as it is now; a new account never takes an existing name; a file
changed on disk since the form loaded it is reported key by key (recargar / sobrescribir /
cancelar)."""

from __future__ import annotations

import stat
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_recepcion.config import (
    AccountExists,
    ConfigChangedOnDisk,
    ConfigProblems,
    SmtpSettings,
    load_config,
    save_account,
    take_snapshot,
    unused_account_id,
)

BASE = """\
# Sede Bogotá
[general]
intervalo_minutos = 5

# Buzón de proveedores
[cuentas.principal]
proveedor = "generic"
tipo_servidor = "basica"
protocolo = "imap"
servidor = "mail.empresa.co"  # propio
puerto = 993
seguridad = "ssl"
usuario = "recepcion@empresa.co"
secreto = "env:CLAVE"
nit_receptor = "901234567"
fecha_expiracion = 2027-03-31
correo_notificacion = "tecnico@empresa.co"
nota = "no borrar"

[cuentas.principal.smtp]
servidor = "smtp.empresa.co"
puerto = 587
seguridad = "starttls"

[cuentas.principal.oauth2]
client_id = "abc"
"""


def _file(tmp_path: Path, text: str = BASE) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_a_new_account_with_an_existing_name_is_refused_and_nothing_is_lost(tmp_path: Path) -> None:
    path = _file(tmp_path)
    snapshot = take_snapshot(path)
    account = load_config(path).accounts["principal"]
    stranger = replace(account, username="otro@empresa.co", receiver_nit=None, password_expiry=None,
                       notify_email=None, smtp=None)
    with pytest.raises(AccountExists) as refused:
        save_account(path, stranger, snapshot=snapshot, new=True)
    assert refused.value.account_id == "principal"
    assert "Ya existe una cuenta llamada «principal»" in str(refused.value)
    assert path.read_text(encoding="utf-8") == BASE


def test_a_hand_edit_made_while_the_form_is_open_is_reported_by_key_and_kept_on_overwrite(tmp_path: Path) -> None:
    path = _file(tmp_path)
    snapshot = take_snapshot(path)
    account = load_config(path).accounts["principal"]  # what the form shows
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    hand = BASE.replace('nota = "no borrar"', f'nota = "no borrar"\ncertificados_ca = "{ca}"')
    path.write_text(hand, encoding="utf-8")  # the technician follows the certificate hint

    edited = replace(account, port=143, security="starttls")
    with pytest.raises(ConfigChangedOnDisk) as changed:
        save_account(path, edited, snapshot=snapshot)
    assert changed.value.changed == ("cuentas.principal.certificados_ca",)
    assert changed.value.conflicts == ()
    assert "cuentas.principal.certificados_ca" in str(changed.value)
    assert path.read_text(encoding="utf-8") == hand  # nothing written yet

    saved = save_account(path, edited, snapshot=snapshot, overwrite=True)
    data = tomllib.loads(path.read_text(encoding="utf-8"))["cuentas"]["principal"]
    assert data["certificados_ca"] == str(ca)  # the hand edit survives
    assert (data["puerto"], data["seguridad"]) == (143, "starttls")
    assert set(saved.changed) == {"cuentas.principal.puerto", "cuentas.principal.seguridad"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_change_of_comments_only_is_merged_without_asking(tmp_path: Path) -> None:
    path = _file(tmp_path)
    snapshot = take_snapshot(path)
    account = load_config(path).accounts["principal"]
    path.write_text("# revisado el lunes\n" + BASE, encoding="utf-8")
    saved = save_account(path, replace(account, port=995), snapshot=snapshot)
    text = path.read_text(encoding="utf-8")
    assert text == "# revisado el lunes\n" + BASE.replace("puerto = 993", "puerto = 995")
    assert saved.snapshot.text == text


def test_the_same_key_edited_on_disk_and_in_the_form_is_a_conflict(tmp_path: Path) -> None:
    path = _file(tmp_path)
    snapshot = take_snapshot(path)
    account = load_config(path).accounts["principal"]
    path.write_text(BASE.replace("puerto = 993", "puerto = 9993"), encoding="utf-8")
    with pytest.raises(ConfigChangedOnDisk) as changed:
        save_account(path, replace(account, port=143, security="starttls"), snapshot=snapshot)
    assert changed.value.conflicts == ("cuentas.principal.puerto",)


def test_clearing_a_value_removes_only_that_key(tmp_path: Path) -> None:
    path = _file(tmp_path)
    account = load_config(path).accounts["principal"]
    save_account(path, replace(account, password_expiry=None, notify_email=None), snapshot=take_snapshot(path))
    text = path.read_text(encoding="utf-8")
    assert "fecha_expiracion" not in text and "correo_notificacion" not in text
    assert text == BASE.replace("fecha_expiracion = 2027-03-31\ncorreo_notificacion = \"tecnico@empresa.co\"\n", "")


def test_a_pop3_account_without_an_smtp_route_cannot_be_saved(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    account = replace(load_config(_file(tmp_path)).accounts["principal"], id="pop", protocol="pop3", port=995,
                      username="pop@empresa.co", backup_email="respaldo@empresa.co", smtp=None, oauth=None)
    path.unlink()
    with pytest.raises(ConfigProblems) as refused:
        save_account(path, account, snapshot=take_snapshot(path), new=True, provider_smtp=False)
    assert refused.value.problems[0].key == "cuentas.pop.smtp"
    assert "SMTP" in str(refused.value) and not path.exists()
    with_route = replace(account, smtp=SmtpSettings("127.0.0.1", 2525, "ninguna", authenticate=False),
                         allow_plaintext=True)
    save_account(path, with_route, snapshot=take_snapshot(path), new=True, provider_smtp=False)
    assert load_config(path).accounts["pop"].smtp is not None


# --- the property: any file, any sequence of form edits --------------------------------------

ACCOUNT_IDS = ("principal", "sede-norte", "cali")
_comment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz áéíóúñ.,", min_size=0, max_size=20).map(str.strip)


@st.composite
def config_texts(draw: st.DrawFn) -> str:
    lines = [f"# {draw(_comment)}", "[general]", f"intervalo_minutos = {draw(st.integers(1, 60))}"]
    if draw(st.booleans()):
        lines.append('extra_general = "x"  # desconocida')
    for number, account_id in enumerate(ACCOUNT_IDS[: draw(st.integers(1, len(ACCOUNT_IDS)))]):
        lines += ["", f"# cuenta {draw(_comment)}", f"[cuentas.{account_id}]",
                  'proveedor = "generic"', 'tipo_servidor = "basica"', 'protocolo = "imap"',
                  f'servidor = "mail{number}.empresa.co"  # {draw(_comment)}',
                  f"puerto = {draw(st.sampled_from([993, 143]))}", 'seguridad = "ssl"',
                  f'usuario = "{account_id}@empresa.co"', 'secreto = "env:CLAVE"']
        if draw(st.booleans()):
            lines.append(f'nit_receptor = "{draw(st.sampled_from(["901234567", "800197268"]))}"')
        if draw(st.booleans()):
            lines.append(f'# {draw(_comment)}\nnota_{number} = "{draw(_comment)}"')
        if draw(st.booleans()):
            lines += ["", f"[cuentas.{account_id}.smtp]", 'servidor = "smtp.empresa.co"', "puerto = 587",
                      'seguridad = "starttls"', "relevo_local = true"]
    if draw(st.booleans()):
        lines += ["", "# inventario", "[inventario]", 'equipo = "srv-01"']
    return "\n".join(lines) + "\n"


EDITS = st.tuples(
    st.sampled_from(ACCOUNT_IDS),
    st.sampled_from(["puerto", "servidor", "nit_receptor", "carpeta_fallidos", "zona_horaria", "smtp.servidor"]),
    st.integers(0, 2),
    st.booleans(),  # someone edits the file by hand while the form is open
)
_VALUES = {
    "puerto": (993, 143, 10993), "servidor": ("mail.empresa.co", "imap.empresa.co", "buzon.empresa.co"),
    "nit_receptor": (None, "901234567", "890900608"), "carpeta_fallidos": ("Fallidos", "Errores", "Rechazados"),
    "zona_horaria": ("America/Bogota", "America/Lima", "UTC"),
    "smtp.servidor": ("smtp.empresa.co", "relay.empresa.co", "smtp2.empresa.co"),
}
_ATTRS = {"puerto": "port", "servidor": "host", "nit_receptor": "receiver_nit", "carpeta_fallidos": "failed_folder",
          "zona_horaria": "timezone"}


def _comments(text: str) -> list[str]:
    return [line[line.index("#"):] for line in text.splitlines() if "#" in line]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=config_texts(), edits=st.lists(EDITS, min_size=1, max_size=4))
def test_saving_changes_exactly_the_edited_keys_of_the_edited_account(tmp_path: Path, text: str, edits: list) -> None:
    path = _file(tmp_path, text)
    for step, (account_id, key, choice, hand) in enumerate(edits):
        before = path.read_text(encoding="utf-8")
        expected = tomllib.loads(before)
        if account_id not in expected["cuentas"]:
            continue
        snapshot = take_snapshot(path)
        account = load_config(path).accounts[account_id]  # what the form shows
        value = _VALUES[key][choice]
        if key == "smtp.servidor":
            smtp = account.smtp or SmtpSettings("smtp.empresa.co", 587, "starttls")
            edited = replace(account, smtp=replace(smtp, host=value))
            table = expected["cuentas"][account_id]
            if "smtp" not in table:
                table["smtp"] = {"servidor": "smtp.empresa.co", "puerto": 587, "seguridad": "starttls", "autenticar": True}
            table["smtp"]["servidor"] = value
        else:
            edited = replace(account, **{_ATTRS[key]: value})
            table = expected["cuentas"][account_id]
            current = tomllib.loads(before)["cuentas"][account_id]
            if value is None:
                table.pop(key, None)
            elif current.get(key) != value and not (key not in current and value == getattr(account, _ATTRS[key])):
                table[key] = value
        if hand:
            path.write_text(before + f"\n[manual_{step}]\nnota = \"a mano\"\n", encoding="utf-8")
            expected[f"manual_{step}"] = {"nota": "a mano"}
            with pytest.raises(ConfigChangedOnDisk) as changed:
                save_account(path, edited, snapshot=snapshot)
            assert changed.value.changed == (f"manual_{step}.nota",) and changed.value.conflicts == ()
            save_account(path, edited, snapshot=snapshot, overwrite=True)
        else:
            save_account(path, edited, snapshot=snapshot)
        after = path.read_text(encoding="utf-8")
        assert tomllib.loads(after) == expected
        assert _comments(after) == _comments(before)  # every comment kept, in order
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # the untouched text: every line of an account never edited is still there, as written
    edited_ids = {account_id for account_id, _key, _choice, _hand in edits}
    original = tomlkit.parse(text)
    for account_id in set(original["cuentas"]) - edited_ids:
        for line in tomlkit.dumps(original["cuentas"][account_id]).splitlines():
            assert line in path.read_text(encoding="utf-8").splitlines()


def test_the_example_name_for_a_new_account_is_never_an_existing_one() -> None:
    assert unused_account_id([]) == "principal"
    assert unused_account_id(["principal"]) == "cuenta-2"
    assert unused_account_id(["principal", "cuenta-2", "cuenta-3"]) == "cuenta-4"


def test_a_file_broken_by_hand_meanwhile_is_reported_as_such_not_as_every_key_changed(tmp_path: Path) -> None:
    path = _file(tmp_path)
    snapshot = take_snapshot(path)
    account = load_config(path).accounts["principal"]
    broken = BASE.replace("puerto = 993", "puerto = 993 =")
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(ConfigProblems) as refused:
        save_account(path, replace(account, port=143, security="starttls"), snapshot=snapshot, overwrite=True)
    assert refused.value.problems[0].line == BASE.splitlines().index("puerto = 993") + 1
    assert path.read_text(encoding="utf-8") == broken
