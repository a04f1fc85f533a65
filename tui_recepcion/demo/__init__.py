"""The embedded demo: generated DIAN mail in a local Maildir, with its own config and store.

Engine side only (no Textual): `prepare_demo` builds everything in a folder, `run_headless`
processes it and returns the Spanish summary. The TUI opens the same folder's config and
processes the Maildir live through `Demo.source_factory`.
"""

from __future__ import annotations

import mailbox
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tui_recepcion.alerts import Alerts
from tui_recepcion.config import Account, Config, General, load_config, write_config
from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory
from tui_recepcion.dian.codes import DOCUMENT_TYPES
from tui_recepcion.dian.reasons import describe
from tui_recepcion.engine.service import AccountProcessor, Engine, SourceFactory
from tui_recepcion.mailbox.maildir import MaildirSource
from tui_recepcion.mailbox.source import Unreadable
from tui_recepcion.store import MessageFilter
from tui_recepcion.vocabulary import FAILED

DEMO_ACCOUNT = "demo"
DEFAULT_GOOD = 300
FAILING_EACH = 3
# The TUI demo pauses this long between messages so the progress can be watched (~5 s in all).
LIVE_PAUSE = 0.015


class PacedSource:
    """A source that hands out messages a little slower, for the eye; the demo's only pacing.

    Everything but `fetch` is the Maildir source's own."""

    def __init__(self, source: MaildirSource, pause: float) -> None:
        self._source = source
        self._pause = pause

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)

    def fetch(self, keys: Sequence[str]) -> Iterator[tuple[str, bytes | Unreadable]]:
        for item in self._source.fetch(keys):
            time.sleep(self._pause)
            yield item


@dataclass(frozen=True, slots=True)
class Demo:
    folder: Path
    config_path: Path
    maildir: Path
    messages: int

    @property
    def account_id(self) -> str:
        return DEMO_ACCOUNT

    @property
    def outbox(self) -> Path:
        """Where the demo's alert emails land: it has no mail server to send them through."""
        return self.folder / "alertas-enviadas"

    def deliver_alert(self, account: Account, message: EmailMessage) -> None:
        self.outbox.mkdir(exist_ok=True)
        (self.outbox / f"{len(list(self.outbox.iterdir())) + 1:03d}.eml").write_bytes(bytes(message))

    def source_factory(self, pause: float = 0.0) -> SourceFactory:
        if pause <= 0:
            return lambda: MaildirSource(self.maildir)
        return lambda: PacedSource(MaildirSource(self.maildir), pause)


def demo_account(today: date) -> Account:
    """A reception account that exists only to be shown: its mail comes from the Maildir."""
    return Account(
        id=DEMO_ACCOUNT,
        provider="generic",
        auth_type="basica",
        protocol="imap",
        host="localhost",
        port=993,
        security="ssl",
        username=DEFAULT_RECEIVER.email,
        secret_ref="env:TUI_RECEPCION_DEMO_NO_SE_USA",  # never read: there is no server
        receiver_nit=DEFAULT_RECEIVER.nit,
        password_expiry=today + timedelta(days=4),  # close enough to show the expiry banner
        notify_email="tecnico@miradorandes.co",
    )


def prepare_demo(folder: Path, *, good: int = DEFAULT_GOOD, failing_each: int = FAILING_EACH, seed: int = 2025,
                 today: date | None = None) -> Demo:
    """Write the Maildir of generated mail, the config and an empty store under `folder`."""
    maildir = folder / "Maildir"
    inbox = mailbox.Maildir(maildir, create=True)
    mails = SampleFactory(seed=seed, pdf_size=8_000, signed=True).mailbox(good=good, failing_each=failing_each)
    for mail in mails:
        inbox.add(mailbox.MaildirMessage(mail.raw))
    config_path = folder / "config.toml"
    general = General(database=folder / "recepcion.db", documents_dir=folder / "documentos")
    account = demo_account(today or date.today())
    write_config(Config(config_path, general, {account.id: account}), config_path)
    return Demo(folder, config_path, maildir, len(mails))


def run_headless(demo: Demo) -> str:
    """Process the demo's Maildir once, without pacing; returns the Spanish summary."""
    config = load_config(demo.config_path)
    with Engine.open(config) as engine:
        account = config.account(DEMO_ACCOUNT)
        started = time.monotonic()
        alerts = Alerts(engine.store, send=demo.deliver_alert)
        result = AccountProcessor(engine, account, source_factory=demo.source_factory(), alerts=alerts).run_pass()
        seconds = time.monotonic() - started
        alerts.evaluate([account])
        failed = engine.store.messages(MessageFilter(account=account.id, status=FAILED))
        documents = engine.store.documents()
    reasons = Counter(entry.reason or "?" for entry in failed)
    kinds = Counter(row.document.tipo for row in documents)
    lines = [
        f"Demostración: {demo.messages} correos generados en {demo.maildir}",
        f"Procesados: {result.processed}",
        f"Fallidos: {result.failed}",
    ]
    lines += [f"  {code:<28} {count:>3}  {describe(code)}" for code, count in sorted(reasons.items())]
    by_kind = ", ".join(f"{_plural(tipo)} {count}" for tipo, count in sorted(kinds.items()))
    lines.append(f"Documentos guardados: {len(documents)} ({by_kind})")
    lines.append(f"Duplicados: {result.duplicates}. Tiempo: {seconds:.1f} s.")
    sent = len(list(demo.outbox.iterdir())) if demo.outbox.exists() else 0
    if sent:
        lines.append(f"Alertas de vencimiento de la contraseña enviadas a {account.notify_email}: {sent} "
                     "(la demostración las guarda como archivos .eml en vez de enviarlas)")
    return "\n".join(lines)


def _plural(tipo: str) -> str:
    """The plural for the summary's counts: "notas crédito" for 91."""
    kind = DOCUMENT_TYPES.get(tipo)
    return kind.plural if kind else f"tipo {tipo}"
