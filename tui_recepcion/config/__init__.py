"""The reception-account model, its validation, and config.toml reading and writing.

The TOML keys are Spanish because technicians edit the file by hand (docs/architecture.md, «Contracts»); the Python
attributes are English. `ACCOUNT_FIELDS` is the single description of every account key: the
parser, `validar`, the reception form's labels and "?" help, and config.toml.example all
follow it, so one rule never drifts between the CLI and the TUI.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
import tomli_w

from tui_recepcion.config.toml_lines import KeyPath, key_lines, line_of
from tui_recepcion.errors import ConfigError, SecretError, SecretMissing
from tui_recepcion.secrets import (
    FileRefused,
    FileStore,
    control_character_problem,
    expand_path,
    parse_secret_ref,
    read_regular_file,
)

APP_NAME = "tui-recepcion"
CONFIG_ENV_VAR = "TUI_RECEPCION_CONFIG"
DEFAULT_TIMEZONE = "America/Bogota"
MAX_CONFIG_BYTES = 1024 * 1024  # a config.toml is a few KiB; anything bigger is not one
# Dates the engine can do arithmetic on (alerts subtract days); 0001-01-01 would overflow.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)

AuthType = Literal["basica", "oauth2"]
MailProtocol = Literal["imap", "pop3"]
Security = Literal["ssl", "starttls", "ninguna"]

AUTH_TYPES: dict[str, str] = {"basica": "Autenticación Básica", "oauth2": "OAuth2"}
PROTOCOLS: dict[str, str] = {"imap": "IMAP", "pop3": "POP3"}
SECURITIES: dict[str, str] = {"ssl": "SSL/TLS", "starttls": "STARTTLS", "ninguna": "Ninguno"}


@dataclass(frozen=True, slots=True)
class Problem:
    """One configuration problem, located so the technician can fix it directly."""

    file: Path | None
    key: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else str(self.file or "")
        prefix = f"{where}: " if where else ""
        return printable(f"{prefix}{self.key}: {self.message}")


def printable(text: str) -> str:
    """`text` with control characters escaped, so a key or value can never drive the terminal."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() or char == " " else ascii(char)[1:-1] for char in text)


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def key_name(path: KeyPath) -> str:
    """A key path written as in TOML: `cuentas.principal.puerto`, `cuentas."Mi cuenta"`."""
    return ".".join(
        part if _BARE_KEY.fullmatch(part) else '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for part in path
    )


def _quote(text: str, limit: int = 80) -> str:
    """«text», shortened: a message names the value without repeating a huge one."""
    return f"«{text if len(text) <= limit else text[:limit] + '…'}»"


class ConfigProblems(ConfigError):
    """Raised when a configuration has problems; `problems` lists every one of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in problems))


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Outgoing mail for forwarding (POP3) and alerts; unset parts come from the provider."""

    host: str
    port: int
    security: Security
    username: str | None = None  # None: the account's own username
    secret_ref: str | None = None  # None: the account's own secret
    authenticate: bool = True


@dataclass(frozen=True, slots=True)
class OAuthSettings:
    """Which application registration and authority an OAuth2 account signs in with."""

    client_id: str | None = None
    authority: str | None = None
    client_secret_ref: str | None = None  # where a client secret lives (Google), never the value


@dataclass(frozen=True, slots=True)
class Account:
    """One reception mailbox: every field of the reception form (docs/architecture.md, «The product»)."""

    id: str
    provider: str
    auth_type: AuthType
    protocol: MailProtocol
    host: str
    port: int
    security: Security
    username: str
    secret_ref: str = "keyring"
    allow_plaintext: bool = False
    receiver_nit: str | None = None
    password_expiry: date | None = None
    notify_email: str | None = None
    backup_email: str | None = None
    processed_folder: str = "Procesados"
    failed_folder: str = "Fallidos"
    ca_file: Path | None = None
    timezone: str = DEFAULT_TIMEZONE
    smtp: SmtpSettings | None = None
    oauth: OAuthSettings | None = None

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class General:
    database: Path | None = None
    documents_dir: Path | None = None
    interval_minutes: int = 5


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None = None
    general: General = field(default_factory=General)
    accounts: Mapping[str, Account] = field(default_factory=dict)

    def account(self, account_id: str | None) -> Account:
        """The named account, or the only one; raises ConfigError with a Spanish reason."""
        if not self.accounts:
            raise ConfigError(f"No hay cuentas configuradas en {self.path}. Use el formulario (tui-recepcion) para crear una.")
        if account_id is None:
            if len(self.accounts) == 1:
                return next(iter(self.accounts.values()))
            names = ", ".join(self.accounts)
            raise ConfigError(f"Hay varias cuentas ({names}); indique una con --cuenta.")
        try:
            return self.accounts[account_id]
        except KeyError:
            names = ", ".join(self.accounts)
            raise ConfigError(f"No existe la cuenta «{account_id}». Cuentas configuradas: {names}.") from None


# --- Paths ---------------------------------------------------------------------------------


def default_config_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def resolve_config_path(cli_value: str | os.PathLike[str] | None) -> Path:
    """`--config`, else $TUI_RECEPCION_CONFIG, else the platform config directory."""
    given = cli_value or os.environ.get(CONFIG_ENV_VAR)
    if not given:
        return default_config_path()
    try:
        return Path(given).expanduser()
    except RuntimeError:  # "~nadie/config.toml": left as written; reading it says it does not exist
        return Path(given)


# --- Syntax checks shared with the form ------------------------------------------------------

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_ACCOUNT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_NIT = re.compile(r"^[0-9]{5,12}$")


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


def _choice(options: Mapping[str, str]) -> Converter:
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
        raise ValueError(f"{_quote(text)} no es un nombre de servidor válido")
    return text


def _email(value: Any) -> str:
    text = _text(value)
    if not is_valid_email(text):
        raise ValueError(f"{_quote(text)} no es una dirección de correo válida")
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
    text = _text(value if not isinstance(value, int) or isinstance(value, bool) else str(value))
    if not _NIT.match(text):
        raise ValueError("debe ser el NIT sin dígito de verificación, solo números (p. ej. \"901234567\")")
    return text


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        raise ValueError("debe ser solo una fecha, sin hora (AAAA-MM-DD)")
    parsed: date | None = value if isinstance(value, date) else None
    if isinstance(value, str):
        try:
            parsed = date.fromisoformat(value.strip())
        except ValueError:
            pass
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


def _ca_file(value: Any) -> Path:
    path = _path(value)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ValueError(f"el archivo {path} no existe") from None
    except OSError as error:
        raise ValueError(f"no se pudo revisar el archivo {path} (error del sistema {error.errno})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path} no es un archivo regular (se espera un archivo PEM)")
    return path


def _timezone(value: Any) -> str:
    text = _text(value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory, a name too long
        raise ValueError(f"{_quote(text)} no es una zona horaria conocida (p. ej. \"America/Bogota\")") from None
    return text


def _interval(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1440:
        raise ValueError("debe ser un número entero de minutos entre 1 y 1440")
    return value


def _path(value: Any) -> Path:
    return expand_path(_text(value))  # ValueError in Spanish: NUL, "~nadie", too long


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
    FieldSpec("tipo_servidor", "auth_type", _choice(AUTH_TYPES), "Tipo de Servidor",
              "Cómo inicia sesión: «basica» con usuario y contraseña, u «oauth2» con un token "
              "(obligatorio en Outlook.com y Microsoft 365).", required=True),
    FieldSpec("protocolo", "protocol", _choice(PROTOCOLS), "Protocolo de Acceso",
              "IMAP deja cada correo en las carpetas Procesados o Fallidos. POP3 no tiene carpetas: "
              "reenvía cada correo al Correo de Respaldo y lo borra del servidor.", required=True),
    FieldSpec("servidor", "host", _host, "Servidor",
              "Nombre del servidor de correo entrante, p. ej. outlook.office365.com.", required=True),
    FieldSpec("puerto", "port", _port, "Puerto",
              "Puerto del servidor: IMAP 993 (SSL/TLS) o 143 (STARTTLS); POP3 995 (SSL/TLS) o 110 (STARTTLS).",
              required=True),
    FieldSpec("seguridad", "security", _choice(SECURITIES), "Protocolo de Seguridad",
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
              "NIT de la empresa, sin dígito de verificación. Si se indica, los documentos dirigidos a "
              "otro NIT van a Fallidos (receptor_no_coincide)."),
    FieldSpec("fecha_expiracion", "password_expiry", _date, "Fecha Expiración",
              "Fecha en que vence la contraseña del buzón (AAAA-MM-DD). 5 días antes se envía una "
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
    FieldSpec("seguridad", "security", _choice(SECURITIES), "Seguridad SMTP",
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

GENERAL_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("base_datos", "database", _path, "Base de datos", "Archivo SQLite donde se guardan documentos y mensajes."),
    FieldSpec("carpeta_documentos", "documents_dir", _path, "Carpeta de documentos",
              "Dónde se guardan los XML y PDF extraídos."),
    FieldSpec("intervalo_minutos", "interval_minutes", _interval, "Intervalo",
              "Minutos entre pasadas del servicio cuando el servidor no ofrece IMAP IDLE."),
)


# --- Parsing and validation --------------------------------------------------------------------


class _Collector:
    """Gathers problems with their key paths; lines are attached once the text is known."""

    def __init__(self, *, check_environment: bool = False) -> None:
        self.found: list[tuple[KeyPath, str]] = []
        self.check_environment = check_environment

    def add(self, path: KeyPath, message: str) -> None:
        self.found.append((path, message))

    def read_table(self, raw: Any, path: KeyPath, specs: tuple[FieldSpec, ...], nested: tuple[str, ...] = ()) -> dict[str, Any] | None:
        """Convert one table's known keys; report unknown, missing and malformed ones."""
        if not isinstance(raw, dict):
            self.add(path, "debe ser una tabla [" + ".".join(path) + "]")
            return None
        by_key = {spec.key: spec for spec in specs}
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key in nested:
                continue
            spec = by_key.get(key)
            if spec is None:
                self.add(path + (key,), "clave desconocida")
                continue
            try:
                values[spec.attr] = spec.convert(value)
            except ValueError as error:
                self.add(path + (key,), str(error))
        for spec in specs:
            if spec.required and spec.key not in raw:
                self.add(path + (spec.key,), "falta este campo obligatorio")
        return values


def parse_account(account_id: str, raw: Mapping[str, Any]) -> tuple[Account | None, list[tuple[KeyPath, str]]]:
    """Validate one `[cuentas.ID]` table; the form calls this with what the technician typed."""
    problems = _Collector()
    account = _read_account(problems, account_id, dict(raw))
    return account, problems.found


def _read_account(problems: _Collector, account_id: str, raw: Any) -> Account | None:
    """The account described by `raw`, or None after recording why it is invalid."""
    already_found = len(problems.found)
    path = ("cuentas", account_id)
    if not is_valid_account_id(account_id):
        problems.add(path, "el nombre de la cuenta debe usar minúsculas, números, «-» o «_» (máx. 40)")
    values = problems.read_table(raw, path, ACCOUNT_FIELDS, nested=("smtp", "oauth2"))
    if values is None:
        return None
    _check_account_rules(problems, path, values)
    smtp = oauth = None
    if "smtp" in raw:
        smtp = problems.read_table(raw["smtp"], path + ("smtp",), SMTP_FIELDS)
        if smtp and smtp.get("security") == "ninguna" and not values.get("allow_plaintext"):
            problems.add(path + ("smtp", "seguridad"), "«ninguna» exige permitir_sin_cifrado = true en la cuenta")
    if "oauth2" in raw:
        oauth = problems.read_table(raw["oauth2"], path + ("oauth2",), OAUTH_FIELDS)
    if problems.check_environment:
        oauth2 = values.get("auth_type") == "oauth2"
        _check_secret_ref(problems, path + ("secreto",), values.get("secret_ref"), token=oauth2)
        _check_secret_ref(problems, path + ("smtp", "secreto"), (smtp or {}).get("secret_ref"))
        _check_secret_ref(problems, path + ("oauth2", "secreto_cliente"), (oauth or {}).get("client_secret_ref"))
    if len(problems.found) > already_found:
        return None
    if smtp is not None:
        values["smtp"] = SmtpSettings(**smtp)
    if oauth is not None:
        values["oauth"] = OAuthSettings(**oauth)
    return Account(id=account_id, **values)


def _check_account_rules(problems: _Collector, path: KeyPath, values: dict[str, Any]) -> None:
    """Rules that relate several fields to each other."""
    if values.get("protocol") == "pop3":
        backup = values.get("backup_email")
        if backup is None:
            problems.add(path + ("correo_respaldo",), "con POP3 es obligatorio: cada correo se reenvía allí antes de borrarlo")
        elif backup.lower() == str(values.get("username", "")).lower():
            problems.add(path + ("correo_respaldo",), "debe ser otro buzón, no el mismo buzón de recepción")
    if "password_expiry" in values and "notify_email" not in values:
        problems.add(path + ("correo_notificacion",), "es obligatorio cuando se indica fecha_expiracion: allí llega la alerta")
    if values.get("security") == "ninguna" and not values.get("allow_plaintext"):
        problems.add(path + ("seguridad",), "«ninguna» envía la contraseña sin cifrar; exige permitir_sin_cifrado = true")
    if values.get("auth_type") == "oauth2" and str(values.get("secret_ref", "")).startswith("env:"):
        problems.add(path + ("secreto",), "con oauth2 el token se renueva y debe guardarse: use «keyring» o «archivo:/ruta»")
    processed, failed = values.get("processed_folder"), values.get("failed_folder")
    if processed and failed and processed.lower() == failed.lower():
        problems.add(path + ("carpeta_fallidos",), "debe ser distinta de carpeta_procesados")


def _check_secret_ref(problems: _Collector, path: KeyPath, reference: str | None, *, token: bool = False) -> None:
    """`validar` only: the secret named by `reference` can be found from this environment.

    The keyring is not probed here (it may hang or prompt); `probar` tests it for real.
    """
    if reference is None:
        return
    ref = parse_secret_ref(reference)  # already validated by the field's converter
    if ref.kind == "env":
        if not os.environ.get(ref.target):
            problems.add(path, (
                f"la variable de entorno {ref.target} no está definida (o está vacía) en el entorno donde se "
                "ejecuta validar; el servicio puede tener otro entorno (p. ej. EnvironmentFile= en systemd): "
                "defínala allí y ejecute validar con ese mismo entorno"
            ))
    elif ref.kind == "archivo":
        try:
            FileStore(ref).read()
        except SecretMissing as missing:
            hint = "; se crea al autorizar la cuenta (tui-recepcion autorizar)" if token else ""
            problems.add(path, _sentence_part(str(missing)) + hint)
        except SecretError as error:
            problems.add(path, _sentence_part(str(error)))


def _sentence_part(message: str) -> str:
    """A whole Spanish sentence turned into the tail of «archivo:línea: clave: …»."""
    message = message.rstrip(".")
    return message[:1].lower() + message[1:]


def _mailbox_of(account: Account) -> tuple[str, str]:
    return account.host.rstrip(".").casefold(), account.username.casefold()


def duplicate_mailbox_problems(accounts: Mapping[str, Account]) -> list[tuple[KeyPath, str]]:
    """Two accounts on the same server and user would process the same mail at the same time."""
    found: list[tuple[KeyPath, str]] = []
    first_by_mailbox: dict[tuple[str, str], Account] = {}
    for account in accounts.values():
        first = first_by_mailbox.setdefault(_mailbox_of(account), account)
        if first is not account:
            found.append((("cuentas", account.id, "usuario"), (
                f"las cuentas «{first.id}» y «{account.id}» usan el mismo buzón ({_quote(account.username)} en "
                f"{_quote(account.host)}): lo procesarían a la vez y cada documento se guardaría dos veces; "
                "deje una sola cuenta por buzón"
            )))
    return found


_TOML_MESSAGES: tuple[tuple[str, str], ...] = (
    ("Cannot overwrite a value", "no se puede volver a definir un valor ya definido"),
    ("Cannot mutate immutable namespace", "no se puede modificar una tabla ya cerrada"),
    ("Cannot redefine namespace", "no se puede volver a definir una tabla"),
    ("Cannot declare", "una tabla está declarada dos veces"),
    ("Duplicate inline table key", "clave repetida en una tabla en línea"),
    ("Unescaped '\\' in a string", "barra invertida «\\» sin escapar en un texto (use «\\\\» o comillas simples)"),
    ("Illegal character", "carácter no permitido"),
    ("Found invalid character", "carácter no permitido"),
    ("Unterminated string", "un texto no tiene comillas de cierre"),
    ("Unclosed inline table", "una tabla en línea no tiene «}» de cierre"),
    ("Unclosed array", "una lista no tiene «]» de cierre"),
    ("Invalid value", "valor inválido (¿faltan las comillas de un texto?)"),
    ("Invalid statement", "línea no reconocida (se espera «clave = valor» o «[tabla]»)"),
    ("Invalid initial character for a key part", "una clave empieza con un carácter no permitido"),
    ("Invalid hex value", "escape \\u o \\U inválido"),
    ("Invalid date or datetime", "fecha u hora inválida"),
    ("Expected ']]' at the end of an array declaration", "falta «]]» al final del encabezado"),
    ("Expected ']' at the end of a table declaration", "falta «]» al final del encabezado de la tabla"),
    ("Expected '=' after a key in a key/value pair", "falta «=» después de la clave"),
    ("Escaped character is not a Unicode scalar value", "el carácter escapado no es un carácter Unicode válido"),
    ("Expected newline or end of document after a statement", "sobra texto después del valor"),
    ("Expected", "falta un carácter esperado"),
)
_TOML_POSITION = re.compile(r"\(at (?:line (\d+), column (\d+)|end of document)\)")


def _syntax_problem(text: str, path: Path | None, error: Exception) -> Problem:
    """A TOML syntax error (English, from tomllib) as a located Spanish problem."""
    detail = str(error)
    where = _TOML_POSITION.search(detail)
    line = int(where[1]) if where and where[1] else (text.count("\n") + 1 if where else None)
    spanish = next((es for en, es in _TOML_MESSAGES if detail.startswith(en)), "error de sintaxis")
    illegal = re.match(r"(?:Illegal|Found invalid) character (.+?) \(at", detail)
    if illegal:
        spanish += f" {printable(illegal[1])}"
    position = f" (columna {where[2]})" if where and where[2] else " (al final del archivo)" if where else ""
    return Problem(path, "(sintaxis)", line, f"TOML inválido: {spanish}{position}")


def _deep_nesting_line(text: str, limit: int = 100) -> int | None:
    """The line where brackets first nest deeper than `limit` (a rough count, for the hint)."""
    depth = 0
    line = 1
    for char in text:
        if char == "\n":
            line += 1
        elif char in "[{":
            depth += 1
            if depth > limit:
                return line
        elif char in "]}":
            depth = max(depth - 1, 0)
    return None


def _long_number_line(text: str) -> int | None:
    match = re.search(r"[0-9_]{4000,}", text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _load_toml(text: str, path: Path | None) -> tuple[dict[str, Any] | None, Problem | None]:
    try:
        return tomllib.loads(text), None
    except tomllib.TOMLDecodeError as error:
        return None, _syntax_problem(text, path, error)
    except RecursionError:  # tomllib recurses once per level of nested arrays and inline tables
        return None, Problem(path, "(sintaxis)", _deep_nesting_line(text), "TOML inválido: listas o tablas anidadas a demasiada profundidad")
    except ValueError:  # an integer longer than Python converts (sys.int_info.str_digits_check_threshold)
        return None, Problem(path, "(sintaxis)", _long_number_line(text), "TOML inválido: un número tiene demasiadas cifras")


def parse_config(
    text: str, path: Path | None = None, *, require_accounts: bool = True, check_environment: bool = False
) -> tuple[Config | None, list[Problem]]:
    """Parse and validate config text; returns the config (when valid) and every problem.

    Never raises: any input, however hostile, ends in a config or in located problems.
    `check_environment` (for `validar`) also checks that each `env:` variable is set and each
    `archivo:` secret is a private regular file this user can read.
    """
    try:
        return _parse_config(text, path, require_accounts=require_accounts, check_environment=check_environment)
    except Exception as error:  # a bug here must not become a traceback for the technician
        return None, [Problem(path, "(interno)", None, (
            f"error interno al revisar la configuración ({type(error).__name__}); "
            "informe este problema a quien mantiene tui-recepcion"
        ))]


def _parse_config(
    text: str, path: Path | None, *, require_accounts: bool, check_environment: bool
) -> tuple[Config | None, list[Problem]]:
    if len(text) > MAX_CONFIG_BYTES:
        return None, [Problem(path, "(archivo)", None, f"es demasiado grande para ser una configuración (más de {MAX_CONFIG_BYTES} caracteres)")]
    if "\0" in text:  # tomllib would only say "Expected newline"; the NUL is what to remove
        line = text.count("\n", 0, text.index("\0")) + 1
        return None, [Problem(path, "(sintaxis)", line, "el archivo contiene un carácter nulo (NUL), que TOML no admite; bórrelo")]
    data, syntax = _load_toml(text, path)
    if data is None:
        return None, [syntax] if syntax else []
    problems = _Collector(check_environment=check_environment)
    for key in data:
        if key not in ("general", "cuentas"):
            problems.add((key,), "sección desconocida (se esperan [general] y [cuentas.NOMBRE])")
    general = problems.read_table(data.get("general", {}), ("general",), GENERAL_FIELDS)
    accounts_raw = data.get("cuentas", {})
    if not isinstance(accounts_raw, dict):
        problems.add(("cuentas",), "debe contener tablas [cuentas.NOMBRE]")
        accounts_raw = {}
    if require_accounts and not accounts_raw:
        problems.add(("cuentas",), "no hay ninguna cuenta configurada ([cuentas.NOMBRE])")
    accounts = {account_id: _read_account(problems, account_id, raw) for account_id, raw in accounts_raw.items()}
    for found in duplicate_mailbox_problems({key: value for key, value in accounts.items() if value is not None}):
        problems.add(*found)
    if problems.found:
        lines = key_lines(text)
        located = [Problem(path, key_name(key), line_of(lines, key), message) for key, message in problems.found]
        return None, sorted(located, key=lambda problem: problem.line or 0)
    valid_accounts = {account_id: account for account_id, account in accounts.items() if account is not None}
    return Config(path=path, general=General(**(general or {})), accounts=valid_accounts), []


def read_config_text(path: Path) -> str:
    """The text of config.toml; ConfigError (Spanish) for a missing, special, huge or binary file."""
    try:
        data, _ = read_regular_file(path, MAX_CONFIG_BYTES)
    except FileRefused as refused:
        if refused.missing:
            raise ConfigError(
                f"No existe el archivo de configuración {printable(str(path))}. Créelo con el formulario "
                "(tui-recepcion) o a partir de config.toml.example."
            ) from None
        raise ConfigError(f"El archivo de configuración {printable(str(path))} {refused.reason}.") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            f"{printable(str(path))}:{line}: el archivo de configuración no está en UTF-8 (byte {error.start + 1})."
        ) from None


def validate_config(path: Path) -> list[Problem]:
    """Every problem of the file at `path`, including secrets this environment cannot reach.

    Raises ConfigError when the file cannot be read at all.
    """
    return parse_config(read_config_text(path), path, check_environment=True)[1]


def load_config(path: Path) -> Config:
    """The valid configuration at `path`, or ConfigProblems listing every problem."""
    config, problems = parse_config(read_config_text(path), path)
    if problems or config is None:
        raise ConfigProblems(problems)
    return config


def load_config_or_empty(path: Path) -> Config:
    """Like load_config, but a missing file or one without accounts is fine (the form's first run)."""
    if not path.exists():
        return Config(path=path)
    config, problems = parse_config(read_config_text(path), path, require_accounts=False)
    if problems or config is None:
        raise ConfigProblems(problems)
    return config


# --- Writing ---------------------------------------------------------------------------------


def _to_toml(specs: tuple[FieldSpec, ...], obj: Any) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for spec in specs:
        value = getattr(obj, spec.attr)
        if value is not None:
            table[spec.key] = str(value) if isinstance(value, Path) else value
    return table


def account_to_toml(account: Account) -> dict[str, Any]:
    table = _to_toml(ACCOUNT_FIELDS, account)
    if account.smtp is not None:
        table["smtp"] = _to_toml(SMTP_FIELDS, account.smtp)
    if account.oauth is not None:
        table["oauth2"] = _to_toml(OAUTH_FIELDS, account.oauth)
    return table


def config_to_toml(config: Config) -> dict[str, Any]:
    document: dict[str, Any] = {}
    general = _to_toml(GENERAL_FIELDS, config.general)
    if general:
        document["general"] = general
    document["cuentas"] = {account_id: account_to_toml(account) for account_id, account in config.accounts.items()}
    return document


def write_config(config: Config, path: Path) -> None:
    """Write atomically with mode 0600: a crash leaves the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = tomli_w.dumps(config_to_toml(config)).encode("utf-8")
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_account(path: Path, account: Account) -> Config:
    """Add or replace one account in the file at `path`, keeping the others and [general]."""
    config = load_config_or_empty(path)
    accounts = dict(config.accounts)
    accounts[account.id] = account
    duplicates = duplicate_mailbox_problems(accounts)
    if duplicates:
        raise ConfigProblems([Problem(path, key_name(key), None, message) for key, message in duplicates])
    updated = replace(config, path=path, accounts=accounts)
    write_config(updated, path)
    return updated
