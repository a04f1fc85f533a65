"""The hash that decides whether two documents under one CUFE are the same content.

It covers the signed document only: the Invoice/CreditNote/DebitNote embedded in an
AttachedDocument (the text of Attachment/ExternalReference/Description, which is where
number, parties and amounts are read from), or the bare document itself, in canonical form
(C14N 1.0 without comments), so the same signed document is the same content whether it
comes bare or in a container, with or without an XML declaration. The container around it
(its ids, dates and signature) and the PDF are left out: suppliers regenerate them when
they resend.

The extractor hashes the tree it already parsed (`signed_content_sha256`); a file on disk
is hashed from its bytes (`content_sha256_of`). Both give the same digest for one file.
"""

from __future__ import annotations

import hashlib

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type information

from tui_recepcion.dian import xml
from tui_recepcion.dian.limits import DEFAULT_LIMITS

# The container's root, as `ubl.root_kind` recognises it (this module sits below ubl).
_CONTAINER_TAG = "{urn:oasis:names:specification:ubl:schema:xsd:AttachedDocument-2}AttachedDocument"


def signed_content_sha256(signed_document: etree._Element) -> str:
    """The hash of a parsed signed document (the embedded one, for a container)."""
    return hashlib.sha256(etree.tostring(signed_document, method="c14n", with_comments=False)).hexdigest()


def content_sha256_of(data: bytes) -> str:
    """The hash of an XML file's signed document. Bytes that cannot be parsed (never the
    case after a successful extraction) are hashed as they are."""
    limit = DEFAULT_LIMITS.max_xml_bytes
    try:
        root = xml.parse(data, max_bytes=limit)
        if root.tag == _CONTAINER_TAG:
            description = root.find("{*}Attachment/{*}ExternalReference/{*}Description")
            text = (description.text or "").strip() if description is not None else ""
            if text:
                root = xml.parse(text.encode("utf-8"), max_bytes=limit, force_utf8=True)
        return signed_content_sha256(root)
    except (xml.XmlRejected, etree.Error, ValueError):
        return hashlib.sha256(data).hexdigest()
