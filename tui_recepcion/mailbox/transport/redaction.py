"""Scrubbing a secret out of server text, in every form a server or a library could echo it."""

from __future__ import annotations

import re

from tui_recepcion.mailbox.transport import sasl
from tui_recepcion.secrets import Secret


class Redactor:
    """Removes a secret from server text in every form a server could echo it back.

    A server that repeats the client's line in its reply (some do, in a NO, -ERR or 535)
    shows the secret as the client sent it: raw (POP3 PASS), IMAP-quoted with `\\` and `"`
    escaped (LOGIN), or base64 (SASL PLAIN, XOAUTH2, SMTP AUTH LOGIN); libraries then add
    their own escaping (`repr` of bytes in imaplib and poplib messages). Every one of those
    forms is replaced; whitespace inside a form matches any run of whitespace, so collapsing
    a reply onto one line cannot make a form unrecognisable.
    """

    MASK = "********"

    def __init__(self, secret: Secret | None, username: str = "") -> None:
        value = secret.reveal() if secret is not None else ""
        forms = secret_forms(value, username) if value else set()
        patterns = sorted({_flexible(form) for form in forms if form.strip()}, key=len, reverse=True)
        self._pattern = re.compile("|".join(patterns), re.IGNORECASE) if patterns else None

    def __call__(self, text: str) -> str:
        return self._pattern.sub(self.MASK, text) if self._pattern is not None else text


NO_SECRET = Redactor(None)


def _flexible(form: str) -> str:
    parts = [re.escape(part) for part in re.split(r"\s+", form.strip())]
    return r"\s+".join(parts)


def _escaped_forms(text: str) -> set[str]:
    """`text` and what quoting and `repr` make of it (IMAP quoted string, str and bytes repr)."""
    imap_quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    forms = {text, imap_quoted}
    for form in (text, imap_quoted):
        # repr, one character (or byte) at a time, leaves quotes alone; in context repr
        # escapes `'` when the text also holds `"`, so both variants are kept.
        as_str = "".join(repr(c)[1:-1] for c in form)
        as_bytes = "".join(repr(bytes([b]))[2:-1] for b in form.encode("utf-8", "surrogateescape"))
        forms.update({as_str, as_bytes, as_str.replace("'", "\\'"), as_bytes.replace("'", "\\'")})
    return forms


def secret_forms(value: str, username: str) -> set[str]:
    """Every form of `value` a login sends or a library writes (see `Redactor`)."""
    sent = [
        value,
        sasl.plain(username, value),  # SASL PLAIN, empty authorisation identity
        sasl.plain(username, value, authzid=username),  # SASL PLAIN, authorisation identity = user
        sasl.xoauth2(username, value),  # XOAUTH2
        sasl.xoauth2(username, value).removesuffix("\x01"),
    ]
    forms = _escaped_forms(value)
    for blob in sent:
        forms.add(sasl.encoded(blob, "surrogateescape"))
    return forms
