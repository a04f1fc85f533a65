"""Documents: the stored documents, the queries over them, and the evidence of conflicts.

A stored document's row never changes (see docs/architecture.md, immutability). A later
message with a stored CUFE is a duplicate when its signed document has the same content
(`content_sha256`, see `files.document_content_sha256`) and a conflict otherwise: the new
content is kept apart as evidence (`document_conflicts`). The ledger decides this while it
records a batch, inside its transaction, with the functions of this module.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tui_recepcion.dian.model import Document, Party, Reference, Tax
from tui_recepcion.dian.ubl import split_nit
from tui_recepcion.store.database import (
    Database,
    StoreBase,
    as_date,
    as_path,
    like_escape,
    path_text,
    where,
)
from tui_recepcion.store.files import file_content_sha256
from tui_recepcion.store.problems import StoreError, translated
from tui_recepcion.store.rows import ConflictRow, DocumentFilter, DocumentRow
from tui_recepcion.store.signature_columns import signature_values, signatures_from


class Documents(StoreBase):
    """The documents aggregate of `Store`: reading documents and conflict evidence."""

    @translated
    def documents(self, filters: DocumentFilter = DocumentFilter()) -> list[DocumentRow]:
        clauses, params = [], []
        if filters.account:
            clauses.append("d.account = ?")
            params.append(filters.account)
        if filters.since:
            clauses.append("d.issue_date >= ?")
            params.append(filters.since.isoformat())
        if filters.until:
            clauses.append("d.issue_date <= ?")
            params.append(filters.until.isoformat())
        if filters.tipo:
            clauses.append("d.tipo = ?")
            params.append(filters.tipo)
        if filters.supplier:
            nit, _ = split_nit(filters.supplier.strip())
            if nit.isdigit():
                clauses.append("d.supplier_nit = ?")
                params.append(nit)
            else:
                clauses.append("d.supplier_search LIKE ? ESCAPE '\\'")
                params.append(f"%{like_escape(search_key(filters.supplier))}%")
        sql = ("SELECT d.*, m.message_id AS m_message_id, m.source_key AS m_source_key FROM documents d "
               "LEFT JOIN messages m ON m.id = d.message_row" + where(clauses)
               + " ORDER BY d.issue_date, d.issue_time, d.id")
        if filters.limit:
            sql += f" LIMIT {int(filters.limit)}"
        with self._db.lock:
            cursor = self._db.execute(sql, params)
            columns = [description[0] for description in cursor.description]
            return [document_row(dict(zip(columns, row, strict=True))) for row in cursor]

    @translated
    def document_count(self, account: str | None = None) -> int:
        with self._db.lock:
            if account is None:
                return int(self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
            return int(self._db.execute("SELECT COUNT(*) FROM documents WHERE account = ?",
                                        (account,)).fetchone()[0])

    @translated
    def conflicts(self, account: str | None = None) -> list[ConflictRow]:
        """The evidence of CUFEs that came again with other content, oldest first."""
        sql = ("SELECT c.account, c.cufe, m.source_key, m.message_id, m.subject, m.sender, c.content_sha256, "
               "c.xml_path, c.pdf_path, c.detected_at, d.number, d.xml_path FROM document_conflicts c "
               "LEFT JOIN messages m ON m.id = c.message_row LEFT JOIN documents d ON d.id = c.document_row")
        params: tuple[str, ...] = ()
        if account is not None:
            sql += " WHERE c.account = ?"
            params = (account,)
        with self._db.lock:
            rows = self._db.execute(sql + " ORDER BY c.id", params).fetchall()
        return [
            ConflictRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], as_path(row[7]), as_path(row[8]),
                        datetime.fromisoformat(row[9]), row[10], as_path(row[11]))
            for row in rows
        ]


def known_documents(db: Database, account: str, cufes: list[str]) -> dict[str, Known]:
    found: dict[str, Known] = {}
    cufes = list(dict.fromkeys(cufes))
    for start in range(0, len(cufes), 500):
        batch = cufes[start : start + 500]
        marks = ",".join("?" * len(batch))
        cursor = db.execute(
            "SELECT d.*, NULL AS m_message_id, NULL AS m_source_key FROM documents d "
            f"WHERE d.account = ? AND d.cufe IN ({marks})", (account, *batch)
        )
        columns = [description[0] for description in cursor.description]
        for row in cursor:
            values = dict(zip(columns, row, strict=True))
            stored = document_row(values)
            found[values["cufe"]] = Known(values["id"], stored.document, values["content_sha256"],
                                           stored.xml_path, stored.pdf_path)
    return found


def insert_document(db: Database, account: str, document: Document, message_row: int | None,
                     paths: dict[str, Path], content_sha256: str | None, now: str) -> int:
    reference = document.reference
    values = {
        "account": account,
        "cufe": document.cufe,
        "message_row": message_row,
        "kind": document.kind,
        "tipo": document.tipo,
        "number": document.number,
        "environment": document.environment,
        "issue_date": document.issue_date.isoformat(),
        "issue_time": document.issue_time,
        "due_date": document.due_date.isoformat() if document.due_date else None,
        "supplier_nit": document.supplier.nit,
        "supplier_dv": document.supplier.dv,
        "supplier_scheme": document.supplier.id_scheme,
        "supplier_name": document.supplier.name,
        "supplier_search": search_key(document.supplier.name),
        "customer_nit": document.customer.nit,
        "customer_dv": document.customer.dv,
        "customer_scheme": document.customer.id_scheme,
        "customer_name": document.customer.name,
        "currency": document.currency,
        "subtotal": _decimal_text(document.subtotal),
        "tax_base": _decimal_text(document.tax_base),
        "tax_inclusive": _decimal_text(document.tax_inclusive),
        "tax_total": str(document.tax_total),
        "withholding_total": str(document.withholding_total),
        "total": str(document.total),
        "taxes": _taxes_json(document.taxes),
        "withholdings": _taxes_json(document.withholdings),
        "dian_validation": document.dian_validation,
        "reference_number": reference.number if reference else None,
        "reference_cufe": reference.cufe if reference else None,
        "reference_date": reference.issue_date.isoformat() if reference and reference.issue_date else None,
        "xml_path": str(paths["xml"]) if "xml" in paths else None,
        "pdf_path": str(paths["pdf"]) if "pdf" in paths else None,
        "created_at": now,
        "content_sha256": content_sha256,
        **signature_values(document),
    }
    columns = ", ".join(values)
    marks = ", ".join("?" * len(values))
    cursor = db.execute(f"INSERT INTO documents ({columns}) VALUES ({marks})", tuple(values.values()))
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def discard_unreferenced(db: Database, account: str, leftovers: list[tuple[str, Path]]) -> None:
    """Remove files written for duplicates that no document or evidence row references.

    Best effort, after the commit: a failure here leaves a harmless file and must not
    make the caller believe the batch was not recorded."""
    with db.lock:
        for cufe, path in dict.fromkeys(leftovers):
            # A file's name starts with its CUFE's first 16 characters: only documents
            # whose CUFE starts so can reference it (an index range, not a table scan).
            prefix = cufe[:16]
            try:
                bounds = (account, prefix, prefix + "\uffff", str(path), str(path))
                referenced = db.execute(
                    """SELECT 1 FROM documents WHERE account = ? AND cufe >= ? AND cufe < ?
                         AND (xml_path = ? OR pdf_path = ?)
                       UNION ALL SELECT 1 FROM document_conflicts WHERE account = ? AND cufe >= ?
                         AND cufe < ? AND (xml_path = ? OR pdf_path = ?) LIMIT 1""",
                    bounds + bounds,
                ).fetchone()
                if referenced is None:
                    path.unlink(missing_ok=True)
            except (sqlite3.Error, StoreError, OSError):
                continue


@dataclass(frozen=True, slots=True)
class Known:
    """A document the account has (stored before, or earlier in the batch being recorded)."""

    row_id: int
    document: Document
    content_sha256: str | None
    xml_path: Path | None
    pdf_path: Path | None


def same_content(stored: Known, document: Document, content: str | None) -> bool:
    """Whether a new document under a stored CUFE is the stored one again.

    By the signed content's hash; a row stored before hashes existed is hashed from its XML
    file. Without an XML on either side (no documents folder), by every value the store
    keeps of the signed document (number, dates, parties, amounts, taxes…; DIAN's response
    belongs to the container)."""
    stored_content = stored.content_sha256
    if stored_content is None and stored.xml_path is not None:
        stored_content = file_content_sha256(stored.xml_path)
    if stored_content is not None and content is not None:
        return stored_content == content
    # Signatures are judged, not kept values: a row stored before they were checked has none.
    def kept(values: Document) -> Document:
        return replace(values, dian_validation=None, issuer_signature=None, dian_signature=None)

    return kept(stored.document) == kept(document)


def conflict_detail(document: Document, stored: Known, paths: Mapping[str, Path]) -> str:
    evidence = paths.get("xml") or paths.get("pdf")
    where = f" ({evidence})" if evidence is not None else ""
    return (f"El CUFE {document.cufe} ya estaba guardado como el documento {stored.document.number} con otro "
            f"contenido (este correo trae el documento {document.number} por {document.total} "
            f"{document.currency}; posible falsificación). El documento guardado no se modificó; el contenido "
            f"nuevo se guardó aparte como evidencia{where}.")


def document_row(values: dict[str, Any]) -> DocumentRow:
    reference = None
    if values["reference_number"]:
        reference = Reference(values["reference_number"], values["reference_cufe"],
                              as_date(values["reference_date"]))
    document = Document(
        kind=values["kind"],
        tipo=values["tipo"],
        number=values["number"],
        cufe=values["cufe"],
        issue_date=date.fromisoformat(values["issue_date"]),
        supplier=Party(values["supplier_nit"], values["supplier_name"], values["supplier_dv"],
                       values["supplier_scheme"]),
        customer=Party(values["customer_nit"], values["customer_name"], values["customer_dv"],
                       values["customer_scheme"]),
        currency=values["currency"],
        total=Decimal(values["total"]),
        environment=values["environment"],
        issue_time=values["issue_time"],
        due_date=as_date(values["due_date"]),
        subtotal=_decimal(values["subtotal"]),
        tax_base=_decimal(values["tax_base"]),
        tax_inclusive=_decimal(values["tax_inclusive"]),
        taxes=_taxes(values["taxes"]),
        withholdings=_taxes(values["withholdings"]),
        dian_validation=values["dian_validation"],
        reference=reference,
    )
    issuer_signature, dian_signature = signatures_from(values)
    if issuer_signature is not None or dian_signature is not None:
        document = replace(document, issuer_signature=issuer_signature, dian_signature=dian_signature)
    return DocumentRow(
        account=values["account"],
        document=document,
        message_id=values["m_message_id"],
        source_key=values["m_source_key"],
        xml_path=Path(values["xml_path"]) if values["xml_path"] else None,
        pdf_path=Path(values["pdf_path"]) if values["pdf_path"] else None,
        created_at=datetime.fromisoformat(values["created_at"]),
    )


def _taxes_json(taxes: Iterable[Tax]) -> str:
    return json.dumps([[tax.code, tax.name, str(tax.amount)] for tax in taxes], ensure_ascii=False)


def _taxes(text: str) -> tuple[Tax, ...]:
    return tuple(Tax(code, name, Decimal(amount)) for code, name, amount in json.loads(text))


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


@functools.lru_cache(maxsize=4096)  # a mailbox's suppliers repeat: one key per name, not per document
def search_key(text: str) -> str:
    """Case- and accent-insensitive form of a name, for searching."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    if decomposed.isascii():  # nothing to strip (most names), without a pass per character
        return decomposed
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def insert_conflict(db: Database, account: str, cufe: str, message_row: int | None, stored_row: int,
                    content_sha256: str | None, paths: Mapping[str, Path], now: str) -> None:
    """Record the evidence of a message that brought other content under a stored CUFE."""
    db.execute(
        """INSERT INTO document_conflicts (account, cufe, message_row, document_row, content_sha256,
           xml_path, pdf_path, detected_at) VALUES (?,?,?,?,?,?,?,?)""",
        (account, cufe, message_row, stored_row, content_sha256,
         path_text(paths.get("xml")), path_text(paths.get("pdf")), now),
    )
