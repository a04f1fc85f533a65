"""Zoho Mail provider for tui-recepcion, one provider per Zoho data centre.

Zoho serves each account from one regional data centre, and the server names end in
that region's domain (zoho.com, zoho.eu, zoho.in, zoho.com.au).
"""

from __future__ import annotations

from tui_recepcion.providers import Provider, ServerAlternative, ServerDefaults, hookimpl

# (provider id, region name, the domain Zoho's servers use, addresses hosted there)
REGIONS: tuple[tuple[str, str, str, frozenset[str]], ...] = (
    ("zoho", "Estados Unidos y global", "zoho.com", frozenset({"zoho.com", "zohomail.com"})),
    ("zoho-eu", "Europa", "zoho.eu", frozenset({"zoho.eu", "zohomail.eu"})),
    ("zoho-in", "India", "zoho.in", frozenset({"zoho.in", "zohomail.in"})),
    ("zoho-au", "Australia", "zoho.com.au", frozenset({"zohomail.com.au"})),
)

GUIDANCE = """\
## Zoho Mail ({region})

| Protocolo | Servidor | Puerto | Seguridad |
|---|---|---|---|
| IMAP | `imap.{domain}` | 993 | SSL/TLS |
| POP3 | `poppro.{domain}` (cuentas de empresa) o `pop.{domain}` (personales) | 995 | SSL/TLS |
| SMTP | `smtp.{domain}` | 465 | SSL/TLS (o 587 con STARTTLS) |

Zoho atiende cada cuenta desde un centro de datos: si su cuenta se abre en
`mail.zoho.eu`, use el proveedor «Zoho Mail (Europa)», y así con cada región.

**Usuario:** la dirección de correo completa.

### Activar IMAP o POP

En Zoho Mail abra **Configuración → Cuentas de correo**, elija la cuenta y active
**Acceso IMAP** o **Acceso POP**, según el protocolo que usará. En una organización el
administrador también puede restringir estos accesos desde la consola de administración.

### Autenticación básica

Si la cuenta tiene verificación en dos pasos (TFA), Zoho no acepta la contraseña normal:
genere una **contraseña específica de la aplicación** en Zoho Accounts (Seguridad →
Contraseñas específicas de la aplicación) y úsela como Contraseña.
"""


def _provider(provider_id: str, region: str, domain: str) -> Provider:
    return Provider(
        id=provider_id,
        name=f"Zoho Mail ({region})",
        auth_types=("basica",),
        imap=ServerDefaults(f"imap.{domain}", 993, "ssl"),
        pop3=ServerDefaults(f"poppro.{domain}", 995, "ssl"),
        smtp=ServerDefaults(f"smtp.{domain}", 465, "ssl"),
        alternatives=(
            ServerAlternative(
                protocol="pop3",
                server=ServerDefaults(f"pop.{domain}", 995, "ssl"),
                note="Cuentas personales de Zoho (sin dominio propio).",
            ),
            ServerAlternative(
                protocol="smtp",
                server=ServerDefaults(f"smtp.{domain}", 587, "starttls"),
                note="El mismo servidor con STARTTLS, si la red bloquea el puerto 465.",
            ),
        ),
        username_hint="La dirección de correo completa, por ejemplo facturas@empresa.com.co.",
        guidance_md=GUIDANCE.format(region=region, domain=domain),
        field_help={
            "contrasena": (
                "La contraseña de la cuenta, o una contraseña específica de la aplicación "
                "si la cuenta usa verificación en dos pasos."
            ),
        },
    )


PROVIDERS: tuple[Provider, ...] = tuple(
    _provider(provider_id, region, domain) for provider_id, region, domain, _ in REGIONS
)
_PROVIDER_BY_DOMAIN = {
    address_domain: provider_id
    for provider_id, _, _, address_domains in REGIONS
    for address_domain in address_domains
}


@hookimpl
def recepcion_register_providers() -> list[Provider]:
    return list(PROVIDERS)


@hookimpl
def recepcion_suggest_provider(domain: str) -> str | None:
    return _PROVIDER_BY_DOMAIN.get(domain)
