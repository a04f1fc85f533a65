"""Microsoft's device-code flow end to end, against a local HTTPS stand-in for the authority."""

from __future__ import annotations

import json
import stat
import traceback

import pytest
import requests

from tests.oauth.conftest import MICROSOFT_CLIENT_ID, OAuthAccount, ScriptedUI, outlook_account, write_account
from tests.servers.certs import TestCertificates
from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.servers.endpoints import dovecot_endpoint
from tests.servers.identity import DEVICE_GRANT, VERIFICATION_URI, MicrosoftStandIn
from tui_recepcion.errors import AuthenticationFailed, AuthorizationRequired, ConfigError, ConnectionProblem
from tui_recepcion.mailbox.probe import probe
from tui_recepcion.oauth import AuthorizationCancelled, AuthorizationError, OAuthCredentials, TokenStore
from tui_recepcion.oauth.microsoft import SCOPES, MicrosoftFlow, authority_url
from tui_recepcion.store import Store


def refresh_tokens_in(path) -> set[str]:
    cache = json.loads(path.read_text())
    return {entry["secret"] for entry in cache["RefreshToken"].values()}


def authorize(flow: MicrosoftFlow, oauth: OAuthAccount, microsoft: MicrosoftStandIn) -> ScriptedUI:
    ui = ScriptedUI(on_device_code=microsoft.approve)
    flow.authorize(oauth.account, ui, TokenStore.for_account(oauth.account))
    return ui


def test_device_code_flow_shows_the_code_and_stores_the_cache_in_the_secret_store(
    microsoft: MicrosoftStandIn, microsoft_account: OAuthAccount, trusting_session: requests.Session
) -> None:
    ui = ScriptedUI(on_device_code=microsoft.approve)
    flow = MicrosoftFlow(http_client=trusting_session)

    signed_in_as = flow.authorize(
        microsoft_account.account, ui, TokenStore.for_account(microsoft_account.account)
    )

    assert ui.device_codes == [(VERIFICATION_URI, "ABCD-EFGH", 900)]
    assert signed_in_as == RECEPCION.address
    [request] = microsoft.server.requests_to(microsoft.path("devicecode"))
    assert request.form["client_id"] == MICROSOFT_CLIENT_ID
    # Our three scopes; msal itself adds offline_access (the refresh token), openid and profile.
    assert set(request.form["scope"].split()) == {*SCOPES, "offline_access", "openid", "profile"}
    token_file = microsoft_account.token_path
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert refresh_tokens_in(token_file) == {microsoft.tokens.refresh_tokens[-1]}
    config_text = microsoft_account.config_path.read_text()
    assert "ms-rt-" not in config_text and "ms-at-" not in config_text


def test_the_flow_waits_until_the_technician_signs_in(
    tls_certs: TestCertificates, tmp_path, trusting_session: requests.Session
) -> None:
    stand_in = MicrosoftStandIn(tls_certs.server, RECEPCION.address, approve_on_poll=2)
    with stand_in.server:
        oauth = outlook_account(tmp_path, stand_in)
        MicrosoftFlow(http_client=trusting_session).authorize(
            oauth.account, ScriptedUI(), TokenStore.for_account(oauth.account)
        )
        assert len(stand_in.token_requests(DEVICE_GRANT)) == 2  # pending once, then signed in
    assert refresh_tokens_in(oauth.token_path) == {stand_in.tokens.refresh_tokens[-1]}


def test_cancelling_stops_waiting_and_stores_nothing(
    microsoft: MicrosoftStandIn, microsoft_account: OAuthAccount, trusting_session: requests.Session
) -> None:
    ui = ScriptedUI(cancel_after_code=True)  # never approves
    with pytest.raises(AuthorizationCancelled, match="cancelada"):
        MicrosoftFlow(http_client=trusting_session).authorize(
            microsoft_account.account, ui, TokenStore.for_account(microsoft_account.account)
        )
    assert len(microsoft.token_requests(DEVICE_GRANT)) == 1
    assert not microsoft_account.token_path.exists()


def test_an_expired_code_is_reported(
    tls_certs: TestCertificates, tmp_path, trusting_session: requests.Session
) -> None:
    stand_in = MicrosoftStandIn(tls_certs.server, RECEPCION.address, device_code_lifetime=0)
    with stand_in.server:
        oauth = outlook_account(tmp_path, stand_in)
        with pytest.raises(AuthorizationError, match="El código venció"):
            MicrosoftFlow(http_client=trusting_session).authorize(
                oauth.account, ScriptedUI(), TokenStore.for_account(oauth.account)
            )
    assert not oauth.token_path.exists()


def test_a_later_run_gets_the_token_silently_from_the_stored_cache(
    microsoft: MicrosoftStandIn,
    microsoft_account: OAuthAccount,
    trusting_session: requests.Session,
    tls_certs: TestCertificates,
) -> None:
    authorize(MicrosoftFlow(http_client=trusting_session), microsoft_account, microsoft)
    stored = microsoft_account.token_path.read_text()

    later = requests.Session()  # a new process: new flow, new session, only the stored cache
    later.trust_env, later.verify = False, str(tls_certs.ca_file)
    token = MicrosoftFlow(http_client=later).access_token(
        microsoft_account.account, TokenStore.for_account(microsoft_account.account)
    )

    assert token.value.reveal() == microsoft.tokens.access_tokens[-1]
    assert not token.refreshed
    assert microsoft.token_requests("refresh_token") == []
    assert len(microsoft.server.requests_to(microsoft.path("devicecode"))) == 1
    assert microsoft_account.token_path.read_text() == stored


def test_a_refresh_rotates_the_stored_refresh_token(
    tls_certs: TestCertificates, tmp_path, trusting_session: requests.Session
) -> None:
    # Access tokens shorter than msal's 5-minute margin: every later use refreshes.
    stand_in = MicrosoftStandIn(tls_certs.server, RECEPCION.address, access_lifetime=60)
    with stand_in.server:
        oauth = outlook_account(tmp_path, stand_in)
        flow = MicrosoftFlow(http_client=trusting_session)
        authorize(flow, oauth, stand_in)
        first = stand_in.tokens.refresh_tokens[-1]
        assert refresh_tokens_in(oauth.token_path) == {first}

        token = flow.access_token(oauth.account, TokenStore.for_account(oauth.account))

        [refresh] = stand_in.token_requests("refresh_token")
        assert refresh.form["refresh_token"] == first
        second = stand_in.tokens.refresh_tokens[-1]
        assert second != first
        assert refresh_tokens_in(oauth.token_path) == {second}
        assert token.refreshed and token.value.reveal() == stand_in.tokens.access_tokens[-1]
        assert stat.S_IMODE(oauth.token_path.stat().st_mode) == 0o600


def test_a_revoked_refresh_token_asks_to_authorize_again(
    tls_certs: TestCertificates, tmp_path, trusting_session: requests.Session
) -> None:
    stand_in = MicrosoftStandIn(tls_certs.server, RECEPCION.address, access_lifetime=60)
    with stand_in.server:
        oauth = outlook_account(tmp_path, stand_in)
        flow = MicrosoftFlow(http_client=trusting_session)
        authorize(flow, oauth, stand_in)
        stand_in.revoke()

        with pytest.raises(AuthorizationRequired) as caught:
            flow.access_token(oauth.account, TokenStore.for_account(oauth.account))

    failure = caught.value
    assert isinstance(failure, AuthenticationFailed)
    assert failure.code == "token_revocado" and not failure.transient
    message = str(failure)
    assert "tui-recepcion autorizar --cuenta principal" in message
    assert "AADSTS700082" in message and "Trace ID" not in message
    everything = message + repr(failure) + "".join(traceback.format_exception(failure))
    assert not any(
        token in everything for token in stand_in.tokens.refresh_tokens + stand_in.tokens.access_tokens
    )


def test_an_account_never_authorised_says_so(
    microsoft_account: OAuthAccount, trusting_session: requests.Session
) -> None:
    with pytest.raises(AuthorizationRequired, match="no tiene una autorización OAuth2 guardada") as caught:
        MicrosoftFlow(http_client=trusting_session).access_token(
            microsoft_account.account, TokenStore.for_account(microsoft_account.account)
        )
    assert caught.value.code == "sin_autorizacion"


def test_a_password_left_in_the_store_is_not_taken_for_a_cache(
    microsoft_account: OAuthAccount, trusting_session: requests.Session
) -> None:
    microsoft_account.token_path.parent.mkdir(parents=True)
    microsoft_account.token_path.write_text("una-contraseña-vieja")
    microsoft_account.token_path.chmod(0o600)
    with pytest.raises(AuthorizationRequired, match="no es un caché de tokens") as caught:
        MicrosoftFlow(http_client=trusting_session).access_token(
            microsoft_account.account, TokenStore.for_account(microsoft_account.account)
        )
    assert "una-contraseña-vieja" not in str(caught.value)


def test_the_token_opens_the_mailbox_and_a_revoked_one_stops_it_recording_health(
    tls_certs: TestCertificates,
    tmp_path,
    trusting_session: requests.Session,
    dovecot_oauth2: DovecotServer,
    oauth_tokens,
) -> None:
    from tui_recepcion.oauth import report_token_health

    stand_in = MicrosoftStandIn(
        tls_certs.server, RECEPCION.address, access_lifetime=60, registry=oauth_tokens
    )
    endpoint = dovecot_endpoint(dovecot_oauth2, "imap", "ssl", tls_certs.ca_file)
    with stand_in.server, Store.open(tmp_path / "recepcion.db") as store, report_token_health(store):
        oauth = outlook_account(tmp_path, stand_in)
        flow = MicrosoftFlow(http_client=trusting_session)
        authorize(flow, oauth, stand_in)
        credentials = OAuthCredentials(oauth.account, flow, TokenStore.for_account(oauth.account))

        report = probe(endpoint, "imap", credentials)

        assert "Inicio de sesión: correcto como recepcion@prueba.co" in report.lines()
        health = store.token_health("principal")
        assert health is not None and health.healthy and health.last_failure is None

        stand_in.revoke()
        with pytest.raises(AuthorizationRequired, match="tui-recepcion autorizar"):
            probe(endpoint, "imap", credentials)
        health = store.token_health("principal")
        assert health is not None and not health.healthy
        assert health.last_failure_code == "token_revocado" and "autorizar" in (health.last_failure or "")


def test_the_authority_defaults_by_address_and_accepts_tenants_and_urls(tmp_path) -> None:
    personal = write_account(
        tmp_path / "a", "outlook", ['client_id = "x"'], username="ana@hotmail.com"
    ).account
    company = write_account(tmp_path / "b", "outlook", ['client_id = "x"'], username="ana@empresa.co").account
    tenant = write_account(
        tmp_path / "c", "outlook", ['client_id = "x"', 'autoridad = "contoso.onmicrosoft.com"']
    ).account
    custom = write_account(
        tmp_path / "d", "outlook", ['client_id = "x"', 'autoridad = "https://localhost:8443/t/"']
    ).account
    wrong = write_account(
        tmp_path / "e", "outlook", ['client_id = "x"', 'autoridad = "no vale/ni así"']
    ).account

    assert authority_url(personal) == ("https://login.microsoftonline.com/consumers", False)
    assert authority_url(company) == ("https://login.microsoftonline.com/organizations", False)
    assert authority_url(tenant) == ("https://login.microsoftonline.com/contoso.onmicrosoft.com", False)
    assert authority_url(custom) == ("https://localhost:8443/t", True)
    with pytest.raises(ConfigError, match="no es válida"):
        authority_url(wrong)


def test_an_account_without_client_id_is_a_config_error(
    tmp_path, microsoft: MicrosoftStandIn, trusting_session
) -> None:
    oauth = write_account(tmp_path, "outlook", [f'autoridad = "{microsoft.authority}"'])
    with pytest.raises(ConfigError, match=r"\[cuentas.principal.oauth2\] con client_id"):
        MicrosoftFlow(http_client=trusting_session).authorize(
            oauth.account, ScriptedUI(), TokenStore.for_account(oauth.account)
        )


def test_an_unreachable_authority_is_a_transient_connection_problem(
    tmp_path, closed_port: int, trusting_session: requests.Session
) -> None:
    oauth = write_account(
        tmp_path, "outlook", ['client_id = "x"', f'autoridad = "https://localhost:{closed_port}/t"']
    )
    with pytest.raises(ConnectionProblem, match="No se pudo contactar a Microsoft") as caught:
        MicrosoftFlow(http_client=trusting_session).authorize(
            oauth.account, ScriptedUI(), TokenStore.for_account(oauth.account)
        )
    assert caught.value.transient and not isinstance(caught.value, AuthenticationFailed)
