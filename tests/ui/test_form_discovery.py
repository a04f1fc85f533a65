"""A generic-provider address: the form looks its servers up when Usuario is left.

The lookup itself (SRV ordering, probes against loopback TLS servers) is tested in
tests/providers; here the form's use of its answer is, with the answer given directly.
"""

from __future__ import annotations

from pathlib import Path

from tests.ui.support import SIZE, type_into, wait_until, write_config
from tui_recepcion.providers import ServerDefaults
from tui_recepcion.providers.discovery import DiscoveredServer, Discovery
from tui_recepcion.ui.app import create_app

ADDRESS = "recepcion@empresa-propia.co"


def found(email: str) -> Discovery:
    server = DiscoveredServer(protocol="imap", server=ServerDefaults("mail.empresa-propia.co", 143, "starttls"),
                              source="srv", detail="registro SRV _imap._tcp", verified=True)
    return Discovery(email=email, domain="empresa-propia.co", provider_id="generic", servers=(server,))


def value(app, key: str) -> str:
    return str(app.screen.query_one(f"#f-{key}").value)


def status(app) -> str:
    return str(app.screen.query_one("#form-status").render())


async def test_leaving_usuario_fills_the_servers_found_for_the_domain(tmp_path: Path) -> None:
    asked: list[str] = []
    app = create_app(write_config(tmp_path))
    app.services.discover = lambda email: asked.append(email) or found(email)
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, "#f-usuario", ADDRESS)
        await pilot.press("tab")
        await wait_until(pilot, lambda: value(app, "servidor") == "mail.empresa-propia.co", what="sugerir el servidor")
        assert (value(app, "puerto"), value(app, "seguridad")) == ("143", "starttls")
        assert "registro SRV _imap._tcp; confirmado" in status(app)
    assert asked == [ADDRESS]


async def test_a_server_the_technician_typed_is_kept(tmp_path: Path) -> None:
    asked: list[str] = []
    app = create_app(write_config(tmp_path))
    app.services.discover = lambda email: asked.append(email) or found(email)
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, "#f-servidor", "correo.interno.co")
        await type_into(pilot, "#f-usuario", ADDRESS)
        await pilot.press("tab")
        await pilot.pause()
        assert value(app, "servidor") == "correo.interno.co"
    assert asked == []


async def test_nothing_found_asks_for_the_server(tmp_path: Path) -> None:
    app = create_app(write_config(tmp_path))
    app.services.discover = lambda email: Discovery(email, "empresa-propia.co", "generic", ())
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, "#f-usuario", ADDRESS)
        await pilot.press("tab")
        await wait_until(pilot, lambda: "No se encontraron servidores" in status(app), what="avisar")
        assert value(app, "servidor") == ""
