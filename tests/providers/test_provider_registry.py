"""Loading the registry: built-ins, third-party entry points, isolation of broken plugins."""

from __future__ import annotations

import pytest
from provider_support import provider_plugin_code

from tui_recepcion.providers import (
    BLOCK_ENV_VAR,
    ProviderError,
    ServerDefaults,
    email_domain,
    hookimpl,
    load_registry,
)


@pytest.fixture
def builtin():
    """The registry with only the built-in providers (whatever else is installed)."""
    return load_registry(entry_points=[])


def test_built_in_providers_load_in_order_without_failures(builtin):
    assert list(builtin.providers) == ["outlook", "gmail", "generic"]
    assert builtin.failures == []
    assert {builtin.origin(pid) for pid in builtin.providers} == {"integrado"}
    assert builtin.plugin("gmail") == "tui_recepcion.providers.builtin.gmail"


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("facturas@outlook.com", "outlook"),
        ("facturas@hotmail.com", "outlook"),
        ("facturas@live.com", "outlook"),
        ("facturas@msn.com", "outlook"),
        ("  Facturas@HOTMAIL.COM ", "outlook"),
        ("facturas@gmail.com", "gmail"),
        ("facturas@googlemail.com", "gmail"),
        ("facturas@empresa.com.co", "generic"),
        ("facturas@outlook.com.co", "generic"),
        ("facturas@gmail", "generic"),  # still being typed
        ("facturas", "generic"),
        ("", "generic"),
    ],
)
def test_suggest_provider_from_the_address(builtin, email, expected):
    assert builtin.suggest_provider(email) == expected


def test_email_domain_is_lowercase_and_idna_encoded():
    assert email_domain("Ana@Ejemplo.CO.") == "ejemplo.co"
    assert email_domain("ana@compañía.co") == "xn--compaa-7va5a.co"
    assert email_domain("sin-arroba") == ""


@pytest.mark.parametrize(
    ("provider", "protocol", "security", "expected"),
    [
        ("outlook", "imap", None, ServerDefaults("outlook.office365.com", 993, "ssl")),
        ("outlook", "pop3", None, ServerDefaults("outlook.office365.com", 995, "ssl")),
        ("outlook", "smtp", None, ServerDefaults("smtp.office365.com", 587, "starttls")),
        ("outlook", "smtp", "starttls", ServerDefaults("smtp.office365.com", 587, "starttls")),
        ("outlook", "smtp", "ssl", None),
        ("outlook", "imap", "starttls", None),
        ("gmail", "imap", "ssl", ServerDefaults("imap.gmail.com", 993, "ssl")),
        ("gmail", "pop3", None, ServerDefaults("pop.gmail.com", 995, "ssl")),
        ("gmail", "smtp", None, ServerDefaults("smtp.gmail.com", 465, "ssl")),
        ("gmail", "smtp", "starttls", ServerDefaults("smtp.gmail.com", 587, "starttls")),
        ("generic", "imap", None, None),
        ("generic", "smtp", "ssl", None),
    ],
)
def test_defaults_per_provider_protocol_and_security(builtin, provider, protocol, security, expected):
    assert builtin.defaults(provider, protocol, security) == expected


def test_outlook_offers_the_consumer_smtp_host_as_an_alternative(builtin):
    outlook = builtin.require("outlook")

    assert ServerDefaults("smtp-mail.outlook.com", 587, "starttls") in outlook.servers_for("smtp")
    assert outlook.auth_types == ("oauth2", "basica")
    assert "dirección de correo completa" in outlook.username_hint


def test_outlook_guidance_says_how_to_enable_pop_and_why_oauth2(builtin):
    guidance = builtin.require("outlook").guidance_md

    for text in (
        "Ver toda la configuración de Outlook",
        "Sincronizar correo",
        "Permitir que los dispositivos y las aplicaciones usen POP",
        "**Sí**",
        "**Guardar**",
        "octubre de 2022",
        "septiembre de 2024",
        "Exchange local",
    ):
        assert text in guidance


def test_gmail_guidance_covers_app_passwords_and_pop_deletion(builtin):
    guidance = builtin.require("gmail").guidance_md

    for text in (
        "contraseña de aplicación",
        "Verificación en 2 pasos",
        "Cuando se accede a los mensajes con POP",
        "eliminar la copia de Gmail",
        "Habilitar IMAP",
        "Habilitar POP",
    ):
        assert text in guidance


def test_unknown_provider_is_a_spanish_error_naming_the_installed_ones(builtin):
    with pytest.raises(ProviderError, match="'zoho' no está instalado.*outlook, gmail, generic"):
        builtin.defaults("zoho", "imap")
    assert builtin.get("zoho") is None


def test_defaults_rejects_unknown_protocol_and_security(builtin):
    with pytest.raises(ValueError, match="Protocolo desconocido"):
        builtin.defaults("gmail", "http")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Seguridad desconocida"):
        builtin.defaults("gmail", "imap", "tls")  # type: ignore[arg-type]


# -- third-party plugins found through real entry points --------------------------------


def test_third_party_provider_is_listed_after_the_built_ins_with_its_distribution(fabricate_plugin):
    fabricate_plugin("acme", provider_plugin_code("acme"), distribution="correo-acme", version="1.2.3")

    registry = load_registry()

    assert list(registry.providers)[:4] == ["outlook", "gmail", "generic", "acme"]
    assert registry.origin("acme") == "correo-acme 1.2.3"
    assert registry.plugin("acme") == "acme"
    assert registry.failures == []


def test_plugin_failing_on_import_is_reported_and_the_others_still_load(fabricate_plugin):
    fabricate_plugin("roto", "raise RuntimeError('falta una dependencia')", version="0.1")
    fabricate_plugin("acme", provider_plugin_code("acme"))

    registry = load_registry()

    assert ["outlook", "gmail", "generic", "acme"] == list(registry.providers)[:4]
    [failure] = registry.failures
    assert (failure.plugin, failure.distribution, failure.stage) == ("roto", "fabricado-roto 0.1", "carga")
    assert failure.message == "RuntimeError: falta una dependencia"
    assert str(failure) == (
        "roto (fabricado-roto 0.1) — no se pudo importar: RuntimeError: falta una dependencia"
    )


def test_plugin_calling_sys_exit_on_import_is_only_a_failure(fabricate_plugin):
    fabricate_plugin("salida", "import sys\nsys.exit(3)")

    registry = load_registry()

    assert "generic" in registry.providers
    assert [(f.plugin, f.stage, f.message) for f in registry.failures] == [("salida", "carga", "SystemExit: 3")]


def test_plugin_whose_hook_raises_is_reported_and_the_others_still_load(fabricate_plugin):
    fabricate_plugin(
        "explota",
        """
        from tui_recepcion.providers import hookimpl

        @hookimpl
        def recepcion_register_providers():
            raise ValueError("archivo de datos ausente")
        """,
    )
    fabricate_plugin("acme", provider_plugin_code("acme"))

    registry = load_registry()

    assert {"outlook", "gmail", "generic", "acme"} <= set(registry.providers)
    [failure] = registry.failures
    assert (failure.plugin, failure.distribution, failure.stage) == ("explota", "fabricado-explota 1.0", "proveedores")
    assert "ValueError: archivo de datos ausente" in str(failure)


def test_duplicate_provider_id_is_a_conflict_and_the_first_one_is_kept(fabricate_plugin):
    fabricate_plugin("impostor", provider_plugin_code("gmail"))
    fabricate_plugin("acme-1", provider_plugin_code("acme"))
    fabricate_plugin("acme-2", provider_plugin_code("acme"))

    registry = load_registry()

    assert registry.origin("gmail") == "integrado"
    assert registry.require("gmail").imap == ServerDefaults("imap.gmail.com", 993, "ssl")
    assert registry.plugin("acme") == "acme-1"
    conflicts = {(f.plugin, f.stage) for f in registry.failures}
    assert conflicts == {("impostor", "conflicto"), ("acme-2", "conflicto")}
    assert any("ya lo registró tui_recepcion.providers.builtin.gmail (integrado)" in f.message for f in registry.failures)


def test_blocking_env_var_skips_named_plugins_by_entry_point_or_distribution(fabricate_plugin, monkeypatch):
    fabricate_plugin("roto", "raise RuntimeError('no debería importarse')")
    fabricate_plugin("acme", provider_plugin_code("acme"), distribution="correo-acme")
    fabricate_plugin("otro", provider_plugin_code("otro"))
    monkeypatch.setenv(BLOCK_ENV_VAR, " roto , correo-acme")

    registry = load_registry()

    assert "acme" not in registry.providers and "otro" in registry.providers
    assert sorted(registry.blocked) == ["acme", "roto"]
    assert registry.failures == []


def test_unknown_hook_is_reported_but_the_plugin_still_works(fabricate_plugin):
    fabricate_plugin(
        "errata",
        provider_plugin_code(
            "acme",
            extra="""
            @hookimpl
            def recepcion_sugest_provider(domain):
                return "acme"

            @hookimpl(optionalhook=True)
            def recepcion_oauth2_token(provider):
                return "un gancho de una versión futura"
            """,
        ),
    )

    registry = load_registry()

    assert "acme" in registry.providers
    [failure] = registry.failures
    assert failure.stage == "registro"
    assert "gancho desconocido 'recepcion_sugest_provider'" in failure.message


def test_hook_with_an_argument_outside_the_spec_fails_to_register(fabricate_plugin):
    fabricate_plugin(
        "firma",
        """
        from tui_recepcion.providers import hookimpl

        @hookimpl
        def recepcion_suggest_provider(domain, telefono):
            return None
        """,
    )

    registry = load_registry()

    [failure] = registry.failures
    assert (failure.plugin, failure.stage) == ("firma", "registro")
    assert "telefono" in failure.message
    assert list(registry.providers)[:3] == ["outlook", "gmail", "generic"]


class ReturnsProvider:
    __name__ = "sin-lista"

    @hookimpl
    def recepcion_register_providers(self):
        return 42


class Generator:
    __name__ = "generador"

    @hookimpl
    def recepcion_register_providers(self):
        yield from ()
        raise OSError("disco lleno")


def test_a_hook_returning_something_that_is_not_a_list_is_a_failure():
    registry = load_registry(plugins=[ReturnsProvider(), Generator()], entry_points=[])

    assert [(f.plugin, f.stage) for f in registry.failures] == [
        ("sin-lista", "proveedores"),
        ("generador", "proveedores"),
    ]
    assert "devolvió int, se esperaba una lista de Provider" in registry.failures[0].message
    assert registry.failures[1].message == "OSError: disco lleno"


class FakeEntryPoint:
    def __init__(self, name, plugin):
        self.name = name
        self._plugin = plugin

    def load(self):
        return self._plugin


class Claims:
    """A third-party plugin that claims a domain and sometimes misbehaves."""

    __name__ = "reclama"

    @hookimpl
    def recepcion_register_providers(self):
        import dataclasses

        from tui_recepcion.providers.builtin.outlook import OUTLOOK

        return [dataclasses.replace(OUTLOOK, id="acme", name="Acme")]

    @hookimpl
    def recepcion_suggest_provider(self, email, domain):
        if domain == "falla.example":
            raise KeyError(email)
        if domain == "fantasma.example":
            return "no-existe"
        return "acme" if domain in ("acme.example", "hotmail.com") else None


def test_injected_entry_points_without_distribution_have_an_external_origin():
    registry = load_registry(entry_points=[FakeEntryPoint("reclama", Claims())])

    assert registry.origin("acme") == "externo"


def test_third_party_suggestions_come_first_and_their_failures_are_recorded_once():
    registry = load_registry(entry_points=[FakeEntryPoint("reclama", Claims())])

    assert registry.suggest_provider("ana@acme.example") == "acme"
    assert registry.suggest_provider("ana@hotmail.com") == "acme"  # later plugins may override
    assert registry.suggest_provider("ana@gmail.com") == "gmail"
    assert registry.failures == []

    assert registry.suggest_provider("ana@falla.example") == "generic"
    assert registry.suggest_provider("ana@falla.example") == "generic"
    assert registry.suggest_provider("ana@fantasma.example") == "generic"

    assert [(f.plugin, f.stage, f.message) for f in registry.failures] == [
        ("reclama", "sugerencia", "KeyError: 'ana@falla.example'"),
        ("reclama", "sugerencia", "sugirió el proveedor desconocido 'no-existe'"),
    ]


def test_a_missing_built_in_module_is_a_failure_not_a_crash():
    registry = load_registry(plugins=["tui_recepcion.providers.no_existe", "tui_recepcion.providers.builtin.gmail"], entry_points=[])

    assert list(registry.providers) == ["gmail"]
    [failure] = registry.failures
    assert (failure.distribution, failure.stage) == ("integrado", "carga")
    assert "ModuleNotFoundError" in failure.message
