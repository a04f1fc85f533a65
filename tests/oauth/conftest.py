"""Fixtures for the OAuth2 tests: accounts written to a real config.toml, stand-ins, a scripted UI."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.servers.certs import TestCertificates
from tests.servers.dovecot import RECEPCION
from tests.servers.identity import GoogleStandIn, MicrosoftStandIn
from tests.servers.oauth import TokenRegistry
from tui_recepcion.config import Account, load_config
from tui_recepcion.secrets import Secret

GOOGLE_CLIENT_ID = "123-prueba.apps.googleusercontent.com"
GOOGLE_CLIENT_SECRET = "GOCSPX-secreto-de-prueba"
MICROSOFT_CLIENT_ID = "00000000-1111-2222-3333-444444444444"


@dataclass(slots=True)
class OAuthAccount:
    account: Account
    config_path: Path
    token_path: Path
    client_secret_path: Path


def write_account(
    directory: Path, provider: str, oauth_lines: list[str], username: str = RECEPCION.address
) -> OAuthAccount:
    token_path = directory / "secretos" / "principal.token"
    client_secret_path = directory / "secretos" / "cliente.secreto"
    config_path = directory / "config.toml"
    directory.mkdir(parents=True, exist_ok=True)
    config_path.write_text(
        "[general]\n"
        f'base_datos = "{directory / "recepcion.db"}"\n\n'
        "[cuentas.principal]\n"
        f'proveedor = "{provider}"\n'
        'tipo_servidor = "oauth2"\n'
        'protocolo = "imap"\n'
        'servidor = "localhost"\n'
        "puerto = 993\n"
        'seguridad = "ssl"\n'
        f'usuario = "{username}"\n'
        f'secreto = "archivo:{token_path}"\n\n'
        "[cuentas.principal.oauth2]\n" + "".join(line + "\n" for line in oauth_lines),
        encoding="utf-8",
    )
    account = load_config(config_path).account("principal")
    return OAuthAccount(account, config_path, token_path, client_secret_path)


@pytest.fixture
def trusting_session(tls_certs: TestCertificates) -> Iterator[requests.Session]:
    """A requests session for msal that trusts the test CA (and ignores REQUESTS_CA_BUNDLE)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(tls_certs.ca_file)
    yield session
    session.close()


@pytest.fixture
def microsoft(tls_certs: TestCertificates, oauth_tokens: TokenRegistry) -> Iterator[MicrosoftStandIn]:
    stand_in = MicrosoftStandIn(tls_certs.server, RECEPCION.address, registry=oauth_tokens)
    with stand_in.server:
        yield stand_in


def outlook_account(directory: Path, microsoft: MicrosoftStandIn) -> OAuthAccount:
    """An Outlook OAuth2 account whose authority is the stand-in."""
    return write_account(
        directory, "outlook", [f'client_id = "{MICROSOFT_CLIENT_ID}"', f'autoridad = "{microsoft.authority}"']
    )


@pytest.fixture
def microsoft_account(tmp_path: Path, microsoft: MicrosoftStandIn) -> OAuthAccount:
    return outlook_account(tmp_path, microsoft)


def google_stand_in(tls_certs: TestCertificates, **options: Any) -> GoogleStandIn:
    """Google's stand-in for the test client (id and secret); `options` as GoogleStandIn's."""
    return GoogleStandIn(
        tls_certs.server, RECEPCION.address, client_id=GOOGLE_CLIENT_ID, client_secret=GOOGLE_CLIENT_SECRET, **options
    )


def gmail_account(directory: Path) -> OAuthAccount:
    """A Gmail OAuth2 account with the test client id; its client secret goes to a 0600 file."""
    secret_path = directory / "secretos" / "cliente.secreto"
    return write_account(
        directory, "gmail", [f'client_id = "{GOOGLE_CLIENT_ID}"', f'secreto_cliente = "archivo:{secret_path}"']
    )


@pytest.fixture
def google(tls_certs: TestCertificates, oauth_tokens: TokenRegistry) -> Iterator[GoogleStandIn]:
    stand_in = google_stand_in(tls_certs, registry=oauth_tokens)
    with stand_in.server:
        yield stand_in


@pytest.fixture
def google_account(tmp_path: Path) -> OAuthAccount:
    return gmail_account(tmp_path)


@dataclass
class ScriptedUI:
    """An AuthorizationUI that records what it was asked and acts like a technician would.

    `on_device_code` runs when the code is shown (e.g. approve at the stand-in);
    `browser` gets the authorization URL and returns what to paste (None: nothing, the
    local redirect arrived); `secret` is what the technician types when asked.
    """

    on_device_code: Callable[[], None] = lambda: None
    browser: Callable[[str], str | None] = lambda url: None
    secret: str = GOOGLE_CLIENT_SECRET
    cancel_after_code: bool = False
    device_codes: list[tuple[str, str, int]] = field(default_factory=list)
    auth_urls: list[str] = field(default_factory=list)
    secrets_asked: list[str] = field(default_factory=list)
    _cancelled: threading.Event = field(default_factory=threading.Event)

    def show_device_code(self, url: str, code: str, expires_in: int) -> None:
        self.device_codes.append((url, code, expires_in))
        self.on_device_code()
        if self.cancel_after_code:
            self._cancelled.set()

    def ask_redirect_url(self, auth_url: str, received: threading.Event) -> str | None:
        self.auth_urls.append(auth_url)
        pasted = self.browser(auth_url)
        if pasted is None:
            assert received.wait(10), "la redirección local no llegó"
        return pasted

    def ask_secret(self, label: str) -> Secret:
        self.secrets_asked.append(label)
        return Secret(self.secret)

    def cancelled(self) -> bool:
        return self._cancelled.is_set()


def open_in_local_browser(stand_in: GoogleStandIn) -> Callable[[str], None]:
    """A browser on this machine: consent, then follow the redirect to the local catcher."""

    def browse(auth_url: str) -> None:
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
        with direct.open(stand_in.consent(auth_url), timeout=10) as page:
            assert "Autorización recibida" in page.read().decode("utf-8")
        return None

    return browse
