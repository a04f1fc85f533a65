"""The reception form's rules, kept apart from its widgets so they are plain to test.

The form never validates on its own: it builds the same raw `[cuentas.ID]` table a
technician would write in config.toml (with its `[cuentas.ID.oauth2]` subtable) and hands
it to `config.parse_account`, so the form and `tui-recepcion validar` can never disagree.
Only what config.toml cannot hold is checked here: the password pair, and the OAuth2 keys
that the chosen provider's flow cannot do without.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tui_recepcion.config import (
    OAUTH_FIELDS,
    Account,
    NitError,
    ParsedNit,
    account_to_toml,
    format_date,
    format_nit,
    parse_nit,
)
from tui_recepcion.config.toml_lines import KeyPath
from tui_recepcion.oauth.installed_app import InstalledAppFlow
from tui_recepcion.providers import ProviderRegistry, standard_port
from tui_recepcion.vocabulary import BASIC, OAUTH2, POP3, SSL, Security, is_security, is_server_protocol

# The field that shows problems no single form field owns (hand-written [smtp] tables…).
GENERAL = "_general"
# Form-only fields: the account name and the password pair (config.toml stores `secreto`).
ACCOUNT_NAME = "cuenta"
PASSWORD = "contrasena"
CONFIRMATION = "confirmacion"

# Config keys the form edits directly; every other key of an edited account is kept as is.
FORM_KEYS: tuple[str, ...] = (
    "proveedor",
    "tipo_servidor",
    "protocolo",
    "servidor",
    "puerto",
    "seguridad",
    "permitir_sin_cifrado",
    "usuario",
    "nit_receptor",
    "dv_receptor",
    "fecha_expiracion",
    "correo_notificacion",
    "correo_respaldo",
    "certificados_ca",
    "carpeta_procesados",
    "carpeta_fallidos",
)
# The `[cuentas.ID.smtp]` keys the form's «Avanzado» section edits (row key: `smtp_field`);
# `secreto` is written only when an SMTP password is typed, `autenticar` only by hand.
SMTP_KEYS: tuple[str, ...] = ("servidor", "puerto", "seguridad", "usuario")
SMTP_PASSWORD = "smtp-contrasena"
# Where a problem with a config key is shown, when it is not the key's own field.
SHOWN_UNDER: Mapping[str, str] = {"secreto": PASSWORD}
# The `[cuentas.ID.oauth2]` keys, and those the form insists on when their row is shown:
# without an application id no flow can start, and Google's needs its client secret's store.
OAUTH_KEYS: tuple[str, ...] = tuple(spec.key for spec in OAUTH_FIELDS)
OAUTH_REQUIRED: frozenset[str] = frozenset({"client_id", "secreto_cliente"})


def smtp_field(key: str) -> str:
    """The form field (row key) of an `[cuentas.ID.smtp]` key."""
    return f"smtp-{key}"


def oauth_field(key: str) -> str:
    """The form field (row key) of an `[cuentas.ID.oauth2]` key."""
    return f"oauth2-{key}"


@dataclass(frozen=True, slots=True)
class FormValues:
    """What the technician typed or chose, as text, before any conversion."""

    account_id: str
    provider: str
    auth_type: str
    protocol: str
    host: str = ""
    port: str = ""
    security: str = SSL
    allow_plaintext: bool = False
    username: str = ""
    receiver_nit: str = ""
    expiry: str = ""
    notify_email: str = ""
    backup_email: str = ""
    password: str = ""
    confirmation: str = ""
    # The [oauth2] keys whose rows are shown (see `oauth_keys`), with what was typed in them.
    oauth: Mapping[str, str] = field(default_factory=dict)
    # «Avanzado»: the CA bundle, the IMAP folders and the [smtp] table (by SMTP_KEYS).
    ca_file: str = ""
    processed_folder: str = ""
    failed_folder: str = ""
    smtp: Mapping[str, str] = field(default_factory=dict)
    smtp_password: str = ""


def account_values(account: Account) -> FormValues:
    """What the form shows for `account`: each field as text, as the technician reads it."""
    table = account_to_toml(account)
    smtp, oauth = table.get("smtp", {}), table.get("oauth2", {})
    return FormValues(
        account_id=account.id,
        provider=account.provider,
        auth_type=account.auth_type,
        protocol=account.protocol,
        host=account.host,
        port=str(account.port),
        security=account.security,
        allow_plaintext=account.allow_plaintext,
        username=account.username,
        receiver_nit=format_nit(account.receiver_nit, account.receiver_check_digit) if account.receiver_nit else "",
        expiry=format_date(account.password_expiry) if account.password_expiry else "",
        notify_email=account.notify_email or "",
        backup_email=account.backup_email or "",
        oauth={key: str(oauth[key]) for key in OAUTH_KEYS if key in oauth},
        ca_file=str(account.ca_file or ""),
        processed_folder=account.processed_folder,
        failed_folder=account.failed_folder,
        smtp={key: str(smtp[key]) for key in SMTP_KEYS if key in smtp},
    )


def build_raw(values: FormValues, base: Mapping[str, Any], secret_ref: str,
              smtp_secret_ref: str | None = None) -> dict[str, Any]:
    """The `[cuentas.ID]` table for `values`, on top of the edited account's other keys.

    `smtp_secret_ref` is where a typed SMTP password goes (None: the [smtp] table keeps the
    `secreto` it had, or uses the account's own).
    """
    raw = {key: value for key, value in base.items() if key not in FORM_KEYS}
    texts = {
        "proveedor": values.provider,
        "tipo_servidor": values.auth_type,
        "protocolo": values.protocol,
        "servidor": values.host,
        "seguridad": values.security,
        "usuario": values.username,
        "fecha_expiracion": values.expiry,
        "correo_notificacion": values.notify_email,
        # A hidden row keeps what the file says: only what the technician edits changes.
        "correo_respaldo": values.backup_email if values.protocol == POP3 else base.get("correo_respaldo", ""),
        "certificados_ca": values.ca_file,
        # POP3 has no folders: whatever the file says stays (the rows are hidden).
        "carpeta_procesados": values.processed_folder if values.protocol != POP3 else base.get("carpeta_procesados", ""),
        "carpeta_fallidos": values.failed_folder if values.protocol != POP3 else base.get("carpeta_fallidos", ""),
    }
    for key, text in texts.items():
        if text.strip():
            raw[key] = text.strip()
    nit = _parsed_nit(values.receiver_nit)
    if nit is not None:  # as the RUT writes it: the NIT and its check digit are stored apart
        raw["nit_receptor"] = nit.nit
        if nit.dv is not None:
            raw["dv_receptor"] = nit.dv
    port = values.port.strip()
    if port:
        # Digits become the integer TOML would hold; anything else gets parse_account's message.
        raw["puerto"] = int(port) if port.isdigit() else port
    if values.allow_plaintext:
        raw["permitir_sin_cifrado"] = True
    raw["secreto"] = secret_ref
    smtp = _smtp_table(values, base.get("smtp"), smtp_secret_ref)
    raw.pop("smtp", None)
    if smtp:
        raw["smtp"] = smtp
    if values.auth_type == OAUTH2:
        # Exactly what the rows show: a key of a hidden row (another provider's) is not written.
        oauth = {key: text.strip() for key, text in values.oauth.items() if text.strip()}
        raw.pop("oauth2", None)
        if oauth:
            raw["oauth2"] = oauth
    return raw


def _smtp_table(values: FormValues, base: object, secret_ref: str | None) -> dict[str, Any]:
    """The `[smtp]` table: the typed keys over the file's others; empty when no server is named."""
    kept = {key: value for key, value in base.items() if key not in SMTP_KEYS} if isinstance(base, Mapping) else {}
    typed = {key: text.strip() for key, text in values.smtp.items() if text.strip()}
    if not typed.get("servidor") and not (set(typed) - {"seguridad"}):
        return {}  # no SMTP section: the provider's defaults (or the SMTP route rule) apply
    table: dict[str, Any] = {**kept, **typed}
    port = typed.get("puerto", "")
    if port.isdigit():
        table["puerto"] = int(port)
    if secret_ref is not None:
        table["secreto"] = secret_ref
    return table


def _parsed_nit(text: str) -> ParsedNit | None:
    try:
        return parse_nit(text) if text.strip() else None
    except NitError:
        return None  # nit_problems says why


def nit_problems(values: FormValues) -> dict[str, str]:
    """A NIT that is not one, or whose check digit is wrong (which digit was expected)."""
    if not values.receiver_nit.strip():
        return {}
    try:
        parse_nit(values.receiver_nit)
    except NitError as error:
        return {"nit_receptor": str(error)}
    return {}


def suggest_account_name(existing: Iterable[str]) -> str:
    """An example name for a new account that no existing account has («principal» first)."""
    taken = set(existing)
    candidates = itertools.chain(("principal",), (f"cuenta{number}" for number in itertools.count(2)))
    return next(name for name in candidates if name not in taken)


def password_problems(values: FormValues, *, password_stored: bool) -> dict[str, str]:
    """The password pair's own rules (config.toml never sees the password)."""
    if values.auth_type != BASIC:
        return {}
    problems: dict[str, str] = {}
    if not values.password and not password_stored:
        problems[PASSWORD] = "falta este campo obligatorio"
    if values.password != values.confirmation:
        problems[CONFIRMATION] = "Las contraseñas no coinciden"
    return problems


def oauth_problems(values: FormValues) -> dict[str, str]:
    """The OAuth2 rows that are shown, required and empty."""
    if values.auth_type != OAUTH2:
        return {}
    return {oauth_field(key): "falta este campo obligatorio"
            for key, text in values.oauth.items() if key in OAUTH_REQUIRED and not text.strip()}


def oauth_keys(registry: ProviderRegistry, provider_id: str) -> tuple[str, ...]:
    """The `[oauth2]` keys the provider's flow uses, in form order.

    An installed-app flow (Google) signs in with a client secret and a fixed endpoint; the
    others (Microsoft's device code) choose an authority instead.
    """
    flow = registry.oauth_flow(provider_id) if provider_id in registry.providers else None
    skipped = "autoridad" if isinstance(flow, InstalledAppFlow) else "secreto_cliente"
    return tuple(key for key in OAUTH_KEYS if key != skipped)


def field_problems(problems: Iterable[tuple[KeyPath, str]]) -> dict[str, str]:
    """parse_account's problems keyed by the form field that shows them."""
    by_field: dict[str, list[str]] = {}
    for path, message in problems:
        if len(path) == 2:
            shown_in = ACCOUNT_NAME
        elif len(path) == 3 and path[2] in (*FORM_KEYS, *SHOWN_UNDER):
            shown_in = SHOWN_UNDER.get(path[2], path[2])
        elif len(path) == 4 and path[2] == "oauth2" and path[3] in OAUTH_KEYS:
            shown_in = oauth_field(path[3])
        elif len(path) >= 3 and path[2] == "smtp" and (len(path) == 3 or path[3] in SMTP_KEYS):
            shown_in = smtp_field(path[3] if len(path) == 4 else "servidor")
        elif len(path) == 4 and path[2] == "smtp" and path[3] == "secreto":
            shown_in = SMTP_PASSWORD
        else:  # a hand-written key the form does not show: name it so it can be fixed
            shown_in, message = GENERAL, f"{'.'.join(path[2:])}: {message}"
        by_field.setdefault(shown_in, []).append(message)
    return {key: "; ".join(messages) for key, messages in by_field.items()}


@dataclass(frozen=True, slots=True)
class ServerSuggestion:
    host: str | None  # None: the provider has no server for this protocol; keep what is typed
    port: int
    security: Security


def suggest_server(registry: ProviderRegistry, provider_id: str, protocol: str, security: str | None) -> ServerSuggestion:
    """Servidor, Puerto and Seguridad for a provider and protocol.

    With `security` None (a provider was just chosen) the provider's own security wins;
    otherwise the technician's security is kept and only host and port follow it.
    """
    if not is_server_protocol(protocol):
        raise ValueError(f"unknown protocol {protocol!r}")  # the form offers only known ones
    primary = registry.defaults(provider_id, protocol) if provider_id in registry.providers else None
    wanted: Security = security if is_security(security) else (primary.security if primary else SSL)
    exact = registry.defaults(provider_id, protocol, wanted) if primary else None
    if exact is not None:
        return ServerSuggestion(exact.host, exact.port, exact.security)
    return ServerSuggestion(primary.host if primary else None, standard_port(protocol, wanted), wanted)
