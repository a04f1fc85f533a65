"""IMAP folder names under the server's personal namespace and hierarchy delimiter.

Configured names (`Procesados`, `Fallidos`, or nested like `Facturas/Procesados`) become
the names the server expects: `INBOX.Procesados` on a server whose namespace is `INBOX.`
with `.` as delimiter, `Procesados` on one with an empty prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from imapclient import IMAPClient  # type: ignore[import-untyped]  # IMAPClient ships no py.typed
from imapclient.imap_utf7 import decode as decode_utf7  # type: ignore[import-untyped]  # as above
from imapclient.response_parser import parse_response  # type: ignore[import-untyped]  # as above

from tui_recepcion.mailbox.transport.imap_pipelining import Answer, Command


@dataclass(frozen=True, slots=True)
class ImapNamespace:
    prefix: str  # e.g. "" or "INBOX."
    delimiter: str | None  # e.g. "/" or "."; None on a flat server

    def folder(self, name: str) -> str:
        """The server-side name of the configured folder `name` (`/` separates levels)."""
        if name.upper() == "INBOX":
            return "INBOX"
        if self.prefix and name.startswith(self.prefix):
            return name  # already written the server's way
        relative = name.replace("/", self.delimiter) if self.delimiter else name
        return self.prefix + relative


def imap_namespace(client: IMAPClient) -> ImapNamespace:
    """The personal namespace of a logged-in client (RFC 2342), or LIST's delimiter without it."""
    if client.has_capability("NAMESPACE"):
        personal = client.namespace().personal
        if personal:
            prefix, delimiter = personal[0]
            return ImapNamespace(prefix=prefix or "", delimiter=delimiter or None)
    # `LIST "" ""` answers with the hierarchy delimiter only.
    listing = client.list_folders("", "")
    delimiter = listing[0][1] if listing else None
    if isinstance(delimiter, bytes):
        delimiter = delimiter.decode()
    return ImapNamespace(prefix="", delimiter=delimiter or None)


def folder_exists(existing: tuple[str, ...] | list[str], server_name: str) -> bool:
    """Whether `server_name` is among the listed folders (INBOX is case-insensitive)."""
    if server_name.upper() == "INBOX":
        return any(name.upper() == "INBOX" for name in existing)
    return server_name in existing


def ensure_folders(client: IMAPClient, configured: tuple[str, ...]) -> dict[str, str]:
    """Create (and subscribe) the configured folders that are missing.

    Returns configured name → server name, so the ledger can keep the configured name.
    """
    namespace = imap_namespace(client)
    existing = [name for _flags, _delimiter, name in client.list_folders()]
    server_names = {name: namespace.folder(name) for name in configured}
    for server_name in server_names.values():
        if not folder_exists(existing, server_name):
            client.create_folder(server_name)
            client.subscribe_folder(server_name)
    return server_names


# --- the same, in one flight (ImapSource.open) -------------------------------------------------

def namespace_commands(client: IMAPClient) -> list[Command]:
    """What `namespace_from` needs, ready to pipeline: NAMESPACE (or `LIST "" ""`) and LIST."""
    first: Command = ("NAMESPACE",) if client.has_capability("NAMESPACE") else ("LIST", '""', '""')
    return [first, ("LIST", '""', '"*"')]


def _utf7(value: object) -> str:
    if isinstance(value, bytes):
        return str(decode_utf7(value))
    return str(value)


def namespace_from(answers: Sequence[Answer]) -> tuple[ImapNamespace, list[str]]:
    """(the personal namespace, every folder's name) from the answers to `namespace_commands`."""
    first, listing = answers
    namespace = ImapNamespace(prefix="", delimiter=None)
    if "NAMESPACE" in first.untagged:
        personal = parse_response([item for item in first.untagged["NAMESPACE"] if isinstance(item, bytes)])[0]
        if personal:
            prefix, delimiter = personal[0]
            namespace = ImapNamespace(prefix=_utf7(prefix or b""), delimiter=_utf7(delimiter) if delimiter else None)
    else:
        entries = _folder_entries(first.untagged.get("LIST", []))
        delimiter = entries[0][1] if entries else None
        namespace = ImapNamespace(prefix="", delimiter=_utf7(delimiter) if delimiter else None)
    return namespace, [_utf7(name) if not isinstance(name, int) else str(name)
                       for _flags, _delimiter, name in _folder_entries(listing.untagged.get("LIST", []))]


def _folder_entries(data: list[bytes | tuple[bytes, bytes]]) -> list[tuple[object, object, object]]:
    items = [item for item in data if item not in (b"", None)]
    parsed = list(parse_response(items)) if items else []
    return [tuple(parsed[index : index + 3]) for index in range(0, len(parsed) - 2, 3)]


def missing_folders(existing: list[str], configured: tuple[str, ...],
                    namespace: ImapNamespace) -> tuple[dict[str, str], list[str]]:
    """(configured name → server name, the server names to create)."""
    server_names = {name: namespace.folder(name) for name in configured}
    missing = [name for name in dict.fromkeys(server_names.values()) if not folder_exists(existing, name)]
    return server_names, missing
