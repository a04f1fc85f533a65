"""The plugin manager: loads provider plugins, isolating each one, into a registry.

Built-in providers are plugins like any other, listed in `DEFAULT_PLUGINS`; third-party
ones come from the `tui_recepcion` entry-point group. Every import, registration and hook
call runs in its own `try`: a broken plugin becomes a `PluginFailure` and never hides the
others. Hooks are called one implementation at a time (not through pluggy's all-or-nothing
`pm.hook.*()`), which is what makes that isolation possible; hook wrappers are therefore
not supported.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import ssl
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from typing import Protocol as TypingProtocol

import pluggy

from tui_recepcion.errors import RecepcionError
from tui_recepcion.providers import hookspecs
from tui_recepcion.providers.discovery import DiscoveredServer, Discovery
from tui_recepcion.providers.model import (
    PROTOCOLS,
    SECURITIES,
    Protocol,
    Provider,
    Security,
    ServerDefaults,
)
from tui_recepcion.providers.probe import make_ssl_context
from tui_recepcion.providers.resolver import DnsResolver, Resolver
from tui_recepcion.providers.validation import is_hostname, provider_problems

if TYPE_CHECKING:
    from tui_recepcion.oauth.flows import OAuthFlow

DEFAULT_PLUGINS: tuple[str, ...] = (
    "tui_recepcion.providers.builtin.outlook",
    "tui_recepcion.providers.builtin.gmail",
    "tui_recepcion.providers.builtin.generic",
)
ENTRY_POINT_GROUP = "tui_recepcion"
BLOCK_ENV_VAR = "TUI_RECEPCION_BLOQUEAR_PLUGINS"
BUILTIN_ORIGIN = "integrado"
UNKNOWN_ORIGIN = "externo"
FALLBACK_PROVIDER = "generic"

Stage = Literal[
    "carga", "registro", "proveedores", "validacion", "conflicto", "sugerencia", "descubrimiento", "oauth"
]
_STAGE_LABELS: dict[str, str] = {
    "carga": "no se pudo importar",
    "registro": "no se pudo registrar",
    "proveedores": "falló recepcion_register_providers",
    "validacion": "proveedor no válido",
    "conflicto": "id de proveedor repetido",
    "sugerencia": "falló recepcion_suggest_provider",
    "descubrimiento": "falló recepcion_discover_servers",
    "oauth": "falló recepcion_oauth_flow",
}


class ProviderError(RecepcionError):
    """A provider problem the technician can act on (unknown id, invalid address…)."""


@dataclass(frozen=True, slots=True)
class PluginFailure:
    """A plugin that failed at some stage; the other plugins were loaded regardless."""

    plugin: str  # plugin name: the entry-point name, or the built-in module name
    distribution: str  # "integrado", or "dist-name version" of the package that installed it
    stage: Stage
    message: str  # Spanish, or the plugin's own exception text

    def __str__(self) -> str:
        return f"{self.plugin} ({self.distribution}) — {_STAGE_LABELS[self.stage]}: {self.message}"


def _new_plugin_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    return manager


class EntryPointLike(TypingProtocol):
    """What the loader needs from `importlib.metadata.EntryPoint` (tests may fabricate it)."""

    name: str

    def load(self) -> Any: ...


@dataclass(slots=True)
class ProviderRegistry:
    """Providers by id in load order (built-ins first), plus every plugin failure."""

    providers: dict[str, Provider] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # plugin names skipped by the env var
    _pm: pluggy.PluginManager = field(default_factory=_new_plugin_manager, repr=False)
    _plugin_origins: dict[str, str] = field(default_factory=dict, repr=False)  # by plugin name
    _provider_plugins: dict[str, str] = field(default_factory=dict, repr=False)  # id -> plugin
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def get(self, provider_id: str) -> Provider | None:
        return self.providers.get(provider_id)

    def require(self, provider_id: str) -> Provider:
        """The provider, or a `ProviderError` naming the installed ones."""
        provider = self.providers.get(provider_id)
        if provider is None:
            raise ProviderError(
                f"El proveedor {provider_id!r} no está instalado. "
                f"Proveedores disponibles: {', '.join(self.providers) or 'ninguno'}."
            )
        return provider

    def origin(self, provider_id: str) -> str:
        """ "integrado" for built-ins, else "dist-name version" of the installing package."""
        return self._plugin_origins[self.plugin(provider_id)]

    def plugin(self, provider_id: str) -> str:
        """The name of the plugin that registered the provider (entry-point or module name)."""
        self.require(provider_id)
        return self._provider_plugins[provider_id]

    def suggest_provider(self, email: str) -> str:
        """The provider id for an address (complete or being typed); "generic" by default."""
        domain = email_domain(email)
        for plugin, suggestion in self._call_each(
            "recepcion_suggest_provider", "sugerencia", reverse=True, email=email, domain=domain
        ):
            if suggestion is None:
                continue
            if suggestion in self.providers:
                return suggestion
            self._fail(plugin, "sugerencia", f"sugirió el proveedor desconocido {suggestion!r}")
        return FALLBACK_PROVIDER

    def oauth_flow(self, provider_id: str) -> OAuthFlow | None:
        """The provider's OAuth2 flow (an `OAuthFlow`), or None when no plugin offers one.

        Third-party plugins are asked before the built-ins, so one can replace a built-in flow.
        """
        self.require(provider_id)
        for plugin, flow in self._call_each(
            "recepcion_oauth_flow", "oauth", reverse=True, provider_id=provider_id
        ):
            if flow is None:
                continue
            if all(callable(getattr(flow, name, None)) for name in ("authorize", "access_token")):
                return flow
            self._fail(
                plugin, "oauth", f"devolvió {type(flow).__name__}, sin los métodos authorize y access_token"
            )
        return None

    def defaults(
        self, provider_id: str, protocol: Protocol, security: Security | None = None
    ) -> ServerDefaults | None:
        """The provider's server for `protocol` (with `security`, if given), else None.

        The primary server comes first, then the alternatives in order. None means the
        provider has nothing for that combination: fall back to `standard_port`.
        """
        provider = self.require(provider_id)
        if protocol not in PROTOCOLS:
            raise ValueError(f"Protocolo desconocido: {protocol!r}.")
        if security is not None and security not in SECURITIES:
            raise ValueError(f"Seguridad desconocida: {security!r}.")
        return next(
            (s for s in provider.servers_for(protocol) if security in (None, s.security)), None
        )

    def discover(
        self,
        email: str,
        timeout: float = 5.0,
        *,
        resolver: Resolver | None = None,
        ca_file: str | None = None,
    ) -> Discovery:
        """Ask every `recepcion_discover_servers` plugin for servers for `email`.

        Takes roughly two `timeout`s at most (DNS, then probes). Blocking: call it from a
        worker thread, not the UI thread.
        """
        domain = email_domain(email)
        if not is_hostname(domain):
            raise ProviderError(
                f"{email!r} no es una dirección de correo válida: "
                "escriba usuario@dominio para buscar sus servidores."
            )
        resolver = resolver or DnsResolver(timeout)
        ssl_context: ssl.SSLContext = make_ssl_context(ca_file)
        found: dict[tuple[str, ServerDefaults], DiscoveredServer] = {}
        for plugin, result in self._call_each(
            "recepcion_discover_servers",
            "descubrimiento",
            email=email,
            domain=domain,
            resolver=resolver,
            timeout=timeout,
            ssl_context=ssl_context,
        ):
            for item in self._as_list(plugin, "descubrimiento", result, "DiscoveredServer"):
                if isinstance(item, DiscoveredServer):
                    found.setdefault((item.protocol, item.server), item)
                else:
                    self._fail(
                        plugin,
                        "descubrimiento",
                        f"devolvió {type(item).__name__}, se esperaba DiscoveredServer",
                    )
        return Discovery(email, domain, self.suggest_provider(email), tuple(found.values()))

    # -- loading ------------------------------------------------------------------------

    def _load_plugin(self, name: str, origin: str, load: Any) -> None:
        try:
            plugin = load()
        except (Exception, SystemExit) as error:  # a plugin calling sys.exit must not end us
            self._fail(name, "carga", _describe(error), origin)
            return
        try:
            self._pm.register(plugin, name=name)
        except Exception as error:
            self._fail(name, "registro", _describe(error), origin)
            return
        self._plugin_origins[name] = origin
        for caller in self._pm.get_hookcallers(plugin) or ():
            for impl in caller.get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                if caller.spec is None and not impl.optionalhook:
                    self._fail(
                        name,
                        "registro",
                        f"implementa el gancho desconocido {caller.name!r} (¿error de escritura? "
                        "si es de una versión más reciente, márquelo optionalhook=True)",
                    )
                elif impl.wrapper or impl.hookwrapper:
                    self._fail(
                        name, "registro", f"{caller.name}: los ganchos envolventes no se admiten"
                    )

    def _collect_providers(self) -> None:
        for plugin, result in self._call_each("recepcion_register_providers", "proveedores"):
            for provider in self._as_list(plugin, "proveedores", result, "Provider"):
                self._add_provider(plugin, provider)

    def _add_provider(self, plugin: str, provider: object) -> None:
        problems = provider_problems(provider)
        if problems:
            label = getattr(provider, "id", None)
            self._fail(plugin, "validacion", f"proveedor {label!r} rechazado: " + " ".join(problems))
            return
        assert isinstance(provider, Provider)
        if provider.id in self.providers:
            self._fail(
                plugin,
                "conflicto",
                f"el proveedor {provider.id!r} ya lo registró {self.plugin(provider.id)} "
                f"({self.origin(provider.id)}); se conserva el primero",
            )
            return
        self.providers[provider.id] = provider
        self._provider_plugins[provider.id] = plugin

    # -- isolation ----------------------------------------------------------------------

    def _call_each(
        self, hook_name: str, stage: Stage, *, reverse: bool = False, **kwargs: Any
    ) -> Iterator[tuple[str, Any]]:
        """Call each implementation of a hook alone; yield (plugin name, result).

        Registration order by default (built-ins first); `reverse` gives pluggy's own order
        (last registered first), used by firstresult hooks so a plugin can override a
        built-in.
        """
        impls = [
            impl
            for impl in getattr(self._pm.hook, hook_name).get_hookimpls()
            if not (impl.wrapper or impl.hookwrapper)
        ]
        for impl in reversed(impls) if reverse else impls:
            # Like pluggy: pass only the arguments the implementation declares.
            arguments = {name: kwargs[name] for name in impl.argnames if name in kwargs}
            try:
                result = impl.function(**arguments)
            except Exception as error:
                self._fail(impl.plugin_name, stage, _describe(error))
                continue
            yield impl.plugin_name, result

    def _as_list(self, plugin: str, stage: Stage, result: Any, expected: str) -> list[Any]:
        """A hook's result as a list (None is an empty one); anything else is a failure."""
        if result is None:
            return []
        if isinstance(result, (str, bytes)) or not isinstance(result, Iterable):
            self._fail(
                plugin, stage, f"devolvió {type(result).__name__}, se esperaba una lista de {expected}"
            )
            return []
        try:
            return list(result)  # a generator may fail half-way: that is the plugin's failure
        except Exception as error:
            self._fail(plugin, stage, _describe(error))
            return []

    def _fail(self, plugin: str, stage: Stage, message: str, origin: str | None = None) -> None:
        distribution = origin or self._plugin_origins.get(plugin, UNKNOWN_ORIGIN)
        failure = PluginFailure(plugin, distribution, stage, message)
        with self._lock:  # suggestions and discovery may run on other threads
            if failure not in self.failures:
                self.failures.append(failure)


def load_registry(
    *,
    plugins: Sequence[str | object] | None = None,
    entry_points: Iterable[EntryPointLike] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ProviderRegistry:
    """Load a fresh registry: built-in plugins, then third-party entry points.

    Tests may inject `plugins` (module names or plugin objects, instead of
    `DEFAULT_PLUGINS`), `entry_points` (instead of the installed ones) and `environ`.
    The application should use `shared_registry()`, which loads once.
    """
    environ = os.environ if environ is None else environ
    blocked = {name.strip() for name in environ.get(BLOCK_ENV_VAR, "").split(",") if name.strip()}
    registry = ProviderRegistry()
    for plugin in DEFAULT_PLUGINS if plugins is None else plugins:
        if isinstance(plugin, str):
            load = functools.partial(importlib.import_module, plugin)
        else:
            load = functools.partial(lambda loaded: loaded, plugin)  # nothing to import
        registry._load_plugin(plugin_name(plugin), BUILTIN_ORIGIN, load)
    if entry_points is None:
        entry_points = installed_entry_points()
    for entry_point in entry_points:
        distribution_name, origin = _distribution(entry_point)
        if blocked & {entry_point.name, distribution_name}:
            registry.blocked.append(entry_point.name)
            continue
        registry._load_plugin(entry_point.name, origin, entry_point.load)
    registry._collect_providers()
    return registry


def plugin_name(plugin: str | object) -> str:
    """The name an injected plugin is registered under: its module name, else its type's."""
    if isinstance(plugin, str):
        return plugin
    return getattr(plugin, "__name__", type(plugin).__name__)


def installed_entry_points() -> Iterable[EntryPointLike]:
    """The `tui_recepcion` entry points of every installed distribution."""
    return importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)


@functools.cache
def shared_registry() -> ProviderRegistry:
    """The process-wide registry, loaded on first use (the TUI and commands share it)."""
    return load_registry()


def email_domain(email: str) -> str:
    """The lower-cased domain of an address (IDNA-encoded), or "" when there is none yet."""
    _, at, domain = email.strip().rpartition("@")
    domain = domain.strip().rstrip(".").lower() if at else ""
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def _distribution(entry_point: EntryPointLike) -> tuple[str | None, str]:
    """(name, "name version") of the package that declared the entry point."""
    dist = getattr(entry_point, "dist", None)
    try:
        if dist is None:
            return None, UNKNOWN_ORIGIN
        name = dist.metadata["Name"]
        return (name, f"{name} {dist.version}") if name else (None, UNKNOWN_ORIGIN)
    except Exception:  # broken metadata must not stop the loading of other plugins
        return None, UNKNOWN_ORIGIN


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
