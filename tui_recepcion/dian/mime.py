"""Walking untrusted MIME messages: safe header decoding and the parts worth reading.

The stdlib `compat32` policy is used on purpose: it tolerates malformed mail that the
modern policy turns into exceptions or defects halfway through a header.
"""

from __future__ import annotations

import binascii
import email.base64mime
import email.errors
import email.feedparser
import email.header
import email.parser
import email.quoprimime
import email.utils
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.policy import Policy, compat32
from typing import Any

import pybase64

from tui_recepcion.dian import fastmime
from tui_recepcion.dian.archive import LimitExceeded
from tui_recepcion.dian.limits import DEFAULT_LIMITS, Limits

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


class _Node(Message):
    """A `Message` that keeps at most a bounded prefix of each raw header value.

    The stdlib parses MIME parameters (`get_boundary`, `get_filename`) in quadratic time
    in the number of `;` of the header, and both parsers ask for them on every part; a
    Content-Type or Content-Disposition of a few MB with thousands of parameters took
    seconds per call. Real parameter headers are well under a KiB."""

    def __init__(self, policy: Policy[Any], limits: Limits) -> None:
        super().__init__(policy=policy)
        self._header_bytes = limits.max_header_bytes
        self._param_header_bytes = limits.max_param_header_bytes

    def set_raw(self, name: str, value: str) -> None:
        cap = self._param_header_bytes if name.lower() in _PARAM_HEADERS else self._header_bytes
        super().set_raw(name, value[:cap])


_PARAM_HEADERS = frozenset({"content-type", "content-disposition"})


class _NodeBudget:
    """A message factory that refuses to build more than `limit` nodes: a hostile message
    can pack millions of tiny parts into a few MB, and every node costs memory. Its nodes
    keep bounded header values (`_Node`)."""

    __slots__ = ("built", "limit", "limits")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.limit = limits.max_mime_parts
        self.built = 0

    def __call__(self, policy: Policy[Any] = compat32) -> Message:
        self.built += 1
        if self.built > self.limit:
            raise LimitExceeded(f"El correo tiene más de {self.limit} partes MIME.")
        return _Node(policy, self.limits)


def parse_message(raw: bytes, limits: Limits) -> Message:
    """The message tree the stdlib builds with `policy=compat32`: by the fast path when it
    accepts the message, else by the stdlib parser. Raises `LimitExceeded` past
    `limits.max_mime_parts` nodes (multiparts included), before building more. Header
    values longer than `limits.max_header_bytes` (`max_param_header_bytes` for
    Content-Type and Content-Disposition) are cut to it."""
    try:
        message = fastmime.parse(raw, _NodeBudget(limits))
    except LimitExceeded:
        raise
    except Exception:  # a fast-path bug must not change the outcome: the stdlib decides
        message = None
    return message if message is not None else parse_message_stdlib(raw, limits)


def parse_message_stdlib(raw: bytes, limits: Limits) -> Message:
    """What `email.message_from_bytes(raw, policy=compat32)` does, under the node budget."""
    budget = _NodeBudget(limits)
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
    def decode(name: str) -> str | None:
        return decode_header_value(message.get(name), limits.max_header_chars,
                                   max_bytes=limits.max_header_bytes, max_words=limits.max_encoded_words)

    return Headers(
        message_id=decode("Message-ID"),
        subject=decode("Subject"),
        sender=decode("From"),
        date=_parse_date(decode("Date")),
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
    payload = getattr(part, "_payload", None)  # private in typeshed, public in practice
    if (isinstance(payload, str) and payload.isascii()
            and str(part.get("content-transfer-encoding", "")).lower() == "base64"):
        # Deleting every CR and LF is what the stdlib's `splitlines()` join does, in one pass.
        encoded = payload.encode("ascii").translate(None, b"\r\n")
        try:
            return pybase64.b64decode(encoded, validate=True)
        except ValueError:  # binascii.Error: padding or stray characters
            pass  # the stdlib's lenient decoding decides
    decoded = part.get_payload(decode=True)
    return None if isinstance(decoded, Message) else decoded  # multipart parts decode to None


def decode_header_value(value: object, limit: int = 1000, *,
                        max_bytes: int = DEFAULT_LIMITS.max_header_bytes,
                        max_words: int = DEFAULT_LIMITS.max_encoded_words) -> str | None:
    """A header as display text: RFC 2047 decoded, raw 8-bit tolerated, no control
    characters (they could drive the terminal), length bounded. Never raises.

    The cost is linear and bounded: only the first `max_bytes` of the raw value are read,
    and only its first `max_words` encoded words are decoded (what follows them is
    dropped). Within those caps the text is what `email.header.decode_header` gives, which
    is quadratic on a header made of many encoded words (an "encoded-word bomb")."""
    if value is None:
        return None
    try:
        if isinstance(value, str):
            chunks = decode_rfc2047(value[:max_bytes], max_words)
        else:  # a Header object, built by this program rather than read from mail
            chunks = email.header.decode_header(value if isinstance(value, email.header.Header) else str(value))
    except Exception:
        chunks = [(str(value)[:max_bytes], None)]
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


def decode_rfc2047(header: str, max_words: int) -> list[tuple[bytes | str, str | None]]:
    """`email.header.decode_header(header)` for a str, in linear time, decoding at most
    `max_words` encoded words (a longer header is taken to end after the last of them).

    The stdlib re-scans a line from every `=?` that does not start an encoded word, pops
    from the front of lists and grows one bytes object per run of words: all quadratic.
    Here each scan starts where the previous one stopped, and runs are joined once.
    Raises `email.errors.HeaderParseError` on bad base64, as the stdlib does."""
    if _EncodedWords(header).next() is None:
        return [(header, None)]
    # (text, encoding, charset), encoding and charset None for unencoded text
    words: list[tuple[str, str | None, str | None]] = []
    remaining = max_words
    for line in header.splitlines():
        scanner = _EncodedWords(line)
        position = 0
        first = True
        while (found := scanner.next()) is not None:
            if remaining == 0:
                break
            start, charset_end, end = found
            unencoded = line[position:start]
            if first:
                unencoded, first = unencoded.lstrip(), False
            if unencoded:
                words.append((unencoded, None, None))
            words.append((line[charset_end + 3:end], line[charset_end + 1].lower(),
                          line[start + 2:charset_end].lower()))
            position = end + 2
            remaining -= 1
        if found is not None:
            break  # one word past the cap: the header ends after the last word decoded
        unencoded = line[position:]
        if first:
            unencoded = unencoded.lstrip()
        if unencoded:
            words.append((unencoded, None, None))
    # Blanks between two encoded words go; the stdlib tests the word before an encoded
    # word for blanks whatever it is, and so does this.
    dropped = {n - 1 for n in range(2, len(words))
               if words[n][1] and words[n - 2][1] and words[n - 1][0].isspace()}
    collapsed: list[tuple[bytes | str, str | None]] = []
    run: list[bytes] = []
    run_charset: str | None = None
    for n, (text, encoding, charset) in enumerate(words):
        if n in dropped:
            continue
        data = bytes(text, "raw-unicode-escape") if encoding is None else _decode_word(text, encoding)
        if run and charset != run_charset:
            collapsed.append(((b" " if run_charset is None else b"").join(run), run_charset))
            run = []
        run.append(data)
        run_charset = charset
    collapsed.append(((b" " if run_charset is None else b"").join(run), run_charset))
    return collapsed


def _decode_word(encoded: str, encoding: str) -> bytes:
    """The bytes of one encoded word's text (`q` or `b`), as `email.header` decodes them."""
    if encoding == "q":
        return bytes(email.quoprimime.header_decode(encoded), "raw-unicode-escape")
    missing = len(encoded) % 4  # Postel's law: add missing padding
    if missing:
        encoded += "==="[:4 - missing]
    try:
        return email.base64mime.decode(encoded)
    except binascii.Error:
        raise email.errors.HeaderParseError("Base64 decoding error") from None


class _EncodedWords:
    """The matches of `email.header.ecre` in `text`, left to right, in linear time.

    An encoded word is `=?`, a charset up to the first `?`, `q` or `b` (any case), `?`, and
    the text up to the first `?=` after it with no LF before (ecre's `.`). Each `find` is
    remembered until the scan passes it, so no part of `text` is searched twice: when no
    `?=` follows, no later `=?` can match either."""

    __slots__ = ("_close", "_newline", "_question", "position", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0
        self._question = self._close = self._newline = -2  # -2: not looked for yet

    def next(self) -> tuple[int, int, int] | None:
        """(start of `=?`, position of the `?` after the charset, start of `?=`), or None."""
        text = self.text
        start = text.find("=?", self.position)
        while start >= 0:
            if self._question < start + 2 and self._question != -1:
                self._question = text.find("?", start + 2)
            question = self._question
            if question < 0:
                return None
            if text.startswith(("q?", "Q?", "b?", "B?"), question + 1):
                body = question + 3
                if self._close < body and self._close != -1:
                    self._close = text.find("?=", body)
                if self._close < 0:
                    return None
                if self._newline < body and self._newline != -1:
                    self._newline = text.find("\n", body)
                if self._newline < 0 or self._close < self._newline:
                    self.position = self._close + 2
                    return start, question, self._close
            start = text.find("=?", start + 1)
        self.position = len(text)
        return None


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
