"""Secret stores: keyring, environment variable, 0600 file; never silent, never shown."""

from __future__ import annotations

import logging
import os
import pickle
import re
import stat
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


# --- Secret files: regular, private, small; reading never hangs ------------------------------------


def _read_with_bound(store: FileStore, bound: float = 10.0) -> BaseException | Secret:
    """Read in a thread; the join timeout is only the bound that proves the read returned."""
    outcome: list[BaseException | Secret] = []

    def run() -> None:
        try:
            outcome.append(store.read())
        except BaseException as error:  # noqa: BLE001 - handed back to the test
            outcome.append(error)

    reader = threading.Thread(target=run, daemon=True)
    reader.start()
    reader.join(bound)
    assert not reader.is_alive(), "leer el archivo de secreto se quedó bloqueado"
    return outcome[0]


def test_a_fifo_secret_is_refused_promptly(tmp_path: Path) -> None:
    fifo = tmp_path / "clave"
    os.mkfifo(fifo, 0o600)
    outcome = _read_with_bound(FileStore(parse_secret_ref(f"archivo:{fifo}")))
    assert isinstance(outcome, SecretError)
    assert str(outcome) == f"El archivo de secreto {fifo} no es un archivo regular sino una tubería con nombre (FIFO)."


def test_a_file_swapped_for_a_fifo_after_the_first_check_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check before opening can race; the fstat after the non-blocking open cannot."""
    regular = tmp_path / "regular"
    regular.write_text(PASSWORD)
    os.chmod(regular, 0o600)
    fifo = tmp_path / "clave"
    os.mkfifo(fifo, 0o600)
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda path, *a, **k: real_stat(regular) if Path(path) == fifo else real_stat(path, *a, **k))
    outcome = _read_with_bound(FileStore(parse_secret_ref(f"archivo:{fifo}")))
    assert isinstance(outcome, SecretError)
    assert "tubería con nombre (FIFO)" in str(outcome)


@pytest.mark.parametrize(("target", "kind"), [("/dev/null", "un dispositivo de caracteres"), ("DIR", "un directorio")])
def test_devices_and_directories_are_refused(tmp_path: Path, target: str, kind: str) -> None:
    path = tmp_path if target == "DIR" else Path(target)
    outcome = _read_with_bound(FileStore(parse_secret_ref(f"archivo:{path}")))
    assert isinstance(outcome, SecretError)
    assert str(outcome) == f"El archivo de secreto {path} no es un archivo regular sino {kind}."


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o602, 0o700, 0o400])
def test_only_owner_only_modes_are_accepted(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "clave"
    path.write_text(PASSWORD)
    os.chmod(path, mode)
    store = FileStore(parse_secret_ref(f"archivo:{path}"))
    if mode & 0o077:
        with pytest.raises(SecretError) as raised:
            store.read()
        assert str(raised.value) == (
            f"El archivo de secreto {path} tiene permisos {mode:04o}: otros usuarios podrían leerlo. "
            f"Ejecute: chmod 600 {path}"
        )
    else:
        assert store.read().reveal() == PASSWORD


def test_an_unreadable_secret_file_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "clave"
    path.write_text(PASSWORD)
    os.chmod(path, 0o600)

    def refuse(*args: object, **kwargs: object) -> int:  # these tests run as root, who reads any file
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(SecretError) as raised:
        FileStore(parse_secret_ref(f"archivo:{path}")).read()
    assert str(raised.value) == f"El archivo de secreto {path} no se puede leer: permiso denegado."


def test_a_secret_file_of_another_user_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "clave"
    path.write_text(PASSWORD)
    os.chmod(path, 0o600)
    other = os.getuid() + 1
    real_fstat = os.fstat

    def foreign(descriptor: int) -> os.stat_result:  # chown needs root; the owner is what fstat says
        fields = list(real_fstat(descriptor))
        fields[stat.ST_UID] = other
        return os.stat_result(fields)

    monkeypatch.setattr(os, "fstat", foreign)
    with pytest.raises(SecretError, match=f"pertenece a otro usuario \\(uid {other}\\)"):
        FileStore(parse_secret_ref(f"archivo:{path}")).read()


def test_secret_files_are_capped(tmp_path: Path) -> None:
    from tui_recepcion.secrets import SECRET_FILE_MAX_BYTES

    path = tmp_path / "clave"
    store = FileStore(parse_secret_ref(f"archivo:{path}"))
    store.write(Secret("x" * SECRET_FILE_MAX_BYTES))
    assert len(store.read().reveal()) == SECRET_FILE_MAX_BYTES
    with pytest.raises(SecretError, match="demasiado grande"):
        store.write(Secret("x" * (SECRET_FILE_MAX_BYTES + 1)))
    path.write_text("x" * (SECRET_FILE_MAX_BYTES + 1))
    with pytest.raises(SecretError, match=f"es demasiado grande \\({SECRET_FILE_MAX_BYTES + 1} bytes"):
        store.read()


def test_a_secret_file_that_is_not_utf8_or_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "clave"
    store = FileStore(parse_secret_ref(f"archivo:{path}"))
    store.write(Secret(""))
    with pytest.raises(SecretError, match="está vacío"):
        store.read()
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(SecretError, match="no está en UTF-8"):
        store.read()


def test_rewriting_a_secret_replaces_it_atomically_and_keeps_0600(tmp_path: Path) -> None:
    path = tmp_path / "clave"
    store = FileStore(parse_secret_ref(f"archivo:{path}"))
    store.write(Secret("primera"))
    os.chmod(path, 0o644)  # a later write never inherits a loose mode
    store.write(Secret(PASSWORD))
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clave"]
    assert store.read().reveal() == PASSWORD


def test_a_secret_that_cannot_be_written_is_a_secret_error(tmp_path: Path) -> None:
    blocker = tmp_path / "archivo"
    blocker.write_text("no soy un directorio")
    with pytest.raises(SecretError, match="No se pudo guardar el secreto"):
        FileStore(parse_secret_ref(f"archivo:{blocker / 'clave'}")).write(Secret(PASSWORD))


@pytest.mark.parametrize(
    ("reference", "fragment"),
    [
        ("archivo:/etc/clave\x00x", "carácter nulo (NUL"),
        ("archivo:/etc/\x1b[2Jclave", "U+001B"),
        ("env:CLAVE\x00", "carácter nulo (NUL"),
        ("archivo:~usuario-que-no-existe-jamas/clave", "no se pudo expandir «~»"),
        ("archivo:/" + "a" * 300, "demasiado largo"),
        ("archivo:/" + "a/" * 3000, "demasiado larga"),
    ],
)
def test_unusable_secret_paths_are_rejected_when_parsed(reference: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        parse_secret_ref(reference)
