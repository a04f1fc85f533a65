"""The message ledger: one row per message decided, its attempts, and what became of it.

Crash safety (see docs/architecture.md): `record_outcomes` writes the document files first
and then commits documents and ledger rows in one transaction. A crash before the commit
leaves at most an orphan file that the retry finds holding the same bytes and reuses; the
message is disposed of only after the commit, so nothing is lost and no document is stored
twice. Failed attempts on messages not decided yet (`message_attempts`) are counted across
passes and dropped once the message is recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from tui_recepcion.dian.model import Document, Extraction
from tui_recepcion.dian.reasons import Reason
from tui_recepcion.store.database import StoreBase, as_datetime, like_escape, now_text, where
from tui_recepcion.store.documents import (
    Known,
    conflict_detail,
    discard_unreferenced,
    insert_conflict,
    insert_document,
    known_documents,
    same_content,
)
from tui_recepcion.store.files import document_content_sha256, file_content_sha256, save_document_files
from tui_recepcion.store.problems import translated
from tui_recepcion.store.rows import (
    STATUS_FAILED,
    STATUS_PROCESSED,
    UNKNOWN_RAW_SHA256,
    LedgerEntry,
    MessageFilter,
    Outcome,
    RecordResult,
)
from tui_recepcion.vocabulary import KEPT_ON_SERVER


class Ledger(StoreBase):
    """The ledger aggregate of `Store`."""

    @translated
    def lookup_messages(self, account: str, source_keys: Iterable[str]) -> dict[str, LedgerEntry]:
        """Ledger entries for the given source keys (absent keys are simply missing)."""
        keys = list(dict.fromkeys(source_keys))
        found: dict[str, LedgerEntry] = {}
        with self._db.lock:
            # SQLite caps bound parameters; 500 per query stays well below every build's limit.
            for start in range(0, len(keys), 500):
                batch = keys[start : start + 500]
                marks = ",".join("?" * len(batch))
                rows = self._db.execute(
                    f"SELECT * FROM messages WHERE account = ? AND source_key IN ({marks})", (account, *batch)
                ).fetchall()
                for row in rows:
                    entry = _ledger_entry(row, self._db.columns("messages"))
                    found[entry.source_key] = entry
        return found

    @translated
    def get_message(self, account: str, source_key: str) -> LedgerEntry | None:
        return self.lookup_messages(account, [source_key]).get(source_key)

    @translated
    def record_outcome(self, account: str, source_key: str, extraction: Extraction, raw_sha256: str,
                       destination: str | None = None, *, failed_destination: str | None = None) -> RecordResult:
        """Store the documents and the ledger row of one message in one transaction.

        A CUFE the account already has with the same content counts as a duplicate, not a
        failure; with other content it is a conflict (see `record_outcomes`). Idempotent:
        an (account, source_key) already in the ledger is returned unchanged.
        """
        outcome = Outcome(source_key, extraction, raw_sha256, destination, failed_destination=failed_destination)
        return self.record_outcomes(account, [outcome])[0]

    @translated
    def record_outcomes(self, account: str, outcomes: Sequence[Outcome]) -> list[RecordResult]:
        """Record a batch of messages in ONE transaction (a commit per message would cost
        more than the rest of the work); same rules as `record_outcome`, results in order.

        A CUFE the account has already (stored before, or by an earlier message of the
        batch) is a duplicate when the content is the same; with other content it is a
        conflict: the stored row and files are left alone, the new files are recorded in
        `document_conflicts` as evidence, and the message is `fallido` /
        `cufe_en_conflicto` with `failed_destination` (its other, new documents are still
        stored). After the commit, files written for duplicates that nothing references are
        removed (a resend often carries a regenerated PDF).
        """
        for outcome in outcomes:
            if not outcome.extraction.ok and outcome.extraction.failure is None:
                raise ValueError("an extraction without documents must carry a failure")
        results: list[RecordResult] = []
        leftovers: list[tuple[str, Path]] = []
        with self._db.transaction(scope=account):
            recorded = self.lookup_messages(account, [outcome.source_key for outcome in outcomes])
            known = known_documents(self._db, account, [cufe for o in outcomes for cufe in o.extraction.cufes])
            now = now_text()
            for outcome in outcomes:
                existing = recorded.get(outcome.source_key)
                if existing is not None:
                    results.append(RecordResult(existing, already_recorded=True))
                    continue
                result = self._insert_outcome(account, outcome, known, now, leftovers)
                recorded[outcome.source_key] = result.entry
                results.append(result)
            self._db.executemany("DELETE FROM message_attempts WHERE account = ? AND source_key = ?",
                                 [(account, result.entry.source_key) for result in results
                                  if not result.already_recorded])
        if leftovers:
            discard_unreferenced(self._db, account, leftovers)
        return results

    def _insert_outcome(self, account: str, outcome: Outcome, known: dict[str, Known], now: str,
                        leftovers: list[tuple[str, Path]]) -> RecordResult:
        """Insert one ledger row, its new documents and its conflicts' evidence; `known`
        grows with what is added, `leftovers` with duplicates' files to clean up."""
        extraction = outcome.extraction
        failure = None if extraction.ok else extraction.failure
        new: list[tuple[Document, dict[str, Path], str | None]] = []
        conflicts: list[tuple[Document, Known, dict[str, Path], str | None]] = []
        duplicates: list[str] = []
        planned: set[str] = set()
        for document in extraction.documents:
            saved = outcome.saved_files.get(document.cufe) if outcome.saved_files is not None else None
            paths = dict(saved) if saved is not None else None
            content = _content_sha256(outcome, document.cufe, paths)
            stored = known.get(document.cufe)
            if stored is None:
                if document.cufe in planned:
                    continue
                planned.add(document.cufe)
                if paths is None:
                    paths = save_document_files(self.documents_dir, account, document,
                                                extraction.files.get(document.cufe, ()))
                new.append((document, paths, content))
            elif same_content(stored, document, content):
                duplicates.append(document.cufe)
                leftovers += [(document.cufe, path) for path in (paths or {}).values()
                              if path not in (stored.xml_path, stored.pdf_path)]
            else:
                if paths is None:  # the evidence is written only now, never over a stored file
                    paths = save_document_files(self.documents_dir, account, document,
                                                extraction.files.get(document.cufe, ()))
                conflicts.append((document, stored, paths, content))
        status, reason, detail, destination = STATUS_PROCESSED, None, None, outcome.destination
        if failure is not None:
            status, reason, detail = STATUS_FAILED, str(failure.code), failure.detail
        elif conflicts:
            status, reason, destination = STATUS_FAILED, str(Reason.CUFE_EN_CONFLICTO), outcome.failed_destination
            detail = " ".join(conflict_detail(document, stored, paths) for document, stored, paths, _ in conflicts)
        mismatches = tuple(
            f"{m.field}: asunto «{m.subject_value}» ≠ XML «{m.xml_value}»" for m in extraction.hint_mismatches
        )
        cursor = self._db.execute(
            """INSERT INTO messages (account, source_key, message_id, subject, sender, raw_sha256, status,
               reason, detail, destination, cufes, created_at, subject_mismatches)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            (account, outcome.source_key, extraction.message_id, extraction.subject, extraction.sender,
             outcome.raw_sha256, status, reason, detail, destination, json.dumps(list(extraction.cufes)), now,
             json.dumps(mismatches, ensure_ascii=False) if mismatches else None),
        )
        message_row = cursor.lastrowid
        for document, paths, content in new:
            row_id = insert_document(self._db, account, document, message_row, paths, content, now)
            known[document.cufe] = Known(row_id, document, content, paths.get("xml"), paths.get("pdf"))
        for document, stored, paths, content in conflicts:
            insert_conflict(self._db, account, document.cufe, message_row, stored.row_id, content, paths, now)
        entry = LedgerEntry(
            account=account, source_key=outcome.source_key, message_id=extraction.message_id,
            subject=extraction.subject, status=status, reason=reason,
            destination=destination, cufes=tuple(extraction.cufes),
            created_at=datetime.fromisoformat(now), forwarded_at=None, disposed_at=None,
            sender=extraction.sender, detail=detail, raw_sha256=outcome.raw_sha256,
            subject_mismatches=mismatches,
        )
        return RecordResult(entry, tuple(document.cufe for document, _, _ in new), tuple(duplicates),
                            conflicts=tuple(document.cufe for document, *_ in conflicts))

    # ---- failed attempts and failures decided by the engine --------------------------

    @translated
    def record_attempt(self, account: str, source_key: str, stage: str, error: str) -> int:
        """Count a failed attempt (`stage`: fetch, RETR, store…) on a message not decided
        yet; returns how many there have been, across passes. Recording the message's
        outcome or failure drops the count."""
        now = now_text()
        with self._db.transaction(scope=account):
            row = self._db.execute(
                """INSERT INTO message_attempts (account, source_key, attempts, stage, last_error, first_at, last_at)
                   VALUES (?,?,1,?,?,?,?)
                   ON CONFLICT (account, source_key) DO UPDATE SET attempts = message_attempts.attempts + 1,
                   stage = excluded.stage, last_error = excluded.last_error, last_at = excluded.last_at
                   RETURNING attempts""",
                (account, source_key, stage, error, now, now),
            ).fetchone()
            return int(row[0])

    @translated
    def attempts(self, account: str, source_keys: Iterable[str]) -> dict[str, int]:
        """Failed attempts per source key; keys never counted are missing."""
        keys = list(dict.fromkeys(source_keys))
        found: dict[str, int] = {}
        with self._db.lock:
            for start in range(0, len(keys), 500):
                batch = keys[start : start + 500]
                marks = ",".join("?" * len(batch))
                found.update(self._db.execute(
                    f"SELECT source_key, attempts FROM message_attempts WHERE account = ? AND source_key IN ({marks})",
                    (account, *batch),
                ).fetchall())
        return found

    @translated
    def record_failure(self, account: str, source_key: str, *, reason: str, detail: str, destination: str | None,
                       raw_sha256: str | None, subject: str | None = None,
                       message_id: str | None = None) -> LedgerEntry:
        """A `fallido` ledger row for a message the engine isolated without extracting it
        (`no_se_pudo_leer`, `mensaje_demasiado_grande`). Without the raw bytes,
        `raw_sha256` is stored as `UNKNOWN_RAW_SHA256` (the empty string). Idempotent: an
        (account, source_key) already in the ledger is returned unchanged."""
        now = now_text()
        with self._db.transaction(scope=account):
            existing = self._ledger_row(account, source_key)
            if existing is not None:
                return existing
            self._db.execute(
                """INSERT INTO messages (account, source_key, message_id, subject, raw_sha256, status, reason,
                   detail, destination, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)""",
                (account, source_key, message_id, subject, raw_sha256 or UNKNOWN_RAW_SHA256, STATUS_FAILED,
                 str(reason), detail, destination, now),
            )
            self._db.execute("DELETE FROM message_attempts WHERE account = ? AND source_key = ?",
                             (account, source_key))
            entry = self._ledger_row(account, source_key)
            assert entry is not None
            return entry

    @translated
    def mark_forward_refused(self, account: str, source_key: str, detail: str) -> LedgerEntry:
        """POP3: the backup relay refused the forward for good (SMTP 5xx; `detail` is its
        reply). The row becomes `fallido` / `reenvio_rechazado`, destination
        `KEPT_ON_SERVER` ("servidor"), not disposed of; its detail keeps the original
        outcome readable. `LedgerEntry.forward_refused` tells such rows apart. Calling it
        again returns the row unchanged. ValueError when the row does not exist."""
        with self._db.transaction(scope=account):
            entry = self._ledger_row(account, source_key)
            if entry is None:
                raise ValueError(f"no ledger row for {account!r} {source_key!r}")
            if entry.reason == Reason.REENVIO_RECHAZADO:
                return entry
            if entry.status == STATUS_PROCESSED:
                original = "procesado"
            else:
                original = f"fallido ({entry.reason}: {entry.detail})" if entry.detail else f"fallido ({entry.reason})"
            text = (f"El servidor SMTP rechazó de forma definitiva el reenvío al correo de respaldo: "
                    f"{_one_line(detail)}. El correo se conserva en el servidor POP3 y no se vuelve a reenviar. "
                    f"Resultado del procesamiento: {original}.")
            self._db.execute(
                """UPDATE messages SET status = ?, reason = ?, detail = ?, destination = ?
                   WHERE account = ? AND source_key = ?""",
                (STATUS_FAILED, str(Reason.REENVIO_RECHAZADO), text, KEPT_ON_SERVER, account, source_key),
            )
            updated = self._ledger_row(account, source_key)
            assert updated is not None
            return updated

    @translated
    def retire_message(self, account: str, source_key: str) -> None:
        """POP3 UIDL reuse: rename a disposed row's key to `f"{key}#{raw_sha256[:16]}"` (with
        the row id appended if that is taken, or instead of the hash if it is unknown), so a
        new message under the same UIDL is recorded with the live key; the history stays.
        ValueError when there is no such row or it was not disposed of."""
        with self._db.transaction(scope=account):
            row = self._db.execute(
                "SELECT id, raw_sha256, disposed_at FROM messages WHERE account = ? AND source_key = ?",
                (account, source_key),
            ).fetchone()
            if row is None:
                raise ValueError(f"no ledger row for {account!r} {source_key!r}")
            row_id, raw_sha256, disposed_at = row
            if disposed_at is None:
                raise ValueError(f"ledger row {account!r} {source_key!r} was not disposed of; it cannot be retired")
            retired = f"{source_key}#{raw_sha256[:16]}" if raw_sha256 else f"{source_key}#{row_id}"
            taken = self._db.execute("SELECT 1 FROM messages WHERE account = ? AND source_key = ?",
                                     (account, retired)).fetchone()
            if taken is not None:
                retired = f"{retired}-{row_id}"
            self._db.execute("UPDATE messages SET source_key = ? WHERE id = ?", (retired, row_id))
            self._db.execute("DELETE FROM message_attempts WHERE account = ? AND source_key = ?",
                             (account, source_key))

    def _ledger_row(self, account: str, source_key: str) -> LedgerEntry | None:
        row = self._db.execute("SELECT * FROM messages WHERE account = ? AND source_key = ?",
                               (account, source_key)).fetchone()
        return _ledger_entry(row, self._db.columns("messages")) if row else None

    @translated
    def mark_forwarded(self, account: str, source_key: str) -> bool:
        """Record that a POP3 message reached the backup address (before DELE)."""
        with self._db.transaction(scope=account):
            cursor = self._db.execute(
                "UPDATE messages SET forwarded_at = COALESCE(forwarded_at, ?) WHERE account = ? AND source_key = ?",
                (now_text(), account, source_key),
            )
            return cursor.rowcount > 0

    @translated
    def mark_disposed(self, account: str, source_keys: Iterable[str], destination: str | None = None) -> int:
        """Record that messages were moved or deleted at the source; returns how many rows."""
        now = now_text()
        with self._db.transaction(scope=account):
            count = 0
            for key in source_keys:
                cursor = self._db.execute(
                    """UPDATE messages SET disposed_at = ?, destination = COALESCE(?, destination)
                       WHERE account = ? AND source_key = ?""",
                    (now, destination, account, key),
                )
                count += cursor.rowcount
            return count

    @translated
    def undisposed_messages(self, account: str, key_prefix: str) -> list[LedgerEntry]:
        """Decided but not yet disposed-of rows whose source key starts with `key_prefix`
        (e.g. one IMAP UIDVALIDITY): what a pass checks against the server's listing."""
        with self._db.lock:
            columns = self._db.columns("messages")
            rows = self._db.execute(
                "SELECT * FROM messages WHERE account = ? AND disposed_at IS NULL AND source_key LIKE ? ESCAPE '\\'",
                (account, like_escape(key_prefix) + "%"),
            )
            return [_ledger_entry(row, columns) for row in rows]

    @translated
    def messages(self, filters: MessageFilter = MessageFilter()) -> list[LedgerEntry]:
        clauses, params = [], []
        if filters.account:
            clauses.append("account = ?")
            params.append(filters.account)
        if filters.status:
            clauses.append("status = ?")
            params.append(filters.status)
            if filters.status == STATUS_FAILED and not filters.include_reprocessed:
                clauses.append("reprocessed_at IS NULL")  # failed now: not those moved back to INBOX
        if filters.reason:
            clauses.append("reason = ?")
            params.append(filters.reason)
        sql = "SELECT * FROM messages" + where(clauses) + " ORDER BY id"
        if filters.limit:
            sql += f" LIMIT {int(filters.limit)}"
        with self._db.lock:
            columns = self._db.columns("messages")
            return [_ledger_entry(row, columns) for row in self._db.execute(sql, params)]

    @translated
    def message_counts(self) -> dict[str, dict[str, int]]:
        """{account: {"procesado": n, "fallido": m}}."""
        counts: dict[str, dict[str, int]] = {}
        with self._db.lock:
            for account, status, count in self._db.execute(
                "SELECT account, status, COUNT(*) FROM messages GROUP BY account, status"
            ):
                counts.setdefault(account, {STATUS_PROCESSED: 0, STATUS_FAILED: 0})[status] = count
        return counts


    @translated
    def failed_now_counts(self) -> dict[str, int]:
        """{account: failed messages not reprocessed since}: what Fallidos holds now, where
        `message_counts` counts the history."""
        with self._db.lock:
            rows = self._db.execute(
                "SELECT account, COUNT(*) FROM messages WHERE status = ? AND reprocessed_at IS NULL GROUP BY account",
                (STATUS_FAILED,),
            ).fetchall()
        return {account: count for account, count in rows}

    @translated
    def mark_reprocessed(self, account: str, source_keys: Iterable[str]) -> int:
        """Record that these failed messages went back to INBOX; returns how many rows changed."""
        keys = list(source_keys)
        changed = 0
        with self._db.transaction():
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                cursor = self._db.execute(
                    "UPDATE messages SET reprocessed_at = ? WHERE account = ? AND status = ? AND reprocessed_at IS NULL "
                    f"AND source_key IN ({','.join('?' * len(chunk))})",
                    (now_text(), account, STATUS_FAILED, *chunk),
                )
                changed += cursor.rowcount
        return changed


def _content_sha256(outcome: Outcome, cufe: str, paths: dict[str, Path] | None) -> str | None:
    """The new content's hash: given by the caller, else from the files in memory, else
    from the XML file the caller saved; None when there is no XML to hash."""
    if outcome.content_sha256 is not None and outcome.content_sha256.get(cufe):
        return outcome.content_sha256[cufe]
    files = outcome.extraction.files.get(cufe, ())
    if files:
        return document_content_sha256(files)
    if paths and "xml" in paths:
        return file_content_sha256(paths["xml"])
    return None


def _ledger_entry(row: tuple[Any, ...], columns: list[str]) -> LedgerEntry:
    values = dict(zip(columns, row, strict=True))
    return LedgerEntry(
        account=values["account"],
        source_key=values["source_key"],
        message_id=values["message_id"],
        subject=values["subject"],
        status=values["status"],
        reason=values["reason"],
        destination=values["destination"],
        cufes=tuple(json.loads(values["cufes"] or "[]")),
        created_at=datetime.fromisoformat(values["created_at"]),
        forwarded_at=as_datetime(values["forwarded_at"]),
        disposed_at=as_datetime(values["disposed_at"]),
        sender=values["sender"],
        detail=values["detail"],
        raw_sha256=values["raw_sha256"],
        subject_mismatches=tuple(json.loads(values["subject_mismatches"] or "[]")),
        reprocessed_at=as_datetime(values.get("reprocessed_at")),
    )


def _one_line(text: str, limit: int = 500) -> str:
    """Text from a server on one line, bounded."""
    line = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
