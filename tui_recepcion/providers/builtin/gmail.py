"""Built-in provider: Gmail and Google Workspace."""

from __future__ import annotations

from tui_recepcion.providers import Provider, ServerAlternative, ServerDefaults, hookimpl

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})

GUIDANCE = """\
## Gmail y Google Workspace

| Protocolo | Servidor | Puerto | Seguridad |
|---|---|---|---|
| IMAP | `imap.gmail.com` | 993 | SSL/TLS |
| POP3 | `pop.gmail.com` | 995 | SSL/TLS |
| SMTP | `smtp.gmail.com` | 465 | SSL/TLS (o 587 con STARTTLS) |

**Usuario:** la dirección de correo completa (también en Google Workspace con dominio
propio).

### Activar IMAP o POP

1. En Gmail en la web abra **Configuración (⚙) → Ver todos los ajustes**, pestaña
   **Reenvío y correo POP/IMAP**.
2. Para IMAP: en «Acceso IMAP» elija **Habilitar IMAP** (en cuentas recientes ya viene
   activado).
3. Para POP: en «Descarga de correo POP» elija **Habilitar POP para todos los mensajes**.
   En «Cuando se accede a los mensajes con POP» elija **eliminar la copia de Gmail**.
   Gmail no borra por pedido de la aplicación: hace lo que diga este ajuste. tui-recepcion
   borra cada mensaje después de reenviarlo al correo de respaldo; con «conservar la copia
   de Gmail» los mensajes se quedarían en la bandeja de entrada.
4. Pulse **Guardar cambios**.

### Autenticación básica: contraseña de aplicación

Google no acepta la contraseña normal de la cuenta en aplicaciones de correo como esta.
Use una **contraseña de aplicación** (16 caracteres) en los campos **Contraseña** y
**Confirmar Contraseña**:

1. Active la **Verificación en 2 pasos** de la cuenta (Cuenta de Google → Seguridad):
   sin ella no se pueden crear contraseñas de aplicación.
2. En Cuenta de Google → Seguridad → Verificación en 2 pasos → **Contraseñas de
   aplicaciones**, cree una para tui-recepcion y cópiela.

En Google Workspace el administrador puede haber deshabilitado las contraseñas de
aplicación; pídale que las permita para el buzón de recepción.

La contraseña de aplicación es el camino **más sencillo**. Use OAuth2 solo si la
organización no permite contraseñas de aplicación.

### OAuth2 (alternativa)

1. En <https://console.cloud.google.com> cree un proyecto, habilite la **Gmail API** y
   configure la **pantalla de consentimiento de OAuth** (tipo «Interno» en Google
   Workspace; «Externo» en una cuenta gmail.com, agregando el buzón como usuario de
   prueba; en modo de prueba Google vence la autorización a los 7 días, así que
   publíquela para uso continuo).
2. En **Credenciales → Crear credenciales → ID de cliente de OAuth**, tipo
   **Aplicación de escritorio**. En este formulario, con **Tipo de Servidor** en OAuth2,
   copie el **ID de cliente** en el campo **ID de aplicación**.
3. El **secreto del cliente** no se escribe en el formulario: en el campo **Secreto del
   cliente** indique dónde se guarda (`archivo:/ruta` o `keyring`); si aún no existe,
   se pide una vez, sin mostrarlo, al autorizar.
4. Pulse el botón **Autorizar** (Ctrl+O): aparece una dirección para abrir en el
   navegador. Inicie sesión con la cuenta del buzón y acepte. Si el navegador está en
   este mismo equipo, la autorización llega sola; si está en otro (sesión SSH), el
   navegador terminará en una página de `http://127.0.0.1:…` que no carga: copie la
   dirección completa de la barra del navegador y péguela en el campo que muestra
   tui-recepcion.
"""

GMAIL = Provider(
    id="gmail",
    name="Gmail / Google Workspace",
    auth_types=("basica", "oauth2"),
    imap=ServerDefaults("imap.gmail.com", 993, "ssl"),
    pop3=ServerDefaults("pop.gmail.com", 995, "ssl"),
    smtp=ServerDefaults("smtp.gmail.com", 465, "ssl"),
    alternatives=(
        ServerAlternative(
            protocol="smtp",
            server=ServerDefaults("smtp.gmail.com", 587, "starttls"),
            note="El mismo servidor con STARTTLS, si la red bloquea el puerto 465.",
        ),
    ),
    username_hint="La dirección de correo completa, por ejemplo facturas@gmail.com.",
    guidance_md=GUIDANCE,
    field_help={
        "contrasena": (
            "Una contraseña de aplicación de Google (16 caracteres), no la contraseña normal "
            "de la cuenta. Requiere la verificación en 2 pasos."
        ),
        "usuario": "La dirección de correo completa del buzón de recepción.",
    },
)


@hookimpl
def recepcion_register_providers() -> list[Provider]:
    return [GMAIL]


@hookimpl
def recepcion_suggest_provider(domain: str) -> str | None:
    return GMAIL.id if domain in GMAIL_DOMAINS else None


@hookimpl
def recepcion_oauth_flow(provider_id: str) -> object | None:
    if provider_id != GMAIL.id:
        return None
    from tui_recepcion.oauth.google import google_flow

    return google_flow()
