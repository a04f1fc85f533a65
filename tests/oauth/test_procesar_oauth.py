"""The whole product with an OAuth2 (Microsoft) account: autorizar, procesar, revocation, one alert."""

from __future__ import annotations

import email
import email.policy
import stat
from pathlib import Path

import pytest
import tomlkit

from tests.oauth.conftest import MICROSOFT_CLIENT_ID
from tests.servers.certs import TestCertificates
from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.servers.endpoints import TEST_HOST
from tests.servers.identity import MicrosoftStandIn
from tests.servers.oauth import TokenRegistry
from tests.servers.smtp import SMTP_USER, SmtpServer
from tests.support.engine_support import sample_mailbox, write_secret
from tui_recepcion import cli
from tui_recepcion.store import Store

NOTIFY = "tecnico@empresa.co"


def write_config(tmp_path: Path, dovecot: DovecotServer, certs: TestCertificates, smtp: SmtpServer, authority: str) -> Path:
    account = {
        "proveedor": "outlook",
        "tipo_servidor": "oauth2",
        "protocolo": "imap",
        "servidor": TEST_HOST,
        "puerto": dovecot.ports.port_for("imap", "ssl"),
        "seguridad": "ssl",
        "usuario": RECEPCION.address,
        "secreto": f"archivo:{tmp_path / 'principal.token'}",
        "certificados_ca": str(certs.ca_file),
        "correo_notificacion": NOTIFY,
        # Alerts must not depend on the token they report as revoked: their own SMTP login.
        "smtp": {
            "servidor": TEST_HOST,
            "puerto": smtp.port,
            "seguridad": "starttls",
            "usuario": SMTP_USER.username,
            "secreto": write_secret(tmp_path / "clave-smtp", SMTP_USER.password),
        },
        "oauth2": {"client_id": MICROSOFT_CLIENT_ID, "autoridad": authority},
    }
    document = {
        "general": {"base_datos": str(tmp_path / "recepcion.db"), "carpeta_documentos": str(tmp_path / "docs")},
        "cuentas": {"principal": account},
    }
    path = tmp_path / "config.toml"
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
    return path


def test_a_revoked_token_stops_processing_with_exactly_one_alert(
    tmp_path: Path,
    tls_certs: TestCertificates,
    dovecot_oauth2: DovecotServer,
    oauth_tokens: TokenRegistry,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_certs.ca_file))  # msal's session trusts the stand-in
    dovecot_oauth2.reset()
    smtp_server.clear()
    # Short-lived access tokens: every pass refreshes, rotating the refresh token.
    stand_in = MicrosoftStandIn(
        tls_certs.server, RECEPCION.address, access_lifetime=60, approve_on_poll=1, registry=oauth_tokens
    )
    with stand_in.server:
        config = write_config(tmp_path, dovecot_oauth2, tls_certs, smtp_server, stand_in.authority)
        argv = ["--config", str(config)]
        assert cli.main([*argv, "autorizar"]) == 0
        token_file = tmp_path / "principal.token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600

        assert cli.main([*argv, "probar"]) == 0
        dovecot_oauth2.deliver(RECEPCION, [mail.raw for mail in sample_mailbox(good=3, seed=11)])
        assert cli.main([*argv, "procesar", "--una-vez"]) == 0
        assert dovecot_oauth2.messages(RECEPCION) == []  # every message processed over XOAUTH2
        assert stand_in.tokens.refresh_tokens[-1] in token_file.read_text()

        stand_in.revoke()
        capsys.readouterr()
        assert cli.main([*argv, "procesar", "--una-vez"]) == 1
        assert cli.main([*argv, "procesar", "--una-vez"]) == 1  # the same incident: no second alert
        output = capsys.readouterr()

    assert "tui-recepcion autorizar --cuenta principal" in output.out + output.err
    [alert] = smtp_server.wait_for(1)
    assert len(smtp_server.messages()) == 1
    assert alert.rcpt_tos == (NOTIFY,)
    message = email.message_from_bytes(alert.raw, policy=email.policy.default)
    assert message["Subject"].startswith(f"Alerta: no se pudo iniciar sesión en el buzón {RECEPCION.address}")
    text = message.get_body(("plain",)).get_content()
    assert "se revocó la autorización (token OAuth2)" in text
    assert "ya no acepta la autorización guardada" in text
    assert not any(token in text for token in stand_in.tokens.refresh_tokens + stand_in.tokens.access_tokens)
    with Store.open(tmp_path / "recepcion.db") as store:
        health = store.token_health("principal")
    assert health is not None and not health.healthy and health.last_failure_code == "token_revocado"
