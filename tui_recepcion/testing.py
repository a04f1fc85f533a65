"""Helpers for the tests of provider plugins (public API for plugin authors).

    from tui_recepcion.testing import check_provider, check_plugin

    def test_mi_proveedor_es_valido():
        check_provider(MI_PROVEEDOR)

    def test_el_complemento_carga_sin_errores():
        registry = check_plugin(mi_complemento)
        assert registry.suggest_provider("ana@midominio.com") == "mi-proveedor"

Every problem comes as a Spanish sentence; the raised `ProviderCheckError` is an
`AssertionError`, so pytest shows it as a plain test failure.
"""

from __future__ import annotations

import re

from tui_recepcion.providers.manager import (
    DEFAULT_PLUGINS,
    ProviderRegistry,
    load_registry,
    plugin_name,
)
from tui_recepcion.providers.model import Provider
from tui_recepcion.providers.validation import provider_problems

__all__ = [
    "ProviderCheckError",
    "assert_no_failures",
    "check_installed_plugin",
    "check_plugin",
    "check_provider",
    "provider_problems",
]


class ProviderCheckError(AssertionError):
    """A provider or plugin is not well formed; the message lists every problem."""


def check_provider(provider: object) -> Provider:
    """Return `provider` if it is well formed; raise `ProviderCheckError` otherwise."""
    problems = provider_problems(provider)
    if problems:
        label = getattr(provider, "id", provider)
        raise ProviderCheckError(
            f"El proveedor {label!r} tiene {len(problems)} problema(s):\n- " + "\n- ".join(problems)
        )
    assert isinstance(provider, Provider)
    return provider


def assert_no_failures(registry: ProviderRegistry) -> None:
    """Raise `ProviderCheckError` listing the registry's plugin failures, if any."""
    if registry.failures:
        raise ProviderCheckError(
            "Hubo fallas de complementos:\n- "
            + "\n- ".join(str(failure) for failure in registry.failures)
        )


def check_plugin(plugin: object) -> ProviderRegistry:
    """Load the built-in providers plus `plugin` (a module or object with hook implementations).

    Installed third-party plugins are left out, so the result depends on nothing but the
    plugin under test. Raises `ProviderCheckError` when it fails to register, a hook
    raises, a provider is invalid, its id collides with another one, or it adds nothing.
    """
    registry = load_registry(plugins=(*DEFAULT_PLUGINS, plugin), entry_points=(), environ={})
    assert_no_failures(registry)
    name = plugin_name(plugin)
    if not any(registry.plugin(pid) == name for pid in registry.providers):
        raise ProviderCheckError(
            f"El complemento {name} no registró ningún proveedor: "
            "implemente recepcion_register_providers."
        )
    return registry


def check_installed_plugin(distribution: str) -> ProviderRegistry:
    """Check that the installed package `distribution` is found through its entry point.

    Use it after `pip install -e .` to prove the `[project.entry-points.tui_recepcion]`
    table is right: the package must add at least one provider and cause no failure.
    """
    registry = load_registry(environ={})
    wanted = _normalize(distribution)
    own = [f for f in registry.failures if _normalize(f.distribution) == wanted]
    if own:
        raise ProviderCheckError(
            f"El paquete {distribution} tuvo fallas:\n- " + "\n- ".join(str(f) for f in own)
        )
    if not any(_normalize(registry.origin(pid)) == wanted for pid in registry.providers):
        raise ProviderCheckError(
            f"No se encontró ningún proveedor del paquete {distribution}: revise que esté "
            "instalado y que declare un punto de entrada en el grupo 'tui_recepcion'."
        )
    return registry


def _normalize(origin: str) -> str:
    """The PEP 503 form of the distribution name an origin starts with ("Dist_Name 1.0")."""
    return re.sub(r"[-_.]+", "-", origin.split(" ")[0]).lower()
