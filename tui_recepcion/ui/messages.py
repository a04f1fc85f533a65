"""The message ledger: every processed mail with its outcome and reason; re-processing.

Failed mail is reprocessed in bulk (the marked rows, or every failed message of one reason)
with one connection per account. The cursor stays on the message it was on across every
refresh and dialog: a technician working down a list of failures never loses the place.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Footer, Select, Static

from tui_recepcion.config import Account
from tui_recepcion.dian.reasons import REASONS
from tui_recepcion.engine.reprocess import ReprocessOutcome, reprocess_messages
from tui_recepcion.output import message_record
from tui_recepcion.store import LedgerEntry, MessageFilter
from tui_recepcion.ui.dialogs import ConfirmDialog, MessageDialog
from tui_recepcion.ui.navbar import NavBar
from tui_recepcion.ui.screen import RecepcionScreen, WorkerResult, set_column_widths
from tui_recepcion.vocabulary import FAILED, PROCESSED, counted

SHOWN_LIMIT = 2000
# «Fallidos» are those still in Fallidos now; a message reprocessed since shows as such under «Todos».
STATUSES = (("Todos los estados", ""), ("Procesados", PROCESSED), ("Fallidos", FAILED))
REPROCESSED = "reprocesado"
MARK = "✓ "
EntryKey = tuple[str, str]  # (account, source key): a ledger row across refreshes


def entry_key(entry: LedgerEntry) -> EntryKey:
    return (entry.account, entry.source_key)


def detail_lines(entry: LedgerEntry, local_time: str, reprocessed_time: str | None = None) -> list[str]:
    record = message_record(entry)
    lines = [
        f"Cuenta: {entry.account}",
        f"Registrado: {local_time}",
        f"Asunto: {entry.subject or '—'}",
        f"Remitente: {entry.sender or '—'}",
        f"Message-ID: {entry.message_id or '—'}",
        f"Estado: {entry.status}",
    ]
    if reprocessed_time:
        lines.append(f"Reprocesado: {reprocessed_time} (devuelto a la bandeja de entrada)")
    if entry.reason:
        lines.append(f"Motivo: {entry.reason} — {REASONS.get(entry.reason, entry.reason)}")
    if entry.detail:
        lines.append(f"Detalle: {entry.detail}")
    lines += [f"El asunto no coincide con el XML (manda el XML): {text}" for text in entry.subject_mismatches]
    lines += [
        f"Destino: {entry.destination or '—'}",
        f"Documentos (CUFE): {', '.join(record['cufes']) or '—'}",
        f"Origen: {entry.source_key}",
    ]
    return lines


class MessagesFound(WorkerResult):
    def __init__(self, entries: list[LedgerEntry]) -> None:
        super().__init__()
        self.entries = entries


class MessagesReprocessed(WorkerResult):
    def __init__(self, outcomes: list[ReprocessOutcome]) -> None:
        super().__init__()
        self.outcomes = outcomes


def reprocess_summary(outcomes: Sequence[ReprocessOutcome]) -> str:
    """One Spanish sentence for a bulk reprocess: how many went back, and why the others did not."""
    back = sum(outcome.ok for outcome in outcomes)
    text = (f"{back} correo volvió a la bandeja de entrada" if back == 1
            else f"{back} correos volvieron a la bandeja de entrada")
    text += ": la próxima pasada los procesa." if back else "."
    reasons = sorted({outcome.message for outcome in outcomes if not outcome.ok})
    failed = len(outcomes) - back
    if failed:
        text += f" {failed} no: {'; '.join(reasons)}."
    return text


def subject_width(width: int) -> int:
    """Asunto, the last column, takes what the others leave at this terminal width."""
    return min(60, max(10, width - 67))


class MessagesScreen(RecepcionScreen):
    TITLE = "Mensajes"
    HELP = (
        "El registro de cada correo procesado, del más reciente al más antiguo, con su estado y el "
        "motivo de cada fallo. Enter muestra el detalle. Espacio marca o desmarca un correo fallido. "
        "R devuelve de la carpeta Fallidos a la bandeja de entrada (solo IMAP) los correos marcados, "
        "o el de la fila actual, para que la próxima pasada los procese de nuevo; M devuelve todos "
        "los fallidos con el motivo de la fila actual. A vuelve a consultar."
    )
    BINDINGS = [
        Binding("space", "mark", "Marcar"),
        Binding("r", "reprocess", "Reprocesar"),
        Binding("m", "reprocess_reason", "Todos del motivo"),
        Binding("a", "refresh", "Actualizar"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[LedgerEntry] = []
        self.marked: set[EntryKey] = set()
        self._cursor_key: EntryKey | None = None  # the row the cursor was on before a refresh
        self._found = (0, 0)  # messages the query found, and how many of them are in Fallidos

    def compose(self) -> ComposeResult:
        yield NavBar(self.TITLE, "mensajes")
        accounts = [("Todas las cuentas", "")] + [(account.id, account.id) for account in self.services.accounts]
        with Horizontal(classes="filters"):
            yield Select(STATUSES, value="", allow_blank=False, compact=True, id="estado")
            yield Select(accounts, value="", allow_blank=False, compact=True, id="cuenta")
        table: DataTable = DataTable(cursor_type="row", zebra_stripes=True, id="ledger")
        table.add_column("Registrado", width=16)
        table.add_column("Estado", width=11)
        table.add_column("Motivo", width=18)
        table.add_column("Destino", width=10)
        table.add_column("Asunto", width=subject_width(self.app.size.width))
        yield table
        yield Static("", id="ledger-summary", classes="summary")
        yield Footer(compact=True)

    def on_resize(self, event: events.Resize) -> None:
        table = self.query_one("#ledger", DataTable)
        set_column_widths(table, [*(column.width for column in list(table.columns.values())[:-1]),
                                  subject_width(event.size.width)])

    def on_mount(self) -> None:
        self.query_one("#ledger").focus()
        self.action_refresh()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    @on(Select.Changed)
    def action_refresh(self) -> None:
        current = self._selected()
        if current is not None:
            self._cursor_key = entry_key(current)
        status, account = (self.query_one(f"#{key}", Select).value for key in ("estado", "cuenta"))
        self._query(MessageFilter(account=account or None, status=status or None))  # type: ignore[arg-type]

    @work(thread=True, exclusive=True, group="consulta", exit_on_error=False, name="Consultar mensajes")
    def _query(self, filters: MessageFilter) -> None:
        self.post_result(MessagesFound(self.services.store.messages(filters)))

    @on(MessagesFound)
    def _show(self, result: MessagesFound) -> None:
        entries = result.entries
        table = self.query_one("#ledger", DataTable)
        previous_row = max(table.cursor_row, 0)
        self.entries = list(reversed(entries))[:SHOWN_LIMIT]
        self._found = len(entries), sum(self._reprocessable(entry) for entry in entries)
        keys = [entry_key(entry) for entry in self.entries]
        self.marked &= {key for key, entry in zip(keys, self.entries, strict=True) if self._reprocessable(entry)}
        table.clear()
        for index, entry in enumerate(self.entries):
            table.add_row(*self._cells(entry), key=str(index))
        # Back on the message it was on; if that one left the list, on the row that took its place.
        wanted = keys.index(self._cursor_key) if self._cursor_key in keys else min(previous_row, len(keys) - 1)
        if wanted >= 0:
            table.move_cursor(row=wanted, animate=False, scroll=True)
        self._cursor_key = None
        self._summary()

    def _summary(self) -> None:
        """The counts; the keys are in the footer."""
        found, failures = self._found
        marked = f" {len(self.marked)} marcados (R los reprocesa)." if self.marked else ""
        self.query_one("#ledger-summary", Static).update(Content(
            f"{counted(found, 'correo', 'correos')}, {failures} en Fallidos. Enter: detalle.{marked}"))

    def _cells(self, entry: LedgerEntry) -> tuple[object, ...]:
        failed = self._reprocessable(entry)
        status = REPROCESSED if entry.status == FAILED and entry.reprocessed_at else entry.status
        mark = MARK if entry_key(entry) in self.marked else ""
        return (
            f"{self.services.local_time(entry.created_at):%d/%m/%Y %H:%M}",
            Content.styled(mark + status, "$text-error" if failed else "$text-success"),
            entry.reason or "",
            Text(entry.destination or ""),
            Text(entry.subject or entry.source_key),  # from the mail: never markup
        )

    @staticmethod
    def _reprocessable(entry: LedgerEntry) -> bool:
        """Failed and still in Fallidos (not sent back to the inbox already)."""
        return entry.status == FAILED and entry.reprocessed_at is None

    def _selected(self) -> LedgerEntry | None:
        table = self.query_one("#ledger", DataTable)
        if not self.entries or not 0 <= table.cursor_row < len(self.entries):
            return None
        return self.entries[table.cursor_row]

    @on(DataTable.RowSelected, "#ledger")
    def _detail(self) -> None:
        entry = self._selected()
        if entry is not None:
            when = f"{self.services.local_time(entry.created_at):%d/%m/%Y %H:%M:%S}"
            again = (f"{self.services.local_time(entry.reprocessed_at):%d/%m/%Y %H:%M:%S}"
                     if entry.reprocessed_at else None)
            self.app.push_screen(MessageDialog("Correo", detail_lines(entry, when, again),
                                               error=self._reprocessable(entry)))

    def action_mark(self) -> None:
        entry = self._selected()
        if entry is None or not self._reprocessable(entry):
            self.notify("Solo se marcan correos fallidos que siguen en Fallidos.", severity="warning")
            return
        self.marked ^= {entry_key(entry)}
        table = self.query_one("#ledger", DataTable)
        row = table.cursor_row
        table.update_cell_at(Coordinate(row, 1), self._cells(entry)[1])
        self._summary()
        if row < table.row_count - 1:
            table.move_cursor(row=row + 1, animate=False)  # marking goes down the list, as in a file manager

    def action_reprocess(self) -> None:
        """R: the marked messages, or the one under the cursor."""
        if self.marked:
            chosen = [entry for entry in self.entries if entry_key(entry) in self.marked]
            self._confirm_reprocess(chosen, f"los {len(chosen)} correos marcados" if len(chosen) > 1
                                    else "el correo marcado")
            return
        entry = self._selected()
        if entry is None or not self._reprocessable(entry):
            self.notify("Elija un correo fallido (o márquelos con Espacio) para reprocesarlo.", severity="warning")
            return
        self._confirm_reprocess([entry], f"«{entry.subject or entry.message_id or entry.source_key}»")

    def action_reprocess_reason(self) -> None:
        """M: every failed message listed with the reason of the one under the cursor."""
        entry = self._selected()
        if entry is None or not self._reprocessable(entry) or not entry.reason:
            self.notify("Ponga el cursor sobre un correo fallido: M reprocesa todos los de su motivo.",
                        severity="warning")
            return
        chosen = [other for other in self.entries if self._reprocessable(other) and other.reason == entry.reason]
        self._confirm_reprocess(chosen, f"los {len(chosen)} correos fallidos con motivo «{entry.reason}»"
                                if len(chosen) > 1 else f"el correo fallido con motivo «{entry.reason}»")

    def _confirm_reprocess(self, entries: list[LedgerEntry], what: str) -> None:
        by_account: dict[Account, list[LedgerEntry]] = defaultdict(list)
        for entry in entries:
            account = self.services.config.accounts.get(entry.account)
            if account is None:
                self.notify(f"La cuenta «{entry.account}» ya no está en la configuración.", severity="error")
                return
            by_account[account].append(entry)
        folders = ", ".join(sorted({account.failed_folder for account in by_account}))
        question = (f"¿Devolver {what} de {folders} a la bandeja de entrada? La próxima pasada los "
                    "procesará de nuevo.")

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self._reprocess(dict(by_account))

        self.app.push_screen(ConfirmDialog("Reprocesar correos", question, "Reprocesar"), answered)

    @work(thread=True, exclusive=True, group="reprocesar", exit_on_error=False, name="Reprocesar correos")
    def _reprocess(self, by_account: dict[Account, list[LedgerEntry]]) -> None:
        outcomes: list[ReprocessOutcome] = []
        for account, entries in by_account.items():  # one connection per account
            outcomes += reprocess_messages(account, entries, store=self.services.store)
        self.post_result(MessagesReprocessed(outcomes))

    @on(MessagesReprocessed)
    def _reprocessed(self, result: MessagesReprocessed) -> None:
        self.marked -= {entry_key(outcome.entry) for outcome in result.outcomes if outcome.ok}
        failed = any(not outcome.ok for outcome in result.outcomes)
        self.notify(reprocess_summary(result.outcomes), title="Reprocesar", severity="warning" if failed else "information")
        self.action_refresh()
