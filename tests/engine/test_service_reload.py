"""The running service follows config.toml (issue 14, scenario 3), as two processes.

`procesar` runs as a service against Dovecot; the test plays the form: it saves a corrected
NIT with the form's save API, and the service applies it before its next pass; then a broken
hand edit is refused and logged while the service keeps the configuration it runs. Every wait
is on a condition (the store's event log and ledger) with a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.support.engine_support import ACCOUNT, sample_mailbox, wait_for, write_account
from tui_recepcion.config import load_config, save_account, take_snapshot
from tui_recepcion.demo.samples import DEFAULT_RECEIVER
from tui_recepcion.engine.reload import config_version, service_config_status
from tui_recepcion.events import ConfigApplied, ConfigRejected
from tui_recepcion.store import STATUS_FAILED, STATUS_PROCESSED, MessageFilter, Store

REPO = Path(__file__).resolve().parents[2]
DEADLINE = 60.0
WRONG_NIT = "800197268"


def test_the_service_applies_a_saved_nit_before_its_next_pass_and_keeps_running_on_a_broken_edit(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs
) -> None:
    good = [mail for mail in sample_mailbox(good=3) if mail.expected_reason is None]
    account = write_account(tmp_path, clean_dovecot, tls_certs, extra={"nit_receptor": WRONG_NIT})
    path = account.config_path
    service = subprocess.Popen(
        [sys.executable, "-m", "tui_recepcion", "--config", str(path), "procesar"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "JOURNAL_STREAM": "8:1234"},
    )
    store = Store.open(account.database)
    try:
        def applied(version: str) -> bool:
            return any(row.account == ACCOUNT and row.payload.get("version") == version
                       for row in store.latest_events(ConfigApplied.kind))

        def ledger(status: str) -> int:
            return len(store.messages(MessageFilter(account=ACCOUNT, status=status)))

        first = config_version(path.read_text(encoding="utf-8"))
        wait_for(lambda: applied(first), DEADLINE, service, "la primera configuración")
        clean_dovecot.deliver(RECEPCION, [good[0].raw])
        wait_for(lambda: ledger(STATUS_FAILED) == 1, DEADLINE, service, "el primer correo, con el NIT equivocado")
        assert store.messages(MessageFilter(account=ACCOUNT))[0].reason == "receptor_no_coincide"

        # The form saves the corrected NIT (a merge against what it loaded).
        snapshot = take_snapshot(path)
        loaded = load_config(path).accounts[ACCOUNT]
        saved = save_account(path, replace(loaded, receiver_nit=DEFAULT_RECEIVER.nit), snapshot=snapshot)
        assert saved.changed == (f"cuentas.{ACCOUNT}.nit_receptor",)
        second = config_version(path.read_text(encoding="utf-8"))
        wait_for(lambda: applied(second), DEADLINE, service, "la configuración con el NIT corregido")
        assert service_config_status(store, path).stale == ()

        clean_dovecot.deliver(RECEPCION, [good[1].raw])
        wait_for(lambda: ledger(STATUS_PROCESSED) == 1, DEADLINE, service, "el segundo correo, con el NIT corregido")

        # A broken hand edit: refused, logged, and the service keeps running what it had.
        text = path.read_text(encoding="utf-8")
        port_line = next(line for line in text.splitlines() if line.startswith("puerto = "))
        broken = text.replace(port_line, 'puerto = "novecientos"')
        path.write_text(broken, encoding="utf-8")
        third = config_version(broken)
        wait_for(lambda: any(row.payload.get("version") == third for row in store.latest_events(ConfigRejected.kind)),
                 DEADLINE, service, "el rechazo de la configuración inválida")
        status = service_config_status(store, path)
        assert status.running == {ACCOUNT: second} and status.stale == (ACCOUNT,)
        assert status.message is not None and "no es válida" in status.message

        clean_dovecot.deliver(RECEPCION, [good[2].raw])
        wait_for(lambda: ledger(STATUS_PROCESSED) == 2, DEADLINE, service, "el tercer correo, con la configuración anterior")
        assert service.poll() is None
        service.send_signal(signal.SIGTERM)
        out, err = service.communicate(timeout=30)
    finally:
        store.close()
        if service.poll() is None:
            service.kill()
            service.communicate()
    assert service.returncode == 0, err
    assert f"configuración nueva (versión {third}) no es válida; se sigue con la anterior (versión {second})" in err
    line = broken.splitlines().index('puerto = "novecientos"') + 1
    assert f"{path}:{line}: cuentas.{ACCOUNT}.puerto: debe ser un número entero" in err
    assert "Traceback" not in out + err


def test_the_service_prints_one_spanish_line_per_account_problem(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs
) -> None:
    account = write_account(tmp_path, clean_dovecot, tls_certs, password="no-es-la-clave")
    service = subprocess.Popen(
        [sys.executable, "-m", "tui_recepcion", "--config", str(account.config_path), "procesar"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "JOURNAL_STREAM": "8:1234"},
    )
    store = Store.open(account.database)
    try:
        wait_for(lambda: any(row.kind == "problema" for row in store.events_after(0)), DEADLINE, service,
                 "el problema de inicio de sesión")
        service.send_signal(signal.SIGTERM)
        out, err = service.communicate(timeout=30)
    finally:
        store.close()
        if service.poll() is None:
            service.kill()
            service.communicate()
    problems = [line for line in out.splitlines() if "problema:" in line]
    assert len(problems) == 1, out
    assert f"  {ACCOUNT}" in problems[0] and "rechazó el usuario" in problems[0]
    assert "-05:00" in problems[0]  # the account's (Bogotá) time, with its offset
    assert "no-es-la-clave" not in out + err
    for english in ("INFO", "WARNING", "ERROR", "Traceback", "None", "ConnectionError"):
        assert english not in out + err, english


def test_only_a_running_service_on_an_older_version_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("# vacía\n", encoding="utf-8")
    with Store.open(tmp_path / "recepcion.db") as store:
        old = ConfigApplied(account="principal", version="0123456789ab", path=str(path), pid=4242)
        same = ConfigApplied(account="sede", version=config_version("# vacía\n"), path=str(path), pid=4242)
        other_file = ConfigApplied(account="cali", version="0123456789ab", path=str(tmp_path / "otra.toml"), pid=4242)
        store.append_events([(event.account, event.kind, event.to_payload()) for event in (old, same, other_file)])
        running = service_config_status(store, path, alive=lambda pid: pid == 4242)
        assert running.stale == ("principal",) and set(running.running) == {"principal", "sede"}
        assert running.message is not None and "«principal»" in running.message and "systemctl reload" in running.message
        stopped = service_config_status(store, path, alive=lambda pid: False)
        assert stopped.stale == () and stopped.message is None
