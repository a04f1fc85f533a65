"""Checks that a provider is well formed, with Spanish messages for plugin authors.

The registry rejects a provider with problems (it becomes a plugin failure instead of a
broken form), and `tui_recepcion.testing` exposes the same checks to plugin tests.
"""

from __future__ import annotations

import re

from tui_recepcion.providers.model import (
    AUTH_TYPES,
    HELP_FIELDS,
    PROTOCOLS,
    SECURITIES,
    Provider,
    ServerAlternative,
    ServerDefaults,
)
from tui_recepcion.vocabulary import PLAINTEXT

PROVIDER_ID_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
_MAX_ID_LENGTH = 40
_HOST_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")

# Crude but effective: guidance must read as Spanish, not as an untranslated English text.
_SPANISH_WORDS = frozenset(
    "de la el en que los las para con por una un su del se es al configuración correo "
    "contraseña servidor cuenta".split()
)
_ENGLISH_WORDS = frozenset(
    "the and to your of with for is this you settings password server account".split()
)


def is_hostname(text: str) -> bool:
    """A DNS host name with at least two labels (no scheme, port, path or trailing dot)."""
    if not text or len(text) > 253 or text != text.strip():
        return False
    labels = text.lower().split(".")
    return len(labels) >= 2 and all(_HOST_LABEL_RE.match(label) for label in labels)


def looks_spanish(text: str) -> bool:
    words = re.findall(r"[a-záéíóúñü]+", text.lower())
    spanish = sum(word in _SPANISH_WORDS for word in words)
    english = sum(word in _ENGLISH_WORDS for word in words)
    return spanish >= 3 and spanish > english


def provider_problems(provider: object) -> list[str]:
    """Every problem found in `provider`, as Spanish sentences; empty when it is valid."""
    if not isinstance(provider, Provider):
        return [
            f"Se esperaba un tui_recepcion.providers.Provider y se recibió "
            f"{type(provider).__name__}."
        ]
    problems: list[str] = []
    pid = provider.id
    if not isinstance(pid, str) or not PROVIDER_ID_RE.match(pid) or len(pid) > _MAX_ID_LENGTH:
        problems.append(
            f"El id {pid!r} no es válido: use minúsculas, dígitos y guiones "
            f"(por ejemplo 'zoho' o 'mi-proveedor'), máximo {_MAX_ID_LENGTH} caracteres."
        )
    if not isinstance(provider.name, str) or not provider.name.strip():
        problems.append("El nombre del proveedor está vacío.")
    problems += _auth_type_problems(provider.auth_types)
    for protocol in PROTOCOLS:
        server = getattr(provider, protocol)
        if server is not None:
            problems += _server_problems(server, f"El servidor {protocol.upper()}")
    if provider.imap is None and provider.pop3 is None and not provider.autodiscover:
        problems.append(
            "El proveedor no define servidor IMAP ni POP3 (defina al menos uno, "
            "o autodiscover=True si los sugiere recepcion_discover_servers)."
        )
    for number, alternative in enumerate(provider.alternatives, start=1):
        problems += _alternative_problems(alternative, number)
    if not isinstance(provider.username_hint, str) or not provider.username_hint.strip():
        problems.append("Falta username_hint: diga qué usuario se escribe (p. ej. la dirección completa).")
    if not isinstance(provider.guidance_md, str) or not provider.guidance_md.strip():
        problems.append("Falta guidance_md: la guía en español (markdown) que se muestra en el formulario.")
    elif not looks_spanish(provider.guidance_md):
        problems.append("guidance_md no parece estar en español: el formulario se muestra en español.")
    for key, text in provider.field_help.items():
        if key not in HELP_FIELDS:
            problems.append(
                f"field_help tiene el campo desconocido {key!r}; los válidos son: "
                f"{', '.join(sorted(HELP_FIELDS))}."
            )
        elif not isinstance(text, str) or not text.strip():
            problems.append(f"La ayuda del campo {key!r} está vacía.")
    return problems


def _auth_type_problems(auth_types: tuple[object, ...]) -> list[str]:
    if not auth_types:
        return ["auth_types está vacío: indique 'basica', 'oauth2' o ambos."]
    problems = [
        f"Tipo de autenticación desconocido {auth!r}; los válidos son: {', '.join(AUTH_TYPES)}."
        for auth in auth_types
        if auth not in AUTH_TYPES
    ]
    if len(set(auth_types)) != len(auth_types):
        problems.append("auth_types repite un tipo de autenticación.")
    return problems


def _server_problems(server: object, label: str) -> list[str]:
    if not isinstance(server, ServerDefaults):
        return [f"{label} debe ser un ServerDefaults, no {type(server).__name__}."]
    problems = []
    if not isinstance(server.host, str) or not is_hostname(server.host):
        problems.append(f"{label} tiene un nombre de host no válido: {server.host!r}.")
    if isinstance(server.port, bool) or not isinstance(server.port, int) or not 1 <= server.port <= 65535:
        problems.append(f"{label} tiene un puerto fuera de 1–65535: {server.port!r}.")
    if server.security not in SECURITIES:
        problems.append(
            f"{label} tiene una seguridad desconocida {server.security!r}; "
            f"las válidas son: {', '.join(SECURITIES)}."
        )
    elif server.security == PLAINTEXT:
        problems.append(f"{label} no puede sugerir una conexión sin cifrado ('ninguna').")
    return problems


def _alternative_problems(alternative: object, number: int) -> list[str]:
    label = f"La alternativa {number}"
    if not isinstance(alternative, ServerAlternative):
        return [f"{label} debe ser un ServerAlternative, no {type(alternative).__name__}."]
    problems = []
    if alternative.protocol not in PROTOCOLS:
        problems.append(f"{label} tiene un protocolo desconocido {alternative.protocol!r}.")
    problems += _server_problems(alternative.server, label)
    if not isinstance(alternative.note, str) or not alternative.note.strip():
        problems.append(f"{label} no tiene nota: diga cuándo usarla.")
    return problems
