"""`tui-recepcion importar RUTA...`: .zip, .xml and .eml files into the store."""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tui_recepcion.cli.commands._common import add_database_argument, fail, open_store
from tui_recepcion.dian.extract import extract_file
from tui_recepcion.dian.limits import DEFAULT_LIMITS
from tui_recepcion.errors import RecepcionError
from tui_recepcion.store import Outcome, RecordResult, Store
from tui_recepcion.vocabulary import FAILED, PROCESSED

DEFAULT_ACCOUNT = "importados"
SUFFIXES = frozenset({".zip", ".xml", ".eml"})


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "importar",
        help="importa archivos .zip, .xml y .eml (o carpetas con ellos) al almacén",
        description="Importa documentos DIAN desde archivos .zip, .xml y .eml, o desde carpetas que "
        "los contengan (recursivamente), con la misma extracción que el correo.",
    )
    parser.add_argument("rutas", nargs="+", metavar="RUTA", help="archivo o carpeta")
    parser.add_argument("--cuenta", default=DEFAULT_ACCOUNT, metavar="ID",
                        help=f"cuenta a la que se asignan los documentos (por defecto: {DEFAULT_ACCOUNT})")
    parser.add_argument("--nit-receptor", metavar="NIT",
                        help="rechaza los documentos dirigidos a otro NIT")
    parser.add_argument("--carpeta-documentos", metavar="RUTA",
                        help="dónde guardar los XML y PDF extraídos (por defecto, en el directorio de datos)")
    add_database_argument(parser)
    parser.set_defaults(run=run)


@dataclass(slots=True)
class _Totals:
    files: int = 0
    added: int = 0
    duplicates: int = 0
    failed: int = 0
    repeated: int = 0


def run(args: argparse.Namespace) -> int:
    files, missing = _collect(args.rutas)
    for raw in missing:
        print(f"Error: no existe o no es legible: {raw}", file=sys.stderr)
    try:
        store = open_store(args, with_documents=True)
    except RecepcionError as error:
        return fail(str(error))
    totals = _Totals()
    with store:
        for path in files:
            try:
                line = _import_one(store, path, args, totals)
            except RecepcionError as error:
                return fail(str(error))
            print(line)
    print(
        f"Archivos: {totals.files} · documentos nuevos: {totals.added} · duplicados: {totals.duplicates} · "
        f"fallidos: {totals.failed} · ya importados: {totals.repeated}"
    )
    return 2 if missing else 0


def _import_one(store: Store, path: Path, args: argparse.Namespace, totals: _Totals) -> str:
    totals.files += 1
    try:
        size = path.stat().st_size
        if size > DEFAULT_LIMITS.max_message_bytes:
            totals.failed += 1
            return f"{path}: fallido — zip_excede_limites: el archivo ocupa {size} bytes"
        data = path.read_bytes()
    except OSError as error:
        totals.failed += 1
        return f"{path}: fallido — no se pudo leer ({error.strerror or error})"
    extraction = extract_file(path.name, data, receiver_nit=args.nit_receptor)
    digest = hashlib.sha256(data).hexdigest()
    store.record_received_events(args.cuenta, [Outcome(f"archivo:{digest}", extraction, digest)])
    result = store.record_outcome(args.cuenta, f"archivo:{digest}", extraction, digest)
    line = _describe(result, totals)
    if extraction.events and not result.already_recorded:
        line += (", " if result.added or result.duplicates else "") + f"{len(extraction.events)} evento(s) RADIAN"
    return f"{path}: {line}"


def _describe(result: RecordResult, totals: _Totals) -> str:
    entry = result.entry
    if result.already_recorded:
        totals.repeated += 1
        outcome = PROCESSED if entry.reason is None else f"{FAILED}, {entry.reason}"
        return f"ya importado antes ({outcome})"
    if entry.reason is not None:
        totals.failed += 1
        return f"fallido — {entry.reason}: {entry.detail}"
    totals.added += len(result.added)
    totals.duplicates += len(result.duplicates)
    parts = []
    if result.added:
        parts.append(f"{len(result.added)} documento(s) nuevo(s)")
    if result.duplicates:
        parts.append(f"{len(result.duplicates)} duplicado(s)")
    return "importado — " + ", ".join(parts)


def _collect(raw_paths: list[str]) -> tuple[list[Path], list[str]]:
    files: list[Path] = []
    missing: list[str] = []
    for raw in raw_paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            files.extend(_walk(path))
        elif path.is_file():
            files.append(path)
        else:
            missing.append(raw)
    return list(dict.fromkeys(files)), missing


def _walk(folder: Path) -> Iterator[Path]:
    """Candidate files below a folder, in a stable order; symlinked folders are not followed."""
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in SUFFIXES and path.is_file():
            yield path
