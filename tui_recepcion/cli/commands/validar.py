"""`tui-recepcion validar`: every problem of the configuration file, with key and line.

Besides the file's own rules it applies those that need the providers: the account's provider
must be installed (an error only for OAuth2, which needs it), a POP3 account needs an SMTP
route (its [smtp] table or its provider's), and Outlook / Microsoft 365 refuse Autenticación
Básica (a warning).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tui_recepcion.config import (
    Config,
    Problem,
    check_digit,
    format_nit,
    key_name,
    parse_config,
    printable,
    read_config_text,
    resolve_config_path,
    smtp_route_problem,
    validate_config,
)
from tui_recepcion.config.account_files import locate, read_account_file
from tui_recepcion.config.toml_lines import KeyPath, key_lines, line_of
from tui_recepcion.errors import ConfigError
from tui_recepcion.providers import shared_registry
from tui_recepcion.providers.guardrails import basic_auth_warning
from tui_recepcion.vocabulary import OAUTH2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validar",
        help="valida el archivo de configuración",
        description=(
            "Valida el archivo de configuración y muestra cada problema con su clave y su línea. "
            "También revisa, en el entorno donde se ejecuta, que cada variable env: esté definida y que "
            "cada archivo: de secreto sea un archivo regular, privado (chmod 600) y legible; que una "
            "cuenta POP3 tenga servidor SMTP para reenviar, y advierte si Outlook o Microsoft 365 usan "
            "Autenticación Básica."
        ),
    )
    parser.set_defaults(run=run)


def provider_problems(config: Config, text: str, path: Path) -> list[Problem]:
    """The rules that need the providers: the SMTP route (error) and known refusals (warning);
    and a NIT that seems to carry its check digit glued on (warning). `config` holds the
    accounts of cuentas.d too: their problems name their own file and line."""
    registry = shared_registry()
    lines = key_lines(text)
    found: list[Problem] = []

    def add(key: KeyPath, message: str, *, warning: bool = False) -> None:
        origin = None if key[:2] in lines else read_account_file(path, key[1])  # not config.toml's: cuentas.d's
        found.append(locate(key, message, origin, warning=warning) if origin is not None else
                     Problem(path, key_name(key), line_of(lines, key), message, warning=warning))

    for account in config.accounts.values():
        provider = registry.get(account.provider)
        if provider is None:
            needs_it = account.auth_type == OAUTH2
            add(("cuentas", account.id, "proveedor"), (
                f"«{account.provider}» no es un proveedor instalado (instalados: {', '.join(sorted(registry.providers))}); "
                + ("una cuenta OAuth2 lo necesita para obtener su token" if needs_it else
                   "la cuenta usará solo su propio servidor y puerto")), warning=not needs_it)
        route = smtp_route_problem(account, provider_smtp=provider is not None and provider.smtp is not None)
        if route is not None:
            add(("cuentas", account.id, "smtp"), route)
        nit = account.receiver_nit
        if nit and len(nit) == 10 and account.receiver_check_digit is None and check_digit(nit[:-1]) == nit[-1]:
            add(("cuentas", account.id, "nit_receptor"), (
                f"parece incluir el dígito de verificación al final ({format_nit(nit[:-1], nit[-1])}); si es así, "
                f'escriba nit_receptor = "{nit[:-1]}" y dv_receptor = "{nit[-1]}", o cada documento irá a '
                "Fallidos con receptor_no_coincide"), warning=True)
        warning = basic_auth_warning(account.provider, account.host, account.auth_type)
        if warning is not None:
            add(("cuentas", account.id, "tipo_servidor"), warning, warning=True)
    return found


def run(args: argparse.Namespace) -> int:
    path = resolve_config_path(args.config)
    try:
        problems = validate_config(path)
        text = read_config_text(path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    config, _ = parse_config(text, path, allow_unknown=True, account_files=True)
    if config is not None:  # config.toml's problems first, then each account file's, by line
        problems = sorted(problems + provider_problems(config, text, path),
                          key=lambda problem: (problem.file != path, str(problem.file), problem.line or 0))
    shown = printable(str(path))
    for problem in problems:
        print(problem)
    errors = [problem for problem in problems if not problem.warning]
    if not errors:
        warned = f" ({len(problems)} advertencia{'s' if len(problems) != 1 else ''})" if problems else ""
        print(f"{shown}: configuración válida{warned}.")
        return 0
    count = len(errors)
    # Problems may be in account files (cuentas.d/) as well as in config.toml: name where.
    files = sorted({str(problem.file) for problem in errors if problem.file is not None})
    where = printable(files[0]) if len(files) == 1 else f"{len(files)} archivos" if files else shown
    print(f"{count} problema{'s' if count != 1 else ''} en {where}.", file=sys.stderr)
    return 1
