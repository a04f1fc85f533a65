"""Bulk reprocess and «en Fallidos ahora» (issue 14, scenarios 4 and 10), against Dovecot.

Every message that failed for one reason goes back to INBOX in one call and one connection;
the counters tell Fallidos now from the history, a reprocessed message leaves the failed
list, and once the NIT is fixed the next pass processes them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from tests.servers.dovecot import RECEPCION, DovecotServer
from tests.support.engine_support import ACCOUNT, sample_mailbox, write_account
from tui_recepcion import cli
from tui_recepcion.config import load_config, save_account, take_snapshot
from tui_recepcion.demo.samples import DEFAULT_RECEIVER
from tui_recepcion.engine.reprocess import failed_messages, reprocess_messages
from tui_recepcion.store import STATUS_FAILED, STATUS_PROCESSED, MessageFilter, Store

WRONG_NIT = "800197268"


def _listed_failed(path: Path, capsys, *extra: str) -> int:
    capsys.readouterr()
    assert cli.main(["--config", str(path), "mensajes", "--estado", "fallido", "--formato", "json", *extra]) == 0
    return len(json.loads(capsys.readouterr().out))


def test_every_message_of_one_reason_is_reprocessed_in_one_connection_and_leaves_the_failed_list(
    tmp_path: Path, clean_dovecot: DovecotServer, tls_certs, capsys
) -> None:
    mails = sample_mailbox(good=4)
    good = [mail for mail in mails if mail.expected_reason is None]
    other_receiver = [mail for mail in mails if mail.expected_reason == "receptor_no_coincide"]
    clean_dovecot.deliver(RECEPCION, [mail.raw for mail in mails])
    test_account = write_account(tmp_path, clean_dovecot, tls_certs, extra={"nit_receptor": WRONG_NIT})
    path = test_account.config_path
    assert cli.main(["--config", str(path), "procesar", "--una-vez"]) == 0
    account = load_config(path).accounts[ACCOUNT]

    with Store.open(test_account.database) as store:
        history = store.message_counts()[ACCOUNT][STATUS_FAILED]
        assert history == len(mails)  # the good ones failed too: receptor_no_coincide
        wrong_nit = failed_messages(store, ACCOUNT, reason="receptor_no_coincide")
        assert len(wrong_nit) == len(good) + len(other_receiver)
        logins_before = clean_dovecot.log_since_reset().count("Login:")
        outcomes = reprocess_messages(account, wrong_nit, store=store)
        assert [outcome.ok for outcome in outcomes] == [True] * len(wrong_nit), [o.message for o in outcomes]
        assert all(outcome.message == "devuelto a INBOX" for outcome in outcomes)
        assert clean_dovecot.log_since_reset().count("Login:") == logins_before + 1  # one connection for all
        assert len(clean_dovecot.messages(RECEPCION)) == len(wrong_nit)

        assert store.failed_now_counts()[ACCOUNT] == len(mails) - len(wrong_nit)
        assert store.message_counts()[ACCOUNT][STATUS_FAILED] == history  # the history is kept
        listed = store.messages(MessageFilter(account=ACCOUNT, status=STATUS_FAILED))
        assert {entry.source_key for entry in listed}.isdisjoint(entry.source_key for entry in wrong_nit)
        history_rows = store.messages(MessageFilter(account=ACCOUNT, status=STATUS_FAILED, include_reprocessed=True))
        assert len(history_rows) == history

        assert _listed_failed(path, capsys) == len(mails) - len(wrong_nit)  # `mensajes --estado fallido`
        assert _listed_failed(path, capsys, "--historial") == history

        again = reprocess_messages(account, wrong_nit[:1], store=store)  # already back in INBOX
        assert not again[0].ok and "ya no está en la carpeta" in again[0].message

    save_account(path, replace(account, receiver_nit=DEFAULT_RECEIVER.nit), snapshot=take_snapshot(path))
    assert cli.main(["--config", str(path), "procesar", "--una-vez"]) == 0
    with Store.open(test_account.database) as store:
        assert store.message_counts()[ACCOUNT][STATUS_PROCESSED] == len(good)
        # the one addressed to another company fails again: a new row, the old one stays history
        assert store.failed_now_counts()[ACCOUNT] == len(mails) - len(good)
        assert store.message_counts()[ACCOUNT][STATUS_FAILED] == len(mails) + len(other_receiver)
