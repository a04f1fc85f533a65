"""Reading config.toml: its text into a `Config`, or every problem, each naming file, key and line.

Any input, however hostile (huge, binary, a NUL, deep nesting, endless digits, control
characters), ends in a config or in located Spanish problems, never in a traceback.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tui_recepcion.config.fields import (
    ACCOUNT_FIELDS,
    EMPRESA_FIELDS,
    GENERAL_FIELDS,
    OAUTH_FIELDS,
    SMTP_FIELDS,
    FieldSpec,
    is_valid_account_id,
)
from tui_recepcion.config.model import Account, Company, Config, General, OAuthSettings, SmtpSettings
from tui_recepcion.config.problems import ConfigProblems, KeyProblem, Problem, key_name, printable
from tui_recepcion.config.toml_lines import KeyPath, key_lines, line_of
from tui_recepcion.config.validation import (
    account_rule_problems,
    duplicate_mailbox_problems,
    secret_ref_problems,
    smtp_rule_problems,
)
from tui_recepcion.errors import ConfigError
from tui_recepcion.secrets import FileRefused, read_regular_file

MAX_CONFIG_BYTES = 1024 * 1024  # a config.toml is a few KiB; anything bigger is not one
UNKNOWN_KEY = "clave desconocida: se conserva en el archivo, pero el programa no la usa (¿está bien escrita?)"
UNKNOWN_SECTION = "sección desconocida: se conserva, pero el programa solo usa [general], [empresa] y [cuentas.NOMBRE]"


class _Collector:
    """Gathers problems with their key paths; lines are attached once the text is known."""

    def __init__(self, *, check_environment: bool = False, allow_unknown: bool = False) -> None:
        self.found: list[KeyProblem] = []
        self.unknown: list[KeyProblem] = []  # keys the program does not use: kept, and warned about
        self.check_environment = check_environment
        self.allow_unknown = allow_unknown

    def add_unknown(self, path: KeyPath, message: str) -> None:
        (self.unknown if self.allow_unknown else self.found).append((path, message))

    def add(self, path: KeyPath, message: str) -> None:
        self.found.append((path, message))

    def extend(self, found: list[KeyProblem]) -> None:
        self.found.extend(found)

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
                self.add_unknown(path + (key,), UNKNOWN_KEY)
                continue
            try:
                values[spec.attr] = spec.convert(value)
            except ValueError as error:
                self.add(path + (key,), str(error))
        for spec in specs:
            if spec.required and spec.key not in raw:
                self.add(path + (spec.key,), "falta este campo obligatorio")
        return values


def parse_account(account_id: str, raw: Mapping[str, Any]) -> tuple[Account | None, list[KeyProblem]]:
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
    problems.extend(account_rule_problems(path, values))
    smtp: dict[str, Any] | None = None
    oauth: dict[str, Any] | None = None
    if "smtp" in raw:
        smtp = problems.read_table(raw["smtp"], path + ("smtp",), SMTP_FIELDS)
        if smtp:
            problems.extend(smtp_rule_problems(path + ("smtp",), smtp, values))
    if "oauth2" in raw:
        oauth = problems.read_table(raw["oauth2"], path + ("oauth2",), OAUTH_FIELDS)
    if problems.check_environment:
        oauth2 = values.get("auth_type") == "oauth2"
        problems.extend(secret_ref_problems(path + ("secreto",), values.get("secret_ref"), token=oauth2))
        problems.extend(secret_ref_problems(path + ("smtp", "secreto"), (smtp or {}).get("secret_ref")))
        problems.extend(secret_ref_problems(path + ("oauth2", "secreto_cliente"), (oauth or {}).get("client_secret_ref")))
    if len(problems.found) > already_found:
        return None
    if smtp is not None:
        values["smtp"] = SmtpSettings(**smtp)
    if oauth is not None:
        values["oauth"] = OAuthSettings(**oauth)
    return Account(id=account_id, **values)


def _read_company(problems: _Collector, raw: Any) -> Company | None:
    """The [empresa] table (RADIAN events), or None after recording why it is invalid."""
    already_found = len(problems.found)
    values = problems.read_table(raw, ("empresa",), EMPRESA_FIELDS)
    if values is None:
        return None
    if values.get("auto_receipt") and not values.get("auto_acknowledge"):
        problems.add(("empresa", "recibo_automatico"), "exige acuse_automatico = true: el recibo (032) va después del acuse (030)")
    if problems.check_environment:
        problems.extend(secret_ref_problems(("empresa", "clave_certificado"), values.get("certificate_password_ref")))
        problems.extend(secret_ref_problems(("empresa", "pin"), values.get("pin_ref")))
    if len(problems.found) > already_found:
        return None
    return Company(**values)


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
    text: str,
    path: Path | None = None,
    *,
    require_accounts: bool = True,
    check_environment: bool = False,
    allow_unknown: bool = False,
) -> tuple[Config | None, list[Problem]]:
    """Parse and validate config text; returns the config (when valid) and every problem.

    Never raises: any input, however hostile, ends in a config or in located problems.
    `check_environment` (for `validar`) also checks that each `env:` variable is set and each
    `archivo:` secret is a private regular file this user can read. `allow_unknown` (for the
    writer, which keeps them) does not count keys and tables the program does not know.
    """
    try:
        return _parse_config(
            text, path, require_accounts=require_accounts, check_environment=check_environment,
            allow_unknown=allow_unknown,
        )
    except Exception as error:  # a bug here must not become a traceback for the technician
        return None, [Problem(path, "(interno)", None, (
            f"error interno al revisar la configuración ({type(error).__name__}); "
            "informe este problema a quien mantiene tui-recepcion"
        ))]


def load_toml(text: str, path: Path | None) -> tuple[dict[str, Any] | None, Problem | None]:
    """The TOML data of `text`, or the located problem that stops reading it at all.

    The gate every config text passes before anything else reads it (the writer included):
    a huge file, a NUL, nesting that exhausts the stack or a number too long to convert end
    in a problem, never in an exception.
    """
    if len(text) > MAX_CONFIG_BYTES:
        return None, Problem(path, "(archivo)", None, f"es demasiado grande para ser una configuración (más de {MAX_CONFIG_BYTES} caracteres)")
    if "\0" in text:  # tomllib would only say "Expected newline"; the NUL is what to remove
        line = text.count("\n", 0, text.index("\0")) + 1
        return None, Problem(path, "(sintaxis)", line, "el archivo contiene un carácter nulo (NUL), que TOML no admite; bórrelo")
    return _load_toml(text, path)


def _parse_config(
    text: str, path: Path | None, *, require_accounts: bool, check_environment: bool, allow_unknown: bool
) -> tuple[Config | None, list[Problem]]:
    data, syntax = load_toml(text, path)
    if data is None:
        return None, [syntax] if syntax else []
    problems = _Collector(check_environment=check_environment, allow_unknown=allow_unknown)
    for key in data:
        if key not in ("general", "cuentas", "empresa"):
            problems.add_unknown((key,), UNKNOWN_SECTION)
    general = problems.read_table(data.get("general", {}), ("general",), GENERAL_FIELDS)
    accounts_raw = data.get("cuentas", {})
    if not isinstance(accounts_raw, dict):
        problems.add(("cuentas",), "debe contener tablas [cuentas.NOMBRE]")
        accounts_raw = {}
    if require_accounts and not accounts_raw:
        problems.add(("cuentas",), "no hay ninguna cuenta configurada ([cuentas.NOMBRE])")
    accounts = {account_id: _read_account(problems, account_id, raw) for account_id, raw in accounts_raw.items()}
    problems.extend(duplicate_mailbox_problems({key: value for key, value in accounts.items() if value is not None}))
    company = _read_company(problems, data["empresa"]) if "empresa" in data else None
    lines = key_lines(text)
    warnings = [Problem(path, key_name(key), line_of(lines, key), message, warning=True) for key, message in problems.unknown]
    if problems.found:
        located = [Problem(path, key_name(key), line_of(lines, key), message) for key, message in problems.found]
        return None, sorted(located + warnings, key=lambda problem: problem.line or 0)
    valid_accounts = {account_id: account for account_id, account in accounts.items() if account is not None}
    return Config(path=path, general=General(**(general or {})), accounts=valid_accounts, company=company), warnings


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
    return parse_config(read_config_text(path), path, check_environment=True, allow_unknown=True)[1]


def load_config(path: Path) -> Config:
    """The valid configuration at `path`, or ConfigProblems listing every problem."""
    config, problems = parse_config(read_config_text(path), path, allow_unknown=True)
    if config is None:
        raise ConfigProblems(problems)
    return config


def load_config_or_empty(path: Path) -> Config:
    """Like load_config, but a missing file or one without accounts is fine (the form's first run)."""
    if not path.exists():
        return Config(path=path)
    config, problems = parse_config(read_config_text(path), path, require_accounts=False, allow_unknown=True)
    if config is None:
        raise ConfigProblems(problems)
    return config

