"""From raw messages to outcomes ready for the store: extraction and document files.

This is the CPU-heavy half of a pass. For a large backlog it runs in worker processes (one
per core), so parsing and file writing proceed in parallel while the main process talks to
the mail server and the database; small passes run inline, where starting workers would
cost more than it saves. Workers never touch SQLite: the main process records each batch
in one transaction, so crash safety is the same either way.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import multiprocessing.forkserver
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType

from tui_recepcion.dian import Extraction, extract_message, internal_error
from tui_recepcion.store import Outcome, save_document_files

log = logging.getLogger(__name__)

# Below this many messages a pass runs inline: a worker pool takes ~0.3 s to start.
POOL_THRESHOLD = 200
MAX_WORKERS = 4

Extract = Callable[..., Extraction]


@dataclass(frozen=True, slots=True)
class PrepareSettings:
    account: str
    receiver_nit: str | None
    documents_dir: Path | None
    extract: Extract = extract_message


def safe_extract(extract: Extract, raw: bytes, receiver_nit: str | None) -> Extraction:
    # The extractor promises never to raise; this guard keeps a broken promise from
    # turning one bad message into a pass that fails forever on it.
    try:
        return extract(raw, receiver_nit=receiver_nit)
    except Exception as error:
        log.exception("la extracción falló de forma inesperada")
        return internal_error(error)


def prepare(settings: PrepareSettings, item: tuple[str, bytes]) -> Outcome:
    """Extract one message and write its documents' files; the file bytes are dropped so
    only small values travel back from a worker process."""
    key, raw = item
    extraction = safe_extract(settings.extract, raw, settings.receiver_nit)
    saved = {
        document.cufe: save_document_files(
            settings.documents_dir, settings.account, document, extraction.files.get(document.cufe, ())
        )
        for document in extraction.documents
    }
    return Outcome(key, replace(extraction, files={}), hashlib.sha256(raw).hexdigest(), saved_files=saved)


# forkserver, not fork: the TUI calls the engine from a thread, and forking a threaded
# process can copy a lock held by another thread.
_CONTEXT = multiprocessing.get_context("forkserver")
# The server imports the extraction code (lxml, the store) once and every worker it forks
# inherits it, instead of each worker importing it before its first message.
_CONTEXT.set_forkserver_preload([__name__])


def start_worker_server() -> None:
    """Start multiprocessing's helper processes now, while the standard streams are real.

    They pass `sys.stderr`'s descriptor to their children; under Textual that stream is
    replaced and a pool started later could not launch. Call this before a TUI runs.
    """
    try:
        multiprocessing.forkserver.ensure_running()
    except (OSError, ValueError) as error:
        log.warning("no se pudo iniciar el servidor de procesos auxiliares: %s", error)


def _prepare_chunk(settings: PrepareSettings, items: Sequence[tuple[str, bytes]]) -> list[Outcome]:
    return [prepare(settings, item) for item in items]


class Preparer:
    """Prepares batches inline or, with `workers > 1`, in a pool of worker processes."""

    def __init__(self, settings: PrepareSettings, workers: int = 1) -> None:
        self._settings = settings
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        if workers > 1:
            try:
                self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=_CONTEXT)
            except (OSError, ValueError) as error:  # no helper processes here: work inline
                log.warning("sin procesos auxiliares de extracción (%s); se procesa en este proceso", error)

    @staticmethod
    def workers_for(pending: int) -> int:
        if pending < POOL_THRESHOLD:
            return 1
        return max(1, min(MAX_WORKERS, os.cpu_count() or 1))

    def start(self, items: Sequence[tuple[str, bytes]]) -> Callable[[], list[Outcome]]:
        """Begin preparing `items`; the returned function waits for the outcomes, in order.

        With a pool the work proceeds while the caller does something else (the pipeline
        records and disposes of the previous batch meanwhile); inline it happens when the
        returned function is called. Safe to call from another thread than `collect`'s.
        """
        items = list(items)
        pool = self._pool
        if pool is None or len(items) < 2:
            return lambda: _prepare_chunk(self._settings, items)
        size = -(-len(items) // (2 * self._workers))  # two chunks per worker balance uneven mail
        try:
            futures = [
                pool.submit(_prepare_chunk, self._settings, items[start : start + size])
                for start in range(0, len(items), size)
            ]
        except RuntimeError:  # BrokenProcessPool, or a pool another thread just shut down
            return self._inline_after_failure(items)

        def collect() -> list[Outcome]:
            try:
                return [outcome for future in futures for outcome in future.result()]
            except BrokenProcessPool:
                return self._inline_after_failure(items)()

        return collect

    def map(self, items: Sequence[tuple[str, bytes]]) -> list[Outcome]:
        return self.start(items)()

    def _inline_after_failure(self, items: list[tuple[str, bytes]]) -> Callable[[], list[Outcome]]:
        # A worker died (killed, out of memory): finish the pass inline rather than fail it.
        log.warning("un proceso de extracción terminó de forma anormal; se continúa sin procesos auxiliares")
        self.close()
        return lambda: _prepare_chunk(self._settings, items)

    def close(self) -> None:
        pool, self._pool = self._pool, None  # the pipeline's reader thread may close it too
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Preparer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()
