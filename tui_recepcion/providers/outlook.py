"""Built-in provider: Outlook.com, Hotmail, Live and Microsoft 365 (Exchange Online)."""

from __future__ import annotations

from tui_recepcion.providers import Provider, ServerAlternative, ServerDefaults, hookimpl

CONSUMER_DOMAINS = frozenset({"outlook.com", "hotmail.com", "live.com", "msn.com"})

GUIDANCE = """\
## Outlook.com, Hotmail y Microsoft 365

| Protocolo | Servidor | Puerto | Seguridad |
|---|---|---|---|
| IMAP | `outlook.office365.com` | 993 | SSL/TLS |
| POP3 | `outlook.office365.com` | 995 | SSL/TLS |
| SMTP | `smtp.office365.com` | 587 | STARTTLS |

Para cuentas personales (Outlook.com, Hotmail, Live) el SMTP también puede ser
`smtp-mail.outlook.com`, puerto 587, STARTTLS.

**Usuario:** la dirección de correo completa.

Puede confirmar estos datos en Outlook en la web: **Configuración → Ver toda la
configuración de Outlook → Correo → Sincronizar correo**, sección *POP e IMAP*.

### Activar POP (solo si usará POP3)

1. Entre a Outlook en la web con la cuenta del buzón de recepción.
2. Vaya a **Configuración → Ver toda la configuración de Outlook → Correo →
   Sincronizar correo**.
3. En **POP e IMAP**, en «Permitir que los dispositivos y las aplicaciones usen POP»,
   elija **Sí**.
4. Si aparece la opción sobre los mensajes que una aplicación elimina por POP, permita
   que las aplicaciones los eliminen de Outlook: tui-recepcion borra cada mensaje del
   buzón después de reenviarlo al correo de respaldo.
5. Pulse **Guardar**.

En Microsoft 365 el administrador también debe tener habilitados POP o IMAP para el
buzón (Centro de administración de Microsoft 365 → Usuarios activos → el usuario →
Correo → Administrar aplicaciones de correo electrónico).

### Autenticación: use OAuth2

Microsoft desactivó la autenticación básica (usuario y contraseña) para IMAP y POP en
Exchange Online (Microsoft 365) en octubre de 2022 y en Outlook.com (Hotmail, Live) en
septiembre de 2024. Con esas cuentas la contraseña no funciona aunque sea correcta:
elija **OAuth2** y autorice la cuenta con `tui-recepcion autorizar`.

La **autenticación básica** sigue sirviendo para servidores Exchange instalados en la
empresa (Exchange local), con el servidor que indique su administrador.
"""

OUTLOOK = Provider(
    id="outlook",
    name="Outlook.com / Microsoft 365",
    auth_types=("oauth2", "basica"),
    imap=ServerDefaults("outlook.office365.com", 993, "ssl"),
    pop3=ServerDefaults("outlook.office365.com", 995, "ssl"),
    smtp=ServerDefaults("smtp.office365.com", 587, "starttls"),
    alternatives=(
        ServerAlternative(
            protocol="smtp",
            server=ServerDefaults("smtp-mail.outlook.com", 587, "starttls"),
            note="Cuentas personales (Outlook.com, Hotmail, Live, MSN).",
        ),
    ),
    username_hint="La dirección de correo completa, por ejemplo facturas@empresa.com.co.",
    guidance_md=GUIDANCE,
    field_help={
        "tipo_servidor": (
            "OAuth2: Microsoft ya no acepta la contraseña para IMAP ni POP en Outlook.com "
            "ni en Microsoft 365. Básica solo sirve con un servidor Exchange local."
        ),
        "usuario": "La dirección de correo completa del buzón de recepción.",
        "servidor": "outlook.office365.com para IMAP y POP3, también en Outlook.com y Hotmail.",
    },
)


@hookimpl
def recepcion_register_providers() -> list[Provider]:
    return [OUTLOOK]


@hookimpl
def recepcion_suggest_provider(domain: str) -> str | None:
    return OUTLOOK.id if domain in CONSUMER_DOMAINS else None
