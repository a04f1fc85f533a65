"""A local Maildir as a message source, with `.Procesados` and `.Fallidos` subfolders.

Used by the demo and by servers that deliver mail to a local Maildir. Disposal is a
`rename` into the folder's `cur/`: atomic, so a crash leaves each message in exactly one
place, and a re-run that repeats the rename of a message already moved finds nothing to do.
"""

from __future__ import annotations

import mailbox
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from tui_recepcion.mailbox.source import Decision, Disposal, Unreadable
from tui_recepcion.vocabulary import PROCESSED, MessageStatus


class MaildirSource:
    name = "maildir"
    disposal_commits_at_finish = False
    keeps_unreadable = False
    reads_one_at_a_time = True
    key_prefix = "maildir:"

    def __init__(self, path: Path, *, processed_folder: str = "Procesados", failed_folder: str = "Fallidos") -> None:
        self.path = path
        self.processed_folder = processed_folder
        self.failed_folder = failed_folder
        self._files: dict[str, Path] = {}

    def open(self, deadline: float | None = None) -> None:
        inbox = mailbox.Maildir(self.path, create=True)
        for folder in (self.processed_folder, self.failed_folder):
            if folder not in inbox.list_folders():
                inbox.add_folder(folder)

    def folder_path(self, folder: str) -> Path:
        return self.path / f".{folder}"

    def list_keys(self) -> list[str]:
        """Messages in new/ and cur/, oldest first by delivery time (their name starts with it)."""
        self._files = {}
        for subdirectory in ("new", "cur"):
            directory = self.path / subdirectory
            for entry in os.scandir(directory):
                if entry.is_file() and not entry.name.startswith("."):
                    self._files[f"maildir:{entry.name.split(':', 1)[0]}"] = Path(entry.path)
        return sorted(self._files)

    def size(self, key: str) -> int | None:
        try:
            return self._files[key].stat().st_size
        except (KeyError, OSError):
            return None

    def fetch(self, keys: Sequence[str]) -> Iterator[tuple[str, bytes | Unreadable]]:
        for key in keys:
            try:
                yield key, self._files[key].read_bytes()
            except FileNotFoundError:
                continue  # removed since it was listed
            except OSError as error:
                yield key, Unreadable(error.strerror or type(error).__name__)

    def destination(self, status: MessageStatus) -> str:
        return self.processed_folder if status == PROCESSED else self.failed_folder

    def dispose(self, decisions: Sequence[Decision], on_forwarded: Callable[[str], None]) -> Disposal:
        disposed: list[str] = []
        for decision in decisions:
            source = self._files.get(decision.key)
            if source is None:
                continue
            flags = "S" if decision.status == PROCESSED else ""
            unique = decision.key.split(":", 1)[1]
            target = self.folder_path(decision.destination) / "cur" / f"{unique}:2,{flags}"
            try:
                os.replace(source, target)
            except FileNotFoundError:
                if not target.exists():
                    raise
            disposed.append(decision.key)
        return Disposal(disposed)

    def finish(self) -> None:
        return None

    def abort(self) -> None:
        return None

    def interrupt(self) -> None:
        return None  # local files: nothing blocks
