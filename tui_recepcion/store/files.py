"""The one module that writes files: document files, their content hash, private permissions.

Immutability: a stored document's files never change. A file is written once, to a
temporary name that is fsynced and then hard-linked into place (never over an existing
file), under a name that carries a short hash of its bytes (`<cufe16>-<kind>-<sha8>.<ext>`):
other bytes never take a stored file's name, the same bytes map to the same file.

Permissions: the folders the store creates are 0700, document and evidence files 0600, and
the database file is created 0600 (SQLite gives its -wal and -shm files the same mode).

No SQL here: the engine calls `save_document_files` from worker processes before the batch
is recorded (see docs/architecture.md, crash safety).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

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
    """Write a document's files under generated names (never a name from the mail).

    Names are `<cufe16>-<kind>-<sha8>.<ext>` in `<account>/<YYYY>/<MM>` (folders 0700, files
    0600). A file is written once and never replaced: a file of that name holding the same
    bytes is reused as it is; other bytes get a longer hash in their name. No SQL: the
    engine may call this from worker processes before the batch is recorded. A crash
    before the commit leaves at most a file the retry finds and reuses. File errors become
    a (picklable) `StoreError`; a full disk says so and is transient.
    """
    if documents_dir is None:
        return {}
    folder = documents_dir / _safe_account(account) / f"{document.issue_date:%Y}" / f"{document.issue_date:%m}"
    stem = f"{document.cufe[:16]}-{_KIND_SLUGS.get(document.kind, 'documento')}"
    paths: dict[str, Path] = {}
    created = False
    try:
        for saved in files:
            if saved.kind in paths:
                continue
            if not created:
                make_private_dirs(folder)
            target, wrote = _write_once(folder, stem, saved.kind, saved.data)
            created = created or wrote
            paths[saved.kind] = target
        if created:
            _fsync_directory(folder)
    except OSError as error:
        raise file_problem(error, error.filename or folder) from None
    return paths


def _write_once(folder: Path, stem: str, extension: str, data: bytes) -> tuple[Path, bool]:
    """The path holding `data` (reused or new) and whether it was written now."""
    digest = hashlib.sha256(data).hexdigest()
    temporary: str | None = None
    try:
        for tag in (digest[:8], digest[:16], digest):
            target = folder / f"{stem}-{tag}.{extension}"
            held = _holds(target, data)
            if held:
                return target, False
            if held is False:  # another file under this short hash: a longer name
                continue
            if temporary is None:
                temporary = _temporary_copy(folder, data)
            if _link_into_place(temporary, target, data):
                return target, True
            if _holds(target, data):  # someone else wrote the same bytes meanwhile
                return target, False
        raise OSError(errno.EEXIST, "ningún nombre libre para el archivo", str(folder / f"{stem}.{extension}"))
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


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
    """`data` in a new 0600 temporary file of `folder`, on disk (fsynced)."""
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return temporary


_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})


def _link_into_place(temporary: str, target: Path, data: bytes) -> bool:
    """Give the temporary file its final name, never over an existing file; False when the
    name was taken meanwhile. Where hard links are not supported, an exclusive create."""
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


def _fsync_directory(folder: Path) -> None:
    """Make the new names durable (the files' contents were fsynced before linking)."""
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
