"""RADIAN in the TUI: state, deadline and signature columns, the three filters, the detail's
events in order, and the dashboard's counters."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from textual.widgets import DataTable, Select, Static

from tests.support.radian_support import event_xml, signed_document
from tests.ui.support import wait_until, write_config
from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory
from tui_recepcion.dian import extract_file
from tui_recepcion.dian.deadlines import ClaimRules
from tui_recepcion.store import Outcome, Store
from tui_recepcion.ui.app import create_app
from tui_recepcion.ui.dashboard import AccountPanel, DashboardScreen
from tui_recepcion.ui.documents import DocumentsScreen, detail_lines
from tui_recepcion.ui.radian import BROKEN_SIGNATURE, CLOSING, PENDING_ACK, dashboard_counts_by_account

# Friday 20 March 2026, 15:00 in Bogotá; Monday 23 is a holiday (San José).
NOW = datetime(2026, 3, 20, 20, 0, tzinfo=UTC)
ACCOUNT = (
    "[cuentas.principal]\n"
    'proveedor = "generic"\ntipo_servidor = "basica"\nprotocolo = "imap"\n'
    'servidor = "imap.example.co"\npuerto = 993\nseguridad = "ssl"\n'
    'usuario = "facturas@example.co"\nsecreto = "env:CLAVE_RECEPCION"\n'
)


def _store_file(store: Store, key: str, xml: bytes) -> None:
    extraction = extract_file(f"{key}.xml", xml)
    outcome = Outcome(key, extraction, hashlib.sha256(xml).hexdigest(), "Procesados")
    store.record_received_events("principal", [outcome])
    store.record_outcomes("principal", [outcome])


@pytest.fixture
def populated(tmp_path: Path) -> dict[str, str]:
    """Four invoices received at known moments: one acknowledged, one with a broken signature,
    one received a week ago (window closed), one just now (closing on Wednesday)."""
    factory = SampleFactory(seed=31)
    cufes = {}
    with Store.open(tmp_path / "recepcion.db") as store:
        for name in ("acusada", "alterada", "vieja", "nueva"):
            xml, cufe = signed_document(factory, customer=DEFAULT_RECEIVER)
            if name == "alterada":
                xml = re.sub(rb"(<cbc:PayableAmount[^>]*>)(\d)", lambda m: m[1] + (b"9" if m[2] != b"9" else b"8"),
                             xml, count=1)
            _store_file(store, name, xml)
            cufes[name] = cufe
        _store_file(store, "evento", event_xml("030", cufes["acusada"]))
    received = {"vieja": NOW - timedelta(days=8)}
    with sqlite3.connect(tmp_path / "recepcion.db") as raw:
        for name, cufe in cufes.items():
            moment = received.get(name, NOW - timedelta(hours=2))
            raw.execute("UPDATE documents SET created_at = ? WHERE cufe = ?",
                        (moment.isoformat(timespec="milliseconds"), cufe))
    return cufes


def test_dashboard_counts_closing_windows_and_broken_signatures(tmp_path: Path, populated) -> None:
    with Store.open(tmp_path / "recepcion.db") as store:
        # On Tuesday 24 (after the holiday) the windows close on Wednesday 25: within one business day.
        assert dashboard_counts_by_account(store, date(2026, 3, 24), ClaimRules()) == {"principal": (3, 1)}
        # On the day they arrived, three business days remain: nothing closes yet.
        assert dashboard_counts_by_account(store, date(2026, 3, 20), ClaimRules()) == {"principal": (0, 1)}
    # Every account's counts come from the same queries, each to its own account.
    with sqlite3.connect(tmp_path / "recepcion.db") as raw:
        raw.execute("UPDATE documents SET account = 'otra' WHERE cufe IN (?, ?)", (populated["nueva"], populated["alterada"]))
    with Store.open(tmp_path / "recepcion.db") as store:
        assert dashboard_counts_by_account(store, date(2026, 3, 24), ClaimRules()) == {"principal": (1, 0),
                                                                                       "otra": (2, 1)}


def test_detail_shows_events_in_order_and_the_signatures(tmp_path: Path, populated) -> None:
    with Store.open(tmp_path / "recepcion.db") as store:
        rows = {row.document.cufe: row for row in store.documents()}
        row = rows[populated["acusada"]]
        (info,) = store.radian_of([row], today=date(2026, 3, 20))
    lines = detail_lines(row, info)
    text = "\n".join(lines)
    assert "Estado RADIAN: Con acuse de recibo" in text
    assert "Plazo para reclamar: 25/03/2026 — quedan 3 días hábiles para reclamar" in text
    assert re.search(r"02/03/2026  030 Acuse de recibo de la factura electrónica de venta", text)
    assert "Firma del emisor: válida" in text and "cadena no verificada" in text
    assert "Firma de la DIAN: sin firma" in text


async def test_documents_screen_columns_and_filters(tmp_path: Path, populated) -> None:
    app = create_app(write_config(tmp_path, ACCOUNT), clock=lambda: NOW + timedelta(days=4))  # Tuesday 24
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, DocumentsScreen) and len(app.screen.rows) == 4,
                         what="mostrar los documentos")
        screen = app.screen
        table = screen.query_one("#documents", DataTable)
        cells = {screen.rows[index].document.cufe: table.get_row_at(index) for index in range(table.row_count)}
        broken = cells[populated["alterada"]]
        assert str(broken[-1]) == "INVÁLIDA" and "red" in str(broken[-1].style)
        assert str(cells[populated["acusada"]][-3]) == "Acusada"
        assert str(cells[populated["acusada"]][-2]) == "25/03/2026"
        assert str(cells[populated["vieja"]][-2]) == "16/03/2026"  # Thursday 12: Friday, Saturday, Monday

        async def filtered(value: str) -> set[str]:
            screen.query_one("#radian", Select).value = value
            await wait_until(pilot, lambda: screen.rows and all(keep(value, row) for row in screen.rows),
                             what=f"filtrar {value}")
            return {row.document.cufe for row in screen.rows}

        def keep(value: str, row) -> bool:
            expected = {BROKEN_SIGNATURE: {populated["alterada"]},
                        PENDING_ACK: {populated["alterada"], populated["nueva"]},
                        CLOSING: {populated["acusada"], populated["alterada"], populated["nueva"]}}[value]
            return row.document.cufe in expected and len(screen.rows) == len(expected)

        assert await filtered(BROKEN_SIGNATURE) == {populated["alterada"]}
        assert await filtered(PENDING_ACK) == {populated["alterada"], populated["nueva"]}
        assert await filtered(CLOSING) == {populated["acusada"], populated["alterada"], populated["nueva"]}


async def test_dashboard_shows_the_radian_counters(tmp_path: Path, populated) -> None:
    app = create_app(write_config(tmp_path, ACCOUNT), clock=lambda: NOW + timedelta(days=4))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="abrir el tablero")
        panel = app.screen.query_one(AccountPanel)
        await wait_until(pilot, lambda: panel.radian == (3, 1), what="contar los plazos y las firmas")
        await wait_until(pilot, lambda: "Vencen ≤1 día 3" in str(panel.query_one(".counters", Static).render()),
                         what="pintar los contadores")
        assert "Firma inválida 1" in str(panel.query_one(".counters", Static).render())
