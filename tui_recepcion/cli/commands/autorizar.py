"""`tui-recepcion autorizar`: obtain and store an OAuth2 account's token, from a terminal."""

from __future__ import annotations

import argparse
import getpass
import queue
import sys
import threading
from contextlib import ExitStack
from typing import TextIO

from tui_recepcion.cli.commands._common import fail, open_store
from tui_recepcion.config import load_config, resolve_config_path
from tui_recepcion.errors import RecepcionError
from tui_recepcion.secrets import Secret
from tui_recepcion.store import StoreError

POLL_SECONDS = 0.2


class ConsoleAuthorizationUI:
    """The terminal side of an authorization: prints addresses and codes, reads a pasted URL.

    Ctrl+C cancels (the command reports it); `cancelled()` is therefore always False here.
    """

    def __init__(self, out: TextIO | None = None, source: TextIO | None = None) -> None:
        self._out = out or sys.stdout
        self._source = source or sys.stdin

    def _say(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    def show_device_code(self, url: str, code: str, expires_in: int) -> None:
        minutes = max(1, round(expires_in / 60))
        self._say(
            f"\nPara autorizar la cuenta, abra en cualquier navegador (este equipo, otro o un teléfono):\n\n"
            f"    {url}\n\ne ingrese este código:\n\n    {code}\n\n"
            f"Inicie sesión con la cuenta del buzón de recepción. El código vence en {minutes} minutos.\n"
            "Esperando la autorización… (Ctrl+C cancela)"
        )

    def ask_redirect_url(self, auth_url: str, received: threading.Event) -> str | None:
        self._say(
            f"\nAbra esta dirección en un navegador e inicie sesión con la cuenta del buzón:\n\n    {auth_url}\n\n"
            "Si el navegador está en este equipo, la autorización llega sola.\n"
            "Si está en otro equipo, al final verá una página de http://127.0.0.1:… que no carga:\n"
            "copie la dirección completa de la barra del navegador y péguela aquí (Enter).\n"
            "Esperando… (Ctrl+C cancela)"
        )
        lines: queue.Queue[str] = queue.Queue()

        def read_answer() -> None:  # input() cannot be interrupted when the redirect arrives
            for line in iter(self._source.readline, ""):
                if line.strip():
                    lines.put(line.strip())
                    return

        threading.Thread(target=read_answer, name="oauth-pegar", daemon=True).start()
        while not received.is_set():
            try:
                return lines.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
        return None

    def ask_secret(self, label: str) -> Secret:
        return Secret(getpass.getpass(f"{label} (no se muestra): ", stream=self._out))

    def cancelled(self) -> bool:
        return False


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "autorizar",
        help="OAuth2: obtiene y guarda el token de la cuenta",
        description=(
            "Autoriza una cuenta OAuth2 (Outlook.com, Microsoft 365, Gmail): muestra la dirección y "
            "el código para iniciar sesión, espera y guarda el token donde dice «secreto»."
        ),
    )
    parser.add_argument("--cuenta", metavar="ID", help="la cuenta a autorizar (obligatoria si hay varias)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tui_recepcion.accounts import authorize_account
    from tui_recepcion.oauth import AuthorizationCancelled, report_token_health

    try:
        account = load_config(resolve_config_path(args.config)).account(args.cuenta)
        with ExitStack() as stack:
            try:  # the token health is worth recording, not worth failing the authorization for
                stack.enter_context(report_token_health(stack.enter_context(open_store(args))))
            except StoreError as error:
                print(f"Aviso: no se registrará el estado del token: {error}", file=sys.stderr)
            authorization = authorize_account(account, ConsoleAuthorizationUI())
    except AuthorizationCancelled as error:
        print(error, file=sys.stderr)
        return 1
    except RecepcionError as error:
        return fail(str(error))
    print(f"\nCuenta «{account.id}» autorizada. El token se guardó en {authorization.stored_in}.")
    who = authorization.signed_in_as
    if who and who.lower() != account.username.lower():
        print(
            f"Atención: se inició sesión como {who}, no como el buzón {account.username}. Solo "
            "funcionará si esa cuenta tiene acceso delegado al buzón (buzón compartido); si no, "
            "vuelva a autorizar con la cuenta del buzón.",
            file=sys.stderr,
        )
    print(f"Pruebe la conexión con: tui-recepcion probar --cuenta {account.id}")
    return 0
