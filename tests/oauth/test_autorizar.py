"""`tui-recepcion autorizar` and its terminal UI."""

from __future__ import annotations

import io
import os
import stat
import threading
from pathlib import Path

import pytest

from tests.oauth.conftest import outlook_account, write_account
from tests.servers.certs import TestCertificates
from tests.servers.dovecot import RECEPCION
from tests.servers.identity import VERIFICATION_URI, MicrosoftStandIn
from tui_recepcion import cli
from tui_recepcion.cli.commands.autorizar import ConsoleAuthorizationUI
from tui_recepcion.store import Store


def test_autorizar_runs_the_device_code_flow_and_stores_the_token(
    tls_certs: TestCertificates,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # msal's own requests session trusts what REQUESTS_CA_BUNDLE names: the test CA here.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_certs.ca_file))
    stand_in = MicrosoftStandIn(tls_certs.server, RECEPCION.address, approve_on_poll=1)
    with stand_in.server:
        oauth = outlook_account(tmp_path, stand_in)
        config_before = oauth.config_path.read_text()

        code = cli.main(["--config", str(oauth.config_path), "autorizar", "--cuenta", "principal"])

    out = capsys.readouterr()
    assert code == 0, out.err
    assert VERIFICATION_URI in out.out and "ABCD-EFGH" in out.out and "vence en 15 minutos" in out.out
    assert f"Cuenta «principal» autorizada. El token se guardó en el archivo {oauth.token_path}." in out.out
    assert "tui-recepcion probar --cuenta principal" in out.out
    assert stat.S_IMODE(oauth.token_path.stat().st_mode) == 0o600
    assert stand_in.tokens.refresh_tokens[-1] in oauth.token_path.read_text()
    assert oauth.config_path.read_text() == config_before
    printed = out.out + out.err
    assert not any(
        token in printed for token in stand_in.tokens.refresh_tokens + stand_in.tokens.access_tokens
    )
    with Store.open(tmp_path / "recepcion.db") as store:
        health = store.token_health("principal")
    assert health is not None and health.healthy


def test_autorizar_refuses_a_basic_account(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    oauth = write_account(tmp_path, "outlook", ['client_id = "x"'])
    oauth.config_path.write_text(oauth.config_path.read_text().replace('"oauth2"', '"basica"'))
    assert cli.main(["--config", str(oauth.config_path), "autorizar"]) == 1
    assert "usa autenticación básica: no necesita autorización" in capsys.readouterr().err


def test_autorizar_with_an_unknown_account_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    oauth = write_account(tmp_path, "outlook", ['client_id = "x"'])
    assert cli.main(["--config", str(oauth.config_path), "autorizar", "--cuenta", "otra"]) == 1
    assert "No existe la cuenta «otra»" in capsys.readouterr().err


def test_the_console_shows_the_device_code() -> None:
    out = io.StringIO()
    ConsoleAuthorizationUI(out=out).show_device_code("https://microsoft.com/devicelogin", "WXYZ-1234", 900)
    text = out.getvalue()
    assert "https://microsoft.com/devicelogin" in text and "WXYZ-1234" in text and "15 minutos" in text


def test_the_console_returns_the_pasted_address_skipping_blank_lines() -> None:
    out = io.StringIO()
    source = io.StringIO("\n   \n  http://127.0.0.1:5555/?state=s&code=c  \n")
    pasted = ConsoleAuthorizationUI(out=out, source=source).ask_redirect_url(
        "https://accounts.example/auth?x=1", threading.Event()
    )
    assert pasted == "http://127.0.0.1:5555/?state=s&code=c"
    assert "https://accounts.example/auth?x=1" in out.getvalue() and "péguela aquí" in out.getvalue()


def test_the_console_stops_waiting_for_a_paste_when_the_local_redirect_arrives() -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end) as source, os.fdopen(write_end, "w") as writer:
        received = threading.Event()
        received.set()  # the local catcher got the redirect; nothing was typed
        assert (
            ConsoleAuthorizationUI(out=io.StringIO(), source=source).ask_redirect_url(
                "https://x/auth", received
            )
            is None
        )
        writer.close()  # lets the reader thread see the end of input and finish
