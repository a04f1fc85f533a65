"""Mail provider plugins: hook specifications, the provider model and built-in providers.

Everything a plugin author or another part of tui-recepcion needs is importable from here;
the engine must not import Textual through this package.
"""

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
from tui_recepcion.providers.resolver import DnsResolver, Resolver, SrvRecord

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
    "AuthType",
    "DiscoveredServer",
    "Discovery",
    "DnsResolver",
    "PluginFailure",
    "Protocol",
    "Provider",
    "ProviderError",
    "ProviderRegistry",
    "Resolver",
    "Security",
    "ServerAlternative",
    "ServerDefaults",
    "SrvRecord",
    "email_domain",
    "hookimpl",
    "load_registry",
    "shared_registry",
    "standard_port",
]
