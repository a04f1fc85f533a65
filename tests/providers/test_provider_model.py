"""The provider model, its validation and the public testing helper for plugin authors."""

from __future__ import annotations

import dataclasses

import pytest

from tui_recepcion.providers import (
    Provider,
    ServerAlternative,
    ServerDefaults,
    hookimpl,
    load_registry,
    standard_port,
)
from tui_recepcion.providers.builtin.generic import GENERIC
from tui_recepcion.providers.builtin.gmail import GMAIL
from tui_recepcion.providers.builtin.outlook import OUTLOOK
from tui_recepcion.testing import (
    ProviderCheckError,
    check_plugin,
    check_provider,
    provider_problems,
)

GUIDANCE = "Use la dirección de correo completa y la contraseña de la cuenta en el servidor."


def valid(**changes: object) -> Provider:
    base = dict(
        id="acme",
        name="Correo Acme",
        auth_types=("basica",),
        imap=ServerDefaults("imap.acme.example", 993, "ssl"),
        username_hint="La dirección completa.",
        guidance_md=GUIDANCE,
    )
    base.update(changes)
    return Provider(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("protocol", "security", "port"),
    [
        ("imap", "ssl", 993),
        ("imap", "starttls", 143),
        ("imap", "ninguna", 143),
        ("pop3", "ssl", 995),
        ("pop3", "starttls", 110),
        ("pop3", "ninguna", 110),
        ("smtp", "ssl", 465),
        ("smtp", "starttls", 587),
        ("smtp", "ninguna", 25),
    ],
)
def test_standard_ports(protocol, security, port):
    assert standard_port(protocol, security) == port


def test_standard_port_rejects_unknown_combinations_in_spanish():
    with pytest.raises(ValueError, match="Combinación desconocida"):
        standard_port("http", "ssl")  # type: ignore[arg-type]


def test_provider_is_immutable_even_when_built_from_lists_and_dicts():
    provider = valid(auth_types=["basica", "oauth2"], field_help={"usuario": "La dirección."})

    assert provider.auth_types == ("basica", "oauth2")
    with pytest.raises(TypeError):
        provider.field_help["usuario"] = "otra"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        provider.name = "otro"  # type: ignore[misc]
    assert hash(provider) == hash(valid(auth_types=["basica", "oauth2"]))


def test_provider_takes_keywords_only_so_new_fields_never_shift_arguments():
    with pytest.raises(TypeError):
        Provider("acme", "Correo Acme", ("basica",))  # type: ignore[misc]


def test_servers_for_lists_the_primary_then_the_alternatives_of_that_protocol():
    alternative = ServerDefaults("smtp2.acme.example", 587, "starttls")
    provider = valid(
        smtp=ServerDefaults("smtp.acme.example", 465, "ssl"),
        alternatives=[
            ServerAlternative(protocol="smtp", server=alternative, note="Otra red."),
            ServerAlternative(
                protocol="imap",
                server=ServerDefaults("imap2.acme.example", 993, "ssl"),
                note="Réplica.",
            ),
        ],
    )

    assert provider.servers_for("smtp") == (provider.smtp, alternative)
    assert provider.servers_for("pop3") == ()


@pytest.mark.parametrize("provider", [OUTLOOK, GMAIL, GENERIC], ids=lambda p: p.id)
def test_built_in_providers_pass_the_public_check(provider):
    assert check_provider(provider) is provider


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "Acme Mail"}, "El id 'Acme Mail' no es válido"),
        ({"id": "a" * 41}, "máximo 40 caracteres"),
        ({"name": "  "}, "El nombre del proveedor está vacío"),
        ({"auth_types": ()}, "auth_types está vacío"),
        ({"auth_types": ("password",)}, "Tipo de autenticación desconocido 'password'"),
        ({"auth_types": ("basica", "basica")}, "repite un tipo"),
        ({"imap": ServerDefaults("imap.acme.example", 0, "ssl")}, "puerto fuera de 1–65535: 0"),
        ({"imap": ServerDefaults("imap.acme.example", 65536, "ssl")}, "puerto fuera de 1–65535"),
        ({"imap": ServerDefaults("imap.acme.example", True, "ssl")}, "puerto fuera de 1–65535"),
        ({"imap": ServerDefaults("imap.acme.example", "993", "ssl")}, "puerto fuera de 1–65535"),
        ({"imap": ServerDefaults("imap.acme.example", 993, "tls")}, "seguridad desconocida 'tls'"),
        ({"imap": ServerDefaults("imap.acme.example", 143, "ninguna")}, "sin cifrado"),
        ({"imap": ServerDefaults("imap.acme.example:993", 993, "ssl")}, "nombre de host no válido"),
        ({"imap": ServerDefaults("https://acme.example", 993, "ssl")}, "nombre de host no válido"),
        ({"imap": ("imap.acme.example", 993, "ssl")}, "debe ser un ServerDefaults"),
        ({"imap": None}, "no define servidor IMAP ni POP3"),
        (
            {"alternatives": [ServerAlternative(protocol="smtp", server=ServerDefaults("smtp.acme.example", 587, "starttls"), note="")]},
            "La alternativa 1 no tiene nota",
        ),
        (
            {"alternatives": [ServerAlternative(protocol="http", server=ServerDefaults("acme.example", 80, "ssl"), note="Web.")]},  # type: ignore[arg-type]
            "protocolo desconocido 'http'",
        ),
        ({"username_hint": ""}, "Falta username_hint"),
        ({"guidance_md": ""}, "Falta guidance_md"),
        (
            {"guidance_md": "Enable IMAP in your account settings and use the password of the server."},
            "no parece estar en español",
        ),
        ({"field_help": {"password": "x"}}, "campo desconocido 'password'"),
        ({"field_help": {"usuario": " "}}, "La ayuda del campo 'usuario' está vacía"),
    ],
)
def test_each_problem_gets_a_clear_spanish_message(changes, message):
    problems = provider_problems(valid(**changes))

    assert any(message in problem for problem in problems), problems
    with pytest.raises(ProviderCheckError, match="problema"):
        check_provider(valid(**changes))


def test_a_valid_provider_has_no_problems():
    assert provider_problems(valid()) == []


def test_pop3_only_and_autodiscover_providers_are_valid():
    assert provider_problems(valid(imap=None, pop3=ServerDefaults("pop.acme.example", 995, "ssl"))) == []
    assert provider_problems(valid(imap=None, autodiscover=True)) == []


def test_check_provider_lists_every_problem_and_is_an_assertion_error():
    with pytest.raises(AssertionError) as raised:
        check_provider(valid(id="MAL", name="", guidance_md=""))

    text = str(raised.value)
    assert "3 problema(s)" in text
    assert "El id 'MAL'" in text and "nombre" in text and "guidance_md" in text


def test_check_provider_rejects_something_that_is_not_a_provider():
    with pytest.raises(ProviderCheckError, match="Se esperaba un tui_recepcion.providers.Provider"):
        check_provider({"id": "acme"})


class GoodPlugin:
    __name__ = "bueno"

    @hookimpl
    def recepcion_register_providers(self):
        return [valid()]

    @hookimpl
    def recepcion_suggest_provider(self, domain):
        return "acme" if domain == "acme.example" else None


class EmptyPlugin:
    __name__ = "vacio"

    @hookimpl
    def recepcion_suggest_provider(self, domain):
        return None


class BrokenPlugin:
    __name__ = "roto"

    @hookimpl
    def recepcion_register_providers(self):
        return [valid(imap=ServerDefaults("imap.acme.example", 99999, "ssl"))]


def test_check_plugin_returns_a_registry_with_the_plugin_and_the_built_ins():
    registry = check_plugin(GoodPlugin())

    assert list(registry.providers) == ["outlook", "gmail", "generic", "acme"]
    assert registry.suggest_provider("ana@acme.example") == "acme"


def test_check_plugin_reports_a_plugin_that_adds_no_provider():
    with pytest.raises(ProviderCheckError, match="no registró ningún proveedor"):
        check_plugin(EmptyPlugin())


def test_check_plugin_reports_an_invalid_provider():
    with pytest.raises(ProviderCheckError, match="puerto fuera de 1–65535: 99999"):
        check_plugin(BrokenPlugin())


def test_the_registry_rejects_invalid_providers_as_failures():
    registry = load_registry(plugins=[BrokenPlugin()], entry_points=[])

    assert registry.providers == {}
    [failure] = registry.failures
    assert (failure.plugin, failure.stage) == ("roto", "validacion")
