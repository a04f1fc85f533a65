"""IMAP as a message source: batched BODY.PEEK[] fetches and UID MOVE (docs/architecture.md, «Mailbox rules»).

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
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager

from imapclient import IMAPClient  # type: ignore[import-untyped]  # IMAPClient ships no py.typed

from tui_recepcion.errors import ConnectionProblem
from tui_recepcion.mailbox.imap_folders import missing_folders, namespace_commands, namespace_from
from tui_recepcion.mailbox.imap_listing import listing_from_fetch
from tui_recepcion.mailbox.source import Decision, Disposal, Unreadable, bounded
from tui_recepcion.mailbox.transport import Endpoint, close_quietly, connect_imap, connection_errors, interrupt
from tui_recepcion.mailbox.transport.imap_pipelining import Answer, Command, pipelined, read_one, send, uid_set
from tui_recepcion.vocabulary import PROCESSED, MessageStatus

log = logging.getLogger(__name__)

INBOX = "INBOX"
MAX_BATCH_BYTES = 16 * 1024 * 1024
MAX_BATCH_MESSAGES = 500
# Some servers drop the session on a message they cannot read (Dovecot: "BYE FETCH failed").
# The source reconnects and reads that batch one by one, so only the culprit fails; past
# this many reconnections in one session the connection itself is the problem.
MAX_RECONNECTS = 5

Login = Callable[[IMAPClient], None]

_UID_ITEM = re.compile(rb"\bUID (\d+)")


def fetch_bodies(client: IMAPClient, uids: Sequence[int]) -> tuple[dict[int, bytes], str | None]:
    """`UID FETCH uids (BODY.PEEK[])` → ({uid: raw message}, the server's refusal or None).

    One round trip. IMAPClient's general response parser doubles the cost of a bulk fetch,
    so the answer imaplib already split into (header, literal) pairs is read directly: each
    message is a literal, and its UID sits in the header before it or in the text right after
    it; anything else is fetched again through IMAPClient's own parser. A server that cannot
    deliver some message answers NO (or BAD) after sending the others: what did arrive is
    kept, and the refusal is returned for the caller to isolate.
    """
    if not uids:
        return {}, None
    imap = client._imap  # the underlying imaplib connection (IMAPClient has no public bulk path)
    refusal: str | None = None
    try:
        typ, data = imap.uid("FETCH", uid_set(uids), "(BODY.PEEK[])")
    except imaplib.IMAP4.abort:
        raise  # the connection is gone: not an answer about these messages
    except imaplib.IMAP4.error as error:  # BAD
        typ, data, refusal = "BAD", [], _refusal_text(error)
    if typ != "OK":
        refusal = refusal or f"{typ} {_refusal_text(data)}"
        data = [item for item in imap.untagged_responses.pop("FETCH", [])] or data
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
    if missing and refusal is None:  # an answer shape the lean reader does not know
        try:
            for uid, fields in client.fetch(missing, ["BODY.PEEK[]"]).items():
                if b"BODY[]" in fields:
                    bodies[uid] = fields[b"BODY[]"]
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as error:
            refusal = _refusal_text(error)
    return bodies, refusal


class BodyStream:
    """`UID FETCH uids (BODY.PEEK[])`, yielding (uid, raw message) as each arrives, so the
    work on the first messages overlaps the transfer of the others. After the iteration,
    `refusal` holds the server's NO or BAD (what did arrive was yielded), or None."""

    def __init__(self, client: IMAPClient, uids: Sequence[int]) -> None:
        self._imap = client._imap
        self._uids = uids
        self.refusal: str | None = None

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        imap = self._imap
        imap.untagged_responses.clear()
        tag = send(imap, ("UID", "FETCH", uid_set(self._uids), "(BODY.PEEK[])"))
        pending: bytes | None = None  # a literal whose UID comes after it
        while True:
            answer = read_one(imap, tag)
            for item in imap.untagged_responses.pop("FETCH", []):
                if isinstance(item, tuple):
                    header, literal = item
                    found = _UID_ITEM.search(header)
                    if found:
                        yield int(found.group(1)), literal
                        pending = None
                    else:
                        pending = literal
                elif isinstance(item, bytes) and pending is not None:
                    found = _UID_ITEM.search(item)
                    if found:
                        yield int(found.group(1)), pending
                    pending = None
            if answer is not None:
                break
        imap.untagged_responses.clear()  # EXISTS, EXPUNGE, FLAGS: nothing this pass needs
        status, data = answer
        if status != "OK":
            self.refusal = f"{status} {_refusal_text(data)}"


def _refusal_text(value: object) -> str:
    """A server's refusal on one short line (it names no secret: we are past login)."""
    if isinstance(value, list):
        value = b" ".join(item for item in value if isinstance(item, bytes))
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())[:200]


class ImapSource:
    name = "imap"
    disposal_commits_at_finish = False
    keeps_unreadable = False
    reads_one_at_a_time = False
    needs_raw_to_dispose = False  # moves by UID: the pipeline need not keep a batch's bytes

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
        self._listing: dict[int, int] | None = None  # read at open(), in the same flight as SELECT
        self._to_create: list[str] = []
        self.round_trip_seconds = 0.0  # how long open()'s flight took: about one round trip
        self._reconnects_left = MAX_RECONNECTS
        self._interrupted = False
        self._deadline: float | None = None

    # --- session -----------------------------------------------------------------------------

    def open(self, deadline: float | None = None) -> None:
        """Connect, log in, then one flight: the namespace, the folders, SELECT INBOX and the
        listing (UIDs, sizes, flags); a second one only if folders must be created."""
        self._interrupted = False
        self._reconnects_left = MAX_RECONNECTS
        self._deadline = deadline
        client = connect_imap(bounded(self.endpoint, deadline))
        self.client = client
        self._login(client)
        with self._errors():
            started = time.monotonic()
            answers = pipelined(client._imap, [*namespace_commands(client), ("SELECT", INBOX),
                                               ("UID", "FETCH", "1:*", "(UID RFC822.SIZE FLAGS)")])
            self.round_trip_seconds = time.monotonic() - started
            namespace, existing = namespace_from(answers[:2])
            self.uidvalidity = self._selected(client, answers[2])
            self._listing = self._listing_from(answers[3])
            # Folders still missing are created in the flight of the first disposal (or at
            # finish), ahead of the moves into them: no round trip of their own.
            self._server_folders, self._to_create = missing_folders(
                existing, (self.processed_folder, self.failed_folder), namespace)

    def _creations(self, client: IMAPClient) -> list[Command]:
        names, self._to_create = self._to_create, []
        return [command for name in names
                for command in (("CREATE", client._normalise_folder(name)), ("SUBSCRIBE", client._normalise_folder(name)))]

    @staticmethod
    def _check_created(answers: Sequence[Answer]) -> None:
        # A folder someone created meanwhile answers NO [ALREADYEXISTS]; the moves after it
        # say whether the folder is there.
        for answer in answers[::2]:
            if not answer.ok and "ALREADYEXISTS" not in answer.text().upper():
                raise imaplib.IMAP4.error(f"CREATE: {answer.text()}")

    @staticmethod
    def _selected(client: IMAPClient, answer: Answer) -> int:
        """What imaplib's `select` would leave: state SELECTED; returns UIDVALIDITY."""
        if not answer.ok:
            raise imaplib.IMAP4.error(f"SELECT: {answer.text()}")
        client._imap.state = "SELECTED"
        client._imap.is_readonly = False
        validity = answer.untagged.get("UIDVALIDITY")
        if not validity or not isinstance(validity[-1], bytes):
            raise imaplib.IMAP4.error("SELECT sin UIDVALIDITY")
        return int(validity[-1])

    @staticmethod
    def _listing_from(answer: Answer) -> dict[int, int] | None:
        """{uid: size} of the messages not flagged \\Deleted, or None if the server refused the
        listing in one flight (then `list_keys` asks the classic way)."""
        if not answer.ok:
            return None
        try:
            return listing_from_fetch(answer.untagged.get("FETCH", []))
        except (ValueError, TypeError, AttributeError) as error:
            # A size that is no number, FLAGS that are no list: the server's answer is at fault,
            # and it becomes the protocol problem the caller's `_errors` makes of any other.
            raise imaplib.IMAP4.error(f"listado de INBOX ilegible ({type(error).__name__})") from None

    def _reconnect(self, after: ConnectionProblem) -> IMAPClient:
        """A new session on the same INBOX, or `after` again when none may or can be had."""
        if self._interrupted or not after.transient or self._reconnects_left <= 0:
            raise after
        self._reconnects_left -= 1
        if self.client is not None:
            close_quietly(self.client)
            self.client = None
        client = connect_imap(bounded(self.endpoint, self._deadline))
        self.client = client
        self._login(client)
        with self._errors():
            [answer] = pipelined(client._imap, [("SELECT", INBOX)])
            uidvalidity = self._selected(client, answer)
        if uidvalidity != self.uidvalidity:
            raise ConnectionProblem(
                "protocolo", "La bandeja de entrada cambió de UIDVALIDITY durante la pasada; se empezará de nuevo.",
                transient=True,
            )
        return client

    def _errors(self) -> AbstractContextManager[None]:
        return connection_errors(self.endpoint, "IMAP")

    def _require_client(self) -> IMAPClient:
        if self.client is None:
            raise RuntimeError("ImapSource.open() no se ha llamado")
        return self.client

    def finish(self) -> None:
        """LOGOUT, and wait for its answer: the account is released after this, and its next
        owner (maybe another process) must never find this session still open on the server."""
        if self.client is not None:
            client, self.client = self.client, None
            try:
                with self._errors():
                    creations = self._creations(client)
                    self._check_created(pipelined(client._imap, creations))
                    client.logout()
            except ConnectionProblem as problem:
                log.info("LOGOUT falló (%s); la pasada ya había terminado", problem)
            close_quietly(client)

    def abort(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            close_quietly(client)

    def interrupt(self) -> None:
        self._interrupted = True
        client = self.client
        if client is not None:
            interrupt(client)

    # --- listing and fetching ----------------------------------------------------------------

    @property
    def key_prefix(self) -> str:
        return f"imap:{self.uidvalidity}:"

    def key(self, uid: int) -> str:
        return f"imap:{self.uidvalidity}:{uid}"

    def uid(self, key: str) -> int:
        return int(key.rsplit(":", 1)[1])

    def list_keys(self) -> list[str]:
        client = self._require_client()
        listing, self._listing = self._listing, None
        if listing is None:
            with self._errors():
                uids = sorted(client.search(["NOT", "DELETED"]))
                listing = {}
                if uids:
                    sizes = client.fetch(uids, ["RFC822.SIZE"])
                    listing = {uid: int(data.get(b"RFC822.SIZE", 0)) for uid, data in sizes.items()}
        self._sizes = listing
        return [self.key(uid) for uid in sorted(listing)]

    def size(self, key: str) -> int | None:
        return self._sizes.get(self.uid(key))

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

    def fetch(self, keys: Sequence[str]) -> Iterator[tuple[str, bytes | Unreadable]]:
        for batch in self._batches([self.uid(key) for key in keys]):
            delivered: set[int] = set()
            asked = set(batch)
            stream = BodyStream(self._require_client(), batch)
            bodies = iter(stream)
            try:
                while True:
                    with self._errors():
                        item = next(bodies, None)
                    if item is None:
                        break
                    uid, body = item
                    if uid in delivered or uid not in asked:
                        continue  # an unsolicited or repeated answer
                    delivered.add(uid)
                    yield self.key(uid), body
            except ConnectionProblem as problem:
                rest = [uid for uid in batch if uid not in delivered]
                log.warning("la sesión IMAP se cortó al leer %d mensajes (%s); se reconecta y se leen uno por uno",
                            len(rest), problem)
                self._reconnect(problem)
                yield from self._fetch_one_by_one(rest)
                continue
            if stream.refusal:
                log.info("UID FETCH de %d mensajes respondió: %s", len(batch), stream.refusal)
            # Ask again one by one for what the batch did not bring, so one message the server
            # cannot deliver never holds back the others.
            yield from self._fetch_one_by_one([uid for uid in batch if uid not in delivered])

    def _fetch_batch(self, client: IMAPClient, batch: list[int]) -> tuple[dict[int, bytes], dict[int, Unreadable]]:
        bodies, refusal = fetch_bodies(client, batch)
        if refusal:
            log.info("UID FETCH de %d mensajes respondió: %s", len(batch), refusal)
        # Ask again one by one for what the batch did not bring, so one message the server
        # cannot deliver never holds back the others.
        unreadable: dict[int, Unreadable] = {}
        for uid in (uid for uid in batch if uid not in bodies):
            alone, alone_refusal = fetch_bodies(client, [uid])
            if uid in alone:
                bodies[uid] = alone[uid]
            else:
                unreadable[uid] = Unreadable(alone_refusal or "el servidor no devolvió el contenido del mensaje")
        return bodies, unreadable

    def _fetch_one_by_one(self, batch: list[int]) -> Iterator[tuple[str, bytes | Unreadable]]:
        """After a session died mid-batch: each message alone, reconnecting after each one that
        kills the session again (that one is reported Unreadable, the others are read)."""
        for uid in batch:
            try:
                with self._errors():
                    bodies, unreadable = self._fetch_batch(self._require_client(), [uid])
            except ConnectionProblem as problem:
                # Only once a new session works is it this message, not the network: a
                # reconnection that fails ends the pass without counting anything against it.
                self._reconnect(problem)
                yield self.key(uid), Unreadable(f"la sesión se cortó al leer este mensaje: {problem}")
                continue
            yield self.key(uid), bodies[uid] if uid in bodies else unreadable[uid]

    # --- disposal ----------------------------------------------------------------------------

    def destination(self, status: MessageStatus) -> str:
        return self.processed_folder if status == PROCESSED else self.failed_folder

    def dispose(self, decisions: Sequence[Decision], on_forwarded: Callable[[str], None]) -> Disposal:
        client = self._require_client()
        with self._errors():
            return Disposal(self._dispose(client, decisions))

    def _dispose(self, client: IMAPClient, decisions: Sequence[Decision]) -> list[str]:
        """One flight for the whole batch: per destination, `\\Seen` on the successful ones and
        one UID MOVE. Without MOVE, COPY first and, in a second flight, `\\Deleted` + UID
        EXPUNGE only where the copy succeeded (never a deletion ahead of its copy)."""
        by_folder: dict[str, list[Decision]] = {}
        for decision in decisions:
            by_folder.setdefault(decision.destination, []).append(decision)
        has_move = client.has_capability("MOVE")
        flight: list[Command] = self._creations(client)
        created = len(flight)
        moves: list[tuple[int, list[Decision], str]] = []  # (answer index, group, uid set)
        for folder, group in by_folder.items():
            uids = uid_set([self.uid(decision.key) for decision in group])
            succeeded = [self.uid(decision.key) for decision in group if decision.status == PROCESSED]
            if succeeded:
                flight.append(("UID", "STORE", uid_set(succeeded), "+FLAGS.SILENT", "(\\Seen)"))
            server_folder = client._normalise_folder(self._server_folders.get(folder, folder))
            moves.append((len(flight), group, uids))
            flight.append(("UID", "MOVE" if has_move else "COPY", uids, server_folder))
        answers = pipelined(client._imap, flight)
        self._check_created(answers[:created])
        refused = [answers[index].text() for index, _group, _uids in moves if not answers[index].ok]
        if refused:
            raise imaplib.IMAP4.error(f"{'MOVE' if has_move else 'COPY'}: {refused[0]}")
        if not has_move:
            self._delete_copied(client, [uids for _index, _group, uids in moves])
        return [decision.key for _index, group, _uids in moves for decision in group]

    def _delete_copied(self, client: IMAPClient, uid_sets: list[str]) -> None:
        if not client.has_capability("UIDPLUS"):
            # Without UIDPLUS only a bare EXPUNGE could remove them, and that would also erase
            # messages others marked deleted. They stay flagged; listing skips \Deleted mail.
            pipelined(client._imap, [("UID", "STORE", uids, "+FLAGS.SILENT", "(\\Deleted)") for uids in uid_sets])
            log.warning("el servidor no ofrece MOVE ni UIDPLUS: los correos quedan marcados como eliminados en INBOX")
            return
        flight: list[Command] = []
        for uids in uid_sets:
            flight += [("UID", "STORE", uids, "+FLAGS.SILENT", "(\\Deleted)"), ("UID", "EXPUNGE", uids)]
        for answer in pipelined(client._imap, flight):
            if not answer.ok:
                raise imaplib.IMAP4.error(f"STORE/EXPUNGE: {answer.text()}")
