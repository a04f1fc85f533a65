"""The live dashboard: for the chosen account, its state, counters, progress, recent messages,
a log and messages per minute; processing starts and stops here.

Every account has its board (ui/board.py, no widgets), but only one panel is on screen: the
account chosen with Ctrl+←/Ctrl+→ or found with Ctrl+F (ui/account_picker.py), so one
account or 2,000 open as fast and only the shown panel is repainted.

Processing runs in thread workers (`AccountProcessor.serve`, with the account's `Alerts`
like `tui-recepcion procesar`) whose `emit` feeds the `EventBridge`; another thread follows
the store's event log, so a headless service on the same machine shows up too. A 10 Hz
timer drains the bridge and repaints what changed. The alert banner (password expiry and
its alert, an open login failure) is read from the store in a worker: at start, every
minute, and whenever an account changes state or an alert goes out. With a PostgreSQL store a
«Flota» tab (ui/fleet.py) shows every account of the fleet and its owner, read in a worker.
"""

from __future__ import annotations

import threading
from functools import partial

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import DataTable, Footer, ProgressBar, RichLog, Sparkline, Static, TabbedContent, TabPane

from tui_recepcion import paths
from tui_recepcion.alerts import Alerts, AlertStatus
from tui_recepcion.config import Account
from tui_recepcion.dian.deadlines import rules_for
from tui_recepcion.engine.reload import ServiceConfigStatus, service_config_status
from tui_recepcion.engine.service import AccountProcessor, EventFollower
from tui_recepcion.events import AlertSent, ConfigApplied, MessageHandled, MessagesDisposed, PassFinished, StateChanged
from tui_recepcion.store import StoreError
from tui_recepcion.ui.account_picker import AccountPicker
from tui_recepcion.ui.board import LOG_LIMIT, ROW_LIMIT, STATE_LABELS, AccountBoard, MessageRow, moment_text
from tui_recepcion.ui.bridge import EventBridge
from tui_recepcion.ui.dialogs import MessageDialog
from tui_recepcion.ui.fleet import FLEET_SECONDS, FleetPanel, FleetRead
from tui_recepcion.ui.navbar import NavBar
from tui_recepcion.ui.radian import dashboard_counts_by_account, radian_counters
from tui_recepcion.ui.screen import RecepcionScreen, WorkerResult, set_column_widths
from tui_recepcion.vocabulary import FAILED, PROCESSED

REFRESH_SECONDS = 0.1
FOLLOW_SECONDS = 0.5
ALERTS_SECONDS = 60  # the banner's days left and retry times move on even when nothing happens
# How often the store's «in Fallidos now» counts and the service's configuration version are read
# again (also at once when a pass ends, mail is disposed of, or a service (re)loads its config).
FACTS_SECONDS = 5
HISTORY_EVENTS = 2000  # the log's recent past replayed into the table when the screen opens
# Column widths for 80 columns, and for wide terminals (110 or more).
COLUMNS = ("Hora", "Emisor", "Número", "Total", "Estado o motivo", "Destino")
NARROW_WIDTHS = (8, 13, 8, 14, 13, 10)
WIDE_WIDTHS = (8, 30, 12, 15, 27, 10)
ACCOUNT_PANE = "cuenta"  # the one pane of accounts: its panel shows the chosen account's board
FLEET_PANE = "flota"


class AlertStatusesRead(WorkerResult):
    def __init__(self, statuses: list[AlertStatus]) -> None:
        super().__init__()
        self.statuses = statuses


class ServiceFactsRead(WorkerResult):
    """What the store says now: failed mail still in Fallidos, and which config each service runs."""

    def __init__(self, failed_now: dict[str, int], config: ServiceConfigStatus) -> None:
        super().__init__()
        self.failed_now = failed_now
        self.config = config


class ConfigBanner(Static):
    """«The service runs an older configuration than config.toml», while that is so."""

    DEFAULT_CSS = """
    ConfigBanner { height: auto; max-height: 3; padding: 0 1; color: $text-warning; background: $warning 15%; }
    """


class RadianCounted(WorkerResult):
    def __init__(self, counts: dict[str, tuple[int, int]]) -> None:
        super().__init__()
        self.counts = counts


class AccountPanel(Vertical):
    """Everything the dashboard shows for one account: the chosen one. There is one panel
    whatever the number of accounts (a panel of widgets per account made 2,000 accounts take
    minutes to open); `show` puts another account's board in it."""

    def __init__(self) -> None:
        super().__init__(classes="account-panel", id="account-panel")
        self.board: AccountBoard | None = None
        self.rows: dict[str, MessageRow] = {}  # by table row key, for the detail dialog

    @property
    def radian(self) -> tuple[int, int]:
        return self.board.radian if self.board is not None else (0, 0)

    @on(DataTable.RowSelected)
    def _row_detail(self, event: DataTable.RowSelected) -> None:
        row = self.rows.get(str(event.row_key.value))
        if row is None:
            return
        lines = [f"Hora: {row.time}", f"Emisor o asunto: {row.sender}", f"Número: {row.number or '—'}",
                 f"Total: {row.total or '—'}", f"Estado: {row.outcome}", f"Destino: {row.destination}"]
        if row.reason_text:
            lines.append(f"Motivo: {row.reason_text}")
        self.app.push_screen(MessageDialog("Correo procesado", lines, error=row.failed))

    def compose(self) -> ComposeResult:
        yield Static(classes="state-line")
        with Horizontal(classes="counters-line"):
            yield Static(classes="counters")
            yield Sparkline([0], classes="per-minute")
        yield Static(classes="alert-banner")
        yield ConfigBanner(classes="config-banner")
        yield ProgressBar(total=1, show_eta=False, classes="progress")  # a known total: no idle animation
        table: DataTable = DataTable(cursor_type="row", zebra_stripes=True, classes="messages")
        for label, width in zip(COLUMNS, self._widths(self.app.size.width), strict=True):
            table.add_column(label, width=width)
        yield table
        yield RichLog(max_lines=LOG_LIMIT, wrap=True, markup=False, classes="log")  # long lines wrap

    @staticmethod
    def _widths(width: int) -> tuple[int, ...]:
        return WIDE_WIDTHS if width >= 110 else NARROW_WIDTHS

    def on_resize(self, event: events.Resize) -> None:
        set_column_widths(self.query_one(DataTable), self._widths(self.app.size.width))

    def show(self, board: AccountBoard, services_now, today) -> None:
        """Show `board` afresh: its recent rows and log lines, then its counters."""
        self.board = board
        rows, lines = board.take_all()
        table = self.query_one(DataTable)
        table.clear()
        self.rows.clear()
        self._add_rows(rows, following=True)
        log = self.query_one(RichLog)
        log.clear()
        for line in lines:
            log.write(Text(line))
        progress = self.query_one(ProgressBar)
        progress.update(total=board.pass_total or 1, progress=min(board.pass_done, board.pass_total))
        board.changed = False
        self.repaint(services_now, today)

    def repaint(self, services_now, today) -> None:
        board = self.board
        if board is None:
            return
        self._state_line()
        # «En Fallidos» is what the folder holds now; the history counts every failure ever seen.
        counters = Content.assemble(
            "Procesados ", (str(board.processed), "bold"),
            "  En Fallidos ", ("—" if board.failed_now is None else str(board.failed_now), "bold"),
            (f" (historial {board.failed})", "dim"),
            "  Pendientes ", ("—" if board.pending is None else str(board.pending), "bold"),
            *radian_counters(*board.radian),
            ("  por minuto:", "dim"),
        )
        self.query_one(".counters", Static).update(counters)
        self.query_one(Sparkline).data = board.per_minute_series(services_now)
        banner = self.query_one(".alert-banner", Static)
        lines = board.banner(today)
        banner.display = bool(lines)
        banner.set_class(board.expiry_urgent(today), "-urgent")
        banner.set_class(board.alert_trouble(), "-error")
        banner.update(Content("\n".join(lines)))
        stale = self.query_one(ConfigBanner)
        stale.display = bool(board.stale_config)
        stale.update(Content(board.stale_config or ""))
        progress = self.query_one(ProgressBar)
        if board.pass_total:
            progress.update(total=board.pass_total, progress=min(board.pass_done, board.pass_total))
        table = self.query_one(DataTable)
        self._add_rows(board.take_rows(), following=not table.has_focus or table.cursor_row >= table.row_count - 1)
        lines = board.take_log()
        if lines:
            log = self.query_one(RichLog)
            for line in lines:
                log.write(Text(line))

    def _state_line(self) -> None:
        board = self.board
        assert board is not None
        parts = [f"Estado: {STATE_LABELS.get(board.state, board.state)}"]
        if board.state == "error" and board.detail:
            parts.append(board.detail)
        if board.last_run is not None:
            parts.append(f"última pasada {moment_text(board.local(board.last_run))}")
        if board.next_run:
            parts.append(f"próxima {board.next_run}")
        line = self.query_one(".state-line", Static)
        for state in STATE_LABELS:
            line.set_class(board.state == state, f"-{state}")
        line.update(Content(" · ".join(parts)))

    def _add_rows(self, rows: list[MessageRow], *, following: bool) -> None:
        if not rows:
            return
        table = self.query_one(DataTable)
        for row in rows:
            self.rows[str(row.id)] = row
            outcome = Content.styled(row.outcome, "$text-error" if row.failed else "$text-success")
            # Mail supplies the sender and number: plain Text, never markup.
            table.add_row(row.time, Text(row.sender), Text(row.number), Text(row.total, justify="right"), outcome,
                          row.destination, key=str(row.id))
        while table.row_count > ROW_LIMIT:
            oldest = table.ordered_rows[0].key
            table.remove_row(oldest)
            self.rows.pop(str(oldest.value), None)
        if following:
            table.move_cursor(row=table.row_count - 1, animate=False)


class DashboardScreen(RecepcionScreen):
    TITLE = "Tablero"
    HELP = (
        "El procesamiento en vivo de cada cuenta: estado, contadores, avance de la pasada, los "
        "últimos correos y el registro. I inicia el procesamiento de la cuenta visible (como "
        "servicio: una pasada cada intervalo), D lo detiene. Si «tui-recepcion procesar» ya corre "
        "en esta máquina, el tablero muestra su avance. Ctrl+← y Ctrl+→ cambian de cuenta; "
        "Ctrl+F busca una cuenta por nombre, usuario o NIT."
    )
    BINDINGS = [
        Binding("i", "start", "Iniciar"),
        Binding("d", "stop", "Detener"),
        Binding("ctrl+f", "pick_account", "Buscar cuenta"),
        Binding("ctrl+left", "previous_account", "Cuenta anterior", show=False),
        Binding("ctrl+right", "next_account", "Cuenta siguiente", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.bridge = EventBridge()
        self.boards: dict[str, AccountBoard] = {}  # every account's, in the configuration's order
        self.shown: str | None = None  # the account whose board the panel shows
        self._cancels: dict[str, threading.Event] = {}
        self._stop_following = threading.Event()
        self.fleet_url: str | None = None  # the PostgreSQL store's URL, when there is a fleet to show

    def compose(self) -> ComposeResult:
        yield NavBar(self.TITLE, "tablero")
        yield Static("No hay cuentas configuradas. Pulse F2 para crear una.", id="no-accounts")
        with TabbedContent(id="accounts"):
            with TabPane("Cuenta", id=ACCOUNT_PANE):
                yield AccountPanel()
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        await self._build_tabs()
        self.set_interval(REFRESH_SECONDS, self._drain)
        self.set_interval(ALERTS_SECONDS, self._refresh_alerts)
        self.set_interval(FACTS_SECONDS, self._refresh_facts)
        self.run_worker(self._follow_log, thread=True, exit_on_error=False, name="Seguir el registro",
                        group="registro")
        if self.fleet_url is not None:
            self.run_worker(partial(self._follow_fleet, self.fleet_url), thread=True, exit_on_error=False,
                            name="Seguir la flota", group="flota")
        if self.services.autostart:
            for account in self.services.accounts:
                self.start(account)

    # --- accounts and tabs ---------------------------------------------------------

    async def _build_tabs(self) -> None:
        tabs = self.query_one("#accounts", TabbedContent)
        counts = self.services.store.message_counts()
        added: set[str] = set()
        for account in self.services.accounts:
            if account.id in self.boards:
                self.boards[account.id].account = account
                continue
            totals = counts.get(account.id, {})
            self.boards[account.id] = AccountBoard(account, totals.get(PROCESSED, 0), totals.get(FAILED, 0))
            added.add(account.id)
        url = paths.database_path(self.services.config)
        if isinstance(url, str) and self.fleet_url is None:  # a PostgreSQL URL: a fleet to follow
            self.fleet_url = url
            await tabs.add_pane(TabPane("Flota", FleetPanel(self.services.local_time), id=FLEET_PANE))
        self._replay_history(added)
        self.query_one("#no-accounts").display = not self.boards
        tabs.display = bool(self.boards) or self.fleet_url is not None
        if self.boards:
            tabs.show_tab(ACCOUNT_PANE)
            self.show_account(self.shown if self.shown in self.boards else next(iter(self.boards)))
        elif self.fleet_url is not None:
            tabs.hide_tab(ACCOUNT_PANE)
        self._refresh_alerts()
        self._refresh_facts()

    def _replay_history(self, accounts: set[str]) -> None:
        """Fill the new boards with the recent messages the event log still holds."""
        if not accounts:
            return
        store = self.services.store
        for event in EventFollower(store, max(0, store.last_event_id() - HISTORY_EVENTS)).poll(HISTORY_EVENTS):
            if event.account in accounts and isinstance(event, MessageHandled):
                self.boards[event.account].remember(event)

    def accounts_changed(self) -> None:
        self.run_worker(self._build_tabs(), exclusive=True, group="pestanas", name="Actualizar cuentas")

    def show_account(self, account_id: str) -> None:
        """Put `account_id`'s board in the panel, and its name (and place) on the tab."""
        self.shown = account_id
        now = self.services.clock()
        self.query_one(AccountPanel).show(self.boards[account_id], now, self.services.local_time(now).date())
        label = account_id
        if len(self.boards) > 1:
            label += f" · {list(self.boards).index(account_id) + 1} de {len(self.boards)}"
        self.query_one("#accounts", TabbedContent).get_tab(ACCOUNT_PANE).label = Content(label)

    def _visible_account(self) -> Account | None:
        if self.query_one("#accounts", TabbedContent).active != ACCOUNT_PANE or self.shown not in self.boards:
            return None
        return self.boards[self.shown].account

    def _stops(self) -> list[str]:
        """Where Ctrl+← and Ctrl+→ go, in order: every account, then the fleet."""
        return list(self.boards) + ([FLEET_PANE] if self.fleet_url is not None else [])

    def _go(self, stop: str) -> None:
        tabs = self.query_one("#accounts", TabbedContent)
        if stop == FLEET_PANE:
            tabs.active = FLEET_PANE
            return
        self.show_account(stop)
        tabs.active = ACCOUNT_PANE

    def _step(self, step: int) -> None:
        stops = self._stops()
        if not stops:
            return
        here = FLEET_PANE if self.query_one("#accounts", TabbedContent).active == FLEET_PANE else self.shown
        index = stops.index(here) if here in stops else 0
        self._go(stops[(index + step) % len(stops)])

    def action_next_account(self) -> None:
        self._step(1)

    def action_previous_account(self) -> None:
        self._step(-1)

    def action_pick_account(self) -> None:
        if not self.boards:
            self.notify("No hay cuentas configuradas. Pulse F2 para crear una.", severity="warning")
            return
        accounts = [board.account for board in self.boards.values()]
        picker = AccountPicker("Mostrar la cuenta", accounts, current=self.shown)
        self.app.push_screen(picker, self._picked)

    def _picked(self, account_id: str | None) -> None:
        if account_id in self.boards:
            self._go(account_id)

    # --- processing --------------------------------------------------------------------

    def action_start(self) -> None:
        account = self._visible_account()
        if account is None:
            self.notify("Elija la pestaña de una cuenta para procesarla (Ctrl+→)." if self.boards else
                        "No hay ninguna cuenta para procesar. Pulse F2 para crear una.", severity="warning")
            return
        if account.id in self._cancels:
            self.notify(f"La cuenta «{account.id}» ya se está procesando.")
            return
        self.start(account)

    def action_stop(self) -> None:
        account = self._visible_account()
        cancel = self._cancels.get(account.id) if account else None
        if account is None or cancel is None:
            self.notify("Esta cuenta no se está procesando desde aquí.")
            return
        cancel.set()
        self.notify(f"Deteniendo «{account.id}» al terminar el correo en curso…")

    def start(self, account: Account) -> None:
        cancel = self._cancels[account.id] = threading.Event()
        self.run_worker(partial(self._serve, account, cancel), thread=True, exclusive=True,
                        exit_on_error=False, group=f"cuenta-{account.id}", name=f"Procesar «{account.id}»")

    def _serve(self, account: Account, cancel: threading.Event) -> None:
        """Runs in a worker thread until stopped; events go to the bridge."""
        try:
            engine = self.services.engine
            # Fail fast, with no error event in the shared log, when another process has it.
            # The engine's ownership: a file lock with SQLite, the fleet's with PostgreSQL.
            with engine.ownership.hold(account.id):
                pass
            # An authentication failure alerts once per incident; expiry alerts are evaluated each cycle.
            alerts = Alerts(engine.store, clock=self.services.clock, send=self.services.send_alert,
                            emit=self.bridge.emit)
            processor = AccountProcessor(engine, account, emit=self.bridge.emit, cancel=cancel,
                                         source_factory=self.services.sources.get(account.id), alerts=alerts)
            processor.serve()
        finally:
            self._cancels.pop(account.id, None)  # a dict operation: safe from this thread

    def stop_all(self) -> None:
        self._stop_following.set()
        for cancel in self._cancels.values():
            cancel.set()

    def _follow_log(self) -> None:
        """Runs in a worker thread: the store's event log, for processes other than this one."""
        follower = EventFollower(self.services.store)
        while not self._stop_following.wait(FOLLOW_SECONDS):
            self.bridge.from_log(follower.poll())

    def _follow_fleet(self, url: str) -> None:
        """Runs in a worker thread: the fleet's rows now and every few seconds; a store that
        cannot be reached is said on screen, and asked again at the next turn."""
        from tui_recepcion.store.fleet import fleet_status  # psycopg only with PostgreSQL

        while True:
            try:
                self.post_result(FleetRead(fleet_status(url)))
            except StoreError as error:
                self.post_result(FleetRead(None, str(error)))
            if self._stop_following.wait(FLEET_SECONDS):
                return

    @on(FleetRead)
    def _fleet_read(self, result: FleetRead) -> None:
        self.query_one(FleetPanel).show(result)

    # --- repainting --------------------------------------------------------------------

    def _drain(self) -> None:
        alerts_may_change = facts_may_change = False
        for event in self.bridge.drain():
            board = self.boards.get(event.account)
            if board is not None:
                board.apply(event)
                # A pass's end opens or closes a login failure; an alert going out changes its line.
                alerts_may_change |= isinstance(event, (AlertSent, StateChanged))
                facts_may_change |= isinstance(event, (PassFinished, MessagesDisposed, ConfigApplied))
        if alerts_may_change:
            self._refresh_alerts()
        if facts_may_change:
            self._refresh_facts()
        self._repaint()

    def on_screen_resume(self) -> None:
        self._refresh_facts()  # Mensajes may have reprocessed mail, the form saved config.toml

    # --- what the store says now: Fallidos and the service's configuration ---------------

    def _refresh_facts(self) -> None:
        if self.boards:
            self.run_worker(self._service_facts, thread=True, exclusive=True, exit_on_error=False,
                            group="hechos", name="Revisar Fallidos y la configuración")

    def _service_facts(self) -> None:
        """Runs in a worker thread: one query for the counts, one for the versions, one file read."""
        store = self.services.store
        self.post_result(ServiceFactsRead(store.failed_now_counts(),
                                          service_config_status(store, self.services.config_path)))

    @on(ServiceFactsRead)
    def _service_facts_read(self, result: ServiceFactsRead) -> None:
        stale = set(result.config.stale)
        for account_id, board in self.boards.items():
            board.set_failed_now(result.failed_now.get(account_id, 0))
            board.set_stale_config(result.config.message if account_id in stale else None)

    def _repaint(self, *, force: bool = False) -> None:
        """Only the panel on screen: the other boards keep their changes until shown."""
        panel = self.query_one(AccountPanel)
        board = panel.board
        if board is not None and (force or board.changed):
            board.changed = False
            now = self.services.clock()
            panel.repaint(now, self.services.local_time(now).date())

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        self._repaint(force=True)

    # --- the alert banner ----------------------------------------------------------------

    def _refresh_alerts(self) -> None:
        accounts = [board.account for board in self.boards.values()]
        if accounts:
            self.run_worker(partial(self._alert_statuses, accounts), thread=True, exclusive=True,
                            exit_on_error=False, group="alertas", name="Revisar las alertas")

    def _alert_statuses(self, accounts: list[Account]) -> None:
        """Runs in a worker thread: a few queries for all the accounts, not a few per account."""
        self.post_result(AlertStatusesRead(Alerts(self.services.store, clock=self.services.clock).status(accounts)))
        today, rules = self.services.local_time(self.services.clock()).date(), rules_for(self.services.config.general)
        self.post_result(RadianCounted(dashboard_counts_by_account(self.services.store, today, rules)))

    @on(RadianCounted)
    def _radian_counted(self, result: RadianCounted) -> None:
        for account_id, board in self.boards.items():
            board.set_radian(result.counts.get(account_id, (0, 0)))

    @on(AlertStatusesRead)
    def _alert_statuses_read(self, result: AlertStatusesRead) -> None:
        for status in result.statuses:
            board = self.boards.get(status.account)
            if board is not None:
                board.set_alert_status(status)
