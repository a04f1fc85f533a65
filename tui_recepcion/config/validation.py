"""Rules that relate several values of an account, or an account to its neighbours and to the
environment it runs in. Each rule returns the problems it finds, located by key path.

A single value is checked by its converter in `fields.py`; these rules run once every value
of the table has been converted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from tui_recepcion.config.model import Account
from tui_recepcion.config.nit import check_digit, wrong_digit_message
from tui_recepcion.config.problems import KeyProblem, quote_value
from tui_recepcion.config.toml_lines import KeyPath
from tui_recepcion.errors import SecretError, SecretMissing
from tui_recepcion.secrets import FileStore, parse_secret_ref


def account_rule_problems(path: KeyPath, values: Mapping[str, Any]) -> list[KeyProblem]:
    """Rules between the converted fields (`values`, by attribute) of the account at `path`."""
    found: list[KeyProblem] = []
    if values.get("protocol") == "pop3":
        backup = values.get("backup_email")
        if backup is None:
            found.append((path + ("correo_respaldo",), "con POP3 es obligatorio: cada correo se reenvía allí antes de borrarlo"))
        elif backup.lower() == str(values.get("username", "")).lower():
            found.append((path + ("correo_respaldo",), "debe ser otro buzón, no el mismo buzón de recepción"))
    if "password_expiry" in values and "notify_email" not in values:
        found.append((path + ("correo_notificacion",), "es obligatorio cuando se indica fecha_expiracion: allí llega la alerta"))
    if values.get("security") == "ninguna" and not values.get("allow_plaintext"):
        found.append((path + ("seguridad",), "«ninguna» envía la contraseña sin cifrar; exige permitir_sin_cifrado = true"))
    if values.get("auth_type") == "oauth2" and str(values.get("secret_ref", "")).startswith("env:"):
        found.append((path + ("secreto",), "con oauth2 el token se renueva y debe guardarse: use «keyring» o «archivo:/ruta»"))
    found.extend(_check_digit_problems(path, values))
    processed, failed = values.get("processed_folder"), values.get("failed_folder")
    if processed and failed and processed.lower() == failed.lower():
        found.append((path + ("carpeta_fallidos",), "debe ser distinta de carpeta_procesados"))
    return found


def _check_digit_problems(path: KeyPath, values: Mapping[str, Any]) -> list[KeyProblem]:
    nit, dv = values.get("receiver_nit"), values.get("receiver_check_digit")
    if dv is None:
        return []
    if nit is None:
        return [(path + ("dv_receptor",), "sobra sin nit_receptor: indique también el NIT")]
    if dv != check_digit(nit):
        return [(path + ("dv_receptor",), wrong_digit_message(nit, dv))]
    return []


SMTP_ROUTE_MISSING = (
    "con POP3 hace falta un servidor SMTP para reenviar cada correo al correo de respaldo: complete la "
    "sección SMTP (servidor, puerto y seguridad) o elija un proveedor que la traiga"
)


def smtp_route_problem(account: Account, provider_smtp: bool) -> str | None:
    """A POP3 account forwards every message by SMTP: without its own [smtp] table and without
    a provider that brings one (`provider_smtp`), it could log in but never finish a message."""
    if account.protocol == "pop3" and account.smtp is None and not provider_smtp:
        return SMTP_ROUTE_MISSING
    return None


def smtp_rule_problems(path: KeyPath, smtp: Mapping[str, Any], account: Mapping[str, Any]) -> list[KeyProblem]:
    """Rules between the [smtp] table at `path` and its account's converted fields."""
    if smtp.get("security") == "ninguna" and not account.get("allow_plaintext"):
        return [(path + ("seguridad",), "«ninguna» exige permitir_sin_cifrado = true en la cuenta")]
    return []


def secret_ref_problems(path: KeyPath, reference: str | None, *, token: bool = False) -> list[KeyProblem]:
    """`validar` only: the secret named by `reference` can be found from this environment.

    The keyring is not probed here (it may hang or prompt); `probar` tests it for real.
    """
    if reference is None:
        return []
    ref = parse_secret_ref(reference)  # already validated by the field's converter
    if ref.kind == "env":
        if not os.environ.get(ref.target):
            return [(path, (
                f"la variable de entorno {ref.target} no está definida (o está vacía) en el entorno donde se "
                "ejecuta validar; el servicio puede tener otro entorno (p. ej. EnvironmentFile= en systemd): "
                "defínala allí y ejecute validar con ese mismo entorno"
            ))]
    elif ref.kind == "archivo":
        try:
            FileStore(ref).read()
        except SecretMissing as missing:
            hint = "; se crea al autorizar la cuenta (tui-recepcion autorizar)" if token else ""
            return [(path, _sentence_part(str(missing)) + hint)]
        except SecretError as error:
            return [(path, _sentence_part(str(error)))]
    return []


def _sentence_part(message: str) -> str:
    """A whole Spanish sentence turned into the tail of «archivo:línea: clave: …»."""
    message = message.rstrip(".")
    return message[:1].lower() + message[1:]


def _mailbox_of(account: Account) -> tuple[str, str]:
    return account.host.rstrip(".").casefold(), account.username.casefold()


def duplicate_mailbox_problems(accounts: Mapping[str, Account]) -> list[KeyProblem]:
    """Two accounts on the same server and user would process the same mail at the same time."""
    found: list[KeyProblem] = []
    first_by_mailbox: dict[tuple[str, str], Account] = {}
    for account in accounts.values():
        first = first_by_mailbox.setdefault(_mailbox_of(account), account)
        if first is not account:
            found.append((("cuentas", account.id, "usuario"), (
                f"las cuentas «{first.id}» y «{account.id}» usan el mismo buzón ({quote_value(account.username)} en "
                f"{quote_value(account.host)}): lo procesarían a la vez y cada documento se guardaría dos veces; "
                "deje una sola cuenta por buzón"
            )))
    return found
