"""`tui-recepcion almacen estado|migrar`: where the store is, and moving it to PostgreSQL.

`estado` prints the backend, where it is (a URL without its password), the schema version
and the rows per table. `migrar --a postgresql://…` copies the SQLite store (documents,
ledger, conflicts, attempts, events, alerts, token health) into an empty PostgreSQL
database; run again, it changes nothing (see `tui_recepcion.store.copy`).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from tui_recepcion import paths
from tui_recepcion.cli.commands._common import add_database_argument, config_for, fail, open_store
from tui_recepcion.errors import RecepcionError
from tui_recepcion.store import Store, copy_store, describe, is_postgres_url

BACKEND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
# How each table is called to a person (tables added later show their own name).
TABLE_NAMES = {
    "documents": "documentos",
    "messages": "mensajes",
    "document_conflicts": "conflictos",
    "message_attempts": "intentos",
    "events": "eventos",
    "alerts": "alertas",
    "oauth_tokens": "tokens_oauth2",
}
LABELS = {
    "documentos": "Documentos",
    "mensajes": "Mensajes",
    "conflictos": "Conflictos de CUFE",
    "intentos": "Intentos fallidos pendientes",
    "eventos": "Eventos",
    "alertas": "Alertas",
    "tokens_oauth2": "Salud de tokens OAuth2",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "almacen", help="estado del almacén y migración de SQLite a PostgreSQL",
        description="Muestra dónde está el almacén (SQLite o PostgreSQL) o copia un almacén SQLite a PostgreSQL.")
    commands = parser.add_subparsers(dest="accion", metavar="ACCIÓN", title="acciones", required=True)
    status = commands.add_parser("estado", help="motor, ubicación, versión del esquema y conteos",
                                 description="Muestra el motor del almacén, su ubicación (sin contraseña), "
                                             "la versión del esquema y cuántas filas tiene cada tabla.")
    status.add_argument("--formato", choices=("tabla", "json"), default="tabla", help="formato de salida")
    add_database_argument(status)
    status.set_defaults(run=run_status)
    migrate = commands.add_parser(
        "migrar", help="copia el almacén SQLite a PostgreSQL",
        description="Copia todo el almacén SQLite (documentos, mensajes, conflictos, intentos, eventos, "
                    "alertas y salud de tokens) a una base de datos PostgreSQL vacía, en una sola transacción. "
                    "Repetirlo no cambia nada; a una base con otros datos se niega. Detenga antes el servicio.")
    migrate.add_argument("--a", dest="destino", metavar="URL",
                         help=f"URL de PostgreSQL de destino (por defecto ${paths.DATABASE_VARIABLE}); "
                              "la contraseña, mejor en esa variable, PGPASSWORD o ~/.pgpass")
    migrate.add_argument("--formato", choices=("tabla", "json"), default="tabla", help="formato de salida")
    add_database_argument(migrate)
    migrate.set_defaults(run=run_migrate)


def _counts(store: Store) -> dict[str, int]:
    return {TABLE_NAMES.get(table, table): count for table, count in store.table_counts().items()}


def run_status(args: argparse.Namespace) -> int:
    try:
        with open_store(args) as store:
            backend, location, version, counts = store.backend, store.location, store.schema_version(), _counts(store)
    except RecepcionError as error:
        return fail(str(error))
    if args.formato == "json":
        record = {"motor": backend, "ubicacion": location, "version_esquema": version, "conteos": counts}
        print(json.dumps(record, ensure_ascii=False, indent=2))
        return 0
    print(f"Motor: {BACKEND_NAMES.get(backend, backend)}")
    print(f"Ubicación: {location}")
    print(f"Versión del esquema: {version}")
    for name, count in counts.items():
        print(f"{LABELS.get(name, name)}: {count}")
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    target = args.destino or os.environ.get(paths.DATABASE_VARIABLE, "").strip()
    if not is_postgres_url(target):
        shown = describe(target) if target else "(ninguno)"
        return fail(f"Indique el destino con --a postgresql://usuario@servidor/base o en "
                    f"${paths.DATABASE_VARIABLE} (destino actual: {shown}).")
    try:
        # The source is the file store: the variable names the destination here.
        source_location = paths.database_path(config_for(args), args.base_datos, use_environment=False)
        if is_postgres_url(source_location):
            return fail(f"El origen ya es PostgreSQL ({describe(source_location)}); indique el archivo SQLite "
                        "con --base-datos.")
        if not Path(source_location).is_file():
            return fail(f"No existe el almacén SQLite {source_location}: nada que copiar (indíquelo con --base-datos).")
        with Store.open(source_location) as source, Store.open(target) as destination:
            report = copy_store(source, destination)
            counts = _counts(destination)
            where_to, where_from = destination.location, source.location
    except RecepcionError as error:
        return fail(str(error))
    if args.formato == "json":
        print(json.dumps({"origen": where_from, "destino": where_to, "ya_copiado": report.already_copied,
                          "conteos": counts}, ensure_ascii=False, indent=2))
        return 0
    if report.already_copied:
        print(f"{where_to} ya tiene exactamente los datos de {where_from}: no se copió nada.")
    else:
        print(f"Copiado {where_from} → {where_to}:")
        for name, count in counts.items():
            print(f"  {LABELS.get(name, name)}: {count}")
        print(f"Para usarlo: base_datos = \"{where_to}\" en [general] (o ${paths.DATABASE_VARIABLE}).")
    return 0
