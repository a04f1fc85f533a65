"""Size limits applied to untrusted mail, attachments, archives and XML."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds that keep a hostile message from exhausting memory or time.

    Real DIAN mail is small (the zip rule is 2 MB); the defaults leave generous room
    for large invoices while keeping the worst case a few tens of MiB.
    """

    max_message_bytes: int = 40 * MiB
    """A raw email larger than this is not parsed at all."""
    max_attachment_bytes: int = 20 * MiB
    """A single attachment, or a zip nested in a zip."""
    max_xml_bytes: int = 16 * MiB
    """One XML file, and the document embedded in an AttachedDocument."""
    max_total_uncompressed_bytes: int = 64 * MiB
    """Everything inflated from all archives of one message together."""
    max_compression_ratio: int = 200
    """Uncompressed/compressed size of an entry, checked once it passes `ratio_floor_bytes`."""
    ratio_floor_bytes: int = 1 * MiB
    max_zip_entries: int = 256
    max_zip_depth: int = 3
    """A zip at depth 1 is an attachment; a zip of annexes inside it is depth 2."""
    max_mime_parts: int = 256
    max_header_chars: int = 1000
    """Decoded header values (subject, sender) are cut to this length."""
    max_header_bytes: int = 64 * 1024
    """Only this much of a raw header value is kept and decoded (RFC 2047 bombs)."""
    max_param_header_bytes: int = 8 * 1024
    """The same for Content-Type and Content-Disposition, whose parameters the stdlib
    parses in quadratic time."""
    max_encoded_words: int = 1000
    """RFC 2047 encoded words decoded in one header; the rest of the header is dropped."""


DEFAULT_LIMITS = Limits()
