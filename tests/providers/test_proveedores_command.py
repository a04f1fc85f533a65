"""`tui-recepcion proveedores`: the JSON contract of docs/architecture.md, «Contracts», the table, plugin failures."""

from __future__ import annotations

import json

import pytest
from provider_support import provider_plugin_code

from tui_recepcion.cli import main
from tui_recepcion.providers import manager


@pytest.fixture(autouse=True)
def only_fabricated_plugins(monkeypatch):
    """Installed third-party plugins would change the output: list only what a test fabricates.

    Fabricated plugins live on sys.path, so the real entry-point lookup still finds them.
    """
    monkeypatch.delenv(manager.BLOCK_ENV_VAR, raising=False)
    real = manager.installed_entry_points
    monkeypatch.setattr(
        manager,
        "installed_entry_points",
        lambda: [ep for ep in real() if ep.value.startswith("complemento_fabricado_")],
    )


def test_json_is_an_array_of_providers_with_the_contract_fields(capsys):
    assert main(["proveedores", "--formato", "json"]) == 0

    out, err = capsys.readouterr()
    providers = json.loads(out)
    assert [p["id"] for p in providers] == ["outlook", "gmail", "generic"]
    outlook = providers[0]
    assert {"id", "nombre", "origen", "tipos_servidor", "servidores"} <= outlook.keys()
    assert outlook["nombre"] == "Outlook.com / Microsoft 365"
    assert outlook["origen"] == "integrado"
    assert outlook["tipos_servidor"] == ["oauth2", "basica"]
    assert outlook["servidores"] == {
        "imap": {"servidor": "outlook.office365.com", "puerto": 993, "seguridad": "ssl"},
        "pop3": {"servidor": "outlook.office365.com", "puerto": 995, "seguridad": "ssl"},
        "smtp": {"servidor": "smtp.office365.com", "puerto": 587, "seguridad": "starttls"},
    }
    assert outlook["alternativas"] == [
        {
            "protocolo": "smtp",
            "servidor": "smtp-mail.outlook.com",
            "puerto": 587,
            "seguridad": "starttls",
            "nota": "Cuentas personales (Outlook.com, Hotmail, Live, MSN).",
        }
    ]
    generic = providers[2]
    assert generic["servidores"] == {"imap": None, "pop3": None, "smtp": None}
    assert generic["descubrimiento_automatico"] is True
    assert err == ""


def test_table_lists_providers_with_their_servers(capsys):
    assert main(["proveedores"]) == 0

    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "NOMBRE", "ORIGEN", "TIPOS"]
    assert lines[1].split()[0] == "outlook" and lines[1].endswith("oauth2, basica")
    assert "    imap  outlook.office365.com:993  SSL/TLS" in lines
    assert "    smtp  smtp-mail.outlook.com:587  STARTTLS  (alternativa)" in lines
    assert "    smtp  smtp.gmail.com:465  SSL/TLS" in lines
    assert max(len(line) for line in lines) <= 80
    assert err == ""


def test_plugin_failures_go_to_stderr_and_the_json_stays_parseable(fabricate_plugin, capsys):
    fabricate_plugin("roto", "raise ImportError('no hay lxml')", version="2.0")
    fabricate_plugin("acme", provider_plugin_code("acme"), distribution="correo-acme", version="0.3")

    assert main(["proveedores", "--formato", "json"]) == 0

    out, err = capsys.readouterr()
    providers = json.loads(out)
    assert [(p["id"], p["origen"]) for p in providers][-1] == ("acme", "correo-acme 0.3")
    assert "Fallas de complementos (1):" in err
    assert "roto (fabricado-roto 2.0) — no se pudo importar: ImportError: no hay lxml" in err


def test_table_prints_failures_and_blocked_plugins_after_the_table(fabricate_plugin, monkeypatch, capsys):
    fabricate_plugin("explota", "from tui_recepcion.providers import hookimpl\n"
                     "@hookimpl\ndef recepcion_register_providers():\n    raise KeyError('x')\n")
    fabricate_plugin("acme", provider_plugin_code("acme"))
    monkeypatch.setenv(manager.BLOCK_ENV_VAR, "acme")

    assert main(["proveedores", "--formato", "tabla"]) == 0

    out, err = capsys.readouterr()
    assert "acme" not in out and "generic" in out
    assert "Complementos bloqueados por TUI_RECEPCION_BLOQUEAR_PLUGINS: acme" in err
    assert "explota (fabricado-explota 1.0) — falló recepcion_register_providers: KeyError: 'x'" in err


def test_exit_code_is_1_only_when_no_provider_loads(fabricate_plugin, monkeypatch, capsys):
    monkeypatch.setattr(manager, "DEFAULT_PLUGINS", ("tui_recepcion.providers.no_existe",))
    fabricate_plugin("roto", "raise RuntimeError('roto')")

    assert main(["proveedores", "--formato", "json"]) == 1

    out, err = capsys.readouterr()
    assert json.loads(out) == []
    assert "No se cargó ningún proveedor." in err
    assert "Fallas de complementos (2):" in err


def test_unknown_format_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["proveedores", "--formato", "xml"])

    assert raised.value.code == 2
    assert "--formato" in capsys.readouterr().err
