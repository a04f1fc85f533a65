"""`FileBatch` under hostile timing: another worker, a removed folder, a taken temporary name,
short writes, a file system without hard links. Every case keeps the rules of
`store/files.py`: a name only ever holds complete bytes and is never replaced, and the
mappings `add` returned are final once `commit` returns."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from pathlib import Path

import pytest

from tui_recepcion.demo.samples import SampleFactory
from tui_recepcion.dian.extract import extract_file
from tui_recepcion.dian.model import Document, SavedFile
from tui_recepcion.store import FileBatch, StoreError
from tui_recepcion.store import files as files_module

ACCOUNT = "principal"
PDF = b"%PDF-1.4 " + b"la factura impresa " * 200


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def temporaries(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.rglob(".tmp-*"))


@pytest.fixture
def document(factory: SampleFactory) -> tuple[Document, list[SavedFile]]:
    generated = factory.document()
    return extract_file("f.xml", generated.xml).documents[0], [SavedFile("xml", generated.xml), SavedFile("pdf", PDF)]


def test_two_workers_writing_the_same_document_share_one_file(tmp_path: Path,
                                                              document: tuple[Document, list[SavedFile]]) -> None:
    first, second = FileBatch(tmp_path), FileBatch(tmp_path)
    paths = first.add(ACCOUNT, *document)
    same = second.add(ACCOUNT, *document)  # neither has linked anything yet
    first.commit()
    inode = paths["pdf"].stat().st_ino
    second.commit()  # its names are taken by the same bytes: reused, not replaced
    assert same == paths and paths["pdf"].stat().st_ino == inode and paths["pdf"].read_bytes() == PDF
    assert temporaries(tmp_path) == []


def test_a_short_name_taken_before_the_commit_moves_every_mapping_to_the_longer_name(
        tmp_path: Path, document: tuple[Document, list[SavedFile]]) -> None:
    batch = FileBatch(tmp_path)
    paths = batch.add(ACCOUNT, *document)
    again = batch.add(ACCOUNT, *document)  # the same message twice in one chunk
    assert again == paths
    short = paths["pdf"]
    assert short.name == f"{document[0].cufe[:16]}-factura-{sha(PDF)[:8]}.pdf"
    short.write_bytes(b"otra cosa")  # another worker links other bytes there before this commit
    batch.commit()
    longer = short.with_name(f"{document[0].cufe[:16]}-factura-{sha(PDF)[:16]}.pdf")
    assert paths["pdf"] == again["pdf"] == longer and longer.read_bytes() == PDF
    assert short.read_bytes() == b"otra cosa"
    assert temporaries(tmp_path) == []


def test_a_folder_removed_during_a_batch_is_made_again_private(
        tmp_path: Path, factory: SampleFactory, permissive_umask: None) -> None:
    early, late = factory.document(), factory.document()
    early_document = extract_file("f.xml", early.xml).documents[0]
    late_document = extract_file("g.xml", late.xml).documents[0]
    assert (early_document.issue_date.year, early_document.issue_date.month) == (
        late_document.issue_date.year, late_document.issue_date.month)  # one folder
    batch = FileBatch(tmp_path)
    paths = batch.add(ACCOUNT, early_document, [SavedFile("xml", early.xml)])
    folder = paths["xml"].parent
    shutil.rmtree(tmp_path / ACCOUNT)  # a person cleans up while the batch runs
    late_paths = batch.add(ACCOUNT, late_document, [SavedFile("xml", late.xml)])
    assert {mode(path) for path in (tmp_path / ACCOUNT, folder.parent, folder)} == {0o700}
    # The early file's temporary copy went with the folder: the commit says so, leaves no
    # temporary file and no name; the retry writes both.
    with pytest.raises(StoreError) as caught:
        batch.commit()
    assert caught.value.transient
    assert list(folder.iterdir()) == []
    retry = FileBatch(tmp_path)
    assert retry.add(ACCOUNT, early_document, [SavedFile("xml", early.xml)]) == paths
    assert retry.add(ACCOUNT, late_document, [SavedFile("xml", late.xml)]) == late_paths
    retry.commit()
    assert paths["xml"].read_bytes() == early.xml and late_paths["xml"].read_bytes() == late.xml
    assert {mode(path) for path in (paths["xml"], late_paths["xml"])} == {0o600}


def test_a_taken_temporary_name_is_never_opened(tmp_path: Path, document: tuple[Document, list[SavedFile]],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter([b"\x00" * 6, b"\x01" * 6, b"\x02" * 6])
    monkeypatch.setattr(files_module.os, "urandom", lambda size: next(draws))
    folder = tmp_path / ACCOUNT / f"{document[0].issue_date:%Y}" / f"{document[0].issue_date:%m}"
    folder.mkdir(parents=True)
    squatter = folder / ".tmp-000000000000-1"  # a crashed run's leftover, or someone else's file
    squatter.write_bytes(b"ajeno")
    squatter.chmod(0o644)
    batch = FileBatch(tmp_path)
    paths = batch.add(ACCOUNT, *document)
    assert temporaries(tmp_path) == [".tmp-000000000000-1", ".tmp-010101010101-2", ".tmp-010101010101-3"]
    batch.commit()
    assert squatter.read_bytes() == b"ajeno" and mode(squatter) == 0o644
    assert paths["pdf"].read_bytes() == PDF and paths["xml"].read_bytes() == document[1][0].data
    assert temporaries(tmp_path) == [".tmp-000000000000-1"]  # not ours: left alone


def test_no_free_temporary_name_is_an_error_that_leaves_nothing(
        tmp_path: Path, document: tuple[Document, list[SavedFile]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files_module.os, "urandom", lambda size: b"\x00" * size)
    monkeypatch.setattr(files_module, "_TEMPORARY_ATTEMPTS", 3)
    folder = tmp_path / ACCOUNT / f"{document[0].issue_date:%Y}" / f"{document[0].issue_date:%m}"
    folder.mkdir(parents=True)
    for count in (1, 2, 3):
        (folder / f".tmp-000000000000-{count}").write_bytes(b"ajeno")
    batch = FileBatch(tmp_path)
    with pytest.raises(StoreError, match="ningún nombre temporal libre"):
        batch.add(ACCOUNT, *document)
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == {
        f".tmp-000000000000-{count}": b"ajeno" for count in (1, 2, 3)}


def test_short_writes_still_write_every_byte(tmp_path: Path, document: tuple[Document, list[SavedFile]],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    write = os.write
    monkeypatch.setattr(files_module.os, "write", lambda descriptor, data: write(descriptor, data[:1000]))
    batch = FileBatch(tmp_path)
    paths = batch.add(ACCOUNT, *document)
    batch.commit()
    assert paths["pdf"].read_bytes() == PDF and paths["xml"].read_bytes() == document[1][0].data


@pytest.fixture
def no_hard_links(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file system without hard links (FAT, some network shares): link(2) says EPERM."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))

    monkeypatch.setattr(files_module.os, "link", refuse)


def test_without_hard_links_the_final_name_is_created_exclusively(
        tmp_path: Path, document: tuple[Document, list[SavedFile]], no_hard_links: None,
        permissive_umask: None) -> None:
    first = FileBatch(tmp_path)
    paths = first.add(ACCOUNT, *document)
    second = FileBatch(tmp_path)
    same = second.add(ACCOUNT, *document)
    first.commit()
    inode = paths["pdf"].stat().st_ino
    second.commit()
    assert same == paths and paths["pdf"].stat().st_ino == inode and paths["pdf"].read_bytes() == PDF
    assert {mode(path) for path in paths.values()} == {0o600}
    assert temporaries(tmp_path) == []


def test_without_hard_links_a_failed_write_leaves_no_final_name(
        tmp_path: Path, document: tuple[Document, list[SavedFile]], no_hard_links: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files_module, "_SYNCFS", None)
    batch = FileBatch(tmp_path)
    paths = batch.add(ACCOUNT, *document)
    flushed: list[int] = []

    def fsync_until_the_final_names(descriptor: int) -> None:
        flushed.append(descriptor)
        if len(flushed) > 2:  # the two temporary files flush; the first final name does not
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files_module.os, "fsync", fsync_until_the_final_names)
    with pytest.raises(StoreError, match="disco está lleno") as caught:
        batch.commit()
    assert caught.value.transient
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []
    monkeypatch.undo()
    retry = FileBatch(tmp_path)
    assert retry.add(ACCOUNT, *document) == paths
    retry.commit()
    assert paths["pdf"].read_bytes() == PDF


@pytest.fixture
def undeletable_temporaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """unlink(2) refused for the temporary names (EACCES: a folder whose mode changed)."""
    unlink = os.unlink

    def refuse(path: str, *args: object, **kwargs: object) -> None:
        if os.path.basename(path).startswith(".tmp-"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        unlink(path, *args, **kwargs)  # type: ignore[arg-type]  # os.unlink's own keywords

    monkeypatch.setattr(files_module.os, "unlink", refuse)


def test_a_temporary_file_that_cannot_be_removed_does_not_undo_a_commit(
        tmp_path: Path, document: tuple[Document, list[SavedFile]], undeletable_temporaries: None) -> None:
    # The files are durable under their final names: the leftover is harmless, like a crash's.
    batch = FileBatch(tmp_path)
    paths = batch.add(ACCOUNT, *document)
    batch.commit()
    assert paths["pdf"].read_bytes() == PDF and paths["xml"].read_bytes() == document[1][0].data
    assert len(temporaries(tmp_path)) == 2


def test_a_temporary_file_that_cannot_be_removed_does_not_hide_the_real_error(
        tmp_path: Path, document: tuple[Document, list[SavedFile]], undeletable_temporaries: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    batch = FileBatch(tmp_path)
    batch.add(ACCOUNT, *document)

    def disk_full(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files_module.os, "link", disk_full)
    with pytest.raises(StoreError, match="disco está lleno") as caught:
        batch.commit()
    assert caught.value.transient
