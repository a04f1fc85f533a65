"""From raw messages to outcomes ready for the store: extraction and document files.

This is the CPU-heavy half of a pass. For a large backlog it runs in worker processes (one
per core), so parsing and file writing proceed in parallel while the main process talks to
the mail server and the database; small passes run inline, where starting workers would
cost more than it saves. Workers never touch SQLite: the main process records each batch
in one transaction, so crash safety is the same either way.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import logging
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.util
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from tui_recepcion.dian import Extraction, extract_message, internal_error
from tui_recepcion.store import FileBatch, Outcome, document_content_sha256

log = logging.getLogger(__name__)

# Below this many messages a pass runs inline: a worker pool takes ~0.3 s to start.
POOL_THRESHOLD = 200
MAX_WORKERS = 4
# Each task a worker takes commits its own FileBatch, two file-system flushes: a task of
# fewer messages than this pays those flushes (a disk cache flush each) for too little work.
MIN_TASK_MESSAGES = 16

Extract = Callable[..., Extraction]


def extractor(require_valid_signature: bool) -> Extract:
    """The extraction a pass uses; `exigir_firma_valida` sends mail with a broken signature to
    Fallidos. A partial of a module function, so it travels to worker processes."""
    return functools.partial(extract_message, require_valid_signature=True) if require_valid_signature else extract_message


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


def prepare(settings: PrepareSettings, item: tuple[str, bytes], files: FileBatch | None = None) -> Outcome:
    """Extract one message and write its documents' files; the file bytes are dropped so
    only small values travel back from a worker process. With `files`, the files join that
    batch and are on disk once it is committed; without, before this returns."""
    key, raw = item
    extraction = safe_extract(settings.extract, raw, settings.receiver_nit)
    batch = FileBatch(settings.documents_dir) if files is None else files
    saved = {
        document.cufe: batch.add(settings.account, document, extraction.files.get(document.cufe, ()))
        for document in extraction.documents
    }
    if files is None:
        batch.commit()
    # The hash the store compares a known CUFE by: the extractor's, taken from the XML it parsed.
    content = {
        document.cufe: digest
        for document in extraction.documents
        if (digest := document_content_sha256(extraction.files.get(document.cufe, ()))) is not None
    }
    return Outcome(key, replace(extraction, files={}), hashlib.sha256(raw).hexdigest(), saved_files=saved,
                   content_sha256=content)


# forkserver, not fork: the TUI calls the engine from a thread, and forking a threaded
# process can copy a lock held by another thread.
_CONTEXT = multiprocessing.get_context("forkserver")
# The server imports the extraction code (lxml, the store) once and every worker it forks
# inherits it, instead of each worker importing it before its first message.
_CONTEXT.set_forkserver_preload([__name__])

# Helper processes die with the service. On Linux, after SIGKILL of the main process:
# - the fork server sees EOF on its "alive" pipe and exits, once no worker holds a copy of
#   that pipe's write end: each worker closes its copy as it starts (`_worker_started`).
#   When the main thread started it, the fork server also asks for SIGKILL at its parent's
#   death (`_bind_fork_server`), in case anything else keeps the pipe open;
# - each worker asks for SIGKILL when its parent, the fork server, dies;
# - the resource tracker exits at EOF on its pipe, whose last holders were the workers.
# Without prctl (other systems, or no usable libc) the fork server still exits, but the
# workers live on, blocked on their task queue, and with them the resource tracker, until
# they are killed: the old behaviour.
#
# Helper processes get no secrets either: the fork server (so every worker, which is its
# fork) and the resource tracker start with only the variables below, never the mailbox
# password a `secreto = "env:VAR"` keeps in the service's environment.
_KEPT_VARIABLES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
    "VIRTUAL_ENV", "LD_LIBRARY_PATH",
    "PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "PYTHONNOUSERSITE", "PYTHONUSERBASE",
    "PYTHONPLATLIBDIR", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "PYTHONHASHSEED",
    "PYTHONIOENCODING", "PYTHONUTF8", "PYTHONCOERCECLOCALE", "PYTHONWARNINGS", "PYTHONDEVMODE",
    "PYTHONFAULTHANDLER", "PYTHONMALLOC", "PYTHONOPTIMIZE",
})
_KEPT_PREFIXES = ("LC_",)
# Set only in the fork server's environment: the pid of the process that started it from its
# main thread. The server reads and removes it when it imports this module (the preload).
_SERVER_PARENT_VARIABLE = "TUI_RECEPCION_PADRE_DEL_SERVIDOR"
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# The pid of the process that imported this module: in a worker forked from the fork server,
# the fork server's pid (the preload); in a worker that imported it itself, its own pid.
_LOADED_IN_PID = os.getpid()
_server_lock = threading.Lock()
_helpers: list[subprocess.Popen[bytes]] = []


def helper_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables the helper processes keep: what Python needs to start and import."""
    environ = os.environ if environ is None else environ
    return {name: value for name, value in environ.items() if name in _KEPT_VARIABLES or name.startswith(_KEPT_PREFIXES)}


def die_with_parent() -> bool:
    """Ask the kernel to SIGKILL this process when its parent dies; False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _spawn_helper(environment: dict[str, str]) -> Callable[..., int]:
    # Stands in for `multiprocessing.util.spawnv_passfds`, through which the fork server and
    # the resource tracker are started, with an explicit environment: changing os.environ
    # instead would hide an `env:` secret from another account's thread meanwhile.
    def spawn(path: str | bytes, args: Sequence[Any], passfds: Sequence[int]) -> int:
        process = subprocess.Popen(
            list(args), executable=path, pass_fds=tuple(sorted(map(int, passfds))), close_fds=True,
            env=environment, restore_signals=False,
        )
        # Kept, never collected: a collected Popen would reap the helper behind multiprocessing.
        _helpers.append(process)
        return process.pid

    return spawn


def start_worker_server() -> None:
    """Start multiprocessing's helper processes now, while the standard streams are real.

    They pass `sys.stderr`'s descriptor to their children; under Textual that stream is
    replaced and a pool started later could not launch. Call this before a TUI runs, from
    the main thread: a fork server started from another thread cannot be bound to the
    parent's death (the kernel would kill it when that thread ends) and relies on its pipe.
    Cheap when they already run.
    """
    environment = helper_environment()
    if threading.current_thread() is threading.main_thread():
        environment[_SERVER_PARENT_VARIABLE] = str(os.getpid())
    with _server_lock:
        original = getattr(multiprocessing.util, "spawnv_passfds", None)
        if original is not None:
            multiprocessing.util.spawnv_passfds = _spawn_helper(environment)
        try:
            multiprocessing.forkserver.ensure_running()
        except (OSError, ValueError, subprocess.SubprocessError) as error:
            log.warning("no se pudo iniciar el servidor de procesos auxiliares: %s", error)
        finally:
            if original is not None:
                multiprocessing.util.spawnv_passfds = original


def _bind_fork_server() -> None:
    # Runs when the fork server imports this module, and only there: only its environment has
    # the variable (it removes it, so the workers it forks do not inherit it), and it is a
    # `python -c` process that has multiprocessing's fork server code loaded.
    if sys.argv[:1] != ["-c"] or "multiprocessing.forkserver" not in sys.modules:
        return
    parent = os.environ.pop(_SERVER_PARENT_VARIABLE, None)
    if parent is None or not parent.isdigit():
        return
    if die_with_parent() and os.getppid() != int(parent):
        os._exit(0)  # the service died before the request took effect


def _worker_started() -> None:
    """Pool initializer: bind the worker's life to the fork server's, and so to the service's."""
    if die_with_parent() and _LOADED_IN_PID != os.getpid() and os.getppid() != _LOADED_IN_PID:
        os._exit(1)  # the fork server died before the request took effect
    # A worker holding the write end of the fork server's "alive" pipe would keep the server
    # running after the service died, and so itself: the service must be its only holder.
    server = multiprocessing.forkserver._forkserver
    alive = getattr(server, "_forkserver_alive_fd", None)
    if isinstance(alive, int):
        server._forkserver_alive_fd = None  # type: ignore[attr-defined]  # private to multiprocessing; no public way
        with contextlib.suppress(OSError):
            os.close(alive)


_bind_fork_server()


def _prepare_chunk(settings: PrepareSettings, items: Sequence[tuple[str, bytes]]) -> list[Outcome]:
    # One FileBatch: the chunk's files reach the disk in two flushes, not three per message.
    files = FileBatch(settings.documents_dir)
    try:
        outcomes = [prepare(settings, item, files) for item in items]
    except BaseException:
        files.discard()
        raise
    files.commit()
    return outcomes


def task_size(count: int, workers: int) -> int:
    """Messages per worker task: two tasks per worker balance uneven mail, but never fewer
    than MIN_TASK_MESSAGES, so the chunks a pass streams in (pipeline.PREPARE_CHUNK) go whole."""
    return max(MIN_TASK_MESSAGES, -(-count // (2 * workers)))


class Preparer:
    """Prepares batches inline or, with `workers > 1`, in a pool of worker processes."""

    def __init__(self, settings: PrepareSettings, workers: int = 1) -> None:
        self._settings = settings
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        # Inline work starts at once in a thread of its own, so it overlaps the reading of
        # the rest of the batch instead of waiting for the caller to collect it.
        self._inline: ThreadPoolExecutor | None = None
        if workers > 1:
            start_worker_server()  # a server started here too gets the scrubbed environment
            try:
                self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=_CONTEXT, initializer=_worker_started)
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
            return self._start_inline(items)
        size = task_size(len(items), self._workers)
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

    def _start_inline(self, items: list[tuple[str, bytes]]) -> Callable[[], list[Outcome]]:
        if self._inline is None:
            self._inline = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recepcion-extraccion")
        try:
            future = self._inline.submit(_prepare_chunk, self._settings, items)
        except RuntimeError:  # shut down by another thread meanwhile: do it here
            return lambda: _prepare_chunk(self._settings, items)
        return future.result

    def _inline_after_failure(self, items: list[tuple[str, bytes]]) -> Callable[[], list[Outcome]]:
        # A worker died (killed, out of memory): finish the pass inline rather than fail it.
        log.warning("un proceso de extracción terminó de forma anormal; se continúa sin procesos auxiliares")
        self.close()
        return lambda: _prepare_chunk(self._settings, items)

    def close(self) -> None:
        pool, self._pool = self._pool, None  # the pipeline's reader thread may close it too
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        inline, self._inline = self._inline, None
        if inline is not None:
            inline.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Preparer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()
