"""Tests of the Zoho plugin, written with tui-recepcion's public testing helper."""

from __future__ import annotations

from importlib.metadata import version

import pytest
import tui_recepcion_zoho

from tui_recepcion.providers import ServerDefaults
from tui_recepcion.testing import check_installed_plugin, check_plugin, check_provider


@pytest.mark.parametrize("provider", tui_recepcion_zoho.PROVIDERS, ids=lambda p: p.id)
def test_every_regional_provider_is_well_formed(provider):
    check_provider(provider)


def test_plugin_loads_next_to_the_built_in_providers_without_failures():
    registry = check_plugin(tui_recepcion_zoho)

    assert [pid for pid in registry.providers if pid.startswith("zoho")] == [
        "zoho",
        "zoho-eu",
        "zoho-in",
        "zoho-au",
    ]
    assert registry.defaults("zoho-eu", "imap") == ServerDefaults("imap.zoho.eu", 993, "ssl")


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("facturas@zoho.com", "zoho"),
        ("facturas@zohomail.eu", "zoho-eu"),
        ("Facturas@ZOHO.IN", "zoho-in"),
        ("facturas@zohomail.com.au", "zoho-au"),
        ("facturas@gmail.com", "gmail"),
        ("facturas@empresa.com.co", "generic"),
    ],
)
def test_suggests_the_regional_provider_from_the_address(email, expected):
    registry = check_plugin(tui_recepcion_zoho)

    assert registry.suggest_provider(email) == expected


def test_installed_package_is_found_through_its_entry_point():
    registry = check_installed_plugin("tui-recepcion-zoho")

    assert registry.origin("zoho") == f"tui-recepcion-zoho {version('tui-recepcion-zoho')}"
