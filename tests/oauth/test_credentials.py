"""The engine's seam: `credentials_for` gives OAuth2 accounts XOAUTH2 credentials from their provider."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from tests.oauth.conftest import OAuthAccount, ScriptedUI, outlook_account, write_account
from tests.servers.certs import TestCertificates
from tests.servers.dovecot import RECEPCION
from tests.servers.identity import MicrosoftStandIn
from tests.servers.oauth import TokenRegistry
from tests.servers.smtp import SmtpServer
from tui_recepcion.accounts import authorize_account, credentials_for, smtp_credentials, smtp_sender
from tui_recepcion.errors import AuthorizationRequired, ConfigError
from tui_recepcion.mailbox.smtp import SmtpSession
from tui_recepcion.mailbox.transport import Endpoint
from tui_recepcion.oauth import OAuthCredentials, TokenStore, report_token_health
from tui_recepcion.oauth.installed_app import InstalledAppFlow
from tui_recepcion.oauth.microsoft import MicrosoftFlow
from tui_recepcion.providers import DEFAULT_PLUGINS, hookimpl, load_registry
from tui_recepcion.store import Store

REPO = Path(__file__).resolve().parents[2]


def test_credentials_for_an_oauth2_account_come_from_its_provider_without_loading_msal(
    tmp_path: Path,
) -> None:
    write_account(tmp_path, "outlook", ['client_id = "x"'])
    script = f"""
import sys
from pathlib import Path
from tui_recepcion.config import load_config
from tui_recepcion.accounts import credentials_for
account = load_config(Path({str(tmp_path / "config.toml")!r})).account("principal")
credentials = credentials_for(account)
print(type(credentials).__name__, type(credentials.flow).__name__, "msal" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.split() == ["OAuthCredentials", "MicrosoftFlow", "False"]


def test_gmail_accounts_get_the_google_installed_app_flow(tmp_path: Path) -> None:
    oauth = write_account(tmp_path, "gmail", ['client_id = "x"'])
    credentials = credentials_for(oauth.account)
    assert isinstance(credentials, OAuthCredentials)
    assert isinstance(credentials.flow, InstalledAppFlow)
    assert credentials.flow.token_endpoint == "https://oauth2.googleapis.com/token"


def test_a_provider_without_oauth2_is_a_config_error(tmp_path: Path) -> None:
    oauth = write_account(tmp_path, "generic", ['client_id = "x"'])
    with pytest.raises(ConfigError, match="no ofrece OAuth2"):
        credentials_for(oauth.account)


def test_a_never_authorised_account_fails_at_login_as_an_authentication_failure(tmp_path: Path) -> None:
    oauth = write_account(tmp_path, "outlook", ['client_id = "x"'])
    credentials = credentials_for(oauth.account)
    with pytest.raises(AuthorizationRequired, match="tui-recepcion autorizar --cuenta principal") as caught:
        credentials.imap(None)  # type: ignore[arg-type]  # fails before touching the client
    assert caught.value.code == "sin_autorizacion"


class _StandInPlugin:
    """A plugin that gives Outlook accounts a flow pointed at the stand-in (overriding the built-in)."""

    def __init__(self, flow: MicrosoftFlow) -> None:
        self.flow = flow

    @hookimpl
    def recepcion_oauth_flow(self, provider_id: str) -> MicrosoftFlow | None:
        return self.flow if provider_id == "outlook" else None


def test_authorize_account_stores_the_token_and_records_its_health(
    microsoft: MicrosoftStandIn,
    microsoft_account: OAuthAccount,
    trusting_session: requests.Session,
    tmp_path: Path,
) -> None:
    plugin = _StandInPlugin(MicrosoftFlow(http_client=trusting_session))
    registry = load_registry(plugins=[*DEFAULT_PLUGINS, plugin], entry_points=[])
    ui = ScriptedUI(on_device_code=microsoft.approve)
    with Store.open(tmp_path / "salud.db") as store, report_token_health(store):
        authorization = authorize_account(microsoft_account.account, ui, registry)
        health = store.token_health("principal")

    assert authorization.signed_in_as == RECEPCION.address
    assert authorization.stored_in == f"el archivo {microsoft_account.token_path}"
    assert health is not None and health.healthy and health.last_refresh_at is not None


def test_authorize_account_refuses_a_basic_account(tmp_path: Path) -> None:
    oauth = write_account(tmp_path, "outlook", ['client_id = "x"'])
    basic = replace(oauth.account, auth_type="basica")
    with pytest.raises(ConfigError, match="autenticación básica"):
        authorize_account(basic, ScriptedUI())


def test_the_smtp_session_of_an_oauth2_account_sends_with_xoauth2(
    tls_certs: TestCertificates,
    tmp_path: Path,
    trusting_session: requests.Session,
    smtp_xoauth2_server: SmtpServer,
    oauth_tokens: TokenRegistry,
) -> None:
    stand_in = MicrosoftStandIn(tls_certs.server, RECEPCION.address, registry=oauth_tokens)
    with stand_in.server:
        oauth = outlook_account(tmp_path, stand_in)
        assert isinstance(smtp_credentials(oauth.account), OAuthCredentials)  # the engine's own wiring
        flow = MicrosoftFlow(http_client=trusting_session)
        flow.authorize(
            oauth.account, ScriptedUI(on_device_code=stand_in.approve), TokenStore.for_account(oauth.account)
        )
        credentials = OAuthCredentials(oauth.account, flow, TokenStore.for_account(oauth.account))
        smtp_xoauth2_server.clear()
        endpoint = Endpoint("localhost", smtp_xoauth2_server.port, "starttls", ca_file=tls_certs.ca_file)
        with SmtpSession(endpoint, credentials.smtp, smtp_sender(oauth.account)) as session:
            session.send(["respaldo@prueba.co"], b"Subject: prueba\r\n\r\nhola\r\n")

    [message] = smtp_xoauth2_server.wait_for(1)
    assert message.auth_user == RECEPCION.address and message.mail_from == RECEPCION.address
