"""Snapshots of every screen at 80×24 and 120×40: the form (basic, OAuth2, an error on a long
field, the guide open), the dashboard, the documents browser (also after a resize), the
messages; and the focused field on an 8-colour terminal.

Deterministic: seeded samples, events with fixed times, a fixed clock. Review a changed
snapshot by eye (pytest --snapshot-update, then look at tests/ui/__snapshots__) before
accepting it.
"""

from __future__ import annotations

import dataclasses
import mailbox
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.color import Color, ColorSystem
from rich.segment import Segment
from rich.style import Style
from textual.filter import LineFilter
from textual.widgets import DataTable, Input, RichLog

from tests.ui.support import seed_documents, type_into, wait_until, write_config
from tui_recepcion.alerts import CLAIM_LEASE, EXPIRY_NOTICE
from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory
from tui_recepcion.engine.pipeline import Pipeline
from tui_recepcion.events import Event, MessageHandled
from tui_recepcion.mailbox.maildir import MaildirSource
from tui_recepcion.store import Store
from tui_recepcion.ui.app import create_app
from tui_recepcion.ui.dashboard import DashboardScreen
from tui_recepcion.ui.documents import DocumentsScreen
from tui_recepcion.ui.form import FormScreen
from tui_recepcion.ui.guide import GuideScreen
from tui_recepcion.ui.messages import MessagesScreen

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
        log = app.screen.query_one(RichLog)  # it writes once it knows its width: wait for every line
        await wait_until(pilot, lambda: not board.new_log and not log._deferred_renders and log.lines,
                         what="escribir el registro")
        # The table follows its last row, and late reads (alerts, counters) may still change its
        # height by a line, and so which rows show: put the cursor on the first row, which shows
        # the same rows whatever the height.
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=0, animate=False)
        await wait_until(pilot, lambda: table.cursor_row == 0 and table.scroll_y == 0, what="volver a la primera fila")

    assert snap_compare(app, terminal_size=size, run_before=feed)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_documents_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    config = seed_documents(tmp_path, ACCOUNT, signed=True, received_at=NOW - timedelta(days=1))
    app = create_app(config, clock=lambda: NOW)

    async def open_documents(pilot) -> None:
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, DocumentsScreen) and app.screen.rows,
                         what="mostrar los documentos")
        await steady_cursor(pilot)

    assert snap_compare(app, terminal_size=size, run_before=open_documents)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_form_long_field_error_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app = create_app(write_config(tmp_path), clock=lambda: NOW)

    async def type_a_bad_address(pilot) -> None:
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="abrir el formulario")
        await type_into(pilot, "#f-correo_notificacion", "notificaciones-del-area-de-contabilidad-y-tesoreria@@empresa")
        await steady_cursor(pilot)
        await wait_until(pilot, lambda: app.screen.query_one("#row-correo_notificacion").error,
                         what="mostrar el error")

    assert snap_compare(app, terminal_size=size, run_before=type_a_bad_address)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_guide_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app = create_app(write_config(tmp_path, ACCOUNT), clock=lambda: NOW)

    async def open_guide(pilot) -> None:
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="abrir el formulario")
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: isinstance(app.screen, GuideScreen), what="abrir la guía")
        await pilot.pause(0.3)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_guide)


@pytest.mark.parametrize("sizes", [((120, 40), (80, 24)), ((80, 24), (120, 40))],
                         ids=lambda sizes: "-a-".join(f"{w}x{h}" for w, h in sizes))
def test_documents_after_resize_snapshot(snap_compare, tmp_path: Path, sizes) -> None:
    start, end = sizes
    app = create_app(seed_documents(tmp_path, ACCOUNT, signed=True, received_at=NOW - timedelta(days=1)),
                     clock=lambda: NOW)

    async def open_and_resize(pilot) -> None:
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, DocumentsScreen) and app.screen.rows,
                         what="mostrar los documentos")
        await pilot.resize_terminal(*end)
        await wait_until(pilot, lambda: app.screen._laid_out_for == end[0], what="recalcular las columnas")
        await steady_cursor(pilot)

    assert snap_compare(app, terminal_size=start, run_before=open_and_resize)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_messages_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int], monkeypatch) -> None:
    # The ledger stamps rows with the real time: a fixed one keeps the picture the same.
    monkeypatch.setattr("tui_recepcion.store.ledger.now_text", lambda: NOW.isoformat(timespec="milliseconds"))
    config = write_config(tmp_path, ACCOUNT)
    folder = tmp_path / "fuente"
    folder.mkdir()
    mailbox.Maildir(folder / "Maildir", create=True)
    for index, mail in enumerate(SampleFactory(seed=5, pdf_size=1_000).mailbox(good=6, failing_each=1)):
        (folder / "Maildir" / "new" / f"{index:04d}.muestra").write_bytes(mail.raw)
    with Store.open(tmp_path / "recepcion.db") as store:
        Pipeline("principal", MaildirSource(folder / "Maildir"), store, receiver_nit=DEFAULT_RECEIVER.nit).run_pass()
    app = create_app(config, clock=lambda: NOW)

    async def open_messages(pilot) -> None:
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, MessagesScreen) and app.screen.entries,
                         what="mostrar los mensajes")
        await steady_cursor(pilot)

    assert snap_compare(app, terminal_size=size, run_before=open_messages)


class EightColours(LineFilter):
    """What an 8-colour terminal shows: every colour brought down to the 8 ANSI ones, as Rich
    does for TEXTUAL_COLOR_SYSTEM=standard (bright colours fall back to their base)."""

    def apply(self, segments: list[Segment], background) -> list[Segment]:
        return [Segment(text, self._style(style), control) for text, style, control in segments]

    @staticmethod
    def _colour(colour: Color | None) -> Color | None:
        if colour is None or colour.is_default:
            return colour
        number = colour.downgrade(ColorSystem.STANDARD).number or 0
        return Color.from_ansi(number % 8)

    def _style(self, style: Style | None) -> Style | None:
        if style is None:
            return None
        return style + Style.from_color(self._colour(style.color), self._colour(style.bgcolor))


def test_focused_field_in_eight_colours_snapshot(snap_compare, tmp_path: Path) -> None:
    app = create_app(write_config(tmp_path, ACCOUNT), clock=lambda: NOW)

    async def focus_username(pilot) -> None:
        app._filters.append(EightColours())
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="abrir el formulario")
        app.screen.query_one("#f-usuario", Input).focus()
        await steady_cursor(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=focus_username)
