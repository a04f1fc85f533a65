"""A fast MIME parser for well-formed mail that builds exactly the stdlib's `Message` tree.

The stdlib feedparser reads every body line in Python (about 900 base64 lines for a
typical DIAN email), which made it most of the extraction time. Here header blocks are
still read line by line (they are short), but bodies are cut on their boundary lines with
`str.find`. The rules are the feedparser's own: lines end in LF or CRLF, a boundary line is
`--boundary` (plus `--` when it closes) and optional blanks, the line break before a
boundary belongs to it, the preamble and epilogue are kept.

Whenever a message has something this module does not reproduce exactly — a bare CR line
end, a malformed header block, a missing start or close boundary, repeated boundary lines,
message/* parts, multipart/digest, deep nesting — `parse` returns None and the caller uses
the stdlib parser, so odd mail keeps the stdlib's behaviour.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import Message

# A header field: a name (email.feedparser.headerRE's characters) and a colon on its
# first line, then continuation lines, which start with a blank.
_FIELD = re.compile(r"([\041-\071\073-\176]+):([^\n]*(?:\n[ \t][^\n]*)*)(?:\n|\Z)")
_BARE_CR = re.compile(rb"\r(?!\n)")
_LINE_ENDS = frozenset({"", "\n", "\r\n"})
# Header blocks are short: the blank line that ends one is looked for here first, so a
# CRLF message is not scanned to its end for an LF-only blank line that is not there.
_HEADER_WINDOW = 16 * 1024
_MULTIPART_ENCODINGS = frozenset({"7bit", "8bit", "binary"})
_MAX_DEPTH = 16
"""Real mail nests three or four multiparts; deeper goes to the stdlib parser."""

NodeFactory = Callable[[], Message]


class _Declined(Exception):
    """The stdlib parser would treat this message in a way the fast path does not copy."""


def parse(raw: bytes, new_node: NodeFactory) -> Message | None:
    """The message as `email.message_from_bytes(raw, policy=compat32)` builds it, or None
    when the fast path declines. `new_node` makes every node (it may enforce a limit by
    raising; the exception propagates)."""
    if _BARE_CR.search(raw):
        return None  # a bare CR ends a line for the stdlib parser
    text = raw.decode("ascii", "surrogateescape")  # what the stdlib parser works on
    try:
        return _Parser(text, new_node).entity(0, len(text), depth=0, in_multipart=False)
    except _Declined:
        return None


class _Parser:
    __slots__ = ("new_node", "text")

    def __init__(self, text: str, new_node: NodeFactory) -> None:
        self.text = text
        self.new_node = new_node

    def entity(self, start: int, end: int, *, depth: int, in_multipart: bool) -> Message:
        """The message or part in text[start:end]. Inside a multipart, the line break
        that ends the segment belongs to the next boundary line."""
        message = self.new_node()
        body = self._headers(message, start, end)
        content_type = message.get_content_type()
        maintype = content_type.partition("/")[0]
        if maintype == "message":
            raise _Declined  # attached messages and delivery reports
        if maintype == "multipart":
            self._multipart(message, content_type, body, end, depth=depth, in_multipart=in_multipart)
        else:
            message.set_payload(self.text[body:self._before_line_end(body, end) if in_multipart else end])
        return message

    def _headers(self, message: Message, start: int, end: int) -> int:
        """Adds the header block at `start` to `message`; returns where the body starts."""
        text = self.text
        if text.startswith("\n", start, end):
            return start + 1
        if text.startswith("\r\n", start, end):
            return start + 2
        block_end, body = self._blank_line(start, min(end, start + _HEADER_WINDOW))
        if block_end < 0:
            block_end, body = self._blank_line(start, end)
            if block_end < 0:
                block_end = body = end
        position = start
        while position < block_end:
            field = _FIELD.match(text, position, block_end)
            if field is None:
                raise _Declined  # a continuation first, no name, an mbox From line, body text
            # email.policy.compat32.header_source_parse, on the field's lines
            message.set_raw(field[1], field[2].lstrip(" \t").rstrip("\r\n"))
            position = field.end()
        return body

    def _blank_line(self, start: int, end: int) -> tuple[int, int]:
        """The first blank line (LF or CRLF) in text[start:end]: (where the header block
        ends, where the body starts), or (-1, -1). The earliest of the two forms wins."""
        block_end = body = -1
        limit = end
        for blank_line in ("\n\n", "\n\r\n"):
            found = self.text.find(blank_line, start, limit)
            if found >= 0:
                block_end, body, limit = found + 1, found + len(blank_line), found + 1
        return block_end, body

    def _multipart(self, message: Message, content_type: str, body: int, end: int, *, depth: int,
                   in_multipart: bool) -> None:
        boundary = message.get_boundary()
        if (depth >= _MAX_DEPTH or boundary is None or "\n" in boundary or "\r" in boundary
                or content_type == "multipart/digest"  # its parts default to message/rfc822
                or str(message.get("content-transfer-encoding", "8bit")).lower() not in _MULTIPART_ENCODINGS):
            raise _Declined
        separator = "--" + boundary
        message.set_payload([])  # a multipart even before its first part is attached
        line = self._boundary_line(separator, body, end)
        if line is None or line[2]:
            raise _Declined  # no start boundary
        if line[0] > body:
            message.preamble = self.text[body:self._before_line_end(body, line[0])]
        while not line[2]:
            part_start = line[1]
            line = self._boundary_line(separator, part_start, end)
            if line is None or line[0] == part_start:
                raise _Declined  # no close boundary, or boundary lines in a row
            message.attach(self.entity(part_start, line[0], depth=depth + 1, in_multipart=True))
        epilogue = self.text[line[1]:end]
        if in_multipart:
            epilogue = self.text[line[1]:self._before_line_end(line[1], end)] if epilogue else None
        message.epilogue = epilogue

    def _boundary_line(self, separator: str, start: int, end: int) -> tuple[int, int, bool] | None:
        """The first boundary line in text[start:end] (which starts at a line start):
        (its start, its end, whether it closes the multipart)."""
        text = self.text
        if text.startswith(separator, start, end):
            position = start
        else:
            position = text.find("\n" + separator, start, end)
            if position < 0:
                return None
            position += 1
        while True:
            newline = text.find("\n", position, end)
            line_end = end if newline < 0 else newline + 1
            rest = text[position + len(separator):line_end]
            closing = rest.startswith("--")
            if (rest[2:] if closing else rest).lstrip(" \t") in _LINE_ENDS:
                return position, line_end, closing
            position = text.find("\n" + separator, position, end)
            if position < 0:
                return None
            position += 1

    def _before_line_end(self, start: int, end: int) -> int:
        """`end` without the one line break text[start:end] ends with."""
        if end > start and self.text[end - 1] == "\n":
            end -= 1
            if end > start and self.text[end - 1] == "\r":
                end -= 1
        return end
