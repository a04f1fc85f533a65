"""The one module that writes files: document files, their content hash, private permissions.

Immutability: a stored document's files never change. A file is written once, to a
temporary name that is flushed to disk and then hard-linked into place (never over an
existing file), under a name that carries a short hash of its bytes (`<cufe16>-<kind>-<sha8>.<ext>`):
other bytes never take a stored file's name, the same bytes map to the same file.

Permissions: the folders the store creates are 0700, document and evidence files 0600, and
the database file is created 0600 (SQLite gives its -wal and -shm files the same mode).

No SQL here: the engine writes a `FileBatch` in worker processes before the batch is
recorded (see docs/architecture.md, crash safety).
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import platform
import re
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from tui_recepcion.dian.content import content_sha256_of
from tui_recepcion.dian.model import Document, SavedFile
from tui_recepcion.store.problems import file_problem

_KIND_SLUGS = {"Invoice": "factura", "CreditNote": "nota-credito", "DebitNote": "nota-debito"}


def document_content_sha256(files: Iterable[SavedFile]) -> str | None:
    """The hash that decides whether two documents under one CUFE are the same content
    (`dian.content`); None when there is no XML. The extractor's own hash, computed on the
    tree it parsed, is used when it came with the file."""
    saved = next((saved for saved in files if saved.kind == "xml"), None)
    if saved is None:
        return None
    return saved.content_sha256 or content_sha256_of(saved.data)


def file_content_sha256(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return content_sha256_of(data)


def make_private_dirs(folder: Path) -> None:
    """Create `folder` and its missing parents 0700 (existing folders are left as they are)."""
    missing: list[Path] = []
    current = Path(folder)
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            if path.is_dir():  # another process (a worker) made it meanwhile
                continue
            raise
        os.chmod(path, 0o700)  # the umask may have taken bits from the mode


def create_private_file(path: Path) -> None:
    """Create an empty database file 0600 (SQLite gives its -wal and -shm files the same mode)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    except FileExistsError:
        return
    os.close(descriptor)


def save_document_files(documents_dir: Path | None, account: str, document: Document,
                        files: Iterable[SavedFile]) -> dict[str, Path]:
    """Write one document's files (a `FileBatch` of one); see `FileBatch` for the rules."""
    batch = FileBatch(documents_dir)
    paths = batch.add(account, document, files)
    batch.commit()
    return paths


class FileBatch:
    """Writes the files of several documents under generated names (never a name from the mail).

    Names are `<cufe16>-<kind>-<sha8>.<ext>` in `<account>/<YYYY>/<MM>` (folders 0700, files
    0600). A file is written once and never replaced: a file of that name holding the same
    bytes is reused as it is; other bytes get a longer hash in their name.

    Durability comes in two flushes for the whole batch, not three per document (which cost
    more than the extraction on a busy disk): `add` writes each new file to a temporary name;
    `commit` flushes all their bytes to disk at once, hard-links each into place (never over
    an existing file), then flushes again so the names are durable. A name therefore only
    ever holds complete bytes, and a crash before the store's commit leaves at most files the
    retry finds and reuses (or `.tmp-` leftovers no row refers to). The mappings `add`
    returned are final once `commit` returns. No SQL: the engine runs batches in worker
    processes before the store records them. File errors become a (picklable) `StoreError`;
    a full disk says so and is transient; no temporary file is left behind.
    """

    def __init__(self, documents_dir: Path | None) -> None:
        self._documents_dir = documents_dir
        self._staged: list[_Staged] = []
        self._planned: dict[Path, str] = {}  # names this batch will create -> their bytes' digest

    def add(self, account: str, document: Document, files: Iterable[SavedFile]) -> dict[str, Path]:
        if self._documents_dir is None:
            return {}
        folder = self._documents_dir / _safe_account(account) / f"{document.issue_date:%Y}" / f"{document.issue_date:%m}"
        stem = f"{document.cufe[:16]}-{_KIND_SLUGS.get(document.kind, 'documento')}"
        paths: dict[str, Path] = {}
        try:
            for saved in files:
                if saved.kind not in paths:
                    make_private_dirs(folder)
                    paths[saved.kind] = self._place(folder, stem, saved.kind, saved.data, paths)
        except OSError as error:
            self.discard()
            raise file_problem(error, error.filename or folder) from None
        return paths

    def _place(self, folder: Path, stem: str, kind: str, data: bytes, paths: dict[str, Path]) -> Path:
        """The name that holds (or will hold) `data`: an existing file with these bytes, a
        file this batch already plans, or a new one written to a temporary name now."""
        digest = hashlib.sha256(data).hexdigest()
        for tag in (digest[:8], digest[:16], digest):
            target = folder / f"{stem}-{tag}.{kind}"
            planned = self._planned.get(target)
            if planned is not None:
                if planned == digest:
                    return target
                continue  # another file of this batch under this short hash: a longer name
            held = _holds(target, data)
            if held:
                return target
            if held is False:  # another file under this short hash: a longer name
                continue
            self._planned[target] = digest
            self._staged.append(_Staged(_temporary_copy(folder, data), folder, stem, kind, data, digest, paths))
            return target
        raise OSError(errno.EEXIST, "ningún nombre libre para el archivo", str(folder / f"{stem}.{kind}"))

    def commit(self) -> None:
        if not self._staged:
            return
        folders = {staged.folder for staged in self._staged}
        try:
            _make_durable([staged.temporary for staged in self._staged], folders)  # the bytes
            for staged in self._staged:
                staged.paths[staged.kind] = _link_into_place(staged)
            _make_durable([], folders)  # the names
        except OSError as error:
            raise file_problem(error, error.filename or next(iter(folders))) from None
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove the temporary files (after `commit`, or instead of it)."""
        for staged in self._staged:
            Path(staged.temporary).unlink(missing_ok=True)
        self._staged.clear()
        self._planned.clear()


@dataclass(slots=True)
class _Staged:
    temporary: str
    folder: Path
    stem: str
    kind: str
    data: bytes
    digest: str
    paths: dict[str, Path]  # the caller's mapping, whose entry `kind` gets the final name


def _holds(target: Path, data: bytes) -> bool | None:
    """True when `target` holds exactly `data`, False when it holds something else, None
    when there is no such file."""
    try:
        with open(target, "rb") as stream:
            if os.fstat(stream.fileno()).st_size != len(data):
                return False
            return stream.read() == data
    except FileNotFoundError:
        return None


def _temporary_copy(folder: Path, data: bytes) -> str:
    """`data` in a new 0600 temporary file of `folder` (flushed to disk by the commit)."""
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return temporary


_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})


def _link_into_place(staged: _Staged) -> Path:
    """Give a temporary file its final name, never over an existing file. A name taken
    meanwhile by the same bytes (another worker wrote them) is reused; by other bytes, a
    longer name is tried."""
    for tag in (staged.digest[:8], staged.digest[:16], staged.digest):
        target = staged.folder / f"{staged.stem}-{tag}.{staged.kind}"
        if _link(staged.temporary, target, staged.data) or _holds(target, staged.data):
            return target
    raise OSError(errno.EEXIST, "ningún nombre libre para el archivo", str(staged.folder / f"{staged.stem}.{staged.kind}"))


def _link(temporary: str, target: Path, data: bytes) -> bool:
    """False when the name is taken. Where hard links are not supported, an exclusive
    create of the final name, fsynced before it counts."""
    try:
        os.link(temporary, target)
        return True
    except FileExistsError:
        return False
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
    return True


def _make_durable(files: list[str], folders: set[Path]) -> None:
    """Flush to disk the bytes of `files` and the entries of `folders`: one syncfs(2) per file
    system where the kernel reports its write errors (Linux 5.8 and later), else an fsync of
    each file and each folder."""
    if _SYNCFS is not None:
        devices: dict[int, Path] = {}
        for folder in folders:
            devices.setdefault(os.stat(folder).st_dev, folder)
        for folder in devices.values():
            _sync_file_system(folder, _SYNCFS)
        return
    for path in files:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    for folder in folders:
        _fsync_directory(folder)


def _sync_file_system(folder: Path, syncfs: Callable[[int], int]) -> None:
    descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        if syncfs(descriptor) != 0:
            number = ctypes.get_errno()
            raise OSError(number, os.strerror(number), str(folder))
    finally:
        os.close(descriptor)


def _find_syncfs() -> Callable[[int], int] | None:
    """libc's syncfs(2), where it reports write errors: before Linux 5.8 it always returned 0,
    so a failed write could pass unnoticed, and an fsync of each file is used instead."""
    if not sys.platform.startswith("linux"):
        return None
    release = re.match(r"(\d+)\.(\d+)", platform.release())
    if release is None or (int(release[1]), int(release[2])) < (5, 8):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes, function.restype = [ctypes.c_int], ctypes.c_int
    return cast(Callable[[int], int], function)


_SYNCFS = _find_syncfs()


def _fsync_directory(folder: Path) -> None:
    """Make the new names durable (the files' contents were flushed before linking)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:  # some file systems refuse fsync on a folder; the data is on disk
        pass
    finally:
        os.close(descriptor)


def _safe_account(account: str) -> str:
    """A folder name for an account id: plain characters only; a short hash keeps
    distinct ids apart when cleaning changed them."""
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", account)[:48].strip("_") or "cuenta"
    if clean != account:
        clean += "-" + hashlib.sha256(account.encode()).hexdigest()[:8]
    return clean
