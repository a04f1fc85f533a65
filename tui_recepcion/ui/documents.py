"""The documents browser: stored documents, filters, a detail view and the Excel export.

The table's columns are one declarative list (`COLUMNS`); their widths follow the terminal's
width, recomputed on every resize, so the Total column stays on screen at 80×24 whatever
the size was before (the RADIAN columns after it scroll into view there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rich.console import JustifyMethod
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Footer, Input, Label, Select, Static

from tui_recepcion.dian.codes import STORED_DOCUMENT_TYPES, document_type_label, response_label
from tui_recepcion.dian.deadlines import rules_for
from tui_recepcion.dian.radian import event_label
from tui_recepcion.errors import RecepcionError
from tui_recepcion.output import document_record, money, render_excel
from tui_recepcion.radian.requester import requester
from tui_recepcion.radian.sender import AcceptanceConfirmation
from tui_recepcion.store import DocumentFilter, DocumentRow
from tui_recepcion.store.radian_events import DocumentRadian
from tui_recepcion.ui.dialogs import MessageDialog, PathDialog
from tui_recepcion.ui.navbar import NavBar
from tui_recepcion.ui.radian import RADIAN_FILTERS, keep_row, radian_cells, radian_lines
from tui_recepcion.ui.radian_dialogs import AcceptanceDialog, ClaimDialog
from tui_recepcion.ui.screen import RecepcionScreen, WorkerResult
from tui_recepcion.vocabulary import counted

SHOWN_LIMIT = 2000
TIPOS = (
    ("Todos los tipos", ""),
    *((document_type_label(code), code) for code in STORED_DOCUMENT_TYPES),
)
WIDE = 140  # from this terminal width up, the Tipo column spells out each DIAN code


@dataclass(frozen=True, slots=True)
class ShownRow:
    """What one line of the table shows: the document, its RADIAN state, whether it is marked."""

    row: DocumentRow
    radian: DocumentRadian | None
    marked: bool


@dataclass(frozen=True, slots=True)
class DocumentColumn:
    """One column of the documents table: what it shows and how wide it is."""

    key: str
    header: str
    width: int  # at 80 columns
    cell: Callable[[ShownRow, bool], Text]  # (line, wide terminal) → the cell
    wide_width: int | None = None  # from WIDE up, when it differs
    flexible: bool = False  # takes the width the others leave
    may_scroll: bool = False  # on a narrow terminal it may lie past the right edge


def _text(value: str, justify: JustifyMethod = "left") -> Text:
    return Text(value, justify=justify)  # Text, never markup: these come from the documents


def _date(line: ShownRow, wide: bool) -> Text:
    text = line.row.document.issue_date.isoformat()
    return _text(f"✓{text[1:]}" if line.marked else text)  # ✓: marked for «Acuse + recibo»


def _radian(index: int) -> Callable[[ShownRow, bool], Text]:
    return lambda line, wide: radian_cells(line.radian)[index]


# The table, left to right. A column added here is laid out, resized and filled like the others.
COLUMNS: tuple[DocumentColumn, ...] = (
    DocumentColumn("fecha", "Fecha", 10, _date),
    DocumentColumn("emisor", "Emisor", 16, lambda line, wide: _text(line.row.document.supplier.name), flexible=True),
    DocumentColumn("tipo", "Tipo", 15,
                   lambda line, wide: _text(document_type_label(line.row.document.tipo, short=not wide)),
                   wide_width=28),
    DocumentColumn("numero", "Número", 12, lambda line, wide: _text(line.row.document.number)),
    DocumentColumn("total", "Total", 15, lambda line, wide: _text(money(str(line.row.document.total)), "right")),
    DocumentColumn("radian", "RADIAN", 10, _radian(0), may_scroll=True),
    DocumentColumn("vence", "Vence", 10, _radian(1), may_scroll=True),
    DocumentColumn("firma", "Firma", 8, _radian(2), may_scroll=True),
)
CELL_PADDING = 2  # DataTable's cell_padding, on both sides of every column
SCROLLBAR = 2
FLEXIBLE_MIN, FLEXIBLE_MAX = 12, 50
MARK_COLUMN = 0  # the column that shows the ✓


def column_widths(width: int) -> dict[str, int]:
    """Each column's width for a terminal `width` columns wide: the flexible column gets what
    the fixed ones leave, so Total is always on screen (at 80 columns the RADIAN ones, after
    it, scroll into view)."""
    wide = width >= WIDE
    fixed = {column.key: (column.wide_width or column.width) if wide else column.width
             for column in COLUMNS if not column.flexible}
    budget = [column for column in COLUMNS if not column.may_scroll or width >= 110]
    used = sum(fixed.get(column.key, 0) for column in budget) + CELL_PADDING * len(budget) + SCROLLBAR
    flexible = [column for column in COLUMNS if column.flexible]
    share = max(FLEXIBLE_MIN, min(FLEXIBLE_MAX, (width - used) // max(1, len(flexible))))
    return {column.key: fixed.get(column.key, share) for column in COLUMNS}


class DocumentsFound(WorkerResult):
    def __init__(self, rows: list[DocumentRow], radian: list[DocumentRadian] | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.radian = radian


class EventsSent(WorkerResult):
    """What happened to the RADIAN events a Documentos action asked for (Spanish lines)."""

    def __init__(self, lines: list[str], ok: bool) -> None:
        super().__init__()
        self.lines = lines
        self.ok = ok


class DocumentsExported(WorkerResult):
    def __init__(self, count: int, path: Path) -> None:
        super().__init__()
        self.count = count
        self.path = path


def detail_lines(row: DocumentRow, radian: DocumentRadian | None = None, roots: Path | None = None) -> list[str]:
    """Everything worth reading about one document, in Spanish."""
    record = document_record(row)
    doc = row.document
    supplier = f"{doc.supplier.name} — NIT {doc.supplier.nit}" + (f"-{doc.supplier.dv}" if doc.supplier.dv else "")
    customer = f"{doc.customer.name} — NIT {doc.customer.nit}" + (f"-{doc.customer.dv}" if doc.customer.dv else "")
    lines = [
        f"Tipo: {document_type_label(doc.tipo)}",
        f"Número: {doc.number}",
        f"Fecha de emisión: {record['fecha_emision']} {record['hora_emision'] or ''}".rstrip(),
        f"Emisor: {supplier}",
        f"Receptor: {customer}",
        f"Moneda: {doc.currency}",
        f"Subtotal: {money(record['subtotal'])}",
        f"Impuestos: {money(record['impuestos'])}",
    ]
    lines += [f"  {tax['codigo']} {tax['nombre']}: {money(tax['valor'])}" for tax in record["detalle_impuestos"]]
    lines.append(f"Retenciones: {money(record['retenciones'])}")
    lines += [f"  {tax['codigo']} {tax['nombre']}: {money(tax['valor'])}" for tax in record["detalle_retenciones"]]
    lines += [
        f"Total: {money(record['total'])}",
        f"Validación DIAN: {response_label(record['validacion_dian'])}" + ("  (AMBIENTE DE PRUEBAS)" if doc.is_test else ""),
        f"CUFE/CUDE: {doc.cufe}",
    ]
    if doc.reference is not None:
        lines.append(f"Referencia: {doc.reference.number} ({doc.reference.cufe or 'sin CUFE'})")
    lines += [
        f"Cuenta: {row.account}",
        f"Correo de origen: {row.message_id or row.source_key or '—'}",
        f"Archivo XML: {row.xml_path or '—'}",
        f"Archivo PDF: {row.pdf_path or '—'}",
    ]
    if radian is not None:
        lines += radian_lines(row, radian, roots)
    return lines


class DocumentsScreen(RecepcionScreen):
    TITLE = "Documentos"
    HELP = (
        "Los documentos electrónicos guardados, del más reciente al más antiguo. Filtre por emisor "
        "(NIT o parte del nombre), por fechas de emisión (AAAA-MM-DD), por tipo y por estado RADIAN "
        "(pendientes de acuse, por vencer, firma inválida). Enter muestra el "
        "detalle del documento; Ctrl+E exporta lo filtrado a Excel (.xlsx); Ctrl+R vuelve a consultar."
        " Eventos ante la DIAN: Espacio marca o desmarca documentos; F6 envía el acuse de recibo y "
        "el recibo del bien o servicio (030 y 032) de los marcados (o del señalado); F7 aceptación expresa (033, irrevocable: pide escribir el número de "
        "la factura); F8 reclamo (031, pide el concepto)."
    )
    BINDINGS = [
        # priority: the filter Inputs bind Ctrl+E to "end of line" (the End key still does that).
        Binding("ctrl+e", "export", "Exportar a Excel", priority=True),
        Binding("ctrl+r", "refresh", "Actualizar"),
        Binding("space", "mark", "Marcar", show=False),
        Binding("f6", "acknowledge", "Acuse + recibo", show=False),
        Binding("f7", "accept", "Aceptar", show=False),
        Binding("f8", "claim", "Reclamar…", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[DocumentRow] = []
        self.radian: list[DocumentRadian | None] = []
        self.marked: set[str] = set()  # CUFEs marked for «Acuse + recibo»
        self._laid_out_for = 0  # the terminal width the columns were computed for

    def compose(self) -> ComposeResult:
        yield NavBar(self.TITLE, "documentos")
        with Horizontal(id="doc-filters", classes="filters"):
            yield Input(placeholder="Emisor: NIT o nombre", compact=True, id="emisor")
            yield Input(placeholder="Desde AAAA-MM-DD", compact=True, id="desde", max_length=10)
            yield Input(placeholder="Hasta AAAA-MM-DD", compact=True, id="hasta", max_length=10)
            yield Select(TIPOS, value="", allow_blank=False, compact=True, id="tipo")
            yield Select(RADIAN_FILTERS, value="", allow_blank=False, compact=True, id="radian")
        yield Label("", id="doc-filter-error", classes="filter-error")
        yield DataTable(cursor_type="row", zebra_stripes=True, id="documents")
        yield Static("", id="doc-summary", classes="summary")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.action_refresh()

    def on_screen_resume(self) -> None:
        self.action_refresh()  # new documents may have arrived while another screen was shown

    def _filters(self) -> DocumentFilter | None:
        dates: dict[str, date | None] = {}
        for field in ("desde", "hasta"):
            text = self.query_one(f"#{field}", Input).value.strip()
            try:
                dates[field] = date.fromisoformat(text) if text else None
            except ValueError:
                self._filter_error(f"Fecha «{text}» inválida: use AAAA-MM-DD.")
                return None
        self._filter_error("")
        tipo = self.query_one("#tipo", Select).value
        return DocumentFilter(
            since=dates["desde"],
            until=dates["hasta"],
            supplier=self.query_one("#emisor", Input).value.strip() or None,
            tipo=tipo if isinstance(tipo, str) and tipo else None,
        )

    def _filter_error(self, text: str) -> None:
        label = self.query_one("#doc-filter-error", Label)
        label.update(Content(text))
        label.display = bool(text)

    @on(Input.Changed)
    @on(Select.Changed)
    def action_refresh(self) -> None:
        filters = self._filters()
        if filters is not None:
            chosen = self.query_one("#radian", Select).value
            self._query(filters, chosen if isinstance(chosen, str) else "")

    @work(thread=True, exclusive=True, group="consulta", exit_on_error=False, name="Consultar documentos")
    def _query(self, filters: DocumentFilter, radian_filter: str = "") -> None:
        store = self.services.store
        rows = store.documents(filters)
        today = self.services.local_time(self.services.clock()).date()
        radian = store.radian_of(rows, today=today, rules=rules_for(self.services.config.general))
        kept = [(row, info) for row, info in zip(rows, radian, strict=True) if keep_row(info, radian_filter, today)]
        self.post_result(DocumentsFound([row for row, _ in kept], [info for _, info in kept]))

    @on(DocumentsFound)
    def _show(self, result: DocumentsFound) -> None:
        rows = result.rows
        self.rows = list(reversed(rows))[:SHOWN_LIMIT]  # newest first
        radian: list[DocumentRadian | None] = list(result.radian) if result.radian is not None else [None] * len(rows)
        self.radian = list(reversed(radian))[:SHOWN_LIMIT]
        self._fill(self.app.size.width)
        shown = f" (se muestran los {SHOWN_LIMIT} más recientes)" if len(rows) > SHOWN_LIMIT else ""
        self.query_one("#doc-summary", Static).update(Content(
            f"{counted(len(rows), 'documento', 'documentos')}{shown}. Enter: detalle · Ctrl+E: exportar a Excel"))

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._laid_out_for:
            self._fill(event.size.width)

    def _line(self, index: int) -> ShownRow:
        row = self.rows[index]
        return ShownRow(row, self.radian[index] if index < len(self.radian) else None,
                        row.document.cufe in self.marked)

    def _fill(self, width: int) -> None:
        """Lay the columns out for `width` and put the rows in, keeping the cursor's row."""
        table = self.query_one("#documents", DataTable)
        cursor = table.cursor_row
        widths = column_widths(width)
        wide = width >= WIDE
        table.clear(columns=True)
        for column in COLUMNS:
            table.add_column(column.header, width=widths[column.key], key=column.key)
        for index in range(len(self.rows)):
            line = self._line(index)
            table.add_row(*(column.cell(line, wide) for column in COLUMNS), key=str(index))
        if self.rows:
            table.move_cursor(row=min(cursor, len(self.rows) - 1))
        self._laid_out_for = width

    @on(DataTable.RowSelected, "#documents")
    def _detail(self, event: DataTable.RowSelected) -> None:
        index = int(str(event.row_key.value))
        row = self.rows[index]
        radian = self.radian[index] if index < len(self.radian) else None
        roots = self.services.config.general.signing_roots
        self.app.push_screen(MessageDialog(f"Documento {row.document.number}", detail_lines(row, radian, roots)))

    def action_export(self) -> None:
        filters = self._filters()
        if filters is None:
            return
        default = Path.home() / f"documentos-{self.services.local_time(self.services.clock()):%Y%m%d}.xlsx"

        def chosen(path: Path | None) -> None:
            if path is not None:
                self._export(filters, path)

        self.app.push_screen(PathDialog("Exportar a Excel", "Archivo .xlsx donde guardar los documentos filtrados:",
                                        default), chosen)

    @work(thread=True, exclusive=True, group="exportar", exit_on_error=False, name="Exportar documentos")
    def _export(self, filters: DocumentFilter, path: Path) -> None:
        records = [document_record(row) for row in self.services.store.documents(filters)]
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as stream:
            render_excel(records, stream)
        self.post_result(DocumentsExported(len(records), path))

    @on(DocumentsExported)
    def _exported(self, result: DocumentsExported) -> None:
        self.notify(f"{counted(result.count, 'documento exportado', 'documentos exportados')} a {result.path}.",
                    title="Exportar a Excel")

    # --- RADIAN events of the highlighted document (tui_recepcion/radian/) --------------------

    def _highlighted(self) -> DocumentRow | None:
        table = self.query_one("#documents", DataTable)
        if not self.rows or table.cursor_row < 0 or table.cursor_row >= len(self.rows):
            self.notify("Señale primero un documento de la lista.", title="Eventos RADIAN")
            return None
        return self.rows[table.cursor_row]

    def action_mark(self) -> None:
        row = self._highlighted()
        if row is None:
            return
        self.marked ^= {row.document.cufe}
        table = self.query_one("#documents", DataTable)
        wide = self._laid_out_for >= WIDE
        table.update_cell_at(Coordinate(table.cursor_row, MARK_COLUMN), COLUMNS[MARK_COLUMN].cell(
            self._line(table.cursor_row), wide))
        table.move_cursor(row=table.cursor_row + 1)

    def action_acknowledge(self) -> None:
        marked = [row.document.cufe for row in self.rows if row.document.cufe in self.marked]
        if marked:
            self._send_events_in_bulk(marked)
            return
        row = self._highlighted()
        if row is not None:
            self._send_events(row.document.cufe, ("030", "032"))

    @work(thread=True, exclusive=True, group="eventos", exit_on_error=False, name="Enviar acuses a la DIAN")
    def _send_events_in_bulk(self, cufes: list[str]) -> None:
        """030 + 032 of each marked document (the sender refuses 033 and 031 in bulk)."""
        lines: list[str] = []
        ok = True
        try:
            results = self.services.event_sender().send_many(cufes, ("030", "032"),
                                                              requested_by=f"{requester()} (Documentos)")
        except RecepcionError as problem:
            results = []
            lines.append(f"No se envió: {problem}")
            ok = False
        for result in results:
            if isinstance(result, RecepcionError):
                lines.append(f"No se envió: {result}")
                ok = False
            else:
                lines.append(f"{result.code} {event_label(result.code)} de {result.document_number}: {result.state}")
                ok = ok and result.at_dian
        self.post_result(EventsSent(lines, ok))

    def action_accept(self) -> None:
        row = self._highlighted()
        if row is None:
            return

        def confirmed(confirmation: AcceptanceConfirmation | None) -> None:
            if confirmation is not None:
                self._send_events(row.document.cufe, ("033",), confirmation=confirmation)

        self.app.push_screen(AcceptanceDialog(row.document.cufe, row.document.number, row.document.supplier.name),
                             confirmed)

    def action_claim(self) -> None:
        row = self._highlighted()
        if row is None:
            return

        def chosen(reason: str | None) -> None:
            if reason is not None:
                self._send_events(row.document.cufe, ("031",), claim_reason=reason)

        self.app.push_screen(ClaimDialog(row.document.number), chosen)

    @work(thread=True, exclusive=True, group="eventos", exit_on_error=False, name="Enviar eventos a la DIAN")
    def _send_events(self, cufe: str, codes: tuple[str, ...], *, claim_reason: str | None = None,
                     confirmation: AcceptanceConfirmation | None = None) -> None:
        lines: list[str] = []
        ok = True
        try:
            sender = self.services.event_sender()
            for code in codes:
                result = sender.send(cufe, code, requested_by=f"{requester()} (Documentos)",
                                     claim_reason=claim_reason, confirmation=confirmation)
                lines.append(f"{code} {event_label(code)} [{result.event_number}]: {result.state}")
                lines += [f"  {line}" for line in result.message.splitlines()]
                if not result.at_dian:
                    ok = False
                    break
        except RecepcionError as problem:
            lines.append(f"No se envió: {problem}")
            ok = False
        self.post_result(EventsSent(lines, ok))

    @on(EventsSent)
    def _events_sent(self, result: EventsSent) -> None:
        self.marked.clear()
        self.action_refresh()  # the RADIAN columns show what DIAN now has
        self.app.push_screen(MessageDialog("Eventos ante la DIAN", result.lines, error=not result.ok))

