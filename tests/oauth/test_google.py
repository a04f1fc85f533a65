"""Google's installed-app flow: browser consent, loopback or pasted redirect, token endpoint."""

from __future__ import annotations

import json
import ssl
import stat
import traceback
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.oauth.conftest import (
    GOOGLE_CLIENT_ID,
    GOOGLE_CLIENT_SECRET,
    OAuthAccount,
    ScriptedUI,
    gmail_account,
    google_stand_in,
    open_in_local_browser,
    write_account,
)
from tests.servers.certs import TestCertificates
from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.servers.endpoints import dovecot_endpoint
from tests.servers.identity import GoogleStandIn
from tui_recepcion.errors import AuthorizationRequired, ConfigError, ConnectionProblem
from tui_recepcion.mailbox.probe import probe
from tui_recepcion.oauth import AuthorizationError, OAuthCredentials, TokenStore
from tui_recepcion.oauth.google import AUTH_ENDPOINT, google_flow
from tui_recepcion.oauth.installed_app import InstalledAppFlow
from tui_recepcion.secrets import Secret


@pytest.fixture
def flow_for(tls_certs: TestCertificates) -> Callable[[GoogleStandIn], InstalledAppFlow]:
    def make(stand_in: GoogleStandIn) -> InstalledAppFlow:
        return google_flow(
            token_endpoint=stand_in.token_endpoint,
            ssl_context=ssl.create_default_context(cafile=str(tls_certs.ca_file)),
        )

    return make


def stored(oauth: OAuthAccount) -> dict:
    return json.loads(oauth.token_path.read_text())


def test_consent_in_a_local_browser_is_caught_and_exchanged(
    google: GoogleStandIn, google_account: OAuthAccount, flow_for
) -> None:
    ui = ScriptedUI(browser=open_in_local_browser(google))

    flow_for(google).authorize(google_account.account, ui, TokenStore.for_account(google_account.account))

    [auth_url] = ui.auth_urls
    assert auth_url.startswith(AUTH_ENDPOINT + "?")
    query = {key: values[-1] for key, values in parse_qs(urlsplit(auth_url).query).items()}
    assert query["scope"] == "https://mail.google.com/"
    assert query["access_type"] == "offline" and query["prompt"] == "consent"
    assert query["redirect_uri"].startswith("http://127.0.0.1:")
    assert query["login_hint"] == RECEPCION.address
    assert GOOGLE_CLIENT_SECRET not in auth_url
    state = stored(google_account)
    assert state["refresh_token"] == google.tokens.refresh_tokens[-1]
    assert state["access_token"] == google.tokens.access_tokens[-1]
    assert stat.S_IMODE(google_account.token_path.stat().st_mode) == 0o600
    # The client secret was asked for once and kept in its own store, not in config.toml.
    assert len(ui.secrets_asked) == 1
    assert google_account.client_secret_path.read_text() == GOOGLE_CLIENT_SECRET
    assert stat.S_IMODE(google_account.client_secret_path.stat().st_mode) == 0o600
    config_text = google_account.config_path.read_text()
    assert GOOGLE_CLIENT_SECRET not in config_text and "g-rt-" not in config_text


def test_a_pasted_redirect_completes_the_authorization(
    google: GoogleStandIn, google_account: OAuthAccount, flow_for
) -> None:
    google_account.client_secret_path.parent.mkdir(parents=True, exist_ok=True)
    google_account.client_secret_path.write_text(GOOGLE_CLIENT_SECRET)
    google_account.client_secret_path.chmod(0o600)
    ui = ScriptedUI(browser=lambda url: "  " + google.consent(url) + "\n")  # the browser ran elsewhere

    flow_for(google).authorize(google_account.account, ui, TokenStore.for_account(google_account.account))

    assert ui.secrets_asked == []  # already stored
    assert stored(google_account)["refresh_token"] == google.tokens.refresh_tokens[-1]


def test_a_denied_consent_stores_nothing(
    google: GoogleStandIn, google_account: OAuthAccount, flow_for
) -> None:
    ui = ScriptedUI(browser=lambda url: google.consent(url, deny=True))
    with pytest.raises(AuthorizationError, match="se negó el acceso"):
        flow_for(google).authorize(google_account.account, ui, TokenStore.for_account(google_account.account))
    assert not google_account.token_path.exists()


def test_a_wrong_client_secret_is_refused_by_the_token_endpoint(
    google: GoogleStandIn, google_account: OAuthAccount, flow_for
) -> None:
    ui = ScriptedUI(browser=open_in_local_browser(google), secret="secreto-equivocado")
    with pytest.raises(AuthorizationError, match="invalid_client") as caught:
        flow_for(google).authorize(google_account.account, ui, TokenStore.for_account(google_account.account))
    assert "secreto-equivocado" not in str(caught.value)
    assert not google_account.token_path.exists()


def authorized(google: GoogleStandIn, oauth: OAuthAccount, flow: InstalledAppFlow) -> None:
    flow.authorize(
        oauth.account,
        ScriptedUI(browser=open_in_local_browser(google)),
        TokenStore.for_account(oauth.account),
    )


def test_a_fresh_access_token_is_used_without_asking_google(
    google: GoogleStandIn, google_account: OAuthAccount, flow_for
) -> None:
    flow = flow_for(google)
    authorized(google, google_account, flow)
    requests_before = len(google.server.requests)

    token = flow.access_token(google_account.account, TokenStore.for_account(google_account.account))

    assert token.value.reveal() == google.tokens.access_tokens[-1] and not token.refreshed
    assert len(google.server.requests) == requests_before


def test_an_expired_access_token_is_refreshed_and_saved(
    tls_certs: TestCertificates, tmp_path, flow_for
) -> None:
    stand_in = google_stand_in(tls_certs, access_lifetime=60)
    with stand_in.server:
        oauth = gmail_account(tmp_path)
        flow = flow_for(stand_in)
        authorized(stand_in, oauth, flow)
        refresh_token = stored(oauth)["refresh_token"]

        token = flow.access_token(oauth.account, TokenStore.for_account(oauth.account))

        assert token.refreshed and token.value.reveal() == stand_in.tokens.access_tokens[-1]
        [refresh] = [r for r in stand_in.server.requests if r.form.get("grant_type") == "refresh_token"]
        assert refresh.form["refresh_token"] == refresh_token
        assert refresh.form["client_secret"] == GOOGLE_CLIENT_SECRET
        state = stored(oauth)
        assert state["access_token"] == token.value.reveal() and state["refresh_token"] == refresh_token


def test_a_revoked_refresh_token_asks_to_authorize_again(
    tls_certs: TestCertificates, tmp_path, flow_for
) -> None:
    stand_in = google_stand_in(tls_certs, access_lifetime=0)
    with stand_in.server:
        oauth = gmail_account(tmp_path)
        flow = flow_for(stand_in)
        authorized(stand_in, oauth, flow)
        stand_in.revoke()

        with pytest.raises(AuthorizationRequired) as caught:
            flow.access_token(oauth.account, TokenStore.for_account(oauth.account))

    failure = caught.value
    assert failure.code == "token_revocado" and not failure.transient
    assert "Google ya no acepta la autorización guardada" in str(failure)
    assert "Token has been expired or revoked" in str(failure)
    assert "tui-recepcion autorizar --cuenta principal" in str(failure)
    everything = str(failure) + repr(failure) + "".join(traceback.format_exception(failure))
    assert not any(token in everything for token in stand_in.tokens.refresh_tokens + [GOOGLE_CLIENT_SECRET])


def test_an_unreachable_token_endpoint_is_transient(
    google_account: OAuthAccount, closed_port: int, tmp_path
) -> None:
    state = json.dumps({"version": 1, "refresh_token": "g-rt-1", "access_token": "viejo", "expires_at": 0})
    TokenStore.for_account(google_account.account).save(Secret(state))
    google_account.client_secret_path.write_text(GOOGLE_CLIENT_SECRET)
    google_account.client_secret_path.chmod(0o600)
    flow = google_flow(token_endpoint=f"https://127.0.0.1:{closed_port}/token")
    with pytest.raises(ConnectionProblem, match="No se pudo contactar a Google") as caught:
        flow.access_token(google_account.account, TokenStore.for_account(google_account.account))
    assert caught.value.transient and caught.value.code == "conexion_perdida"


def test_gmail_without_secreto_cliente_says_where_to_put_it(
    tmp_path, google: GoogleStandIn, flow_for
) -> None:
    oauth = write_account(tmp_path, "gmail", [f'client_id = "{GOOGLE_CLIENT_ID}"'])
    with pytest.raises(ConfigError, match=r"secreto_cliente = \"archivo:/ruta\""):
        flow_for(google).authorize(oauth.account, ScriptedUI(), TokenStore.for_account(oauth.account))


def test_the_gmail_token_opens_the_mailbox(
    google: GoogleStandIn,
    google_account: OAuthAccount,
    flow_for,
    dovecot_oauth2: DovecotServer,
    tls_certs: TestCertificates,
) -> None:
    flow = flow_for(google)
    authorized(google, google_account, flow)
    credentials = OAuthCredentials(
        google_account.account, flow, TokenStore.for_account(google_account.account)
    )

    report = probe(
        dovecot_endpoint(dovecot_oauth2, "pop3", "ssl", tls_certs.ca_file),
        "pop3",
        credentials,
    )

    assert report.pop3 is not None and report.pop3.message_count >= 0
