"""`recepcion_oauth_flow`: built-in flows, third-party overrides, and isolation of broken plugins."""

from __future__ import annotations

import pytest

from tui_recepcion.oauth.installed_app import InstalledAppFlow
from tui_recepcion.oauth.microsoft import MicrosoftFlow
from tui_recepcion.providers import DEFAULT_PLUGINS, ProviderError, hookimpl, load_registry


class _Flow:
    scopes = ("correo",)

    def authorize(self, account, ui, tokens):
        return None

    def access_token(self, account, tokens):
        raise NotImplementedError


class _Returns:
    def __init__(self, value: object) -> None:
        self.value = value

    @hookimpl
    def recepcion_oauth_flow(self, provider_id: str) -> object:
        return self.value if provider_id == "outlook" else None


class _Raises:
    @hookimpl
    def recepcion_oauth_flow(self) -> object:
        raise RuntimeError("se rompió")


def registry_with(*plugins: object):
    return load_registry(plugins=[*DEFAULT_PLUGINS, *plugins], entry_points=[])


def test_built_in_providers_offer_their_flows_and_generic_none() -> None:
    registry = registry_with()
    assert isinstance(registry.oauth_flow("outlook"), MicrosoftFlow)
    google = registry.oauth_flow("gmail")
    assert isinstance(google, InstalledAppFlow) and google.scopes == ("https://mail.google.com/",)
    assert registry.oauth_flow("generic") is None
    assert registry.failures == []
    assert registry.providers["gmail"].auth_types == ("basica", "oauth2")
    assert registry.providers["outlook"].auth_types == ("oauth2", "basica")


def test_a_third_party_plugin_can_replace_a_built_in_flow() -> None:
    flow = _Flow()
    registry = registry_with(_Returns(flow))
    assert registry.oauth_flow("outlook") is flow
    assert isinstance(registry.oauth_flow("gmail"), InstalledAppFlow)


@pytest.mark.parametrize("plugin", [_Returns("no soy un flujo"), _Raises()])
def test_a_broken_flow_plugin_is_reported_and_the_built_in_flow_still_works(plugin: object) -> None:
    registry = registry_with(plugin)
    assert isinstance(registry.oauth_flow("outlook"), MicrosoftFlow)
    [failure] = registry.failures
    assert failure.stage == "oauth"
    assert "recepcion_oauth_flow" in str(failure)


def test_an_unknown_provider_is_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="no está instalado"):
        registry_with().oauth_flow("yahoo")
