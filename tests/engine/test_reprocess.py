"""Re-processing a failed message against the real Dovecot: back to INBOX, then processed again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.servers.certs import TestCertificates
from tests.servers.dovecot import RECEPCION, DovecotServer
from tui_recepcion.config import Account
from tui_recepcion.engine.reprocess import MessageNotFound, reprocess_failed
from tui_recepcion.errors import ConfigError

MESSAGE_ID = "<fallido-4471@proveedor.co>"
RAW = (f"From: proveedor@proveedor.co\r\nMessage-ID: {MESSAGE_ID}\r\n"
       "Subject: 900123456;Proveedor;FE-1;01\r\n\r\nsin adjuntos\r\n").encode()
OTHER = RAW.replace(b"fallido-4471", b"otro-1")


def account_for(server: DovecotServer, certs: TestCertificates, tmp_path: Path) -> Account:
    secret = tmp_path / "clave"
    secret.write_text(RECEPCION.password, encoding="utf-8")
    os.chmod(secret, 0o600)
    return Account(id="principal", provider="generic", auth_type="basica", protocol="imap", host="localhost",
                   port=server.ports.port_for("imap", "ssl"), security="ssl", username=RECEPCION.address,
                   secret_ref=f"archivo:{secret}", ca_file=certs.ca_file)


@pytest.mark.parametrize("variant", ["clean_dovecot", "clean_dovecot_sin_move"])
def test_the_failed_message_goes_back_to_inbox(variant: str, request: pytest.FixtureRequest,
                                               tls_certs: TestCertificates, tmp_path: Path) -> None:
    server: DovecotServer = request.getfixturevalue(variant)
    server.deliver(RECEPCION, [RAW, OTHER], mailbox="Fallidos")
    moved = reprocess_failed(account_for(server, tls_certs, tmp_path), MESSAGE_ID, timeout=10)
    assert moved == 1
    assert [message.raw for message in server.messages(RECEPCION)] == [RAW]
    assert [message.raw for message in server.messages(RECEPCION, "Fallidos")] == [OTHER]


def test_a_message_no_longer_there_is_explained(clean_dovecot: DovecotServer, tls_certs: TestCertificates,
                                                tmp_path: Path) -> None:
    clean_dovecot.create_folder(RECEPCION, "Fallidos")
    with pytest.raises(MessageNotFound, match="ya no está en la carpeta Fallidos"):
        reprocess_failed(account_for(clean_dovecot, tls_certs, tmp_path), MESSAGE_ID, timeout=10)


def test_pop3_cannot_reprocess(tls_certs: TestCertificates, tmp_path: Path) -> None:
    account = Account(id="pop", provider="generic", auth_type="basica", protocol="pop3", host="localhost",
                      port=995, security="ssl", username="a@b.co", backup_email="c@b.co")
    with pytest.raises(ConfigError, match="Solo se puede reprocesar con IMAP"):
        reprocess_failed(account, MESSAGE_ID)
