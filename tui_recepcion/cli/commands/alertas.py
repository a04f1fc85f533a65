"""`tui-recepcion alertas`: send the alerts due now and show each account's alert state."""

from __future__ import annotations

import argparse
import sys

from tui_recepcion import paths
from tui_recepcion.alerts import Alerts
from tui_recepcion.alerts.messages import status_lines
from tui_recepcion.cli.commands._common import add_database_argument, fail
from tui_recepcion.config import ConfigProblems, load_config, resolve_config_path
from tui_recepcion.dian.deadlines import rules_for
from tui_recepcion.errors import RecepcionError
from tui_recepcion.store import Store


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "alertas",
        help="evalúa y envía ahora las alertas de vencimiento y de acceso",
        description=(
            "Envía las alertas que correspondan hoy (vencimiento de la contraseña, fallas de inicio de sesión), "
            "reintenta de inmediato los envíos fallidos y muestra el estado de las alertas de cada cuenta. "
            "Sale con 1 si algún envío falló."
        ),
    )
    parser.add_argument("--cuenta", metavar="ID", help="solo esta cuenta")
    add_database_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(resolve_config_path(args.config))
        accounts = [config.account(args.cuenta)] if args.cuenta else list(config.accounts.values())
    except ConfigProblems as problems:
        for problem in problems.problems:
            print(problem, file=sys.stderr)
        return fail("la configuración tiene problemas; corríjalos (tui-recepcion validar) y vuelva a intentarlo.")
    except RecepcionError as error:
        return fail(str(error))
    try:
        with Store.open(paths.database_path(config, args.base_datos)) as store:
            alerts = Alerts(store)
            statuses = alerts.evaluate(accounts, retry_now=True)
            if config.general.claims_summary:
                for account in accounts:
                    alerts.claims_summary(account, rules_for(config.general))
    except RecepcionError as error:
        return fail(str(error))
    for account, status in zip(accounts, statuses, strict=True):
        print(f"Cuenta «{account.id}» ({account.username})")
        for line in status_lines(status):
            print(f"  {line}")
    failed = sum(1 for status in statuses for alert in status.pending if alert.failed)
    if failed:
        what = "1 alerta no se pudo enviar" if failed == 1 else f"{failed} alertas no se pudieron enviar"
        print(f"{what}; se reintentará en los próximos ciclos del servicio o al ejecutar de nuevo "
              "«tui-recepcion alertas».", file=sys.stderr)
        return 1
    return 0
