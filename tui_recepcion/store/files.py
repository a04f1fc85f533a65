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
import stat
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
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

    The file system is worked on `str` paths with `os` calls (a `Path` is built once per
    file, for the caller): a chunk writes hundreds of files, and pathlib's parsing cost as
    much as the writing. Folders are checked once per batch, and made again if removed
    meanwhile.
    """

    def __init__(self, documents_dir: Path | None) -> None:
        self._root = None if documents_dir is None else os.fspath(documents_dir)
        self._staged: list[_Staged] = []
        self._planned: dict[str, _Staged] = {}  # names this batch will create -> their staged file
        self._accounts: dict[str, str] = {}  # account -> its folder
        self._folders: set[str] = set()  # folders this batch made or found
        self._folder_paths: dict[str, Path] = {}
        self._temporaries = _TemporaryNames()

    def add(self, account: str, document: Document, files: Iterable[SavedFile]) -> dict[str, Path]:
        if self._root is None:
            return {}
        folder = self._folder(self._root, account, document.issue_date)
        stem = f"{document.cufe[:16]}-{_KIND_SLUGS.get(document.kind, 'documento')}"
        paths: dict[str, Path] = {}
        try:
            for saved in files:
                if saved.kind not in paths:
                    paths[saved.kind] = self._place(folder, stem, saved.kind, saved.data, paths)
        except OSError as error:
            self.discard()
            raise file_problem(error, error.filename or folder) from None
        return paths

    def _folder(self, root: str, account: str, issued: date) -> str:
        """`<account>/<YYYY>/<MM>` under the documents folder (the year as `%Y` writes it)."""
        base = self._accounts.get(account)
        if base is None:
            base = self._accounts[account] = os.path.join(root, _safe_account(account))
        return f"{base}/{issued.year}/{issued.month:02d}"

    def _place(self, folder: str, stem: str, kind: str, data: bytes, paths: dict[str, Path]) -> Path:
        """The name that holds (or will hold) `data`: an existing file with these bytes, a
        file this batch already plans, or a new one written to a temporary name now."""
        digest = hashlib.sha256(data).hexdigest()
        for level, tag in enumerate((digest[:8], digest[:16], digest)):
            name = f"{stem}-{tag}.{kind}"
            target = f"{folder}/{name}"
            planned = self._planned.get(target)
            if planned is not None:
                if planned.digest == digest:
                    planned.owners.append(paths)  # the final name may still change at the commit
                    return planned.path
                continue  # another file of this batch under this short hash: a longer name
            held = _holds(target, data)
            if held:
                return self._path(folder, name)
            if held is False:  # another file under this short hash: a longer name
                continue
            staged = _Staged(self._temporary_copy(folder, data), folder, stem, kind, data, digest, level,
                             self._path(folder, name), [paths])
            self._planned[target] = staged
            self._staged.append(staged)
            return staged.path
        raise OSError(errno.EEXIST, "ningún nombre libre para el archivo", f"{folder}/{stem}.{kind}")

    def _path(self, folder: str, name: str) -> Path:
        folder_path = self._folder_paths.get(folder)
        if folder_path is None:
            folder_path = self._folder_paths[folder] = Path(folder)
        return folder_path / name

    def _temporary_copy(self, folder: str, data: bytes) -> str:
        if folder not in self._folders:
            make_private_dirs(Path(folder))
            self._folders.add(folder)
        try:
            return _temporary_copy(folder, data, self._temporaries)
        except FileNotFoundError:  # the folder was removed since this batch checked it
            make_private_dirs(Path(folder))
            return _temporary_copy(folder, data, self._temporaries)

    def commit(self) -> None:
        if not self._staged:
            return
        folders = {staged.folder for staged in self._staged}
        try:
            _make_durable([staged.temporary for staged in self._staged], folders)  # the bytes
            for staged in self._staged:
                _link_into_place(staged)
            _make_durable([], folders)  # the names
        except OSError as error:
            raise file_problem(error, error.filename or next(iter(folders))) from None
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove the temporary files (after `commit`, or instead of it)."""
        for staged in self._staged:
            _remove(staged.temporary)
        self._staged.clear()
        self._planned.clear()
        self._folders.clear()


@dataclass(slots=True)
class _Staged:
    temporary: str
    folder: str
    stem: str
    kind: str
    data: bytes
    digest: str
    level: int  # how much of the digest the planned name carries: 0 → 8, 1 → 16, 2 → all
    path: Path  # the planned name
    owners: list[dict[str, Path]]  # the callers' mappings, whose entry `kind` gets the final name


def _holds(target: str, data: bytes) -> bool | None:
    """True when `target` holds exactly `data`, False when it holds something else, None
    when there is no such file."""
    try:
        status = os.stat(target)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(status.st_mode) or status.st_size != len(data):
        return False
    try:
        with open(target, "rb") as stream:
            return stream.read() == data
    except FileNotFoundError:  # removed since
        return None


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


class _TemporaryNames:
    """`.tmp-<random>-<n>` names: random per batch (another worker, a crashed run's
    leftovers), counted within it; a name found taken draws a new random part."""

    def __init__(self) -> None:
        self._prefix = ""
        self._count = 0

    def next(self, folder: str, *, taken: bool = False) -> str:
        if taken or not self._prefix:
            self._prefix = f".tmp-{os.urandom(6).hex()}-"
        self._count += 1
        return f"{folder}/{self._prefix}{self._count}"


def _temporary_copy(folder: str, data: bytes, names: _TemporaryNames) -> str:
    """`data` in a new 0600 temporary file of `folder` (flushed to disk by the commit)."""
    temporary = names.next(folder)
    for _ in range(_TEMPORARY_ATTEMPTS):
        try:
            descriptor = os.open(temporary, _CREATE, 0o600)
            break
        except FileExistsError:  # never opened, never overwritten: another name
            temporary = names.next(folder, taken=True)
    else:
        raise OSError(errno.EEXIST, "ningún nombre temporal libre", folder)
    try:
        try:
            _write_all(descriptor, data)
        finally:
            os.close(descriptor)
    except BaseException:
        _remove(temporary)
        raise
    return temporary


_TEMPORARY_ATTEMPTS = 100


def _write_all(descriptor: int, data: bytes) -> None:
    """`os.write` may write less than asked (a signal, a disk about to fill up)."""
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view):]


def _remove(path: str) -> None:
    """Best effort: a file that cannot be removed (EACCES, a read-only remount) stays as a
    harmless leftover no row refers to, like one a crash leaves, and the error that matters
    (the batch's own, or none after a commit) is the one the caller sees."""
    try:
        os.unlink(path)
    except OSError:
        pass


_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})


def _link_into_place(staged: _Staged) -> None:
    """Give a temporary file its final name, never over an existing file, and the callers'
    mappings that name. A name taken meanwhile by the same bytes (another worker wrote
    them) is reused; by other bytes, a longer name is tried."""
    tags = (staged.digest[:8], staged.digest[:16], staged.digest)[staged.level:]
    for moved, tag in enumerate(tags):  # from the planned name on
        target = f"{staged.folder}/{staged.stem}-{tag}.{staged.kind}"
        if _link(staged.temporary, target, staged.data) or _holds(target, staged.data):
            if moved:
                staged.path = Path(target)
                for owner in staged.owners:
                    owner[staged.kind] = staged.path
            return
    raise OSError(errno.EEXIST, "ningún nombre libre para el archivo", f"{staged.folder}/{staged.stem}.{staged.kind}")


def _link(temporary: str, target: str, data: bytes) -> bool:
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
        descriptor = os.open(target, _CREATE, 0o600)
    except FileExistsError:
        return False
    try:
        try:
            _write_all(descriptor, data)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except BaseException:
        _remove(target)  # this process created it: incomplete bytes never keep the name
        raise
    return True


def _make_durable(files: list[str], folders: set[str]) -> None:
    """Flush to disk the bytes of `files` and the entries of `folders`: one syncfs(2) per file
    system where the kernel reports its write errors (Linux 5.8 and later), else an fsync of
    each file and each folder."""
    if _SYNCFS is not None:
        devices: dict[int, str] = {}
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


def _sync_file_system(folder: str, syncfs: Callable[[int], int]) -> None:
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


def _fsync_directory(folder: str) -> None:
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
