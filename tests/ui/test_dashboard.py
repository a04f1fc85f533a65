"""The dashboard processing a real Dovecot mailbox, following another process, the bridge,
and the alerts its processing sends (expiry, failed login) through a real SMTP server."""

from __future__ import annotations

import email
import email.policy
import threading
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from textual.widgets import RichLog

from tests.servers.certs import TestCertificates
from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.servers.smtp import SmtpServer
from tests.support.engine_support import write_account
from tests.ui.support import SIZE, dovecot_account, wait_until, write_config
from tui_recepcion.accounts import build_source
from tui_recepcion.config import DEFAULT_TIMEZONE, load_config
from tui_recepcion.demo import prepare_demo
from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory
from tui_recepcion.engine.service import AccountProcessor, Engine, EventFollower
from tui_recepcion.events import EngineProblem, PassFinished, StateChanged
from tui_recepcion.store import MessageFilter, Store
from tui_recepcion.ui.app import create_app
from tui_recepcion.ui.bridge import EventBridge
from tui_recepcion.ui.dashboard import AccountPanel, DashboardScreen
from tui_recepcion.ui.dialogs import MessageDialog


class HeldSource:
    """A real source whose second fetch waits until the test releases it."""

    # Planned like a local source (about 20 batches, not one of several MiB), so there is a
    # second fetch to hold whatever the mailbox's size.
    round_trip_seconds = None

    def __init__(self, source, release: threading.Event) -> None:
        self._source = source
        self._release = release
        self._fetches = 0

    def __getattr__(self, name: str):
        return getattr(self._source, name)

    def fetch(self, keys):
        self._fetches += 1
        if self._fetches == 2 and not self._release.wait(timeout=60):
            raise TimeoutError("the test never released the pass")
        return self._source.fetch(keys)


async def test_dashboard_processes_dovecot_and_matches_the_ledger(
    clean_dovecot: DovecotServer, tls_certs: TestCertificates, tmp_path: Path
) -> None:
    mails = SampleFactory(seed=77, pdf_size=2_000).mailbox(good=150, failing_each=2)
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in mails])
    account = dovecot_account(clean_dovecot, tls_certs, tmp_path, password=RECEPCION.password,
                              username=RECEPCION.address, extra=f'nit_receptor = "{DEFAULT_RECEIVER.nit}"\n')
    app = create_app(write_config(tmp_path, account))
    # Hold the pass after its first batch, so the test sees it mid-way whatever the speed.
    mid_pass = threading.Event()
    app.services.sources["principal"] = partial(HeldSource, build_source(app.services.accounts[0], None), mid_pass)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="abrir el tablero")
        dashboard = app.screen
        board = dashboard.boards["principal"]
        await pilot.press("i")
        # The screen shows progress while the pass runs, and keys are answered meanwhile.
        await wait_until(pilot, lambda: 0 < board.processed + board.failed < len(mails), what="ver el avance")
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog), what="abrir la ayuda")
        await pilot.press("escape")
        mid_pass.set()
        await wait_until(pilot, lambda: board.state == "esperando", timeout=60, what="terminar la pasada")

        ledger = app.services.store.messages(MessageFilter(account="principal"))
        expected_failed = sum(mail.expected_reason is not None for mail in mails)
        assert len(ledger) == len(mails)
        assert (board.processed, board.failed) == (len(mails) - expected_failed, expected_failed)
        assert sum(entry.status == "fallido" for entry in ledger) == expected_failed
        assert board.pending == 0 and board.next_run
        table = dashboard.query_one("DataTable")
        assert table.row_count == len(mails)
        outcomes = sorted(str(table.get_row_at(index)[4]) for index in range(table.row_count))
        assert outcomes == sorted(entry.reason or "procesado" for entry in ledger)
        # «En Fallidos» is read from the store once the pass's last batch is disposed of.
        now_and_history = f"Procesados {board.processed}  En Fallidos {expected_failed} (historial {expected_failed})"
        await wait_until(pilot, lambda: now_and_history in str(dashboard.query_one(".counters").render()),
                         what="contar lo que quedó en Fallidos")

        await pilot.press("d")
        await wait_until(pilot, lambda: board.state == "inactivo", what="detener")
    assert clean_dovecot.messages(RECEPCION) == []


async def test_dashboard_follows_a_process_running_elsewhere(tmp_path: Path) -> None:
    demo = prepare_demo(tmp_path, good=30, failing_each=1)
    app = create_app(demo.config_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="abrir el tablero")
        board = app.screen.boards["demo"]

        def headless() -> None:  # what `tui-recepcion procesar --una-vez` does, with its own store
            config = load_config(demo.config_path)
            with Engine.open(config) as engine:
                AccountProcessor(engine, config.account("demo"), source_factory=demo.source_factory()).run_pass()

        worker = threading.Thread(target=headless)
        worker.start()
        await wait_until(pilot, lambda: board.processed + board.failed == demo.messages, timeout=30,
                         what="seguir el registro")
        worker.join()
        assert (board.processed, board.failed) == (30, 10)
        # The pass's end comes through the log after its last message: wait for it, do not race it.
        await wait_until(pilot, lambda: board.last_run is not None, what="ver el final de la pasada")


def test_the_bridge_drops_its_own_events_coming_back_from_the_log(tmp_path: Path) -> None:
    bridge = EventBridge()
    mine = StateChanged(account="a", state="procesando")
    theirs = PassFinished(account="a", processed=1, failed=0, duplicates=0, remaining=0, seconds=0.5)
    bridge.emit(mine)
    with Store.open(tmp_path / "db.sqlite") as store:
        store.append_events((event.account, event.kind, event.to_payload()) for event in (mine, theirs))
        bridge.from_log(EventFollower(store, after_id=0).poll())
    assert bridge.drain() == [mine, theirs]
    assert bridge.drain() == []


# --- alerts -----------------------------------------------------------------------------------

NOTIFY = "tecnico@empresa.co"


def banner(dashboard: DashboardScreen, account: str = "principal") -> str:
    """The alert banner of the panel, which must be showing `account`."""
    panel = dashboard.query_one(AccountPanel)
    assert panel.board is dashboard.boards[account]
    return str(panel.query_one(".alert-banner").render())


def problems_logged(store: Store) -> int:
    return sum(row.kind == EngineProblem.kind for row in store.events_after(0, 10_000))


async def test_a_pass_from_the_dashboard_sends_the_expiry_alert_once_and_the_banner_says_so(
    clean_dovecot: DovecotServer, tls_certs: TestCertificates, clean_smtp: SmtpServer, tmp_path: Path
) -> None:
    expiry = datetime.now(ZoneInfo(DEFAULT_TIMEZONE)).date() + timedelta(days=3)
    account = write_account(tmp_path, clean_dovecot, tls_certs, smtp=clean_smtp,
                            extra={"fecha_expiracion": expiry, "correo_notificacion": NOTIFY})
    app = create_app(account.config_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="abrir el tablero")
        dashboard = app.screen
        board = dashboard.boards["principal"]
        await wait_until(pilot, lambda: "alerta aún no enviada" in banner(dashboard), what="leer las alertas")
        assert f"Contraseña: vence el {expiry:%d/%m/%Y} (faltan 3 días)" in banner(dashboard)

        await pilot.press("i")
        await wait_until(pilot, lambda: board.state == "esperando", timeout=30, what="terminar la pasada")
        await wait_until(pilot, lambda: "alerta enviada" in banner(dashboard), what="mostrar el envío")

        [alert] = clean_smtp.messages()
        assert alert.rcpt_tos == (NOTIFY,)
        subject = email.message_from_bytes(alert.raw, policy=email.policy.default)["Subject"]
        assert subject.startswith(f"Alerta: la contraseña del buzón {RECEPCION.address} vence el")
        log = " ".join(" ".join(line.text.split()) for line in dashboard.query_one(RichLog).lines)  # lines wrap
        assert f"Alerta «vencimiento_aviso» enviada a {NOTIFY}" in log
        await pilot.press("d")
        await wait_until(pilot, lambda: board.state == "inactivo", what="detener")
    assert len(clean_smtp.messages()) == 1


async def test_a_wrong_password_from_the_dashboard_sends_one_authentication_alert(
    clean_dovecot: DovecotServer, tls_certs: TestCertificates, clean_smtp: SmtpServer, tmp_path: Path
) -> None:
    account = write_account(tmp_path, clean_dovecot, tls_certs, smtp=clean_smtp, password="clave-equivocada",
                            extra={"correo_notificacion": NOTIFY})
    app = create_app(account.config_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="abrir el tablero")
        dashboard = app.screen
        board = dashboard.boards["principal"]
        store = app.services.store
        for attempt in (1, 2):  # started twice: the same incident, one alert
            await pilot.press("i")
            await wait_until(pilot, lambda attempt=attempt: problems_logged(store) == attempt and board.state == "error",
                             timeout=30, what=f"fallar el inicio de sesión ({attempt})")
            await wait_until(pilot, lambda: "Inicio de sesión fallido desde" in banner(dashboard)
                             and "alerta enviada" in banner(dashboard), what="mostrar la falla")
            await pilot.press("d")
            await wait_until(pilot, lambda: board.state == "inactivo", what="detener")
        assert "rechazó el usuario" in banner(dashboard)
        assert dashboard.query_one(AccountPanel).query_one(".alert-banner").has_class("-error")

    [alert] = clean_smtp.messages()
    subject = email.message_from_bytes(alert.raw, policy=email.policy.default)["Subject"]
    assert subject == f"Alerta: no se pudo iniciar sesión en el buzón {RECEPCION.address}"
