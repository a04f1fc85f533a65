"""The dashboard's «Flota» tab: with a PostgreSQL store, every account the fleet of
`tui-recepcion procesar` processes has seen, which process (host, PID) owns it, whether that
owner is alive, its state and its last pass.

The rows come from `store.fleet.fleet_status`, read by a thread worker of the dashboard every
few seconds: a PostgreSQL that is down can take 10 s to say so, never on the UI thread. Text
wraps (one paragraph per account), so nothing is cut at 80 columns; the pane scrolls.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from tui_recepcion.ui.board import STATE_LABELS, moment_text
from tui_recepcion.ui.screen import WorkerResult

if TYPE_CHECKING:  # psycopg loads only when there is a PostgreSQL store
    from tui_recepcion.store.fleet import FleetRow

FLEET_SECONDS = 3  # how often the fleet's rows are read again
# Ownership's own states (engine/ownership.py), besides the engine's (STATE_LABELS).
FLEET_STATES = {**STATE_LABELS, "asignada": "Asignada", "liberada": "Liberada"}
UNREACHABLE = "No se puede consultar la flota en PostgreSQL; se reintenta cada {seconds} s."


class FleetRead(WorkerResult):
    """The fleet's rows, or the (Spanish) reason they could not be read."""

    def __init__(self, rows: list[FleetRow] | None, problem: str | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.problem = problem


def owner_text(row: FleetRow) -> str:
    if row.host is None or row.pid is None:
        return "sin dueño"
    return f"{row.host} PID {row.pid} ({'activo' if row.alive else 'terminado'})"


def fleet_line(row: FleetRow, local: Callable[[datetime], datetime]) -> Content:
    """One account as a paragraph: «principal · Procesando · equipo-1 PID 42 (activo) · …»."""
    parts = [FLEET_STATES.get(row.state, row.state)]
    if row.state == "error" and row.detail:
        parts.append(row.detail)
    parts.append(owner_text(row))
    if row.last_pass_at:
        counts = ""
        if row.last_processed is not None:
            counts = (f": {row.last_processed} procesados, {row.last_failed or 0} fallidos, "
                      f"{row.last_remaining or 0} pendientes")
        parts.append(f"última pasada {moment_text(local(datetime.fromisoformat(row.last_pass_at)))}{counts}")
    else:
        parts.append("sin pasadas aún")
    return Content.assemble((row.account, "bold"), " · ", " · ".join(parts))  # names: plain text, never markup


class FleetPanel(VerticalScroll):
    """What the fleet says now; `show` repaints it from a `FleetRead`."""

    DEFAULT_CSS = """
    FleetPanel { height: 1fr; padding: 0 1; }
    FleetPanel > .fleet-problem { color: $text-error; height: auto; }
    FleetPanel > .fleet-rows { height: auto; }
    """

    def __init__(self, local: Callable[[datetime], datetime]) -> None:
        super().__init__(id="fleet-panel")
        self._local = local
        self.rows: list[FleetRow] = []
        self.problem: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(classes="fleet-problem")
        yield Static("Leyendo la flota…", classes="fleet-rows")

    def show(self, result: FleetRead) -> None:
        self.problem = result.problem
        if result.rows is not None:
            self.rows = result.rows
        problem = self.query_one(".fleet-problem", Static)
        problem.display = result.problem is not None
        if result.problem is not None:
            problem.update(Content(f"{UNREACHABLE.format(seconds=FLEET_SECONDS)} {result.problem}"))
        if result.rows is None and not self.rows:
            text = Content("")
        elif not self.rows:
            text = Content("Ningún proceso «tui-recepcion procesar» ha tomado cuentas todavía.")
        else:
            alive = sum(row.alive for row in self.rows)
            heading = f"{len(self.rows)} cuentas en la flota, {alive} con dueño activo"
            if result.rows is None:
                heading += " (último estado leído)"
            text = Content("\n").join([Content(heading + ":"), *(fleet_line(row, self._local) for row in self.rows)])
        self.query_one(".fleet-rows", Static).update(text)
