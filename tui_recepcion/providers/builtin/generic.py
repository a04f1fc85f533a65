"""Built-in provider for any other domain: servers suggested from the address itself."""

from __future__ import annotations

import ssl

from tui_recepcion.providers import DiscoveredServer, Provider, Resolver, hookimpl
from tui_recepcion.providers.discovery import discover_servers

GUIDANCE = """\
## Otro proveedor de correo

tui-recepcion busca los servidores a partir de la dirección: primero en los registros
DNS SRV del dominio (RFC 6186 y RFC 8314) y luego en nombres habituales como `imap.`,
`pop.`, `mail.` y `smtp.` seguidos del dominio. Solo sugiere un nombre habitual si
responde con TLS y un certificado válido.

Confirme siempre los datos con su proveedor de correo o con el administrador del
dominio:

- Servidor y puerto de IMAP (normalmente 993 con SSL/TLS) o de POP3 (995 con SSL/TLS).
- El servidor SMTP para reenvíos y alertas (465 con SSL/TLS o 587 con STARTTLS).
- El usuario: casi siempre la dirección completa; algunos servidores usan solo la parte
  antes de la @.

Escriba esos datos en **Servidor**, **Puerto** y **Protocolo de Seguridad**, y pulse
**Probar conexión** (Ctrl+T) antes de **Guardar**.

Si el servidor usa un certificado de una autoridad propia de la empresa, indique el
archivo de esa CA en `certificados_ca` de config.toml: la verificación del certificado
nunca se desactiva. «Ninguno» en **Protocolo de Seguridad** solo se permite marcando
**Permitir sin cifrado**, y la contraseña viajaría legible por la red.
"""

GENERIC = Provider(
    id="generic",
    name="Otro proveedor (genérico)",
    auth_types=("basica",),
    username_hint="Normalmente la dirección completa; algunos servidores usan solo la parte antes de la @.",
    guidance_md=GUIDANCE,
    autodiscover=True,
)


@hookimpl
def recepcion_register_providers() -> list[Provider]:
    return [GENERIC]


@hookimpl
def recepcion_discover_servers(
    domain: str, resolver: Resolver, timeout: float, ssl_context: ssl.SSLContext
) -> list[DiscoveredServer]:
    return discover_servers(domain, resolver, timeout, ssl_context)
