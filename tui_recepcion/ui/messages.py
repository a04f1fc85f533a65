"""The message ledger: every processed mail with its outcome and reason; re-processing."""

from __future__ import annotations

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import DataTable, Footer, Select, Static

from tui_recepcion.config import Account
from tui_recepcion.dian.reasons import REASONS
from tui_recepcion.engine.reprocess import reprocess_failed
from tui_recepcion.output import message_record
from tui_recepcion.store import LedgerEntry, MessageFilter
from tui_recepcion.ui.dialogs import ConfirmDialog, MessageDialog
from tui_recepcion.ui.navbar import NavBar
from tui_recepcion.ui.screen import RecepcionScreen, WorkerResult, set_column_widths
from tui_recepcion.vocabulary import FAILED, PROCESSED, counted

SHOWN_LIMIT = 2000
STATUSES = (("Todos los estados", ""), ("Procesados", PROCESSED), ("Fallidos", FAILED))


def detail_lines(entry: LedgerEntry, local_time: str) -> list[str]:
    record = message_record(entry)
    lines = [
        f"Cuenta: {entry.account}",
        f"Registrado: {local_time}",
        f"Asunto: {entry.subject or '—'}",
        f"Remitente: {entry.sender or '—'}",
        f"Message-ID: {entry.message_id or '—'}",
        f"Estado: {entry.status}",
    ]
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


class MessageReprocessed(WorkerResult):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name  # the subject, else the Message-ID, else the source key


def subject_width(width: int) -> int:
    """Asunto, the last column, takes what the others leave at this terminal width."""
    return min(60, max(10, width - 62))


class MessagesScreen(RecepcionScreen):
    TITLE = "Mensajes"
    HELP = (
        "El registro de cada correo procesado, del más reciente al más antiguo, con su estado y el "
        "motivo de cada fallo. Enter muestra el detalle. R devuelve un correo fallido de la carpeta "
        "Fallidos a la bandeja de entrada (solo IMAP) para que la próxima pasada lo procese de nuevo. "
        "A vuelve a consultar."
    )
    BINDINGS = [
        Binding("r", "reprocess", "Reprocesar"),
        Binding("a", "refresh", "Actualizar"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[LedgerEntry] = []

    def compose(self) -> ComposeResult:
        yield NavBar(self.TITLE, "mensajes")
        accounts = [("Todas las cuentas", "")] + [(account.id, account.id) for account in self.services.accounts]
        with Horizontal(classes="filters"):
            yield Select(STATUSES, value="", allow_blank=False, compact=True, id="estado")
            yield Select(accounts, value="", allow_blank=False, compact=True, id="cuenta")
        table: DataTable = DataTable(cursor_type="row", zebra_stripes=True, id="ledger")
        table.add_column("Registrado", width=11)
        table.add_column("Estado", width=9)
        table.add_column("Motivo", width=20)
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
        status, account = (self.query_one(f"#{key}", Select).value for key in ("estado", "cuenta"))
        self._query(MessageFilter(account=account or None, status=status or None))  # type: ignore[arg-type]

    @work(thread=True, exclusive=True, group="consulta", exit_on_error=False, name="Consultar mensajes")
    def _query(self, filters: MessageFilter) -> None:
        self.post_result(MessagesFound(self.services.store.messages(filters)))

    @on(MessagesFound)
    def _show(self, result: MessagesFound) -> None:
        entries = result.entries
        self.entries = list(reversed(entries))[:SHOWN_LIMIT]
        table = self.query_one("#ledger", DataTable)
        table.clear()
        for index, entry in enumerate(self.entries):
            failed = entry.status == FAILED
            table.add_row(
                f"{self.services.local_time(entry.created_at):%m-%d %H:%M}",
                Content.styled(entry.status, "$text-error" if failed else "$text-success"),
                entry.reason or "",
                Text(entry.destination or ""),
                Text(entry.subject or entry.source_key),  # from the mail: never markup
                key=str(index),
            )
        failures = sum(entry.status == FAILED for entry in entries)
        self.query_one("#ledger-summary", Static).update(Content(
            f"{counted(len(entries), 'correo', 'correos')}, {counted(failures, 'fallido', 'fallidos')}. "
            "Enter: detalle · R: reprocesar un fallido"))

    def _selected(self) -> LedgerEntry | None:
        table = self.query_one("#ledger", DataTable)
        if not self.entries or table.cursor_row < 0:
            return None
        return self.entries[table.cursor_row]

    @on(DataTable.RowSelected, "#ledger")
    def _detail(self) -> None:
        entry = self._selected()
        if entry is not None:
            when = f"{self.services.local_time(entry.created_at):%Y-%m-%d %H:%M:%S}"
            self.app.push_screen(MessageDialog("Correo", detail_lines(entry, when), error=entry.status == FAILED))

    def action_reprocess(self) -> None:
        entry = self._selected()
        if entry is None or entry.status != FAILED:
            self.notify("Elija un correo fallido para reprocesarlo.", severity="warning")
            return
        account = self.services.config.accounts.get(entry.account)
        if account is None:
            self.notify(f"La cuenta «{entry.account}» ya no está en la configuración.", severity="error")
            return
        question = (f"¿Devolver «{entry.subject or entry.message_id}» de {account.failed_folder} a la bandeja "
                    "de entrada? La próxima pasada lo procesará de nuevo.")

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self._reprocess(account, entry)

        self.app.push_screen(ConfirmDialog("Reprocesar correo", question, "Reprocesar"), answered)

    @work(thread=True, exclusive=True, group="reprocesar", exit_on_error=False, name="Reprocesar correo")
    def _reprocess(self, account: Account, entry: LedgerEntry) -> None:
        reprocess_failed(account, entry.message_id or "")
        self.post_result(MessageReprocessed(entry.subject or entry.message_id or entry.source_key))

    @on(MessageReprocessed)
    def _reprocessed(self, result: MessageReprocessed) -> None:
        self.notify(f"«{result.name}» volvió a la bandeja de entrada: la próxima pasada lo procesa.",
                    title="Reprocesar")
