"""The form's round trip (issue 14): an account shown in the form and saved untouched is the
same account, whatever optional keys its file has; so a save writes only what was edited."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_recepcion.config import check_digit, parse_account
from tui_recepcion.ui.form_model import account_values, build_raw, suggest_account_name

BASE = {
    "proveedor": "generic", "servidor": "mail.empresa.co", "puerto": 993, "seguridad": "ssl",
    "usuario": "recepcion@empresa.co", "secreto": "env:CLAVE",
}
OPTIONAL = {
    "nit_receptor": st.tuples(st.sampled_from(["901234567", "800197268", "900123456"]), st.booleans()),
    "fecha_expiracion": st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    "correo_notificacion": st.just("tecnico@empresa.co"),
    "correo_respaldo": st.just("respaldo@empresa.co"),
    "carpeta_procesados": st.sampled_from(["Procesados", "Facturas OK"]),
    "carpeta_fallidos": st.sampled_from(["Fallidos", "Con error"]),
    "zona_horaria": st.sampled_from(["America/Bogota", "UTC"]),
    "smtp": st.fixed_dictionaries(
        {"servidor": st.just("smtp.empresa.co"), "puerto": st.sampled_from([25, 465, 587]),
         "seguridad": st.sampled_from(["ssl", "starttls"])},
        optional={"usuario": st.just("envios@empresa.co"), "secreto": st.just("env:CLAVE_SMTP"),
                  "autenticar": st.booleans()}),
}


@st.composite
def account_tables(draw) -> dict:
    table = dict(BASE, protocolo=draw(st.sampled_from(["imap", "pop3"])), tipo_servidor="basica")
    for key, strategy in OPTIONAL.items():
        if draw(st.booleans()):
            value = draw(strategy)
            if key == "nit_receptor":
                table["nit_receptor"], with_digit = value
                if with_digit:
                    table["dv_receptor"] = check_digit(table["nit_receptor"])
            else:
                table[key] = value
    if "fecha_expiracion" in table:  # the alert needs somewhere to go
        table.setdefault("correo_notificacion", "tecnico@empresa.co")
    if table["protocolo"] == "pop3":
        table.setdefault("correo_respaldo", "respaldo@empresa.co")
        table.setdefault("smtp", {"servidor": "smtp.empresa.co", "puerto": 587, "seguridad": "starttls"})
    return table


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=account_tables())
def test_an_account_shown_and_saved_untouched_is_the_same_account(table: dict, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    table = dict(table, certificados_ca=str(ca))
    account, problems = parse_account("principal", table)
    assert account is not None, problems
    shown = account_values(account)
    again, problems = parse_account("principal", build_raw(shown, table, account.secret_ref))
    assert again == account, problems


def test_the_example_name_of_a_new_account_is_never_taken() -> None:
    assert suggest_account_name([]) == "principal"
    assert suggest_account_name(["principal"]) == "cuenta2"
    assert suggest_account_name(["principal", "cuenta2"]) == "cuenta3"
