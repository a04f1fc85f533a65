"""Writing config.toml with tomlkit: the technician's file is edited, never regenerated.

A save changes only the values that changed. Comments (above and beside keys), blank lines,
key order and every key or table the program does not manage stay as the technician wrote
them; keys the program manages are added at the end of their table, and a new account at
the end of the accounts. The file is replaced atomically with mode 0600: a crash leaves the
old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import MutableMapping
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, TypeGuard

import tomlkit
from tomlkit.container import Container
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Comment, Item, Null, Whitespace
from tomlkit.items import Table as TomlTable
from tomlkit.toml_document import TOMLDocument

from tui_recepcion.config.fields import ACCOUNT_FIELDS, GENERAL_FIELDS, OAUTH_FIELDS, SMTP_FIELDS, FieldSpec
from tui_recepcion.config.model import Account, Config, General
from tui_recepcion.config.problems import ConfigProblems, Problem
from tui_recepcion.config.reading import load_toml, parse_config, read_config_text
from tui_recepcion.errors import ConfigError

Table = MutableMapping[str, Any]  # a tomlkit table: [header], inline { … }, or dotted keys

# The sub-tables of an account: TOML key, Account attribute, their fields.
_ACCOUNT_SUBTABLES: tuple[tuple[str, str, tuple[FieldSpec, ...]], ...] = (
    ("smtp", "smtp", SMTP_FIELDS),
    ("oauth2", "oauth", OAUTH_FIELDS),
)


# --- Plain TOML values (the form compares what it shows with these) ----------------------------


def _to_toml(specs: tuple[FieldSpec, ...], obj: object) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for spec in specs:
        value = _toml_value(getattr(obj, spec.attr))
        if value is not None:
            table[spec.key] = value
    return table


def account_to_toml(account: Account) -> dict[str, Any]:
    """The account as the plain values of its `[cuentas.ID]` table."""
    table = _to_toml(ACCOUNT_FIELDS, account)
    for key, attr, specs in _ACCOUNT_SUBTABLES:
        settings = getattr(account, attr)
        if settings is not None:
            table[key] = _to_toml(specs, settings)
    return table


def config_to_toml(config: Config) -> dict[str, Any]:
    """The whole configuration as plain values (what a file written from scratch holds)."""
    document: dict[str, Any] = {}
    general = _to_toml(GENERAL_FIELDS, config.general)
    if general:
        document["general"] = general
    document["cuentas"] = {account_id: account_to_toml(account) for account_id, account in config.accounts.items()}
    return document


def _toml_value(value: object) -> object:
    return str(value) if isinstance(value, Path) else value


# --- Editing a tomlkit document in place -------------------------------------------------------


def _plain(value: object) -> object:
    return value.unwrap() if isinstance(value, Item | Container) else value


def _is_table(value: object) -> TypeGuard[Table]:
    return isinstance(value, MutableMapping)


def _defaults(obj: object) -> dict[str, object]:
    return {item.name: item.default for item in fields(obj)  # type: ignore[arg-type]
            if item.default is not MISSING}


def _unchanged(spec: FieldSpec, written: object, wanted: object) -> bool:
    """Whether the value written in the file already means `wanted` (e.g. "SSL" for "ssl")."""
    try:
        return bool(spec.convert(_plain(written)) == wanted)
    except ValueError:
        return False


def _sync_table(table: Table, specs: tuple[FieldSpec, ...], obj: object, *, fresh: bool) -> None:
    """Make the managed keys of `table` say what `obj` holds, touching nothing else.

    A key the file leaves out stays out while `obj` holds its default, unless the table is
    `fresh` (new tables are written in full, so the technician sees every key).
    """
    defaults = {} if fresh else _defaults(obj)
    for spec in specs:
        wanted = getattr(obj, spec.attr)
        if wanted is None:
            if spec.key in table:
                del table[spec.key]
        elif spec.key in table:
            if not _unchanged(spec, table[spec.key], wanted):
                table[spec.key] = _toml_value(wanted)
        elif spec.attr not in defaults or defaults[spec.attr] != wanted:
            table[spec.key] = _toml_value(wanted)


def _new_table(specs: tuple[FieldSpec, ...], obj: object) -> TomlTable:
    table = tomlkit.table()
    _sync_table(table, specs, obj, fresh=True)
    return table


def _set_account(accounts: Table, account: Account) -> bool:
    """Add `account` to the accounts table (True), or bring its existing table up to date."""
    table = accounts.get(account.id)
    if not _is_table(table):
        new = last = _new_table(ACCOUNT_FIELDS, account)
        for key, attr, specs in _ACCOUNT_SUBTABLES:
            settings = getattr(account, attr)
            if settings is not None:
                last = _new_table(specs, settings)
                new[key] = last
        last.add(tomlkit.nl())  # a blank line before whatever follows it
        introduction = _take_trailing_comments(_last_table(accounts))
        for item in introduction:  # they introduce what follows the accounts: keep them before it
            last.add(item)
        accounts[account.id] = new
        return True
    _sync_table(table, ACCOUNT_FIELDS, account, fresh=False)
    for key, attr, specs in _ACCOUNT_SUBTABLES:
        settings = getattr(account, attr)
        current = table.get(key)
        if settings is None:
            if _is_table(current):
                for spec in specs:
                    current.pop(spec.key, None)
                if not current:  # nothing the technician added is left in it
                    _remove_keeping_trailing_comments(table, key)
        elif _is_table(current):
            _sync_table(current, specs, settings, fresh=False)
        else:
            table[key] = _new_table(specs, settings)
    return False


def _last_table(table: Table) -> TomlTable | None:
    """The table written last inside `table` (its last sub-table, recursively), if any."""
    keys = list(table)
    if not keys or not isinstance(table[keys[-1]], TomlTable):
        return None
    last: TomlTable = table[keys[-1]]
    while True:
        entries = [(key, item) for key, item in last.value.body if not isinstance(item, Null)]
        real = [item for key, item in entries if key is not None]
        if not real or not isinstance(real[-1], TomlTable):
            return last
        last = real[-1]


def _take_trailing_comments(table: TomlTable | None) -> list[Comment | Whitespace]:
    """Remove from the end of `table` the comments after its last key (and what follows them):
    tomlkit files them under this table, though they introduce the next header."""
    if table is None:
        return []
    body = table.value.body
    start = len(body)
    while start > 0 and body[start - 1][0] is None and isinstance(body[start - 1][1], Comment | Whitespace):
        start -= 1
    while start < len(body) and not isinstance(body[start][1], Comment):
        start += 1  # blank lines before the first comment stay where they are
    taken = [item for _, item in body[start:] if isinstance(item, Comment | Whitespace)]
    del body[start:]  # trailing entries without keys: the container's key index is not affected
    return taken


def _remove_keeping_trailing_comments(parent: Table, key: str) -> None:
    """Delete `parent[key]`; comments at its end (tomlkit files them under the table above the
    next header, though they introduce what follows) move to the end of `parent`."""
    removed = parent[key]
    trailing: list[Comment | Whitespace] = []
    if isinstance(removed, TomlTable):
        for entry_key, item in reversed(removed.value.body):
            if entry_key is not None or not isinstance(item, Comment | Whitespace):
                break
            trailing.insert(0, item)
    del parent[key]
    if not isinstance(parent, TomlTable) or not any(isinstance(item, Comment) for item in trailing):
        return
    body = [item for _, item in parent.value.body if not isinstance(item, Null)]  # del leaves a Null
    while trailing and isinstance(trailing[0], Whitespace) and body and isinstance(body[-1], Whitespace):
        trailing.pop(0)  # the parent already ends with a blank line
    for item in trailing:
        parent.add(item)


def _accounts_table(document: TOMLDocument, path: Path | None) -> Table:
    if "cuentas" not in document:
        document["cuentas"] = tomlkit.table(is_super_table=True)  # only [cuentas.ID] headers, no [cuentas]
    accounts = document["cuentas"]
    if not _is_table(accounts):
        raise ConfigProblems([Problem(path, "cuentas", None, "debe contener tablas [cuentas.NOMBRE]")])
    return accounts


def _sync_general(document: TOMLDocument, general: General, *, fresh: bool) -> None:
    table = document.get("general")
    if _is_table(table):
        _sync_table(table, GENERAL_FIELDS, general, fresh=False)
    elif fresh or general != General():
        new = _new_table(GENERAL_FIELDS, general)
        new.add(tomlkit.nl())
        document["general"] = new


def _parse_document(text: str, path: Path | None) -> TOMLDocument:
    """The file as a tomlkit document; ConfigProblems when it is not TOML one can edit."""
    data, problem = load_toml(text, path)  # the reader's hardened gate first: located, Spanish
    if data is None:
        raise ConfigProblems([problem] if problem else [])
    try:
        return tomlkit.parse(text)
    except (TOMLKitError, RecursionError, ValueError):
        raise ConfigProblems([Problem(path, "(sintaxis)", None, (
            "el archivo es TOML válido pero no se puede editar conservando su formato; "
            "corríjalo a mano o guárdelo de nuevo con validar"
        ))]) from None


def _dump(document: TOMLDocument, path: Path | None, *, before: str, appended: bool) -> str:
    try:
        text = tomlkit.dumps(document)
    except (TOMLKitError, RecursionError, ValueError):
        raise ConfigProblems([Problem(path, "(interno)", None, "no se pudo escribir la configuración")]) from None
    if appended and not before.endswith("\n\n"):  # the blank line after a new table, at the end
        text = text.rstrip("\n") + "\n"
    return text


def _existing_text(path: Path) -> str:
    """The current file's text; "" when there is none yet (the form's first run)."""
    if not path.exists():
        return ""
    return read_config_text(path)


def _write_atomically(path: Path, text: str) -> None:
    """Write atomically with mode 0600: a crash leaves the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- The two ways to save -----------------------------------------------------------------------


def save_account(path: Path, account: Account) -> Config:
    """Add or replace one account in the file at `path`; everything else stays as written.

    The form calls this. The result is checked as a whole before anything is written (two
    accounts on one mailbox, a broken neighbour): ConfigProblems then, and the file is left
    untouched. Keys and tables the program does not manage are kept and not counted.
    """
    before = _existing_text(path)
    document = _parse_document(before, path)
    appended = _set_account(_accounts_table(document, path), account)
    text = _dump(document, path, before=before, appended=appended)
    config, problems = parse_config(text, path, require_accounts=False, allow_unknown=True)
    if config is None:  # warnings (unknown keys the file keeps) do not stop a save
        raise ConfigProblems(problems)
    _write_atomically(path, text)
    return config


def write_config(config: Config, path: Path) -> None:
    """Make the file at `path` hold `config`: [general] and exactly its accounts.

    An existing file is edited like `save_account` does (comments and unmanaged keys kept;
    accounts not in `config` removed); a missing or unreadable one is written from scratch.
    """
    try:
        before = _existing_text(path)
        document = _parse_document(before, path)
    except ConfigError:  # ConfigProblems included: nothing worth keeping
        before, document = "", tomlkit.document()
    _sync_general(document, config.general, fresh=not document)
    accounts = _accounts_table(document, path)
    for account_id in [key for key in accounts if key not in config.accounts]:
        del accounts[account_id]
    appended = False
    for account in config.accounts.values():
        appended = _set_account(accounts, account) or appended
    _write_atomically(path, _dump(document, path, before=before, appended=appended))

