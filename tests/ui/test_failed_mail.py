"""Failed mail in the TUI against Dovecot (issue 14, scenarios 3, 4 and 10), at 80×24.

Mensajes reprocesses in bulk (a marked selection, or every failed message of one reason),
the cursor stays on its message through every dialog and refresh, and a reprocessed message
leaves the failed list; the dashboard tells «en Fallidos» now from the history, and says
when a running `procesar` uses an older configuration than the file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from textual.widgets import DataTable

from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.support.engine_support import ACCOUNT, sample_mailbox, wait_for, write_account
from tests.ui.support import SIZE, choose, notifications, wait_until
from tui_recepcion import cli
from tui_recepcion.engine.reload import config_version
from tui_recepcion.events import ConfigApplied
from tui_recepcion.store import Store
from tui_recepcion.ui.app import create_app
from tui_recepcion.ui.dashboard import ConfigBanner, DashboardScreen
from tui_recepcion.ui.dialogs import ConfirmDialog, MessageDialog
from tui_recepcion.ui.messages import REPROCESSED, MessagesScreen, entry_key

REPO = Path(__file__).resolve().parents[2]
WRONG_NIT = "800197268"
DEADLINE = 60.0


def counters(app) -> str:
    return str(app.screen.query_one(".counters").render())


async def test_bulk_reprocess_keeps_the_cursor_and_the_counters_tell_now_from_history(
        tmp_path: Path, clean_dovecot: DovecotServer, tls_certs) -> None:
    mails = sample_mailbox(good=3)
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in mails])
    # Every message fails: the good ones too, addressed to the NIT the account does not have.
    account = write_account(tmp_path, clean_dovecot, tls_certs, extra={"nit_receptor": WRONG_NIT})
    assert cli.main(["--config", str(account.config_path), "procesar", "--una-vez"]) == 0
    total = len(mails)
    app = create_app(account.config_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="abrir el tablero")
        await wait_until(pilot, lambda: f"En Fallidos {total} (historial {total})" in counters(app),
                         what="contar lo que hay en Fallidos")

        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, MessagesScreen) and len(app.screen.entries) == total,
                         what="listar los mensajes")
        screen: MessagesScreen = app.screen
        table = screen.query_one("#ledger", DataTable)
        wrong = [index for index, entry in enumerate(screen.entries) if entry.reason == "receptor_no_coincide"]
        assert len(wrong) >= 3
        while table.cursor_row < wrong[0]:
            await pilot.press("down")
        # Space marks a row and moves down; two marks on two rows of that reason.
        await pilot.press("space")
        while table.cursor_row < wrong[1]:
            await pilot.press("down")
        await pilot.press("space")
        marked = {entry_key(screen.entries[index]) for index in wrong[:2]}
        assert screen.marked == marked
        while table.cursor_row < wrong[2]:
            await pilot.press("down")
        here = entry_key(screen.entries[table.cursor_row])

        await pilot.press("enter")  # the detail, then back: the cursor has not moved
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog), what="abrir el detalle")
        await pilot.press("escape")
        await pilot.press("a")
        await wait_until(pilot, lambda: app.screen is screen, what="cerrar el detalle")
        await pilot.pause()
        assert entry_key(screen.entries[table.cursor_row]) == here

        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="confirmar")
        assert "los 2 correos marcados" in app.screen.question
        await pilot.click("#si")
        await wait_until(pilot, lambda: any("2 correos volvieron" in text for text in notifications(app)),
                         what="reprocesar los marcados")
        await wait_until(pilot, lambda: sum(entry.reprocessed_at is not None for entry in screen.entries) == 2,
                         what="volver a consultar")
        assert entry_key(screen.entries[table.cursor_row]) == here  # still on its message
        assert not screen.marked
        assert all(REPROCESSED in str(table.get_row_at(index)[1]) for index in wrong[:2])

        await pilot.press("m")  # every failed message of this row's reason
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="confirmar el motivo")
        rest = len(wrong) - 2
        assert f"los {rest} correos fallidos con motivo «receptor_no_coincide»" in app.screen.question
        await pilot.click("#si")
        await wait_until(pilot, lambda: any(f"{rest} correos volvieron" in text for text in notifications(app)),
                         what="reprocesar el motivo")
        assert len(clean_dovecot.messages(RECEPCION)) == len(wrong)  # back in INBOX

        await choose(pilot, "#estado", "fallido")  # Fallidos lists what is in Fallidos now
        await wait_until(pilot, lambda: len(screen.entries) == total - len(wrong), what="filtrar los fallidos")
        assert all(entry.reason != "receptor_no_coincide" for entry in screen.entries)

        await pilot.press("f3")
        await wait_until(pilot, lambda: f"En Fallidos {total - len(wrong)} (historial {total})" in counters(app),
                         what="contar otra vez al volver al tablero")


async def test_the_dashboard_says_when_the_running_service_uses_an_older_configuration(
        tmp_path: Path, clean_dovecot: DovecotServer, tls_certs) -> None:
    account = write_account(tmp_path, clean_dovecot, tls_certs)
    path = account.config_path
    service = subprocess.Popen([sys.executable, "-m", "tui_recepcion", "--config", str(path), "procesar"],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    try:
        first = config_version(path.read_text(encoding="utf-8"))
        with Store.open(account.database) as store:
            wait_for(lambda: any(row.account == ACCOUNT and row.payload.get("version") == first
                                 for row in store.latest_events(ConfigApplied.kind)),
                     DEADLINE, service, "que el servicio registre su configuración")
        app = create_app(path)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="abrir el tablero")
            banner = app.screen.query_one(ConfigBanner)
            await pilot.pause()
            assert not banner.display  # the service runs the file as it is
            # A hand edit the service cannot take (it keeps the configuration it runs).
            path.write_text(path.read_text(encoding="utf-8").replace('seguridad = "ssl"', 'seguridad = "tls"'),
                            encoding="utf-8")
            await wait_until(pilot, lambda: banner.display, timeout=DEADLINE, what="avisar de la configuración")
            text = str(banner.render())
            assert f"usa una configuración anterior al archivo para la cuenta «{ACCOUNT}»" in text
    finally:
        service.terminate()
        service.wait(timeout=DEADLINE)
