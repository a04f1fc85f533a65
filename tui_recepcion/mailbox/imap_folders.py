"""IMAP folder names under the server's personal namespace and hierarchy delimiter.

Configured names (`Procesados`, `Fallidos`, or nested like `Facturas/Procesados`) become
the names the server expects: `INBOX.Procesados` on a server whose namespace is `INBOX.`
with `.` as delimiter, `Procesados` on one with an empty prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

from imapclient import IMAPClient  # type: ignore[import-untyped]  # IMAPClient ships no py.typed


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
