"""The dashboard follows the fleet (issue 16, point 5): with a PostgreSQL store its «Flota» tab
shows every account, the process (host, PID) that owns it, whether that owner is alive, its
state and last pass, written by the engine's real ownership code; a PostgreSQL that cannot be
reached is said in Spanish while the screen keeps answering."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

from textual.widgets import Static, TabbedContent

from tests.engine.test_ownership import holder
from tests.servers.postgres import PostgresServer
from tests.ui.support import SIZE, wait_until
from tui_recepcion.engine.ownership import PostgresOwnership
from tui_recepcion.store import Store
from tui_recepcion.ui.app import create_app
from tui_recepcion.ui.dashboard import DashboardScreen
from tui_recepcion.ui.dialogs import MessageDialog
from tui_recepcion.ui.fleet import FleetPanel

ACCOUNT = (
    "[cuentas.principal]\n"
    'proveedor = "generic"\ntipo_servidor = "basica"\nprotocolo = "imap"\n'
    'servidor = "127.0.0.1"\npuerto = 1\nseguridad = "ssl"\n'
    'usuario = "facturas@miradorandes.co"\nsecreto = "env:CLAVE_RECEPCION_FLOTA"\n'
)


def postgres_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[general]\nbase_datos = "{url}"\ncarpeta_documentos = "{tmp_path / "documentos"}"\n\n{ACCOUNT}',
                    encoding="utf-8")
    return path


def fleet_text(app) -> str:
    panel = app.screen.query_one(FleetPanel)
    return " ".join(str(static.render()) for static in panel.query(Static) if static.display)


async def test_the_fleet_tab_shows_each_account_its_owner_and_its_state(postgres_url: str, tmp_path: Path) -> None:
    Store.open(postgres_url).close()  # the fleet's tables come with the store's schema
    live, released = PostgresOwnership(postgres_url), PostgresOwnership(postgres_url)
    try:
        assert live.try_acquire("empresa-norte") and released.try_acquire("empresa-oeste")
        live.publish("empresa-norte", "procesando", last_pass=(20, 1, 3))
        released.close()  # gives its accounts up: no owner
        killed = holder(postgres_url, "empresa-sur")  # another process, killed mid-pass
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        app = create_app(postgres_config(tmp_path, postgres_url))
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="abrir el tablero")
            app.screen.query_one(TabbedContent).active = "flota"
            await wait_until(pilot, lambda: "empresa-sur" in fleet_text(app), what="leer la flota")
            text = fleet_text(app)
            assert f"{socket.gethostname()} PID {os.getpid()} (activo)" in text
            assert "empresa-norte · Procesando" in text
            assert "20 procesados, 1 fallidos, 3 pendientes" in text
            assert f"empresa-sur · Procesando · {socket.gethostname()} PID {killed.pid} (terminado)" in text
            assert "empresa-oeste · Liberada · sin dueño · sin pasadas aún" in text
            # Live: a state published later shows up without leaving the screen.
            live.publish("empresa-norte", "error", "la clave fue rechazada")
            await wait_until(pilot, lambda: "empresa-norte · Error · la clave fue rechazada" in fleet_text(app),
                             what="ver el cambio de estado")
    finally:
        live.close()
        released.close()


async def test_a_fleet_that_cannot_be_reached_is_said_in_spanish(
    postgres_server: PostgresServer, postgres_url: str, tmp_path: Path
) -> None:
    Store.open(postgres_url).close()
    app = create_app(postgres_config(tmp_path, postgres_url))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="abrir el tablero")
        app.screen.query_one(TabbedContent).active = "flota"
        await wait_until(pilot, lambda: "Ningún proceso" in fleet_text(app), what="leer la flota vacía")
        postgres_server.pause()
        try:
            await wait_until(pilot, lambda: "No se puede consultar la flota" in fleet_text(app), timeout=30,
                             what="decir que la flota no responde")
            # The screen keeps answering keys while the store is down.
            await pilot.press("f1")
            await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog), what="abrir la ayuda")
            await pilot.press("escape")
        finally:
            postgres_server.resume()
        await wait_until(pilot, lambda: "No se puede consultar" not in fleet_text(app), timeout=30,
                         what="volver a leer la flota")
