"""Reading untrusted zip archives with hard limits, without ever touching the filesystem.

Entries are inflated in chunks against a byte budget, so a zip that would inflate to
hundreds of MiB stops at the limit instead of allocating it. Entry names are kept only
for messages and for pairing a PDF with its XML; they are never used as paths.
"""

from __future__ import annotations

import io
import struct
import zipfile
from dataclasses import dataclass, field
from typing import IO, Literal

from tui_recepcion.dian.limits import Limits
from tui_recepcion.dian.reasons import Reason
from tui_recepcion.dian.xml import looks_like_xml

CHUNK = 64 * 1024
_SNIFF = 512
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_PDF_MAGIC = b"%PDF-"
# Deflate and stored only: CPython inflates bzip2/lzma chunks without an output bound.
_SUPPORTED_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"

Kind = Literal["zip", "xml", "pdf"]


def sniff(head: bytes) -> Kind | None:
    """What a blob is, judged by its first bytes, never by its name."""
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if head.startswith(_PDF_MAGIC):
        return "pdf"
    if looks_like_xml(head):
        return "xml"
    return None


class LimitExceeded(Exception):
    """A limit in `Limits` was crossed; the whole message fails with zip_excede_limites."""

    code = Reason.ZIP_EXCEDE_LIMITES


@dataclass(slots=True)
class Budget:
    """Uncompressed bytes one message may still inflate, shared by all its archives."""

    remaining: int

    def spend(self, size: int) -> None:
        self.remaining -= size
        if self.remaining < 0:
            raise LimitExceeded("El contenido descomprimido del mensaje supera el límite total permitido.")


@dataclass(frozen=True, slots=True)
class Blob:
    """An XML or PDF found in an archive; `origin` identifies the archive it came from."""

    kind: Literal["xml", "pdf"]
    name: str
    data: bytes = field(repr=False)
    origin: str


@dataclass(slots=True)
class ArchiveContents:
    blobs: list[Blob] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    """(reason code, Spanish detail) for damaged archives that did not stop the walk."""


def read_zip(data: bytes, name: str, *, limits: Limits, budget: Budget, origin: str) -> ArchiveContents:
    """All XML and PDF blobs inside a zip, nested zips included (up to the depth limit).

    Raises `LimitExceeded` for any limit; damaged archives are reported in `problems`.
    """
    contents = ArchiveContents()
    _walk(data, name, limits, budget, origin, 1, contents)
    return contents


def _walk(data: bytes, name: str, limits: Limits, budget: Budget, origin: str, depth: int,
          out: ArchiveContents) -> None:
    if depth > limits.max_zip_depth:
        raise LimitExceeded(f"Hay archivos ZIP anidados a más de {limits.max_zip_depth} niveles.")
    declared = _declared_entry_count(data)
    if declared is None:
        out.problems.append((Reason.ZIP_CORRUPTO, f"«{_display(name)}» no es un ZIP legible (falta el directorio central)."))
        return
    if declared > limits.max_zip_entries:
        raise LimitExceeded(f"«{_display(name)}» declara {declared} entradas; el máximo es {limits.max_zip_entries}.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except Exception as error:  # zipfile raises many types for hostile input
        out.problems.append((Reason.ZIP_CORRUPTO, f"«{_display(name)}» está dañado ({type(error).__name__})."))
        return
    if len(entries) > limits.max_zip_entries:
        raise LimitExceeded(f"«{_display(name)}» tiene {len(entries)} entradas; el máximo es {limits.max_zip_entries}.")
    with archive:
        for index, info in enumerate(entries):
            if info.is_dir():
                continue
            entry_origin = f"{origin}/{index}"
            try:
                kind, payload = _read_entry(archive, info, limits, budget)
            except LimitExceeded:
                raise
            except Exception as error:
                out.problems.append((Reason.ZIP_CORRUPTO, _entry_problem(name, info, error)))
                continue
            if kind == "zip" and payload is not None:
                _walk(payload, info.filename, limits, budget, entry_origin, depth + 1, out)
            elif (kind == "xml" or kind == "pdf") and payload is not None:
                out.blobs.append(Blob(kind, info.filename, payload, origin))


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits,
                budget: Budget) -> tuple[Kind | None, bytes | None]:
    if info.flag_bits & 0x1:
        raise _Unreadable("cifrada con contraseña")
    if info.compress_type not in _SUPPORTED_METHODS:
        raise _Unreadable(f"método de compresión {info.compress_type} no admitido")
    with archive.open(info) as stream:
        head = stream.read(_SNIFF)
        kind = sniff(head)
        if kind is None:
            return None, None  # not ours: never inflate the rest
        cap = limits.max_xml_bytes if kind == "xml" else limits.max_attachment_bytes
        try:
            payload = _read_capped(stream, head, info, cap, limits, budget)
        except _TooLarge:
            if kind == "pdf":
                return None, None  # an oversized PDF is only not kept; the XML decides
            raise LimitExceeded(
                f"La entrada «{_display(info.filename)}» supera {cap} bytes descomprimida."
            ) from None
        return kind, payload


class _Unreadable(Exception):
    pass


class _TooLarge(Exception):
    pass


def _read_capped(stream: IO[bytes], head: bytes, info: zipfile.ZipInfo, cap: int,
                 limits: Limits, budget: Budget) -> bytes:
    chunks = [head]
    size = len(head)
    budget.spend(len(head))
    compressed = max(info.compress_size, 1)
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > cap:
            raise _TooLarge
        budget.spend(len(chunk))
        if size > limits.ratio_floor_bytes and size / compressed > limits.max_compression_ratio:
            raise LimitExceeded(
                f"La entrada «{_display(info.filename)}» se expande más de "
                f"{limits.max_compression_ratio} veces su tamaño comprimido."
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _declared_entry_count(data: bytes) -> int | None:
    """Entry count from the end-of-central-directory record, read before zipfile builds
    one object per entry (a hostile central directory can list millions)."""
    tail_start = max(0, len(data) - (22 + 0xFFFF))
    position = data.rfind(_EOCD, tail_start)
    if position < 0 or len(data) < position + 22:
        return None
    (count,) = struct.unpack_from("<H", data, position + 10)
    if count == 0xFFFF:  # Zip64: the real count lives in the Zip64 end record
        locator = position - 20
        if locator < 0 or data[locator:locator + 4] != _EOCD64_LOCATOR:
            return None
        (record,) = struct.unpack_from("<Q", data, locator + 8)
        if record + 56 > len(data):
            return None
        (count,) = struct.unpack_from("<Q", data, record + 32)
    return int(count)


def _entry_problem(archive_name: str, info: zipfile.ZipInfo, error: Exception) -> str:
    reason = str(error) if isinstance(error, _Unreadable) else type(error).__name__
    return f"La entrada «{_display(info.filename)}» de «{_display(archive_name)}» no se puede leer ({reason})."


def _display(name: str, limit: int = 80) -> str:
    """An entry name fit for a message: printable and short."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in name)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"
