"""«Probar conexión» and `probar`: the mailbox and its SMTP route, tested apart, within 15 s.

Both servers are tested at once, each on its own thread, under one deadline; `cancel` (Esc in
the form, Ctrl+C in the CLI) or the deadline cuts the connections in use and the report says
so. Nothing here raises for a server's fault: each becomes Spanish lines of its
`ServerResult` (never «None», never an exception's class name), so the form and the CLI show
the mailbox and SMTP separately.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tui_recepcion.accounts import account_endpoint, credentials_for, smtp_credentials, smtp_endpoint, smtp_sender
from tui_recepcion.config import Account, smtp_route_problem
from tui_recepcion.errors import InternalFault, RecepcionError
from tui_recepcion.mailbox.credentials import Credentials, PasswordCredentials
from tui_recepcion.mailbox.probe import OnClient, Progress, probe, probe_smtp
from tui_recepcion.mailbox.transport import MailClient, interrupt
from tui_recepcion.providers import ProviderRegistry, shared_registry
from tui_recepcion.secrets import Secret

log = logging.getLogger(__name__)

PROBE_SECONDS = 15.0
Job = Callable[[Progress, OnClient], list[str]]  # one server's test: its report lines, or it raises
_SLICE_SECONDS = 0.1  # how often the wait looks at the cancel


@dataclass(frozen=True, slots=True)
class ServerResult:
    title: str  # «IMAP outlook.office365.com:993», «SMTP smtp.office365.com:587»
    ok: bool
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConnectionTestReport:
    mailbox: ServerResult
    smtp: ServerResult | None  # None: the account neither needs nor has an SMTP route
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return not self.cancelled and self.mailbox.ok and (self.smtp is None or self.smtp.ok)

    def lines(self) -> list[str]:
        lines: list[str] = []
        for result in (self.mailbox, self.smtp):
            if result is not None:
                lines.append(f"{result.title}: {'correcto' if result.ok else 'falló'}")
                lines += [f"  {line}" for line in result.lines]
        return lines


_RETRY_PROMISE = "; se reintentará más tarde"  # true of the service, not of a test that runs once


def _failure_lines(problem: BaseException) -> tuple[str, ...]:
    if isinstance(problem, RecepcionError) and not isinstance(problem, InternalFault):
        return (str(problem).replace(_RETRY_PROMISE, "; pruebe de nuevo en un momento"),)
    log.debug("fallo inesperado al probar la conexión", exc_info=problem)
    return ("Falló la prueba por un error interno (el detalle queda en el registro de depuración).",)


class _Clients:
    """The connections in use, so an abort can cut them from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: list[MailClient] = []
        self.aborted = False

    def add(self, client: MailClient) -> None:
        with self._lock:
            self._clients.append(client)
            aborted = self.aborted
        if aborted:
            interrupt(client)

    def abort(self) -> None:
        with self._lock:
            self.aborted = True
            clients = list(self._clients)
        for client in clients:
            interrupt(client)


def _smtp_check(account: Account, registry: ProviderRegistry, smtp_password: Secret | None,
                password: Secret | None, timeout: float) -> tuple[str, Job] | ServerResult | None:
    """The SMTP test to run (title and a function), a result already known, or None."""
    provider = registry.get(account.provider)
    defaults = provider.smtp if provider is not None else None
    route = smtp_route_problem(account, provider_smtp=defaults is not None)
    if route is not None:
        return ServerResult("SMTP", False, (route[:1].upper() + route[1:] + ".",))
    if account.protocol != "pop3" and account.smtp is None:
        return None
    endpoint = smtp_endpoint(account, defaults, timeout)
    settings = account.smtp
    authenticate = settings is None or settings.authenticate
    username = (settings.username if settings else None) or account.username
    login: Credentials | None
    if smtp_password is not None and authenticate:
        login = PasswordCredentials(username, smtp_password)
    elif password is not None and authenticate and (settings is None or settings.secret_ref is None):
        login = PasswordCredentials(username, password)  # the SMTP route logs in as the mailbox
    else:
        login = smtp_credentials(account)  # the stored secrets; None for a relay without AUTH

    def run(progress: Progress, on_client: OnClient) -> list[str]:
        report = probe_smtp(endpoint, login.smtp if login else None, login.username if login else smtp_sender(account),
                            progress=progress, on_client=on_client)
        return report.lines()

    return f"SMTP {endpoint.host}:{endpoint.port}", run


def probe_account(
    account: Account,
    *,
    password: Secret | None = None,
    smtp_password: Secret | None = None,
    registry: ProviderRegistry | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    timeout: float = PROBE_SECONDS,
) -> ConnectionTestReport:
    """Test the account's mailbox and SMTP route at once; never raises for a server's fault.

    `password` / `smtp_password`: secrets typed in the form, tried before they are saved
    (otherwise the stored ones, or the OAuth2 token, are used, as `procesar` would).
    """
    registry = registry or shared_registry()
    cancel = cancel or threading.Event()
    say = progress or (lambda _line: None)
    clients = _Clients()
    results: queue.Queue[tuple[str, ServerResult]] = queue.Queue()
    mailbox_title = f"{account.protocol.upper()} {account.host}:{account.port}"

    def mailbox(progress: Progress, on_client: OnClient) -> list[str]:
        credentials = PasswordCredentials(account.username, password) if password else credentials_for(account, registry)
        return probe(account_endpoint(account, timeout), account.protocol, credentials,
                     (account.processed_folder, account.failed_folder), progress=progress, on_client=on_client).lines()

    jobs: dict[str, tuple[str, Job]] = {"mailbox": (mailbox_title, mailbox)}
    known: dict[str, ServerResult | None] = {}
    try:
        smtp = _smtp_check(account, registry, smtp_password, password, timeout)
    except RecepcionError as problem:  # no SMTP server can be named, a secret cannot be read
        smtp = ServerResult("SMTP", False, _failure_lines(problem))
    if isinstance(smtp, tuple):
        jobs["smtp"] = smtp
    else:
        known["smtp"] = smtp

    def worker(name: str, title: str, job: Job) -> None:
        try:
            result = ServerResult(title, True, tuple(job(say, clients.add)))
        except BaseException as problem:  # a thread's fault must reach the report, never the console
            result = ServerResult(title, False, _failure_lines(problem))
        results.put((name, result))

    for name, (title, job) in jobs.items():
        threading.Thread(target=worker, args=(name, title, job), name=f"probar-{name}", daemon=True).start()
    done: dict[str, ServerResult] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(jobs) and not cancel.is_set() and time.monotonic() < deadline:
        try:
            name, result = results.get(timeout=max(0.0, min(_SLICE_SECONDS, deadline - time.monotonic())))
        except queue.Empty:
            continue
        done[name] = result
    cancelled = len(done) < len(jobs) and cancel.is_set()
    if len(done) < len(jobs):
        clients.abort()  # the threads end on their own; nobody waits for them
        for name, (title, _job) in jobs.items():
            if name not in done:
                seconds = f"{timeout:g}".replace(".", ",")
                why = ("Prueba cancelada." if cancelled else
                       f"Sin respuesta completa en {seconds} s: revise el servidor, el puerto y la seguridad "
                       "(¿el puerto es de otro protocolo, o lo bloquea un cortafuegos?).")
                done[name] = ServerResult(title, False, (why,))
    smtp_result = done.get("smtp", known.get("smtp"))
    return ConnectionTestReport(done["mailbox"], smtp_result, cancelled=cancelled)
