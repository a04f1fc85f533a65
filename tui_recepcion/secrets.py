"""Where mailbox secrets live: the keyring, an environment variable or a 0600 file.

An account's `secreto` key names the store, never the secret itself. Over SSH a server
usually has no usable keyring (design §6): `probe_keyring()` says so, and reading or
writing through an unusable keyring raises `SecretError` instead of falling back silently,
so the technician chooses `env:` or `archivo:` knowingly.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from tui_recepcion.errors import SecretError, SecretMissing

KEYRING_SERVICE = "tui-recepcion"
KEYRING_PROBE_TIMEOUT = 3.0

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Secret:
    """A password or token that never shows itself by accident.

    `repr`, `str` and formatting print a mask; code that must send the value to a
    server calls `reveal()` at the last moment.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self):  # pickling would write the value to disk or a pipe
        raise TypeError("Secret no se puede serializar")


# --- References ------------------------------------------------------------------------------

SecretKind = Literal["keyring", "env", "archivo"]


@dataclass(frozen=True, slots=True)
class SecretRef:
    """The parsed value of a `secreto` key."""

    kind: SecretKind
    target: str = ""  # the variable name or the file path

    def __str__(self) -> str:
        return "keyring" if self.kind == "keyring" else f"{self.kind}:{self.target}"

    def describe(self) -> str:
        if self.kind == "keyring":
            return "el llavero del sistema"
        if self.kind == "env":
            return f"la variable de entorno {self.target}"
        return f"el archivo {self.target}"


def parse_secret_ref(text: str) -> SecretRef:
    """Parse `keyring`, `env:VARIABLE` or `archivo:/ruta`; ValueError explains in Spanish."""
    value = text.strip()
    if value == "keyring":
        return SecretRef("keyring")
    kind, colon, target = value.partition(":")
    if colon and kind == "env":
        if not _ENV_NAME.match(target):
            raise ValueError(f"«{target}» no es un nombre de variable de entorno válido")
        return SecretRef("env", target)
    if colon and kind == "archivo":
        if not target or not Path(target).expanduser().is_absolute():
            raise ValueError("archivo: necesita una ruta absoluta, p. ej. archivo:/etc/tui-recepcion/clave")
        return SecretRef("archivo", str(Path(target).expanduser()))
    raise ValueError('debe ser "keyring", "env:VARIABLE" o "archivo:/ruta" (nunca la contraseña misma)')


# --- The keyring probe -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyringStatus:
    usable: bool
    backend: str
    reason: str  # Spanish; why it is unusable, or what it is


# Backends that would ask for a master password on the terminal and corrupt the TUI's screen.
_PROMPTING_BACKENDS = ("keyrings.alt.file.EncryptedKeyring", "keyrings.cryptfile")


def probe_keyring(timeout: float = KEYRING_PROBE_TIMEOUT) -> KeyringStatus:
    """Find out, without hanging, whether the system keyring can hold a secret.

    The probe runs in a daemon thread: a locked keyring can block forever waiting for an
    unlock prompt nobody will answer over SSH, and that must not freeze the caller.
    """
    outcome: dict[str, KeyringStatus] = {}

    def run() -> None:
        outcome["status"] = _probe_keyring_now()

    worker = threading.Thread(target=run, name="keyring-probe", daemon=True)
    worker.start()
    worker.join(timeout)
    if "status" not in outcome:
        return KeyringStatus(
            False,
            "desconocido",
            f"el llavero del sistema no respondió en {timeout:g} s (¿bloqueado, esperando que lo desbloqueen?)",
        )
    return outcome["status"]


def _probe_keyring_now() -> KeyringStatus:
    try:
        import keyring
        from keyring.backends import chainer, fail, null

        backend = keyring.get_keyring()
    except Exception as error:  # a broken keyring installation is just "unusable"
        return KeyringStatus(False, "desconocido", f"no se pudo cargar el llavero: {type(error).__name__}")
    name = f"{type(backend).__module__}.{type(backend).__qualname__}"
    if isinstance(backend, fail.Keyring):
        return KeyringStatus(False, name, "no hay ningún llavero del sistema disponible (normal en un servidor por SSH)")
    if isinstance(backend, null.Keyring):
        return KeyringStatus(False, name, "el llavero está desactivado (backend nulo)")
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return KeyringStatus(False, name, "no hay ningún llavero del sistema disponible")
    if name.startswith(_PROMPTING_BACKENDS):
        return KeyringStatus(False, name, "este llavero pediría una contraseña en la terminal")
    try:
        backend.get_password(KEYRING_SERVICE, "__sonda__")
    except Exception as error:
        return KeyringStatus(False, name, f"el llavero no se pudo usar ({type(error).__name__}); ¿está bloqueado?")
    return KeyringStatus(True, name, f"llavero del sistema ({type(backend).__qualname__})")


# --- Stores ----------------------------------------------------------------------------------


class SecretStore(Protocol):
    """Reads and writes the one secret of one account (password or OAuth2 token cache)."""

    ref: SecretRef

    def read(self) -> Secret: ...

    def write(self, secret: Secret) -> None: ...


@dataclass(frozen=True, slots=True)
class KeyringStore:
    ref: SecretRef
    item: str  # the keyring "username": account id and mailbox user
    probe_timeout: float = KEYRING_PROBE_TIMEOUT

    def _require_usable(self) -> None:
        status = probe_keyring(self.probe_timeout)
        if not status.usable:
            raise SecretError(
                f"No se puede usar el llavero del sistema: {status.reason}. "
                "Elija otro lugar para el secreto: secreto = \"env:VARIABLE\" o secreto = \"archivo:/ruta\"."
            )

    def read(self) -> Secret:
        import keyring

        self._require_usable()
        try:
            value = keyring.get_password(KEYRING_SERVICE, self.item)
        except Exception as error:
            raise SecretError(f"El llavero del sistema falló al leer el secreto ({type(error).__name__}).") from None
        if value is None:
            raise SecretMissing(f"No hay ningún secreto guardado en el llavero para «{self.item}». Guárdelo desde el formulario.")
        return Secret(value)

    def write(self, secret: Secret) -> None:
        import keyring

        self._require_usable()
        try:
            keyring.set_password(KEYRING_SERVICE, self.item, secret.reveal())
        except Exception as error:
            raise SecretError(f"El llavero del sistema falló al guardar el secreto ({type(error).__name__}).") from None


@dataclass(frozen=True, slots=True)
class EnvStore:
    ref: SecretRef

    def read(self) -> Secret:
        value = os.environ.get(self.ref.target)
        if not value:
            raise SecretMissing(f"La variable de entorno {self.ref.target} no está definida o está vacía.")
        return Secret(value)

    def write(self, secret: Secret) -> None:
        raise SecretError(
            f"Un secreto en la variable de entorno {self.ref.target} no se puede guardar desde aquí: "
            "defínala en el entorno del servicio (p. ej. EnvironmentFile= en systemd)."
        )


@dataclass(frozen=True, slots=True)
class FileStore:
    """A file only its owner can read; it holds the secret and nothing else."""

    ref: SecretRef

    @property
    def path(self) -> Path:
        return Path(self.ref.target)

    def read(self) -> Secret:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            raise SecretMissing(f"No existe el archivo de secreto {self.path}.") from None
        except OSError as error:
            raise SecretError(f"No se pudo leer el archivo de secreto {self.path}: {error.strerror}.") from None
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise SecretError(
                f"El archivo de secreto {self.path} tiene permisos {mode:04o}: otros usuarios podrían leerlo. "
                f"Ejecute: chmod 600 {self.path}"
            )
        if info.st_uid != os.getuid():
            raise SecretError(f"El archivo de secreto {self.path} pertenece a otro usuario (uid {info.st_uid}).")
        try:
            value = self.path.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as error:
            raise SecretError(f"No se pudo leer el archivo de secreto {self.path}: {type(error).__name__}.") from None
        if not value:
            raise SecretMissing(f"El archivo de secreto {self.path} está vacío.")
        return Secret(value)

    def write(self, secret: Secret) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            os.fchmod(descriptor, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                stream.write(secret.reveal())
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)
        except OSError as error:
            Path(temporary).unlink(missing_ok=True)
            raise SecretError(f"No se pudo guardar el secreto en {self.path}: {error.strerror}.") from None


def keyring_item(account_id: str, username: str) -> str:
    return f"{account_id}:{username}"


def secret_store(secret_ref: str, account_id: str, username: str) -> SecretStore:
    """The store named by an account's `secreto` value."""
    try:
        ref = parse_secret_ref(secret_ref)
    except ValueError as error:
        raise SecretError(f"secreto inválido en la cuenta «{account_id}»: {error}") from None
    if ref.kind == "env":
        return EnvStore(ref)
    if ref.kind == "archivo":
        return FileStore(ref)
    return KeyringStore(ref, keyring_item(account_id, username))
