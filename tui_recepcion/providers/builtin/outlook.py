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
elija **OAuth2** en **Tipo de Servidor** y autorice la cuenta con el botón **Autorizar**.

La **autenticación básica** sigue sirviendo para servidores Exchange instalados en la
empresa (Exchange local), con el servidor que indique su administrador.

### Registrar la aplicación en Microsoft Entra ID (una vez)

1. En <https://entra.microsoft.com> vaya a **Aplicaciones → Registros de aplicaciones →
   Nuevo registro**. Nombre: `tui-recepcion`. Tipos de cuenta: para Microsoft 365 elija
   «Solo las cuentas de este directorio organizativo»; para Outlook.com o Hotmail,
   una opción que incluya **cuentas personales de Microsoft**. No hace falta URI de
   redirección.
2. En **Autenticación**, active **Permitir flujos de clientes públicos** y guarde (sin
   esto el código de dispositivo no funciona).
3. En **Permisos de API → Agregar un permiso → API que usa mi organización**, busque
   **Office 365 Exchange Online** → **Permisos delegados** y marque
   `IMAP.AccessAsUser.All`, `POP.AccessAsUser.All` y `SMTP.Send`. En Microsoft 365 un
   administrador puede **conceder el consentimiento** para toda la organización.
4. En este formulario, con **Tipo de Servidor** en OAuth2: copie el **Id. de aplicación
   (cliente)** en el campo **ID de aplicación** y el **Id. de directorio (inquilino)** en
   **Autoridad** (o escriba `consumers` para Outlook.com, `organizations` para cualquier
   cuenta profesional).
5. Pulse el botón **Autorizar** (Ctrl+O; guarda la cuenta si hace falta): aparece una
   dirección (<https://microsoft.com/devicelogin>) y un código. Ábrala en cualquier
   equipo o teléfono, escriba el código e inicie sesión **con la cuenta del buzón de
   recepción**.

El token se guarda en el llavero del sistema o en el archivo 0600 que usted elija al
guardar, nunca en `config.toml`, y se renueva solo. Si Microsoft lo revoca (cambio de
contraseña, 90 días sin uso), el procesamiento se detiene con un aviso: vuelva a pulsar
**Autorizar** en el formulario de la cuenta (o, sin pantalla, `tui-recepcion autorizar`).

En Microsoft 365 el SMTP autenticado (para reenvíos y alertas) debe estar habilitado
para el buzón (Centro de administración → el usuario → Correo → Administrar aplicaciones
de correo electrónico → SMTP autenticado).
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


@hookimpl
def recepcion_oauth_flow(provider_id: str) -> object | None:
    if provider_id != OUTLOOK.id:
        return None
    from tui_recepcion.oauth.microsoft import MicrosoftFlow  # msal stays unloaded until needed

    return MicrosoftFlow()
