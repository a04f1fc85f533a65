"""Every key of config.toml, described once: how it is read and how the form presents it.

`ACCOUNT_FIELDS` (and the [smtp], [oauth2] and [general] tables) is the single description the
parser, `validar`, the reception form's labels and "?" help, the writer and config.toml.example
all follow, so one rule never drifts between the CLI and the TUI. A converter checks one value
alone; rules relating several values live in `validation.py`.
"""

from __future__ import annotations

import ipaddress
import re
import stat
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tui_recepcion.config.dates import parse_date
from tui_recepcion.config.nit import NitError, parse_nit
from tui_recepcion.config.problems import quote_value
from tui_recepcion.secrets import control_character_problem, expand_path, parse_secret_ref
from tui_recepcion.vocabulary import AUTH_TYPES as AUTH_TYPE_VALUES
from tui_recepcion.vocabulary import MAILBOX_PROTOCOLS, AuthType, MailboxProtocol, Security
from tui_recepcion.vocabulary import SECURITIES as SECURITY_VALUES

# Dates the engine can do arithmetic on (alerts subtract days); 0001-01-01 would overflow.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)

# How the form and the messages show each value (the values themselves: `tui_recepcion.vocabulary`).
AUTH_TYPES: dict[AuthType, str] = {"basica": "Autenticación Básica", "oauth2": "OAuth2"}
PROTOCOLS: dict[MailboxProtocol, str] = {"imap": "IMAP", "pop3": "POP3"}
SECURITIES: dict[Security, str] = {"ssl": "SSL/TLS", "starttls": "STARTTLS", "ninguna": "Ninguno"}


# --- Syntax checks shared with the form ------------------------------------------------------
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_ACCOUNT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def is_valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    return 0 < len(name) <= 253 and all(_HOST_LABEL.match(label) for label in name.split("."))


def is_valid_email(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(at) and bool(_EMAIL_LOCAL.match(local)) and ".." not in local and "." in domain and is_valid_host(domain)


def is_valid_account_id(account_id: str) -> bool:
    return bool(_ACCOUNT_ID.match(account_id))


# --- The account fields ----------------------------------------------------------------------

Converter = Callable[[Any], Any]  # returns the converted value or raises ValueError (Spanish)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("debe ser texto entre comillas")
    text = value.strip()
    if not text:
        raise ValueError("no puede estar vacío")
    problem = control_character_problem(text)
    if problem:
        raise ValueError(problem)
    return text


def _choice(options: Collection[str]) -> Converter:
    def convert(value: Any) -> str:
        text = _text(value).lower()
        if text not in options:
            raise ValueError("debe ser uno de: " + ", ".join(f'"{option}"' for option in options))
        return text

    return convert


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("debe ser un número entero (sin comillas)")
    if not 1 <= value <= 65535:
        shown = str(value) if abs(value) < 10**12 else "ese número"
        raise ValueError(f"{shown} no es un puerto válido (1–65535)")
    return value


def _host(value: Any) -> str:
    text = _text(value)
    if not is_valid_host(text):
        raise ValueError(f"{quote_value(text)} no es un nombre de servidor válido")
    return text


def _email(value: Any) -> str:
    text = _text(value)
    if not is_valid_email(text):
        raise ValueError(f"{quote_value(text)} no es una dirección de correo válida")
    return text


def _username(value: Any) -> str:
    text = _text(value)
    if any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise ValueError("no puede contener espacios")
    return text


def _secret_ref(value: Any) -> str:
    text = _text(value)
    parse_secret_ref(text)  # raises ValueError with a Spanish reason
    return text


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("debe ser true o false (sin comillas)")
    return value


def _nit(value: Any) -> str:
    """The NIT without its check digit; dots and spaces as on the RUT are accepted."""
    text = _text(value if not isinstance(value, int) or isinstance(value, bool) else str(value))
    try:
        parsed = parse_nit(text)
    except NitError as error:
        raise ValueError(str(error)) from None
    if parsed.dv is not None:
        raise ValueError(
            f'escriba el NIT sin el dígito de verificación y el dígito aparte: nit_receptor = "{parsed.nit}" '
            f'y dv_receptor = "{parsed.dv}"'
        )
    return parsed.nit


def _check_digit(value: Any) -> str:
    text = _text(str(value) if isinstance(value, int) and not isinstance(value, bool) else value)
    if len(text) != 1 or not text.isdigit():
        raise ValueError('debe ser el dígito de verificación del NIT: una sola cifra (p. ej. "8")')
    return text


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        raise ValueError("debe ser solo una fecha, sin hora (AAAA-MM-DD)")
    parsed: date | None = value if isinstance(value, date) else None
    if isinstance(value, str):
        parsed = parse_date(value)  # DD/MM/AAAA or AAAA-MM-DD; ValueError in Spanish
    if parsed is None:
        raise ValueError("debe ser una fecha AAAA-MM-DD (p. ej. 2027-03-31)")
    if not EARLIEST_DATE <= parsed <= LATEST_DATE:
        raise ValueError(
            f"la fecha {parsed.isoformat()} está fuera del rango admitido "
            f"({EARLIEST_DATE.isoformat()} a {LATEST_DATE.isoformat()})"
        )
    return parsed


def _folder(value: Any) -> str:
    text = _text(value)
    if text.upper() == "INBOX":
        raise ValueError("no puede ser la bandeja de entrada")
    if any(ord(ch) < 32 for ch in text) or any(ch in text for ch in "*%\""):
        raise ValueError("contiene caracteres no permitidos en un nombre de carpeta")
    return text


def _regular_file(value: Any, expected: str) -> Path:
    """A path to an existing regular file; `expected` names what it should be, for the message."""
    path = _path(value)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ValueError(f"el archivo {path} no existe") from None
    except OSError as error:
        raise ValueError(f"no se pudo revisar el archivo {path} (error del sistema {error.errno})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path} no es un archivo regular (se espera {expected})")
    return path


def _ca_file(value: Any) -> Path:
    return _regular_file(value, "un archivo PEM")


def _timezone(value: Any) -> str:
    text = _text(value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory, a name too long
        raise ValueError(f"{quote_value(text)} no es una zona horaria conocida (p. ej. \"America/Bogota\")") from None
    return text


def _interval(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1440:
        raise ValueError("debe ser un número entero de minutos entre 1 y 1440")
    return value


def _path(value: Any) -> Path:
    return expand_path(_text(value))  # ValueError in Spanish: NUL, "~nadie", too long


def _database(value: Any) -> Path | str:
    """An SQLite file, or a PostgreSQL URL kept as text (`postgresql://usuario@servidor/base`)."""
    text = _text(value)
    scheme, separator, rest = text.partition("://")
    if not separator or scheme.lower() not in ("postgresql", "postgres"):
        return expand_path(text)
    if not rest.strip("/"):
        raise ValueError("la URL de PostgreSQL está incompleta (postgresql://usuario@servidor/base)")
    return text


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One key of an account table: how to read it and how the form presents it."""

    key: str
    attr: str
    convert: Converter
    label: str
    help: str
    required: bool = False


ACCOUNT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("proveedor", "provider", _text, "Proveedor",
              "Servicio de correo del buzón (outlook, gmail, generic u otro instalado como complemento). "
              "Sugiere servidor, puerto y SMTP.", required=True),
    FieldSpec("tipo_servidor", "auth_type", _choice(AUTH_TYPE_VALUES), "Tipo de Servidor",
              "Cómo inicia sesión: «basica» con usuario y contraseña, u «oauth2» con un token "
              "(obligatorio en Outlook.com y Microsoft 365).", required=True),
    FieldSpec("protocolo", "protocol", _choice(MAILBOX_PROTOCOLS), "Protocolo de Acceso",
              "IMAP deja cada correo en las carpetas Procesados o Fallidos. POP3 no tiene carpetas: "
              "reenvía cada correo al Correo de Respaldo y lo borra del servidor.", required=True),
    FieldSpec("servidor", "host", _host, "Servidor",
              "Nombre del servidor de correo entrante, p. ej. outlook.office365.com.", required=True),
    FieldSpec("puerto", "port", _port, "Puerto",
              "Puerto del servidor: IMAP 993 (SSL/TLS) o 143 (STARTTLS); POP3 995 (SSL/TLS) o 110 (STARTTLS).",
              required=True),
    FieldSpec("seguridad", "security", _choice(SECURITY_VALUES), "Protocolo de Seguridad",
              "«ssl» cifra desde el inicio; «starttls» cifra tras conectar (si el servidor no lo ofrece, "
              "no se continúa sin cifrar); «ninguna» exige permitir_sin_cifrado = true.", required=True),
    FieldSpec("usuario", "username", _username, "Usuario",
              "Usuario del buzón de recepción; en Outlook y Gmail es la dirección completa.", required=True),
    FieldSpec("secreto", "secret_ref", _secret_ref, "Contraseña",
              "Dónde se guarda la contraseña (nunca en este archivo): «keyring» (llavero del sistema), "
              "«env:VARIABLE» (variable de entorno) o «archivo:/ruta» (archivo con permisos 0600).",
              required=True),
    FieldSpec("permitir_sin_cifrado", "allow_plaintext", _bool, "Permitir sin cifrado",
              "Debe ser true para usar seguridad «ninguna»: la contraseña viajaría sin cifrar."),
    FieldSpec("nit_receptor", "receiver_nit", _nit, "NIT Receptor",
              "NIT de la empresa como en el RUT (901.234.567-7, 901234567-7 o 901234567). Se guarda sin "
              "el dígito de verificación, que va en dv_receptor. Si se indica, los documentos dirigidos a "
              "otro NIT van a Fallidos (receptor_no_coincide)."),
    FieldSpec("dv_receptor", "receiver_check_digit", _check_digit, "DV",
              "Dígito de verificación del NIT receptor (la cifra después del guion en el RUT). "
              "Se comprueba con la fórmula de la DIAN."),
    FieldSpec("fecha_expiracion", "password_expiry", _date, "Fecha Expiración",
              "Fecha en que vence la contraseña del buzón (DD/MM/AAAA). 5 días antes se envía una "
              "alerta al Correo Notificación, y otra el mismo día."),
    FieldSpec("correo_notificacion", "notify_email", _email, "Correo Notificación",
              "Dirección que recibe las alertas de vencimiento de la contraseña y de fallas de acceso."),
    FieldSpec("correo_respaldo", "backup_email", _email, "Correo de Respaldo",
              "Solo POP3: cada correo procesado se reenvía intacto a esta dirección antes de borrarlo "
              "del servidor. Debe ser otro buzón, no el de recepción."),
    FieldSpec("carpeta_procesados", "processed_folder", _folder, "Carpeta Procesados",
              "Solo IMAP: carpeta a la que se mueven los correos leídos con éxito. No la elimine."),
    FieldSpec("carpeta_fallidos", "failed_folder", _folder, "Carpeta Fallidos",
              "Solo IMAP: carpeta a la que se mueven los correos que no se pudieron procesar. No la elimine."),
    FieldSpec("certificados_ca", "ca_file", _ca_file, "Certificados CA",
              "Archivo PEM con certificados de autoridad adicionales (p. ej. una CA interna). "
              "La verificación del certificado sigue activa."),
    FieldSpec("zona_horaria", "timezone", _timezone, "Zona horaria",
              "Zona horaria para las fechas de las alertas; por defecto America/Bogota."),
)
FIELDS_BY_KEY: dict[str, FieldSpec] = {spec.key: spec for spec in ACCOUNT_FIELDS}

SMTP_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("servidor", "host", _host, "Servidor SMTP", "Servidor de correo saliente.", required=True),
    FieldSpec("puerto", "port", _port, "Puerto SMTP", "465 (SSL/TLS), 587 (STARTTLS) o 25.", required=True),
    FieldSpec("seguridad", "security", _choice(SECURITY_VALUES), "Seguridad SMTP",
              "«ssl», «starttls» o «ninguna» (exige permitir_sin_cifrado = true en la cuenta).", required=True),
    FieldSpec("usuario", "username", _username, "Usuario SMTP", "Por defecto, el usuario de la cuenta."),
    FieldSpec("secreto", "secret_ref", _secret_ref, "Secreto SMTP", "Por defecto, el secreto de la cuenta."),
    FieldSpec("autenticar", "authenticate", _bool, "Autenticar",
              "false para un relé SMTP local que no pide usuario ni contraseña."),
)

OAUTH_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("client_id", "client_id", _text, "ID de aplicación",
              "ID de la aplicación registrada (Microsoft Entra ID o Google Cloud) con la que se autoriza."),
    FieldSpec("autoridad", "authority", _text, "Autoridad",
              "Microsoft: «consumers» (Outlook.com, Hotmail), «organizations» o el ID del inquilino "
              "(tenant). Si se omite: «consumers» para direcciones personales, si no «organizations»."),
    FieldSpec("secreto_cliente", "client_secret_ref", _secret_ref, "Secreto del cliente",
              "Solo Google: dónde se guarda el secreto del cliente (client_secret) de la aplicación de "
              "escritorio, nunca el valor: «keyring», «env:VARIABLE» o «archivo:/ruta». "
              "tui-recepcion autorizar lo pide una vez si aún no está guardado."),
)

# --- [empresa]: the company that sends RADIAN events to DIAN (tui_recepcion/radian/) -------

_COMPANY_NIT = re.compile(r"^([0-9]{5,12})(?:-([0-9]))?$")
_SOFTWARE_ID = re.compile(r"^[0-9A-Za-z-]{8,64}$")
_ID_TYPES = ("11", "12", "13", "21", "22", "31", "41", "42", "47", "48", "50", "91")
AMBIENTES = ("habilitacion", "produccion")


def _company_nit(value: Any) -> str:
    """The company's NIT with or without its check digit: "900373979" or "900373979-1"."""
    text = _text(value if not isinstance(value, int) or isinstance(value, bool) else str(value))
    compact = re.sub(r"[\s.]", "", text)
    if not _COMPANY_NIT.match(compact):
        raise ValueError("debe ser el NIT de la empresa, solo números, con o sin dígito de verificación "
                         "(p. ej. \"900373979\" o \"900373979-1\")")
    return compact


def _software_id(value: Any) -> str:
    text = _text(value)
    if not _SOFTWARE_ID.match(text):
        raise ValueError("debe ser el identificador del software que asignó la DIAN (letras, números y «-», "
                         "p. ej. \"fa326ca7-c1f8-40d3-a6fc-24d7c1040607\")")
    return text


def _certificate_file(value: Any) -> Path:
    return _regular_file(value, "el certificado .p12 o .pfx")


def _id_type(value: Any) -> str:
    text = _text(value if not isinstance(value, int) or isinstance(value, bool) else str(value))
    if text not in _ID_TYPES:
        raise ValueError("debe ser un tipo de documento de la DIAN: " + ", ".join(_ID_TYPES) + " (13 cédula de ciudadanía)")
    return text


def _id_number(value: Any) -> str:
    text = _text(value if not isinstance(value, int) or isinstance(value, bool) else str(value))
    if not re.fullmatch(r"[0-9A-Za-z-]{3,20}", text):
        raise ValueError("debe ser el número de documento, sin puntos ni espacios")
    return text


def _https_url(value: Any) -> str:
    text = _text(value)
    if not re.fullmatch(r"https://[^\s/]+(/\S*)?", text):
        raise ValueError("debe ser una dirección https://")
    return text


EMPRESA_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("nit", "nit", _company_nit, "NIT de la empresa",
              "NIT de la empresa que envía los eventos, con o sin dígito de verificación.", required=True),
    FieldSpec("razon_social", "name", _text, "Razón social",
              "Razón social de la empresa tal como figura en el RUT.", required=True),
    FieldSpec("certificado", "certificate", _certificate_file, "Certificado digital",
              "Archivo PKCS#12 (.p12 o .pfx) del certificado de firma digital de la empresa.", required=True),
    FieldSpec("clave_certificado", "certificate_password_ref", _secret_ref, "Clave del certificado",
              "Dónde se guarda la clave del certificado (nunca en este archivo): «keyring», "
              "«env:VARIABLE» o «archivo:/ruta».", required=True),
    FieldSpec("software_id", "software_id", _software_id, "Identificador del software",
              "Identificador del software propio que la DIAN asignó al habilitarlo para eventos.", required=True),
    FieldSpec("pin", "pin_ref", _secret_ref, "PIN del software",
              "Dónde se guarda el PIN del software que se escribió al registrarlo en la DIAN: «keyring», "
              "«env:VARIABLE» o «archivo:/ruta». Nunca el valor.", required=True),
    FieldSpec("ambiente", "environment", _choice(AMBIENTES), "Ambiente",
              "«habilitacion» (pruebas de la DIAN) o «produccion».", required=True),
    FieldSpec("set_pruebas", "test_set_id", _software_id, "Set de pruebas",
              "Solo en habilitación: el identificador del set de pruebas (TestSetId) que muestra la DIAN."),
    FieldSpec("persona_nombre", "person_first_name", _text, "Nombre de quien recibe",
              "Nombre de la persona que firma el acuse (030) y el recibo del bien (032)."),
    FieldSpec("persona_apellido", "person_family_name", _text, "Apellido de quien recibe",
              "Apellidos de esa persona."),
    FieldSpec("persona_tipo_documento", "person_id_type", _id_type, "Tipo de documento",
              "Tipo de documento de esa persona según la DIAN: 13 cédula de ciudadanía, 22 cédula de extranjería…"),
    FieldSpec("persona_documento", "person_id", _id_number, "Número de documento",
              "Número de documento de esa persona."),
    FieldSpec("persona_cargo", "person_job_title", _text, "Cargo", "Cargo de esa persona (p. ej. Auxiliar contable)."),
    FieldSpec("persona_area", "person_department", _text, "Área", "Área o departamento de esa persona."),
    FieldSpec("acuse_automatico", "auto_acknowledge", _bool, "Acuse automático",
              "true: envía el acuse de recibo (030) de cada factura apenas se guarda. Apagado por defecto."),
    FieldSpec("recibo_automatico", "auto_receipt", _bool, "Recibo automático",
              "true (con acuse_automatico): envía también el recibo del bien o servicio (032); solo para "
              "empresas que reciben servicios, no mercancía que haya que revisar."),
    FieldSpec("url_servicio", "service_url", _https_url, "Servicio web de la DIAN",
              "Solo para pruebas: otra dirección del servicio web; por defecto la de la DIAN según el ambiente."),
    FieldSpec("certificados_ca", "ca_file", _ca_file, "Certificados CA",
              "Archivo PEM con autoridades adicionales para el servicio web (p. ej. un proxy interno)."),
)

GENERAL_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("base_datos", "database", _database, "Base de datos",
              "Archivo SQLite donde se guardan documentos y mensajes, o la URL de PostgreSQL "
              "(postgresql://usuario@servidor/base) para varias máquinas; la contraseña, mejor en "
              "la variable TUI_RECEPCION_BASE_DATOS que en este archivo."),
    FieldSpec("carpeta_documentos", "documents_dir", _path, "Carpeta de documentos",
              "Dónde se guardan los XML y PDF extraídos."),
    FieldSpec("intervalo_minutos", "interval_minutes", _interval, "Intervalo",
              "Minutos entre pasadas del servicio cuando el servidor no ofrece IMAP IDLE."),
    FieldSpec("exigir_firma_valida", "require_valid_signature", _bool, "Exigir firma válida",
              "true: un correo cuyo documento trae una firma alterada va a Fallidos (firma_invalida); el "
              "documento se guarda igual, marcado. Por defecto false: se guarda, se marca y va a Procesados."),
    FieldSpec("certificados_firma", "signing_roots", _path, "Certificados de firma",
              "Archivo PEM con las autoridades de certificación en que se confía para las firmas de los "
              "documentos (p. ej. las colombianas). Sin él, la cadena se informa como «cadena no verificada»."),
    FieldSpec("plazo_reclamo_desde", "claim_clock_start", _choice(("recepcion", "emision")), "Plazo desde",
              "Desde cuándo corren los 3 días hábiles para reclamar: «recepcion» (por defecto, el día en que "
              "llegó el documento) o «emision» (la fecha de emisión de la factura)."),
    FieldSpec("sabado_habil", "saturday_business_day", _bool, "Sábado hábil",
              "Si el sábado cuenta como día hábil en el plazo para reclamar (por defecto true; domingos y "
              "festivos de Colombia nunca cuentan)."),
    FieldSpec("resumen_reclamos", "claims_summary", _bool, "Resumen diario de reclamos",
              "true: una vez al día se envía al Correo Notificación de cada cuenta la lista de documentos "
              "cuyo plazo para reclamar vence hoy o el siguiente día hábil (se aceptarán tácitamente)."),
)
