"""Where mailbox secrets live: the keyring, an environment variable or a 0600 file.

An account's `secreto` key names the store, never the secret itself. Over SSH a server
usually has no usable keyring (docs/architecture.md, «Security»): `probe_keyring()` says so, and reading or
writing through an unusable keyring raises `SecretError` instead of falling back silently,
so the technician chooses `env:` or `archivo:` knowingly.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn, Protocol

from tui_recepcion.errors import SecretError, SecretMissing

KEYRING_SERVICE = "tui-recepcion"
KEYRING_PROBE_TIMEOUT = 3.0

SECRET_FILE_MAX_BYTES = 64 * 1024  # a password or a token cache is a few KiB at most
MAX_PATH_CHARS = 4096

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")


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

    def __reduce__(self) -> NoReturn:  # pickling would write the value to disk or a pipe
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


def control_character_problem(text: str) -> str | None:
    """Why `text` cannot be a config value (a NUL or another control character), or None.

    A NUL cannot reach the operating system (paths, environment names) and other control
    characters would reach the technician's terminal as escape sequences.
    """
    for char in text:
        if char == "\0":
            return "contiene un carácter nulo (NUL, \\0), que no se permite en rutas ni en ningún valor"
        if unicodedata.category(char) == "Cc":
            return f"contiene el carácter de control U+{ord(char):04X}, que no se permite"
    return None


def expand_path(text: str) -> Path:
    """`Path(text).expanduser()`, with a Spanish ValueError for what the system cannot use."""
    problem = control_character_problem(text)
    if problem:
        raise ValueError(problem)
    if len(text) > MAX_PATH_CHARS:
        raise ValueError(f"la ruta es demasiado larga (más de {MAX_PATH_CHARS} caracteres)")
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # "~otro_usuario" that does not exist, or no home directory at all
        raise ValueError(f"no se pudo expandir «~» en la ruta «{text}»: escriba la ruta completa") from None
    if any(len(part.encode("utf-8", "surrogateescape")) > 255 for part in path.parts):
        raise ValueError("un nombre de la ruta es demasiado largo (más de 255 bytes)")
    return path


def parse_secret_ref(text: str) -> SecretRef:
    """Parse `keyring`, `env:VARIABLE` or `archivo:/ruta`; ValueError explains in Spanish."""
    value = text.strip()
    if value == "keyring":
        return SecretRef("keyring")
    kind, colon, target = value.partition(":")
    if colon and kind == "env":
        if not _ENV_NAME.fullmatch(target):
            problem = control_character_problem(target)
            raise ValueError(problem or f"«{target}» no es un nombre de variable de entorno válido")
        return SecretRef("env", target)
    if colon and kind == "archivo":
        path = expand_path(target) if target else None
        if path is None or not path.is_absolute():
            raise ValueError("archivo: necesita una ruta absoluta, p. ej. archivo:/etc/tui-recepcion/clave")
        return SecretRef("archivo", str(path))
    raise ValueError('debe ser "keyring", "env:VARIABLE" o "archivo:/ruta" (nunca la contraseña misma)')


# --- Reading small files safely ----------------------------------------------------------------


class FileRefused(Exception):
    """A file that cannot be read safely; `reason` is Spanish and follows «El archivo X …»."""

    def __init__(self, reason: str, *, missing: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = missing


def _kind_of(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "una tubería con nombre (FIFO)"
    if stat.S_ISDIR(mode):
        return "un directorio"
    if stat.S_ISCHR(mode):
        return "un dispositivo de caracteres"
    if stat.S_ISBLK(mode):
        return "un dispositivo de bloques"
    if stat.S_ISSOCK(mode):
        return "un socket"
    return "un archivo especial"


_ERRNO_REASONS = {
    errno.ENOENT: "no existe",
    errno.EACCES: "no se puede leer: permiso denegado",
    errno.EPERM: "no se puede leer: operación no permitida",
    errno.ENOTDIR: "no existe: una parte de la ruta no es un directorio",
    errno.ENAMETOOLONG: "tiene una ruta demasiado larga",
    errno.ELOOP: "tiene demasiados enlaces simbólicos encadenados",
    errno.EISDIR: "no es un archivo regular sino un directorio",
}


def _os_reason(error: OSError) -> str:
    reason = _ERRNO_REASONS.get(error.errno or 0)
    return reason or f"no se pudo leer (error del sistema {error.errno}: {error.strerror})"


def read_regular_file(path: Path, limit: int) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file of at most `limit` bytes, and its status; never hangs.

    A FIFO, a device or a directory is refused before it is opened (opening a FIFO for
    reading blocks until a writer appears; reading a device may never end). The file is
    then opened with O_NONBLOCK and checked again with fstat, so a file swapped for a FIFO
    between the two steps is refused too. Raises FileRefused with a Spanish reason.
    """
    try:
        before = os.stat(path)
        if not stat.S_ISREG(before.st_mode):
            raise FileRefused(f"no es un archivo regular sino {_kind_of(before.st_mode)}")
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise FileRefused("no existe", missing=True) from None
    except OSError as error:
        raise FileRefused(_os_reason(error)) from None
    except ValueError:  # an embedded NUL
        raise FileRefused("tiene una ruta con un carácter nulo (NUL)") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"no es un archivo regular sino {_kind_of(info.st_mode)}")
        if info.st_size > limit:
            raise FileRefused(f"es demasiado grande ({info.st_size} bytes; el máximo es {limit})")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(descriptor, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise FileRefused(f"es demasiado grande (más de {limit} bytes)")
        return b"".join(chunks), info
    except OSError as error:
        raise FileRefused(_os_reason(error)) from None
    finally:
        os.close(descriptor)


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

    @property
    def ref(self) -> SecretRef: ...

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
        """The secret, after refusing anything but a small regular file only its owner can read.

        Like ssh with a private key: a file that group or others may read (or write) is
        refused rather than used, because the secret may already have leaked.
        """
        try:
            data, info = read_regular_file(self.path, SECRET_FILE_MAX_BYTES)
        except FileRefused as refused:
            if refused.missing:
                raise SecretMissing(f"No existe el archivo de secreto {self.path}.") from None
            raise SecretError(f"El archivo de secreto {self.path} {refused.reason}.") from None
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise SecretError(
                f"El archivo de secreto {self.path} tiene permisos {mode:04o}: otros usuarios podrían leerlo. "
                f"Ejecute: chmod 600 {self.path}"
            )
        if info.st_uid != os.getuid():
            raise SecretError(f"El archivo de secreto {self.path} pertenece a otro usuario (uid {info.st_uid}).")
        try:
            value = data.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise SecretError(f"El archivo de secreto {self.path} no está en UTF-8.") from None
        if not value:
            raise SecretMissing(f"El archivo de secreto {self.path} está vacío.")
        return Secret(value)

    def write(self, secret: Secret) -> None:
        """Write atomically with mode 0600: a crash leaves the old secret or the new one."""
        size = len(secret.reveal().encode("utf-8"))
        if size > SECRET_FILE_MAX_BYTES:
            raise SecretError(
                f"El secreto es demasiado grande para {self.path} ({size} bytes; el máximo es {SECRET_FILE_MAX_BYTES})."
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # mkstemp creates the file 0600 and exclusively: the secret is never readable by others.
            descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        except OSError as error:
            raise SecretError(f"No se pudo guardar el secreto en {self.path}: {_write_reason(error)}.") from None
        try:
            os.fchmod(descriptor, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                stream.write(secret.reveal())
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)
        except OSError as error:
            Path(temporary).unlink(missing_ok=True)
            raise SecretError(f"No se pudo guardar el secreto en {self.path}: {_write_reason(error)}.") from None


def _write_reason(error: OSError) -> str:
    reasons = {
        errno.EACCES: "permiso denegado",
        errno.EPERM: "operación no permitida",
        errno.ENOSPC: "el disco está lleno",
        errno.EDQUOT: "se superó la cuota de disco",
        errno.EROFS: "el sistema de archivos es de solo lectura",
        errno.EISDIR: "la ruta es un directorio",
        errno.ENOTDIR: "una parte de la ruta no es un directorio",
    }
    return reasons.get(error.errno or 0) or f"error del sistema {error.errno} ({error.strerror})"


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
