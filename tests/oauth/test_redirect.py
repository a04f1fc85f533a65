"""The loopback redirect catcher and the pasted-address parser of the installed-app flow."""

from __future__ import annotations

import base64
import hashlib
import urllib.error
import urllib.request

import pytest

from tui_recepcion.oauth.flows import AuthorizationError
from tui_recepcion.oauth.redirect import Pkce, RedirectCatcher, new_state, parse_redirect_url

STATE = "estado-de-prueba_123"
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str) -> tuple[int, str]:
    try:
        with DIRECT.open(url, timeout=10) as page:
            return page.status, page.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


@pytest.mark.parametrize(
    "pasted",
    [
        f"http://127.0.0.1:41234/?state={STATE}&code=4/0Ab-codigo&scope=https://mail.google.com/",
        f"  http://127.0.0.1:41234/?code=4%2F0Ab-codigo&state={STATE}#  \n",
        f"?state={STATE}&code=4/0Ab-codigo",
        f"state={STATE}&code=4/0Ab-codigo",
    ],
)
def test_the_code_is_taken_from_a_pasted_address_or_query(pasted: str) -> None:
    assert parse_redirect_url(pasted, STATE) == "4/0Ab-codigo"


@pytest.mark.parametrize(
    ("pasted", "reason"),
    [
        ("http://127.0.0.1:41234/?state=otro&code=4/0Ab", "no corresponde a esta autorización"),
        ("http://127.0.0.1:41234/?code=4/0Ab", "no corresponde a esta autorización"),
        (f"http://127.0.0.1:41234/?state={STATE}&error=access_denied", "se negó el acceso"),
        (f"http://127.0.0.1:41234/?state={STATE}&error=algo_raro", "algo_raro"),
        (f"http://127.0.0.1:41234/?state={STATE}&scope=x", "no trae el código"),
        ("hola", "no es una dirección de redirección"),
        ("", "no es una dirección de redirección"),
    ],
)
def test_a_wrong_pasted_address_gets_a_spanish_reason(pasted: str, reason: str) -> None:
    with pytest.raises(AuthorizationError, match=reason):
        parse_redirect_url(pasted, STATE)


def test_an_error_from_another_authorization_is_not_believed() -> None:
    with pytest.raises(AuthorizationError, match="no corresponde"):
        parse_redirect_url("http://127.0.0.1:1/?state=otro&error=access_denied", STATE)


def test_the_catcher_takes_only_the_redirect_with_its_state() -> None:
    with RedirectCatcher(STATE) as catcher:
        base = catcher.redirect_uri
        assert base.startswith("http://127.0.0.1:") and base.endswith("/")

        assert get(base + "favicon.ico")[0] == 400
        status, page = get(base + "?state=otro&code=robado")
        assert status == 400 and "no corresponde" in page
        assert not catcher.received.is_set()

        status, page = get(base + f"?state={STATE}&code=4/0Ab-codigo&scope=x")
        assert status == 200 and "Autorización recibida" in page
        assert catcher.received.is_set()
        assert get(base + f"?state={STATE}&code=otro")[0] == 400  # one-shot

    assert catcher.redirect is not None
    assert parse_redirect_url(catcher.redirect, STATE) == "4/0Ab-codigo"


def test_the_catcher_passes_a_refusal_on_to_the_parser() -> None:
    with RedirectCatcher(STATE) as catcher:
        status, page = get(catcher.redirect_uri + f"?error=access_denied&state={STATE}")
    assert status == 200 and "rechazada" in page
    with pytest.raises(AuthorizationError, match="se negó el acceso"):
        parse_redirect_url(catcher.redirect or "", STATE)


def test_the_catcher_stops_listening_when_done() -> None:
    with RedirectCatcher(STATE) as catcher:
        base = catcher.redirect_uri
    with pytest.raises(urllib.error.URLError):
        DIRECT.open(base, timeout=5)


def test_pkce_challenge_is_the_s256_of_the_verifier_and_states_are_unguessable() -> None:
    pkce = Pkce.new()
    expected = base64.urlsafe_b64encode(hashlib.sha256(pkce.verifier.encode()).digest()).rstrip(b"=").decode()
    assert pkce.challenge == expected
    assert 43 <= len(pkce.verifier) <= 128  # RFC 7636
    assert Pkce.new().verifier != pkce.verifier
    assert new_state() != new_state() and len(new_state()) >= 32
