"""IMAP as a message source: batched BODY.PEEK[] fetches and UID MOVE (design §5).

Every message in INBOX is processed, read or not. Nothing marks a message \\Seen before its
outcome is committed; successful ones are marked \\Seen as they move to Procesados, failed
ones keep their flags so they stand out in Fallidos. Without MOVE the source falls back to
UID COPY + UID STORE \\Deleted + UID EXPUNGE (UIDPLUS), and never issues a bare EXPUNGE,
which would also erase messages someone else marked deleted.
"""

from __future__ import annotations

import imaplib
import logging
import re
from collections.abc import Callable, Iterator, Sequence

from imapclient import IMAPClient
from imapclient.imapclient import DELETED, SEEN

from tui_recepcion.mail.folders import ensure_folders
from tui_recepcion.mail.source import Decision, Status
from tui_recepcion.mail.transport import Endpoint, connect_imap

log = logging.getLogger(__name__)

INBOX = "INBOX"
MAX_BATCH_BYTES = 16 * 1024 * 1024
MAX_BATCH_MESSAGES = 200

Login = Callable[[IMAPClient], None]

_UID_ITEM = re.compile(rb"\bUID (\d+)")


def fetch_bodies(client: IMAPClient, uids: Sequence[int]) -> dict[int, bytes]:
    """`UID FETCH uids (BODY.PEEK[])` → {uid: raw message}, in one round trip.

    IMAPClient's general response parser doubles the cost of a bulk fetch, so the answer
    imaplib already split into (header, literal) pairs is read directly: each message is a
    literal, and its UID sits in the header before it or in the text right after it. Anything
    this does not recognise is fetched again through IMAPClient's own parser.
    """
    if not uids:
        return {}
    imap = client._imap  # the underlying imaplib connection (IMAPClient has no public bulk path)
    typ, data = imap.uid("FETCH", ",".join(str(uid) for uid in uids), "(BODY.PEEK[])")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"UID FETCH: {typ} {data!r}")
    bodies: dict[int, bytes] = {}
    pending: bytes | None = None  # a literal whose UID comes after it
    for item in data:
        if isinstance(item, tuple):
            header, literal = item
            found = _UID_ITEM.search(header)
            if found:
                bodies[int(found.group(1))] = literal
                pending = None
            else:
                pending = literal
        elif isinstance(item, bytes) and pending is not None:
            found = _UID_ITEM.search(item)
            if found:
                bodies[int(found.group(1))] = pending
            pending = None
    missing = [uid for uid in uids if uid not in bodies]
    if missing:
        for uid, fields in client.fetch(missing, ["BODY.PEEK[]"]).items():
            if b"BODY[]" in fields:
                bodies[uid] = fields[b"BODY[]"]
    return bodies


class ImapSource:
    name = "imap"
    disposal_commits_at_finish = False

    def __init__(
        self,
        endpoint: Endpoint,
        login: Login,
        *,
        processed_folder: str = "Procesados",
        failed_folder: str = "Fallidos",
        max_batch_bytes: int = MAX_BATCH_BYTES,
        max_batch_messages: int = MAX_BATCH_MESSAGES,
    ) -> None:
        self.endpoint = endpoint
        self._login = login
        self.processed_folder = processed_folder
        self.failed_folder = failed_folder
        self.max_batch_bytes = max_batch_bytes
        self.max_batch_messages = max_batch_messages
        self.client: IMAPClient | None = None
        self.uidvalidity = 0
        self._server_folders: dict[str, str] = {}
        self._sizes: dict[int, int] = {}

    # --- session -----------------------------------------------------------------------------

    def open(self) -> None:
        client = connect_imap(self.endpoint)
        self.client = client
        self._login(client)
        self._server_folders = ensure_folders(client, (self.processed_folder, self.failed_folder))
        selected = client.select_folder(INBOX)
        self.uidvalidity = int(selected[b"UIDVALIDITY"])

    def _require_client(self) -> IMAPClient:
        if self.client is None:
            raise RuntimeError("ImapSource.open() no se ha llamado")
        return self.client

    def finish(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            client.logout()

    def abort(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            try:
                client.shutdown()
            except OSError:
                pass

    # --- listing and fetching ----------------------------------------------------------------

    def key(self, uid: int) -> str:
        return f"imap:{self.uidvalidity}:{uid}"

    def uid(self, key: str) -> int:
        return int(key.rsplit(":", 1)[1])

    def list_keys(self) -> list[str]:
        client = self._require_client()
        uids = sorted(client.search(["NOT", "DELETED"]))
        self._sizes = {}
        if uids:
            sizes = client.fetch(uids, ["RFC822.SIZE"])
            self._sizes = {uid: int(data.get(b"RFC822.SIZE", 0)) for uid, data in sizes.items()}
        return [self.key(uid) for uid in uids if uid in self._sizes]

    def _batches(self, uids: Sequence[int]) -> Iterator[list[int]]:
        """Groups of UIDs bounded by count and by total size, so memory stays bounded."""
        batch: list[int] = []
        batch_bytes = 0
        for uid in uids:
            size = self._sizes.get(uid, 0)
            if batch and (len(batch) >= self.max_batch_messages or batch_bytes + size > self.max_batch_bytes):
                yield batch
                batch, batch_bytes = [], 0
            batch.append(uid)
            batch_bytes += size
        if batch:
            yield batch

    def fetch(self, keys: Sequence[str]) -> Iterator[tuple[str, bytes]]:
        client = self._require_client()
        for batch in self._batches([self.uid(key) for key in keys]):
            bodies = fetch_bodies(client, batch)
            for uid in batch:
                body = bodies.pop(uid, None)
                if body is None:
                    log.info("el mensaje UID %s ya no está en INBOX", uid)
                    continue
                yield self.key(uid), body

    # --- disposal ----------------------------------------------------------------------------

    def destination(self, status: Status) -> str:
        return self.processed_folder if status == "procesado" else self.failed_folder

    def dispose(self, decisions: Sequence[Decision], on_forwarded: Callable[[str], None]) -> list[str]:
        client = self._require_client()
        by_folder: dict[str, list[Decision]] = {}
        for decision in decisions:
            by_folder.setdefault(decision.destination, []).append(decision)
        disposed: list[str] = []
        for folder, group in by_folder.items():
            uids = [self.uid(decision.key) for decision in group]
            succeeded = [self.uid(decision.key) for decision in group if decision.status == "procesado"]
            if succeeded:
                client.add_flags(succeeded, [SEEN], silent=True)
            self._move(client, uids, self._server_folders.get(folder, folder))
            disposed += [decision.key for decision in group]
        return disposed

    def _move(self, client: IMAPClient, uids: list[int], folder: str) -> None:
        if client.has_capability("MOVE"):
            client.move(uids, folder)
            return
        client.copy(uids, folder)
        client.add_flags(uids, [DELETED], silent=True)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)
        else:
            # Without UIDPLUS only a bare EXPUNGE could remove them, and that would also erase
            # messages others marked deleted. They stay flagged; listing skips \Deleted mail.
            log.warning("el servidor no ofrece MOVE ni UIDPLUS: los correos quedan marcados como eliminados en INBOX")
