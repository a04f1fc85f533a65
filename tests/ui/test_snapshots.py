"""Snapshots of the form (basic and OAuth2), the dashboard and the documents browser at 80×24
and 120×40.

Deterministic: seeded samples, events with fixed times, a fixed clock. Review a changed
snapshot by eye (pytest --snapshot-update, then look at tests/ui/__snapshots__) before
accepting it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import mailbox
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.widgets import Input

from tests.ui.support import wait_until, write_config
from tui_recepcion.alerts import CLAIM_LEASE, EXPIRY_NOTICE
from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory
from tui_recepcion.dian import extract_message
from tui_recepcion.engine.pipeline import Pipeline
from tui_recepcion.events import Event, MessageHandled
from tui_recepcion.mailbox.maildir import MaildirSource
from tui_recepcion.store import Store
from tui_recepcion.ui.app import create_app
from tui_recepcion.ui.dashboard import DashboardScreen
from tui_recepcion.ui.documents import DocumentsScreen
from tui_recepcion.ui.form import FormScreen

SIZES = [(80, 24), (120, 40)]
NOW = datetime(2025, 7, 8, 20, 30, tzinfo=UTC)  # 15:30 in Bogotá
ACCOUNT = (
    "[cuentas.principal]\n"
    'proveedor = "outlook"\ntipo_servidor = "basica"\nprotocolo = "imap"\n'
    'servidor = "outlook.office365.com"\npuerto = 993\nseguridad = "ssl"\n'
    'usuario = "facturas@miradorandes.co"\nsecreto = "env:CLAVE_RECEPCION"\n'
    f'nit_receptor = "{DEFAULT_RECEIVER.nit}"\nfecha_expiracion = 2025-07-11\n'
    'correo_notificacion = "tecnico@miradorandes.co"\n'
)


def sample_events(folder: Path) -> list[Event]:
    """A real pass over seeded sample mail, with its events moved to fixed times."""
    folder.mkdir()
    mailbox.Maildir(folder / "Maildir", create=True)
    # Named by position (not by delivery time, as mailbox.add does) so the order never varies.
    for index, mail in enumerate(SampleFactory(seed=5, pdf_size=1_000).mailbox(good=14, failing_each=1)):
        (folder / "Maildir" / "new" / f"{index:04d}.muestra").write_bytes(mail.raw)
    events: list[Event] = []
    with Store.open(folder / "borrador.db") as scratch:
        Pipeline("principal", MaildirSource(folder / "Maildir"), scratch, receiver_nit=DEFAULT_RECEIVER.nit,
                 emit=events.append).run_pass()
    start = NOW - timedelta(minutes=3)
    return [dataclasses.replace(event, at=start + timedelta(seconds=7 * index)) for index, event in enumerate(events)]


async def steady_cursor(pilot) -> None:
    """A blinking cursor would make the picture depend on timing."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_form_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app = create_app(write_config(tmp_path), clock=lambda: NOW)

    async def open_form(pilot) -> None:
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="abrir el formulario")
        await steady_cursor(pilot)

    assert snap_compare(app, terminal_size=size, run_before=open_form)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_form_oauth_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    account = ACCOUNT.replace('tipo_servidor = "basica"', 'tipo_servidor = "oauth2"').replace(
        'secreto = "env:CLAVE_RECEPCION"', f'secreto = "archivo:{tmp_path / "principal.token"}"')
    account += '\n[cuentas.principal.oauth2]\nclient_id = "00000000-1111-2222-3333-444444444444"\n'
    app = create_app(write_config(tmp_path, account), clock=lambda: NOW)

    async def open_form(pilot) -> None:
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="abrir el formulario")
        await steady_cursor(pilot)

    assert snap_compare(app, terminal_size=size, run_before=open_form)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_dashboard_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    events = sample_events(tmp_path / "fuente")
    handled = [index for index, event in enumerate(events) if isinstance(event, MessageHandled)]
    shown = events[: handled[len(handled) * 2 // 3]]  # mid-pass: two thirds handled
    config = write_config(tmp_path, ACCOUNT)
    with Store.open(tmp_path / "recepcion.db") as store:  # the expiry alert went out this morning
        sent_at = NOW - timedelta(hours=7)
        claim = store.claim_alert("principal", EXPIRY_NOTICE, "2025-07-11", now=sent_at, lease=CLAIM_LEASE)
        assert claim is not None
        store.alert_sent(claim, now=sent_at, recipient="tecnico@miradorandes.co")
    app = create_app(config, clock=lambda: NOW)

    async def feed(pilot) -> None:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="abrir el tablero")
        for event in shown:
            app.screen.bridge.emit(event)
        board = app.screen.boards["principal"]
        await wait_until(pilot, lambda: board.pass_done and board.alert_status and not board.changed,
                         what="pintar los eventos y las alertas")

    assert snap_compare(app, terminal_size=size, run_before=feed)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_documents_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    config = write_config(tmp_path, ACCOUNT)
    with Store.open(tmp_path / "recepcion.db") as store:
        for index, mail in enumerate(SampleFactory(seed=9, pdf_size=1_000, signed=True).mailbox(good=30, failing_each=0)):
            extraction = extract_message(mail.raw, receiver_nit=DEFAULT_RECEIVER.nit)
            store.record_outcome("principal", f"muestra:{index}", extraction, hashlib.sha256(mail.raw).hexdigest(),
                                 "Procesados")
    # Received at fixed moments (the claim deadline counts from reception), not when the test runs.
    with sqlite3.connect(tmp_path / "recepcion.db") as raw:
        raw.execute("UPDATE documents SET created_at = ?", ((NOW - timedelta(days=1)).isoformat(timespec="milliseconds"),))
    app = create_app(config, clock=lambda: NOW)

    async def open_documents(pilot) -> None:
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, DocumentsScreen) and app.screen.rows,
                         what="mostrar los documentos")
        await steady_cursor(pilot)

    assert snap_compare(app, terminal_size=size, run_before=open_documents)
