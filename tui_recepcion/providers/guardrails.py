"""Guardrails the form shows next to a field and `validar` prints: known refusals by providers.

Microsoft turned off Autenticación Básica (usuario y contraseña) for IMAP and POP3 in
Outlook.com and Microsoft 365; such an account can pass the form and then never log in.
"""

from __future__ import annotations

MICROSOFT_HOSTS = ("outlook.office365.com", "outlook.office.com", "imap-mail.outlook.com", "pop-mail.outlook.com")
MICROSOFT_DOMAINS = (".office365.com", ".outlook.com", ".office.com")

BASIC_REFUSED_BY_MICROSOFT = (
    "Microsoft rechaza la Autenticación Básica (usuario y contraseña) en Outlook.com y Microsoft 365: "
    "elija Tipo de Servidor «OAuth2» y autorice la cuenta (botón Autorizar, Ctrl+O, o "
    "tui-recepcion autorizar)."
)


def is_microsoft(provider_id: str, host: str) -> bool:
    name = host.rstrip(".").lower()
    return provider_id == "outlook" or name in MICROSOFT_HOSTS or name.endswith(MICROSOFT_DOMAINS)


def basic_auth_warning(provider_id: str, host: str, auth_type: str) -> str | None:
    """The warning for Outlook / Microsoft 365 with Autenticación Básica; None otherwise."""
    if auth_type == "basica" and is_microsoft(provider_id, host):
        return BASIC_REFUSED_BY_MICROSOFT
    return None
