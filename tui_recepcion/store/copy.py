"""Copying one store into another (`almacen migrar`): an SQLite store into PostgreSQL, so a
company that outgrows one machine keeps its history.

Every table is copied whole, with its ids (documents, ledger, conflicts, attempts, events,
alerts, token health, and whatever tables later migrations add), in ONE transaction of the
target under its store-wide lock: a copy that fails half-way leaves the target as it was,
and running it again is safe. A target that already holds exactly the source's rows is left
alone (a re-run is a no-op); a target with other data is refused, never merged.
Both stores are opened (so migrated) by the same program: their schemas are the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui_recepcion.store.database import Database
from tui_recepcion.store.problems import StoreError, translated

if TYPE_CHECKING:
    from tui_recepcion.store import Store

BATCH_ROWS = 1_000


@dataclass(frozen=True, slots=True)
class CopyReport:
    """What `copy_store` did: rows copied per table, or nothing because they were there."""

    rows: dict[str, int]
    already_copied: bool


def table_counts(db: Database) -> dict[str, int]:
    """Rows per table of the store, in creation order."""
    with db.lock:
        return {table: int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]) for table in db.tables()}


@translated
def copy_store(source: Store, target: Store) -> CopyReport:
    """Copy every row of `source` into `target` (see the module's rules)."""
    source_db, target_db = source._db, target._db
    if source_db.name == target_db.name:
        raise StoreError(f"El origen y el destino son el mismo almacén ({source_db.name}).")
    with source_db.lock, target_db.transaction():
        tables = source_db.tables()
        missing = [table for table in tables if table not in target_db.tables()]
        if missing:
            raise StoreError(f"El almacén de destino ({target_db.name}) no tiene las tablas {', '.join(missing)}: "
                             "¿es de otra versión del programa?")
        target_counts = {table: _count(target_db, table) for table in tables}
        if any(target_counts.values()):
            _require_same_rows(source_db, target_db, tables)
            return CopyReport(target_counts, already_copied=True)
        copied: dict[str, int] = {}
        for table in tables:
            columns = source_db.columns(table)
            insert = (f"INSERT INTO {table} ({', '.join(columns)}) "
                      f"VALUES ({', '.join('?' * len(columns))})")
            copied[table] = 0
            for batch in _batches(source_db, table, columns):
                target_db.executemany(insert, batch)
                copied[table] += len(batch)
            if target_db.has_generated_id(table):
                target_db.restart_ids(table, source_db.high_water_id(table))
        return CopyReport(copied, already_copied=False)


def _count(db: Database, table: str) -> int:
    return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def _batches(db: Database, table: str, columns: list[str]) -> Iterator[list[tuple[Any, ...]]]:
    order = " ORDER BY id" if "id" in columns else ""
    rows = [tuple(row) for row in db.execute(f"SELECT {', '.join(columns)} FROM {table}{order}").fetchall()]
    for start in range(0, len(rows), BATCH_ROWS):
        yield rows[start : start + BATCH_ROWS]


def _require_same_rows(source_db: Database, target_db: Database, tables: list[str]) -> None:
    for table in tables:
        columns = source_db.columns(table)
        select = f"SELECT {', '.join(columns)} FROM {table}"
        mine = Counter(tuple(row) for row in source_db.execute(select).fetchall())
        theirs = Counter(tuple(row) for row in target_db.execute(select).fetchall())
        if mine != theirs:
            raise StoreError(
                f"El almacén de destino ({target_db.name}) ya tiene otros datos (tabla {table}: "
                f"{sum(mine.values())} filas en el origen, {sum(theirs.values())} en el destino, con diferencias). "
                "No se mezclan dos almacenes: use una base de datos vacía.")
