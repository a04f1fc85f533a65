"""Where a store lives: an SQLite file or a PostgreSQL URL, and how a URL is shown.

A PostgreSQL URL may carry a password (`postgresql://usuario:clave@servidor/base`); it is
never shown: every message, status line and JSON output uses `mask_url`, and `scrub`
removes the password from any text a driver or server produced.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

POSTGRES_SCHEMES = ("postgresql", "postgres")
MASK = "***"
_SECRET_PARAMETERS = frozenset({"password", "passfile", "sslpassword"})
# The user:password part of a URL too broken for urlsplit (a driver may still echo it).
_USER_PASSWORD = re.compile(r"://[^:@/?#]*:([^@/?#]+)@")
_QUERY_PASSWORD = re.compile(r"[?&]password=([^&#]+)")


def is_postgres_url(location: object) -> bool:
    """Whether `location` is a PostgreSQL URL (`postgresql://…` or `postgres://…`)."""
    if not isinstance(location, str):
        return False
    scheme, separator, _ = location.partition("://")
    return bool(separator) and scheme.lower() in POSTGRES_SCHEMES


def url_password(url: str) -> str | None:
    """The password a URL carries (in its user part or as `?password=`), if any."""
    try:
        parts = urlsplit(url)
        password = parts.password
        query = dict(parse_qsl(parts.query))
    except ValueError:
        found = _USER_PASSWORD.search(url) or _QUERY_PASSWORD.search(url)
        return unquote(found.group(1)) if found else None
    if password:
        return unquote(password)
    return query.get("password") or None


def mask_url(url: str) -> str:
    """The URL with its password (user part and query parameters) replaced by `***`."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user, _, host = netloc.rpartition("@")
            netloc = f"{user.partition(':')[0]}:{MASK}@{host}"
        query = urlencode([(key, MASK if key in _SECRET_PARAMETERS else value)
                           for key, value in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        # Unparseable: show the scheme and host part only, never what could be a password.
        scheme, _, rest = url.partition("://")
        host = rest.rpartition("@")[2].partition("/")[0]
        return f"{scheme}://{MASK}@{host}/…"


def scrub(text: str, url: str) -> str:
    """`text` with the URL's password removed (raw and percent-encoded) wherever it appears."""
    text = text.replace(url, mask_url(url))  # a driver that echoes the whole URL
    password = url_password(url)
    if not password:
        return text
    for form in {password, quote(password, safe=""), quote(password)}:
        text = text.replace(form, MASK)
    return text


def describe(location: Path | str) -> str:
    """How a store's location is shown to a person: the file, or the masked URL."""
    return mask_url(str(location)) if is_postgres_url(location) else str(location)
