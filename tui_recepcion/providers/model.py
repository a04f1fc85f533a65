"""The provider model: what one mail service needs, as plain frozen values.

Plugins build these objects and return them from `recepcion_register_providers`. Every
class is keyword-friendly and new fields only ever arrive with defaults, so a plugin
written today keeps working when later versions add, for example, OAuth2 settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# The words come from the vocabulary; plugins keep importing them from here.
from tui_recepcion.vocabulary import AUTH_TYPES as AUTH_TYPES
from tui_recepcion.vocabulary import SECURITIES as SECURITIES
from tui_recepcion.vocabulary import SERVER_PROTOCOLS as PROTOCOLS
from tui_recepcion.vocabulary import AuthType as AuthType
from tui_recepcion.vocabulary import Security as Security
from tui_recepcion.vocabulary import ServerProtocol as Protocol

# Form fields a provider may give its own "?" help for (the config keys of the account).
HELP_FIELDS: frozenset[str] = frozenset(
    {
        "tipo_servidor",
        "protocolo",
        "servidor",
        "puerto",
        "seguridad",
        "usuario",
        "contrasena",
        "fecha_expiracion",
        "correo_notificacion",
        "correo_respaldo",
    }
)

# IANA ports: implicit TLS (RFC 8314), then the plain ports that upgrade with STARTTLS.
STANDARD_PORTS: Mapping[tuple[Protocol, Security], int] = MappingProxyType(
    {
        ("imap", "ssl"): 993,
        ("imap", "starttls"): 143,
        ("imap", "ninguna"): 143,
        ("pop3", "ssl"): 995,
        ("pop3", "starttls"): 110,
        ("pop3", "ninguna"): 110,
        ("smtp", "ssl"): 465,
        ("smtp", "starttls"): 587,
        ("smtp", "ninguna"): 25,
    }
)


def standard_port(protocol: Protocol, security: Security) -> int:
    """The usual port for a protocol and security, e.g. ("imap", "ssl") -> 993."""
    try:
        return STANDARD_PORTS[(protocol, security)]
    except KeyError:
        raise ValueError(
            f"Combinación desconocida de protocolo {protocol!r} y seguridad {security!r}."
        ) from None


@dataclass(frozen=True, slots=True)
class ServerDefaults:
    """One server a client can connect to: host name, port and transport security."""

    host: str
    port: int
    security: Security


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerAlternative:
    """Another valid server for a protocol (a STARTTLS port, a regional host…)."""

    protocol: Protocol
    server: ServerDefaults
    note: str  # Spanish: when to use it, e.g. "Cuentas personales (Outlook.com, Hotmail)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Provider:
    """A mail service as the reception form and the engine see it.

    `auth_types` is ordered by preference: the form preselects the first one.
    `autodiscover` marks a provider without fixed servers whose settings come from
    `recepcion_discover_servers` (the built-in generic provider).
    """

    id: str
    name: str
    auth_types: tuple[AuthType, ...]
    imap: ServerDefaults | None = None
    pop3: ServerDefaults | None = None
    smtp: ServerDefaults | None = None
    alternatives: tuple[ServerAlternative, ...] = ()
    username_hint: str = ""
    guidance_md: str = ""
    field_help: Mapping[str, str] = field(default_factory=dict, hash=False)
    autodiscover: bool = False

    def __post_init__(self) -> None:
        # Plugins naturally pass lists and dicts; freeze them so a Provider stays immutable.
        object.__setattr__(self, "auth_types", tuple(self.auth_types))
        object.__setattr__(self, "alternatives", tuple(self.alternatives))
        object.__setattr__(self, "field_help", MappingProxyType(dict(self.field_help)))

    def server(self, protocol: Protocol) -> ServerDefaults | None:
        """The primary server for `protocol`, or None when the provider has none."""
        if protocol not in PROTOCOLS:
            raise ValueError(f"Protocolo desconocido: {protocol!r}.")
        return getattr(self, protocol)

    def servers_for(self, protocol: Protocol) -> tuple[ServerDefaults, ...]:
        """Primary server first, then the alternatives for `protocol`, in order."""
        primary = self.server(protocol)
        others = tuple(alt.server for alt in self.alternatives if alt.protocol == protocol)
        return ((primary,) if primary else ()) + others
