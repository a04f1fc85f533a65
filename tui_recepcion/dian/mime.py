"""Walking untrusted MIME messages: safe header decoding and the parts worth reading.

The stdlib `compat32` policy is used on purpose: it tolerates malformed mail that the
modern policy turns into exceptions or defects halfway through a header.
"""

from __future__ import annotations

import email.feedparser
import email.header
import email.parser
import email.utils
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.policy import compat32

import pybase64

from tui_recepcion.dian import fastmime
from tui_recepcion.dian.archive import LimitExceeded
from tui_recepcion.dian.limits import Limits

_BODY_TYPES = frozenset({"text/plain", "text/html", "text/enriched", "text/calendar"})


@dataclass(frozen=True, slots=True)
class Headers:
    message_id: str | None
    subject: str | None
    sender: str | None
    date: datetime | None


@dataclass(frozen=True, slots=True)
class Part:
    """A leaf MIME part that may hold a document: its decoded bytes and display name."""

    name: str
    content_type: str
    data: bytes = field(repr=False)


_HEADER_SCAN_BYTES = 256 * 1024
_FEED_CHARS = 8192
"""The chunk size `email.parser.Parser` feeds its FeedParser with."""


class _NodeBudget:
    """A message factory that refuses to build more than `limit` nodes: a hostile message
    can pack millions of tiny parts into a few MB, and every node costs memory."""

    __slots__ = ("built", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.built = 0

    def __call__(self, policy: object = compat32) -> Message:
        self.built += 1
        if self.built > self.limit:
            raise LimitExceeded(f"El correo tiene más de {self.limit} partes MIME.")
        return Message(policy=policy)


def parse_message(raw: bytes, limits: Limits) -> Message:
    """The message tree the stdlib builds with `policy=compat32`: by the fast path when it
    accepts the message, else by the stdlib parser. Raises `LimitExceeded` past
    `limits.max_mime_parts` nodes (multiparts included), before building more."""
    try:
        message = fastmime.parse(raw, _NodeBudget(limits.max_mime_parts))
    except LimitExceeded:
        raise
    except Exception:  # a fast-path bug must not change the outcome: the stdlib decides
        message = None
    return message if message is not None else parse_message_stdlib(raw, limits)


def parse_message_stdlib(raw: bytes, limits: Limits) -> Message:
    """What `email.message_from_bytes(raw, policy=compat32)` does, under the node budget."""
    budget = _NodeBudget(limits.max_mime_parts)
    parser = email.feedparser.FeedParser(budget, policy=compat32)
    budget.built = 0  # FeedParser calls its factory once on construction, as a probe
    text = raw.decode("ascii", "surrogateescape")
    for start in range(0, len(text), _FEED_CHARS):
        parser.feed(text[start:start + _FEED_CHARS])
    return parser.close()


def parse_headers(raw: bytes) -> Message:
    """Only the header block (from the start of `raw`), for messages too large to parse."""
    return email.parser.BytesHeaderParser(policy=compat32).parsebytes(raw[:_HEADER_SCAN_BYTES])


def read_headers(message: Message, limits: Limits) -> Headers:
    limit = limits.max_header_chars
    raw_date = decode_header_value(message.get("Date"), limit)
    return Headers(
        message_id=decode_header_value(message.get("Message-ID"), limit),
        subject=decode_header_value(message.get("Subject"), limit),
        sender=decode_header_value(message.get("From"), limit),
        date=_parse_date(raw_date),
    )


def iter_parts(message: Message, limits: Limits) -> Iterator[Part]:
    """Leaf parts that may carry a zip, XML or PDF, whatever their declared type.

    Body text without a file name is skipped; everything else is yielded, and the caller
    sniffs the content. Attached messages (message/rfc822) are walked into.
    """
    for index, part in enumerate(message.walk()):
        if part.is_multipart():
            continue
        content_type = _content_type(part)
        name = _filename(part)
        if not name and content_type in _BODY_TYPES:
            continue
        data = decoded_payload(part)
        if not isinstance(data, bytes) or not data:
            continue
        if len(data) > limits.max_attachment_bytes:
            raise LimitExceeded(
                f"El adjunto «{name or content_type}» ocupa {len(data)} bytes; "
                f"el máximo es {limits.max_attachment_bytes}."
            )
        yield Part(name=name or f"parte-{index}", content_type=content_type, data=data)


def decoded_payload(part: Message) -> bytes | str | None:
    """`part.get_payload(decode=True)`, with a faster path for clean base64.

    The stdlib splits base64 into lines and decodes it in Python-sized steps; a typical
    DIAN zip took longer to decode than to inflate. pybase64 (SIMD) on the text without
    its line breaks accepts only clean, padded base64 — for which the stdlib gives the
    same bytes — and anything else falls back to the stdlib. `_payload` is read directly
    because `get_payload()` would re-decode 8-bit text with the part's charset.
    """
    payload = part._payload
    if (isinstance(payload, str) and payload.isascii()
            and str(part.get("content-transfer-encoding", "")).lower() == "base64"):
        # Deleting every CR and LF is what the stdlib's `splitlines()` join does, in one pass.
        encoded = payload.encode("ascii").translate(None, b"\r\n")
        try:
            return pybase64.b64decode(encoded, validate=True)
        except ValueError:  # binascii.Error: padding or stray characters
            pass  # the stdlib's lenient decoding decides
    return part.get_payload(decode=True)


def decode_header_value(value: object, limit: int = 1000) -> str | None:
    """A header as display text: RFC 2047 decoded, raw 8-bit tolerated, no control
    characters (they could drive the terminal), length bounded. Never raises."""
    if value is None:
        return None
    try:
        chunks = email.header.decode_header(value)  # str or Header
    except Exception:
        chunks = [(str(value), None)]
    pieces: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            pieces.append(_decode_bytes(chunk, charset))
        else:
            pieces.append(_undo_surrogates(chunk))
    text = " ".join("".join(pieces)[: limit * 4].split())
    if not text.isprintable():  # rare: a per-character pass only when it changes something
        text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text or None


def _decode_bytes(data: bytes, charset: str | None) -> str:
    if charset and charset.lower() not in ("unknown-8bit", "x-unknown"):
        try:
            return data.decode(charset, errors="replace")
        except (LookupError, ValueError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _undo_surrogates(text: str) -> str:
    """compat32 keeps raw 8-bit header bytes as surrogate escapes; most are UTF-8."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return _decode_bytes(text.encode("utf-8", errors="surrogateescape"), None)


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _filename(part: Message) -> str:
    """The attachment name (RFC 2231 or RFC 2047 encoded), for display only."""
    if "content-disposition" not in part and "name" not in str(part.get("content-type", "")).lower():
        return ""  # what get_filename() finds, without its slow parameter parsing
    try:
        raw = part.get_filename()
    except Exception:
        return ""
    return (decode_header_value(raw, 255) or "") if raw else ""


def _parse_date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
