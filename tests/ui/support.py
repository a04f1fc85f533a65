"""Helpers for driving the TUI with Pilot: keyboard only, as a technician over SSH would."""

from __future__ import annotations

import hashlib
import io
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import keyring
from keyring.backend import KeyringBackend
from keyring.backends import fail
from rich.console import Console
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input, Select
from textual.widgets._select import SelectOverlay

from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory
from tui_recepcion.dian import extract_message
from tui_recepcion.store import Store
from tui_recepcion.ui.fields import FieldRow

SIZE = (80, 24)
# An Outlook account with a basic password, kept in an environment variable nobody sets.
BASIC_ACCOUNT = (
    "[cuentas.principal]\n"
    'proveedor = "outlook"\ntipo_servidor = "basica"\nprotocolo = "imap"\n'
    'servidor = "outlook.office365.com"\npuerto = 993\nseguridad = "ssl"\n'
    'usuario = "facturas@miradorandes.co"\nsecreto = "env:CLAVE_RECEPCION"\n'
)


def many_accounts(count: int, **special: str) -> str:
    """`count` IMAP account tables, «empresa0000»…; `special` maps an account id to extra
    lines that replace its usuario and NIT (e.g. for a search to find it)."""
    tables = []
    for index in range(count):
        account = f"empresa{index:04d}"
        lines = special.get(account, f'usuario = "facturas{index}@empresa{index}.co"\nnit_receptor = "800{index:06d}"\n')
        tables.append(f"[cuentas.{account}]\n"
                      'proveedor = "generic"\ntipo_servidor = "basica"\nprotocolo = "imap"\n'
                      f'servidor = "imap{index}.ejemplo.co"\npuerto = 993\nseguridad = "ssl"\n'
                      f'secreto = "env:CLAVE_{index}"\n{lines}')
    return "\n".join(tables)


def write_config(tmp_path: Path, accounts: str = "") -> Path:
    """A config.toml whose store lives in tmp_path, plus the given account tables."""
    path = tmp_path / "config.toml"
    path.write_text(
        f'[general]\nbase_datos = "{tmp_path / "recepcion.db"}"\n'
        f'carpeta_documentos = "{tmp_path / "documentos"}"\n\n{accounts}',
        encoding="utf-8",
    )
    return path


@contextmanager
def keyring_backend(backend: KeyringBackend) -> Iterator[None]:
    """Install a keyring backend for one test: no test ever touches a real keyring."""
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def failing_keyring() -> KeyringBackend:
    return fail.Keyring()


async def wait_until(pilot: Pilot, condition: Callable[[], object], timeout: float = 15.0, what: str = "") -> None:
    """Let the app run until `condition()` holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"no se cumplió a tiempo: {what or condition}")
        await pilot.pause(0.05)


def row(app: App, key: str) -> FieldRow:
    """The form's row (label, input, help) for a config key."""
    return app.screen.query_one(f"#row-{key}", FieldRow)


def screen_text(app: App) -> str:
    """The text on the terminal right now (the screen and the dialogs over it), as plain text."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, record=True,
                      legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def notifications(app: App) -> list[str]:
    """Every notification shown so far, title and text."""
    return [f"{notice.title}: {notice.message}" for notice in app._notifications]


async def focus(pilot: Pilot, selector: str) -> None:
    pilot.app.screen.query_one(selector).focus()
    await pilot.pause()


async def type_into(pilot: Pilot, selector: str, text: str, *, clear: bool = True) -> None:
    """Focus an Input and type `text` key by key."""
    await focus(pilot, selector)
    field = pilot.app.screen.query_one(selector, Input)
    if clear:
        field.value = ""  # select-all + delete would do the same, key by key
        await pilot.pause()
    await pilot.press(*text)
    await pilot.pause()


async def choose(pilot: Pilot, selector: str, value: str) -> None:
    """Open a Select with Enter, move to `value` with the arrow keys, and press Enter."""
    await focus(pilot, selector)
    select = pilot.app.screen.query_one(selector, Select)
    await pilot.press("enter")
    overlay = select.query_one(SelectOverlay)
    await wait_until(pilot, lambda: overlay.display, what="abrir la lista")
    values = [option_value for _prompt, option_value in select._options]
    target = values.index(value)
    while overlay.highlighted != target:
        await pilot.press("down" if (overlay.highlighted or 0) < target else "up")
    await pilot.press("enter")
    await wait_until(pilot, lambda: select.value == value, what=f"elegir {value}")
    await pilot.pause()


def dovecot_account(server, certs, tmp_path: Path, *, password: str, username: str, extra: str = "") -> str:
    """A [cuentas.principal] table for the test Dovecot (IMAPS), its password in a 0600 file."""
    secret = tmp_path / "clave"
    secret.write_text(password, encoding="utf-8")
    secret.chmod(0o600)
    return (
        "[cuentas.principal]\n"
        'proveedor = "generic"\ntipo_servidor = "basica"\nprotocolo = "imap"\n'
        f'servidor = "localhost"\npuerto = {server.ports.port_for("imap", "ssl")}\nseguridad = "ssl"\n'
        f'usuario = "{username}"\nsecreto = "archivo:{secret}"\n'
        f'certificados_ca = "{certs.ca_file}"\n{extra}'
    )


def seed_documents(tmp_path: Path, accounts: str, count: int = 30, *, signed: bool = False,
                   received_at: datetime | None = None) -> Path:
    """A config with `accounts` and a store holding `count` seeded sample documents of «principal»;
    `received_at` fixes when they were received (the RADIAN claim deadline counts from it)."""
    config = write_config(tmp_path, accounts)
    with Store.open(tmp_path / "recepcion.db") as store:
        factory = SampleFactory(seed=9, pdf_size=1_000, signed=signed)
        for index, mail in enumerate(factory.mailbox(good=count, failing_each=0)):
            extraction = extract_message(mail.raw, receiver_nit=DEFAULT_RECEIVER.nit)
            store.record_outcome("principal", f"muestra:{index}", extraction, hashlib.sha256(mail.raw).hexdigest(),
                                 "Procesados")
    if received_at is not None:
        with sqlite3.connect(tmp_path / "recepcion.db") as raw:
            raw.execute("UPDATE documents SET created_at = ?", (received_at.isoformat(timespec="milliseconds"),))
    return config


def silent_account(port: int) -> str:
    """An IMAP account on a port that accepts and never answers: a connection test waits."""
    return (
        "[cuentas.principal]\n"
        'proveedor = "generic"\ntipo_servidor = "basica"\nprotocolo = "imap"\n'
        f'servidor = "127.0.0.1"\npuerto = {port}\nseguridad = "ssl"\n'
        'usuario = "recepcion@empresa.co"\nsecreto = "env:NO_SE_USA"\n'
    )


async def pick_account(pilot: Pilot, value: str, query: str = "", *, key: str = "ctrl+f") -> None:
    """Open the account picker with `key`, type `query`, move to `value` with the arrow keys
    and press Enter (ui/account_picker.py)."""
    from tui_recepcion.ui.account_picker import AccountPicker

    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, AccountPicker), what="abrir el buscador de cuentas")
    picker = pilot.app.screen
    if query:
        await pilot.press(*query)
    await wait_until(pilot, lambda: value in picker.shown, what=f"ver {value} en la lista")
    listing = picker.query_one("#picker-list")
    target = picker.shown.index(value)
    for _ in range(len(picker.shown)):
        if listing.highlighted == target:
            break
        await pilot.press("down" if (listing.highlighted or 0) < target else "up")
    assert listing.highlighted == target, f"las flechas no llevaron a {value}"
    await pilot.press("enter")
    await wait_until(pilot, lambda: pilot.app.screen is not picker, what=f"elegir {value}")

