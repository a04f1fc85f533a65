"""The documents browser: stored documents, filters, a detail view and the Excel export.

The table's columns are one declarative list (`COLUMNS`); their widths follow the terminal's
width, recomputed on every resize, so the Total column stays on screen at 80×24 whatever
the size was before.
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
from textual.widgets import DataTable, Footer, Input, Label, Select, Static

from tui_recepcion.dian.codes import STORED_DOCUMENT_TYPES, document_type_label, response_label
from tui_recepcion.output import document_record, money, render_excel
from tui_recepcion.store import DocumentFilter, DocumentRow
from tui_recepcion.ui.dialogs import MessageDialog, PathDialog
from tui_recepcion.ui.navbar import NavBar
from tui_recepcion.ui.screen import RecepcionScreen, WorkerResult
from tui_recepcion.vocabulary import counted

SHOWN_LIMIT = 2000
WIDE = 110  # from this terminal width up, the Tipo column spells out each DIAN code
TIPOS = (
    ("Todos los tipos", ""),
    *((document_type_label(code), code) for code in STORED_DOCUMENT_TYPES),
)


@dataclass(frozen=True, slots=True)
class DocumentColumn:
    """One column of the documents table: what it shows and how wide it is."""

    key: str
    header: str
    width: int  # at 80 columns
    cell: Callable[[DocumentRow, bool], Text]  # (row, wide terminal) → the cell
    wide_width: int | None = None  # from WIDE up, when it differs
    flexible: bool = False  # takes the width the others leave


def _text(value: str, justify: JustifyMethod = "left") -> Text:
    return Text(value, justify=justify)  # Text, never markup: these come from the documents


# The table, left to right. A column added here is laid out, resized and filled like the others.
COLUMNS: tuple[DocumentColumn, ...] = (
    DocumentColumn("fecha", "Fecha", 10, lambda row, wide: _text(row.document.issue_date.isoformat())),
    DocumentColumn("emisor", "Emisor", 16, lambda row, wide: _text(row.document.supplier.name), flexible=True),
    DocumentColumn("tipo", "Tipo", 15, lambda row, wide: _text(document_type_label(row.document.tipo, short=not wide)),
                   wide_width=28),
    DocumentColumn("numero", "Número", 12, lambda row, wide: _text(row.document.number)),
    DocumentColumn("total", "Total", 15, lambda row, wide: _text(money(str(row.document.total)), "right")),
)
CELL_PADDING = 2  # DataTable's cell_padding, on both sides of every column
SCROLLBAR = 2
FLEXIBLE_MIN, FLEXIBLE_MAX = 12, 50


def column_widths(width: int) -> dict[str, int]:
    """Each column's width for a terminal `width` columns wide, so the last one (Total) is
    always on screen: the flexible column gets what the fixed ones leave."""
    wide = width >= WIDE
    fixed = {column.key: (column.wide_width or column.width) if wide else column.width
             for column in COLUMNS if not column.flexible}
    used = sum(fixed.values()) + CELL_PADDING * len(COLUMNS) + SCROLLBAR
    flexible = [column for column in COLUMNS if column.flexible]
    share = max(FLEXIBLE_MIN, min(FLEXIBLE_MAX, (width - used) // max(1, len(flexible))))
    return {column.key: fixed.get(column.key, share) for column in COLUMNS}


class DocumentsFound(WorkerResult):
    def __init__(self, rows: list[DocumentRow]) -> None:
        super().__init__()
        self.rows = rows


class DocumentsExported(WorkerResult):
    def __init__(self, count: int, path: Path) -> None:
        super().__init__()
        self.count = count
        self.path = path


def detail_lines(row: DocumentRow) -> list[str]:
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
    return lines


class DocumentsScreen(RecepcionScreen):
    TITLE = "Documentos"
    HELP = (
        "Los documentos electrónicos guardados, del más reciente al más antiguo. Filtre por emisor "
        "(NIT o parte del nombre), por fechas de emisión (AAAA-MM-DD) y por tipo. Enter muestra el "
        "detalle del documento; Ctrl+E exporta lo filtrado a Excel (.xlsx); Ctrl+R vuelve a consultar."
    )
    BINDINGS = [
        # priority: the filter Inputs bind Ctrl+E to "end of line" (the End key still does that).
        Binding("ctrl+e", "export", "Exportar a Excel", priority=True),
        Binding("ctrl+r", "refresh", "Actualizar"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[DocumentRow] = []
        self._laid_out_for = 0  # the terminal width the columns were computed for

    def compose(self) -> ComposeResult:
        yield NavBar(self.TITLE, "documentos")
        with Horizontal(id="doc-filters", classes="filters"):
            yield Input(placeholder="Emisor: NIT o nombre", compact=True, id="emisor")
            yield Input(placeholder="Desde AAAA-MM-DD", compact=True, id="desde", max_length=10)
            yield Input(placeholder="Hasta AAAA-MM-DD", compact=True, id="hasta", max_length=10)
            yield Select(TIPOS, value="", allow_blank=False, compact=True, id="tipo")
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
            self._query(filters)

    @work(thread=True, exclusive=True, group="consulta", exit_on_error=False, name="Consultar documentos")
    def _query(self, filters: DocumentFilter) -> None:
        self.post_result(DocumentsFound(self.services.store.documents(filters)))

    @on(DocumentsFound)
    def _show(self, result: DocumentsFound) -> None:
        rows = result.rows
        self.rows = list(reversed(rows))[:SHOWN_LIMIT]  # newest first
        self._fill(self.app.size.width)
        shown = f" (se muestran los {SHOWN_LIMIT} más recientes)" if len(rows) > SHOWN_LIMIT else ""
        self.query_one("#doc-summary", Static).update(Content(
            f"{counted(len(rows), 'documento', 'documentos')}{shown}. Enter: detalle · Ctrl+E: exportar a Excel"))

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._laid_out_for:
            self._fill(event.size.width)

    def _fill(self, width: int) -> None:
        """Lay the columns out for `width` and put the rows in, keeping the cursor's row."""
        table = self.query_one("#documents", DataTable)
        cursor = table.cursor_row
        widths = column_widths(width)
        wide = width >= WIDE
        table.clear(columns=True)
        for column in COLUMNS:
            table.add_column(column.header, width=widths[column.key], key=column.key)
        for index, row in enumerate(self.rows):
            table.add_row(*(column.cell(row, wide) for column in COLUMNS), key=str(index))
        if self.rows:
            table.move_cursor(row=min(cursor, len(self.rows) - 1))
        self._laid_out_for = width

    @on(DataTable.RowSelected, "#documents")
    def _detail(self, event: DataTable.RowSelected) -> None:
        row = self.rows[int(str(event.row_key.value))]
        self.app.push_screen(MessageDialog(f"Documento {row.document.number}", detail_lines(row)))

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
