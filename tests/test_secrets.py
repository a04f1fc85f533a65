"""Secret stores: keyring, environment variable, 0600 file; never silent, never shown."""

from __future__ import annotations

import logging
import os
import pickle
import threading
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail, null

from tui_recepcion.config import Account, save_account
from tui_recepcion.errors import SecretError
from tui_recepcion.secrets import (
    EnvStore,
    FileStore,
    KeyringStore,
    Secret,
    parse_secret_ref,
    probe_keyring,
    secret_store,
)

PASSWORD = "S3cr3to-De-Prueba!"


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


class LockedKeyring(MemoryKeyring):
    """Like a locked Secret Service waiting for an unlock prompt nobody answers over SSH."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.release.wait()
        return None


@pytest.fixture
def use_keyring() -> Iterator[callable]:
    previous = keyring.get_keyring()

    def install(backend: KeyringBackend) -> KeyringBackend:
        keyring.set_keyring(backend)
        return backend

    yield install
    keyring.set_keyring(previous)


def test_secret_masks_itself_everywhere() -> None:
    secret = Secret(PASSWORD)
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", "%s" % secret, str([secret])):  # noqa: UP031 (every formatting path)
        assert PASSWORD not in shown
    assert secret.reveal() == PASSWORD
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_parse_secret_ref() -> None:
    assert str(parse_secret_ref("keyring")) == "keyring"
    assert parse_secret_ref("env:CLAVE").target == "CLAVE"
    assert parse_secret_ref("archivo:/etc/x").target == "/etc/x"
    for bad in ("", "clave", "env:", "archivo:rel/x"):
        with pytest.raises(ValueError):
            parse_secret_ref(bad)


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()], ids=["fail", "null"])
def test_unusable_keyring_backends_are_recognised(use_keyring, backend: KeyringBackend) -> None:
    use_keyring(backend)
    status = probe_keyring(timeout=2)
    assert not status.usable
    assert status.reason


def test_locked_keyring_is_reported_instead_of_hanging(use_keyring) -> None:
    locked = use_keyring(LockedKeyring())
    try:
        status = probe_keyring(timeout=0.2)
        assert not status.usable
        assert "no respondió" in status.reason
    finally:
        locked.release.set()


def test_usable_keyring_round_trip(use_keyring) -> None:
    memory = use_keyring(MemoryKeyring())
    assert probe_keyring().usable
    store = secret_store("keyring", "principal", "recepcion@empresa.co")
    assert isinstance(store, KeyringStore)
    store.write(Secret(PASSWORD))
    assert memory.items == {("tui-recepcion", "principal:recepcion@empresa.co"): PASSWORD}
    assert store.read().reveal() == PASSWORD


def test_unusable_keyring_is_an_error_not_a_silent_fallback(use_keyring, tmp_path: Path, monkeypatch) -> None:
    use_keyring(fail.Keyring())
    monkeypatch.setenv("HOME", str(tmp_path))
    store = secret_store("keyring", "principal", "recepcion@empresa.co")
    with pytest.raises(SecretError, match="env:VARIABLE.*archivo:/ruta") as raised:
        store.write(Secret(PASSWORD))
    assert PASSWORD not in str(raised.value)
    with pytest.raises(SecretError, match="llavero"):
        store.read()
    assert list(tmp_path.rglob("*")) == []  # nothing was written anywhere instead


def test_env_store(monkeypatch: pytest.MonkeyPatch) -> None:
    store = secret_store("env:RECEPCION_CLAVE", "principal", "u")
    assert isinstance(store, EnvStore)
    monkeypatch.delenv("RECEPCION_CLAVE", raising=False)
    with pytest.raises(SecretError, match="RECEPCION_CLAVE no está definida"):
        store.read()
    monkeypatch.setenv("RECEPCION_CLAVE", PASSWORD)
    assert store.read().reveal() == PASSWORD
    with pytest.raises(SecretError, match="no se puede guardar"):
        store.write(Secret("otra"))


def test_file_store_writes_0600_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "secretos" / "principal"
    store = secret_store(f"archivo:{path}", "principal", "u")
    assert isinstance(store, FileStore)
    store.write(Secret(PASSWORD))
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    assert path.read_text() == PASSWORD
    assert store.read().reveal() == PASSWORD


def test_file_store_refuses_a_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "clave"
    path.write_text(PASSWORD + "\n")
    os.chmod(path, 0o644)
    with pytest.raises(SecretError, match="chmod 600") as raised:
        FileStore(parse_secret_ref(f"archivo:{path}")).read()
    assert PASSWORD not in str(raised.value)
    os.chmod(path, 0o600)
    assert FileStore(parse_secret_ref(f"archivo:{path}")).read().reveal() == PASSWORD


def test_file_store_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="No existe"):
        FileStore(parse_secret_ref(f"archivo:{tmp_path / 'x'}")).read()


def test_password_never_lands_in_config_or_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret_path = tmp_path / "clave"
    config_path = tmp_path / "config.toml"
    account = Account(
        id="principal", provider="generic", auth_type="basica", protocol="imap", host="mail.empresa.co",
        port=993, security="ssl", username="recepcion@empresa.co", secret_ref=f"archivo:{secret_path}",
    )
    secret_store(account.secret_ref, account.id, account.username).write(Secret(PASSWORD))
    save_account(config_path, account)
    logging.getLogger("tui_recepcion").debug("cuenta guardada: %r con %s", account, Secret(PASSWORD))
    assert PASSWORD not in config_path.read_text()
    assert PASSWORD not in caplog.text
    assert PASSWORD == secret_path.read_text()
