"""A hardened lxml parser for untrusted XML: no DTD, no entities, no network, bounded size."""

from __future__ import annotations

import re
import threading

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no annotations; lxml-stubs is not a dependency

from tui_recepcion.dian.reasons import Reason


class XmlRejected(Exception):
    """The bytes are not acceptable XML; `code` is a reason code, `detail` Spanish."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
# Prolog items that may precede the root element: declaration/PIs, comments, whitespace.
_PROLOG_ITEM = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)
_PROLOG_HEAD_BYTES = 4 * 1024
_PROLOG_SCAN_BYTES = 128 * 1024

# lxml parsers must not be used by two threads at once: keep one set per thread.
_local = threading.local()


def _parser(force_utf8: bool) -> etree.XMLParser:
    attr = "utf8" if force_utf8 else "default"
    parser = getattr(_local, attr, None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            collect_ids=False,
            encoding="utf-8" if force_utf8 else None,
        )
        setattr(_local, attr, parser)
    return parser


def looks_like_xml(data: bytes) -> bool:
    """Content sniffing: an optional BOM, whitespace, then `<`."""
    head = data[:512]
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            try:
                head = head[len(bom):].decode(encoding, errors="ignore").encode("utf-8")
            except LookupError:  # pragma: no cover - the codecs are built in
                return False
            break
    return head.lstrip().startswith(b"<")


def _prolog_text(head: bytes) -> str:
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return head[len(bom):].decode(encoding, errors="replace")
    return head.decode("latin-1")  # only ASCII markup matters in the prolog


def _skip_prolog(text: str) -> int:
    position = 0
    while position < len(text):
        match = _PROLOG_ITEM.match(text, position)
        if match is None:
            break
        position = match.end()
    return position


def _has_doctype(data: bytes) -> bool:
    """True when a `<!DOCTYPE` (or any other `<!` declaration) precedes the root element.

    Prologs are short, so a small head is read first; a wider one only when an item of
    the prolog runs past it. A prolog longer than the widest head counts as a DOCTYPE.
    """
    for size in (_PROLOG_HEAD_BYTES, _PROLOG_SCAN_BYTES):
        text = _prolog_text(data[:size])
        position = _skip_prolog(text)
        cut_short = len(data) > size and (position == len(text) or text.startswith(("<!--", "<?"), position))
        if not cut_short:
            return text.startswith("<!", position)
    return True


def parse(data: bytes, *, max_bytes: int, force_utf8: bool = False) -> etree._Element:
    """Parse untrusted XML bytes and return the root element, or raise `XmlRejected`.

    `force_utf8` is for text that came out of another XML document (the CDATA of an
    AttachedDocument): it is UTF-8 now, whatever its own declaration says.
    """
    if len(data) > max_bytes:
        raise XmlRejected(
            Reason.ZIP_EXCEDE_LIMITES,
            f"El XML ocupa {len(data)} bytes; el máximo permitido es {max_bytes}.",
        )
    if _has_doctype(data):
        raise XmlRejected(Reason.XML_INVALIDO, "El XML declara un DOCTYPE, que no se permite.")
    try:
        root = etree.fromstring(data, _parser(force_utf8))
    except etree.XMLSyntaxError as error:
        raise XmlRejected(Reason.XML_INVALIDO, f"XML mal formado: {_short(str(error))}") from None
    except ValueError as error:  # e.g. unsupported encoding declarations
        raise XmlRejected(Reason.XML_INVALIDO, f"XML ilegible: {_short(str(error))}") from None
    if root is None:
        raise XmlRejected(Reason.XML_INVALIDO, "El XML está vacío.")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise XmlRejected(Reason.XML_INVALIDO, "El XML declara un DOCTYPE, que no se permite.")
    return root


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
