"""Find the line where each key of a TOML document is written.

tomllib returns plain dicts without positions, yet every configuration problem must name its
line so the technician can go straight to it. This scanner understands what config.toml uses:
`[table.sub]` headers (bare or quoted parts), `key = value` and `"quoted key" = value` lines,
and multi-line strings and arrays, which it skips.
"""

from __future__ import annotations

import re
import tomllib

KeyPath = tuple[str, ...]

_HEADER = re.compile(r"^\s*\[(?!\[)(?P<name>[^\]]+)\]\s*(#.*)?$")
_KEY = re.compile(r"""^\s*(?P<key>"[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")
_PART = re.compile(r"""\s*("(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[A-Za-z0-9_-]+))\s*(\.|$)""")


def _unescape(quoted: str) -> str:
    """A basic-string key part as tomllib reads it (`"\\u00e1"` is the key «á»)."""
    if "\\" not in quoted:
        return quoted
    try:
        return str(tomllib.loads(f'k = "{quoted}"')["k"])
    except tomllib.TOMLDecodeError:
        return quoted


def _split_dotted(name: str) -> KeyPath:
    parts: list[str] = []
    position = 0
    while position < len(name):
        match = _PART.match(name, position)
        if match is None or match.end() == position:
            return (name.strip(),)
        if match["dq"] is not None:
            parts.append(_unescape(match["dq"]))
        else:
            parts.append(match["sq"] if match["sq"] is not None else match["bare"])
        position = match.end()
    return tuple(parts)


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map each table path and each full key path to its 1-based line number."""
    lines: dict[KeyPath, int] = {}
    table: KeyPath = ()
    open_multiline: str | None = None
    bracket_depth = 0
    # TOML ends lines only at "\n" (str.splitlines would also split at U+2028, U+0085 and
    # others a string may contain, and every later line number would drift).
    for number, line in enumerate(text.split("\n"), start=1):
        if open_multiline is not None:
            if line.count(open_multiline) % 2 == 1:
                open_multiline = None
            continue
        if bracket_depth > 0:
            bracket_depth += line.count("[") - line.count("]")
            continue
        header = _HEADER.match(line)
        if header:
            table = _split_dotted(header["name"])
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if not key:
            continue
        path = table + _split_dotted(key["key"])
        lines.setdefault(path, number)
        value = line[key.end():]
        for quote in ('"""', "'''"):
            if value.count(quote) % 2 == 1:
                open_multiline = quote
        if value.lstrip().startswith("["):
            bracket_depth = value.count("[") - value.count("]")
    return lines


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The line of `path`, or of its nearest enclosing table when the key is absent."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None
