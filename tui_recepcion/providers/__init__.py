"""The public plugin API of tui-recepcion: everything a provider plugin author needs.

A plugin imports from this module only (and, for its tests, `tui_recepcion.testing`); the
modules behind it (`model`, `hookspecs`, `discovery`, `resolver`, `manager`, and
`tui_recepcion.oauth`, `tui_recepcion.config`, `tui_recepcion.secrets` for the OAuth2 types)
may move between releases, the names in `__all__` stay. docs/plugins.md describes each of
them, and tests/test_plugin_docs.py checks that every name it uses exists.

- Hooks: `hookimpl` (the decorator); the specifications are in `hookspecs`.
- The provider model: `Provider`, `ServerDefaults`, `ServerAlternative`, `standard_port`,
  and the vocabulary `Protocol`, `Security`, `AuthType` (with `PROTOCOLS`, `SECURITIES`,
  `AUTH_TYPES`, `STANDARD_PORTS`, `HELP_FIELDS`).
- Server discovery: `DiscoveredServer`, `Resolver`, `SrvRecord`, `Address`.
- OAuth2 (what `recepcion_oauth_flow` returns and what a flow receives): `OAuthFlow`,
  `AuthorizationUI`, `AccessToken`, `TokenStore`, `Secret`, `Account`, `OAuthSettings`,
  `InstalledAppFlow`, and the errors `AuthorizationCancelled`, `AuthorizationError`,
  `AuthorizationRequired`. They are loaded on first use, so importing this package loads
  no OAuth2 code (nor anything below it).
- For tui-recepcion itself: the registry (`shared_registry`, `load_registry`,
  `ProviderRegistry`, `Discovery`, `PluginFailure`, `ProviderError`, `DnsResolver`,
  `email_domain`) and the loader's constants (`DEFAULT_PLUGINS`, `ENTRY_POINT_GROUP`,
  `BLOCK_ENV_VAR`, `BUILTIN_ORIGIN`).

This package describes mail services; it never imports the engine, the mailbox layer, the
store, the alerts or Textual (docs/architecture.md, «Layers and import rules»).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tui_recepcion.errors import AuthorizationRequired
from tui_recepcion.providers.discovery import DiscoveredServer, Discovery
from tui_recepcion.providers.hookspecs import hookimpl
from tui_recepcion.providers.manager import (
    BLOCK_ENV_VAR,
    BUILTIN_ORIGIN,
    DEFAULT_PLUGINS,
    ENTRY_POINT_GROUP,
    PluginFailure,
    ProviderError,
    ProviderRegistry,
    email_domain,
    load_registry,
    shared_registry,
)
from tui_recepcion.providers.model import (
    AUTH_TYPES,
    HELP_FIELDS,
    PROTOCOLS,
    SECURITIES,
    STANDARD_PORTS,
    AuthType,
    Protocol,
    Provider,
    Security,
    ServerAlternative,
    ServerDefaults,
    standard_port,
)
from tui_recepcion.providers.resolver import Address, DnsResolver, Resolver, SrvRecord

if TYPE_CHECKING:
    from tui_recepcion.config import Account, OAuthSettings
    from tui_recepcion.oauth.flows import (
        AccessToken,
        AuthorizationCancelled,
        AuthorizationError,
        AuthorizationUI,
        OAuthFlow,
    )
    from tui_recepcion.oauth.installed_app import InstalledAppFlow
    from tui_recepcion.oauth.token_cache import TokenStore
    from tui_recepcion.secrets import Secret

# Names whose home is outside this package, imported when first asked for (PEP 562): a
# plugin that only registers providers never loads the OAuth2 machinery.
_LAZY: dict[str, str] = {
    "AccessToken": "tui_recepcion.oauth.flows",
    "Account": "tui_recepcion.config",
    "AuthorizationCancelled": "tui_recepcion.oauth.flows",
    "AuthorizationError": "tui_recepcion.oauth.flows",
    "AuthorizationUI": "tui_recepcion.oauth.flows",
    "InstalledAppFlow": "tui_recepcion.oauth.installed_app",
    "OAuthFlow": "tui_recepcion.oauth.flows",
    "OAuthSettings": "tui_recepcion.config",
    "Secret": "tui_recepcion.secrets",
    "TokenStore": "tui_recepcion.oauth.token_cache",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "AUTH_TYPES",
    "BLOCK_ENV_VAR",
    "BUILTIN_ORIGIN",
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "HELP_FIELDS",
    "PROTOCOLS",
    "SECURITIES",
    "STANDARD_PORTS",
    "AccessToken",
    "Account",
    "Address",
    "AuthType",
    "AuthorizationCancelled",
    "AuthorizationError",
    "AuthorizationRequired",
    "AuthorizationUI",
    "DiscoveredServer",
    "Discovery",
    "DnsResolver",
    "InstalledAppFlow",
    "OAuthFlow",
    "OAuthSettings",
    "PluginFailure",
    "Protocol",
    "Provider",
    "ProviderError",
    "ProviderRegistry",
    "Resolver",
    "Secret",
    "Security",
    "ServerAlternative",
    "ServerDefaults",
    "SrvRecord",
    "TokenStore",
    "email_domain",
    "hookimpl",
    "load_registry",
    "shared_registry",
    "standard_port",
]
