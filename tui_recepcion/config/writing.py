"""Writing config.toml with tomlkit: the technician's file is edited, never regenerated.

A save changes only the values that changed: `save_account` merges the keys the form edited
(those that differ from the snapshot the form loaded) into the file as it is now. Comments (above and beside keys), blank lines,
key order and every key or table the program does not manage stay as the technician wrote
them; keys the program manages are added at the end of their table, and a new account at
the end of the accounts. The file is replaced atomically with mode 0600: a crash leaves the
old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, MutableMapping
from dataclasses import MISSING, dataclass, fields
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
from tui_recepcion.config.problems import ConfigProblems, Problem, key_name
from tui_recepcion.config.reading import load_toml, parse_config, read_config_text
from tui_recepcion.config.snapshot import (
    AccountExists,
    ConfigChangedOnDisk,
    ConfigSnapshot,
    changed_keys,
    fingerprint,
    toml_data,
)
from tui_recepcion.config.toml_lines import KeyPath
from tui_recepcion.config.validation import smtp_route_problem
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


# --- Saving one account as a merge ------------------------------------------------------------

_INVALID = object()  # a value in the file the converter refuses: never equal to what the form holds


@dataclass(frozen=True, slots=True)
class SavedAccount:
    """What `save_account` did: the valid configuration now, the snapshot of the text it wrote
    (for the next save), and the dotted keys it wrote or removed."""

    config: Config
    snapshot: ConfigSnapshot
    changed: tuple[str, ...]


def _effective(spec: FieldSpec, raw: object, defaults: Mapping[str, object]) -> object:
    """What `raw[spec.key]` means once read (the dataclass default when the key is absent)."""
    if not isinstance(raw, Mapping) or spec.key not in raw:
        return defaults.get(spec.attr)
    try:
        return spec.convert(raw[spec.key])
    except ValueError:
        return _INVALID


def _edits(account: Account, base: object) -> dict[KeyPath, object]:
    """The keys (inside the account's table) whose value in `account` differs from `base`,
    the account's raw table when the form loaded it, with the wanted value (None: remove)."""
    edits: dict[KeyPath, object] = {}
    defaults = _defaults(account)
    for spec in ACCOUNT_FIELDS:
        wanted = getattr(account, spec.attr)
        if _effective(spec, base, defaults) != wanted:
            edits[(spec.key,)] = wanted
    for key, attr, specs in _ACCOUNT_SUBTABLES:
        settings = getattr(account, attr)
        base_table = base.get(key) if isinstance(base, Mapping) else None
        if not isinstance(base_table, Mapping):
            if settings is not None:  # a table the form adds: every value it holds
                edits.update({(key, spec.key): getattr(settings, spec.attr) for spec in specs
                              if getattr(settings, spec.attr) is not None})
            continue
        table_defaults = _defaults(settings) if settings is not None else {}
        for spec in specs:
            wanted = getattr(settings, spec.attr) if settings is not None else None
            if _effective(spec, base_table, table_defaults) != wanted or (wanted is None and spec.key in base_table):
                edits[(key, spec.key)] = wanted
    return edits


_SPECS_BY_TABLE: dict[str, dict[str, FieldSpec]] = {
    "": {spec.key: spec for spec in ACCOUNT_FIELDS},
    **{key: {spec.key: spec for spec in specs} for key, _attr, specs in _ACCOUNT_SUBTABLES},
}


def _apply_edits(table: Table, account: Account, edits: Mapping[KeyPath, object]) -> list[KeyPath]:
    """Write `edits` into the account's existing `table`; the key paths actually changed."""
    changed: list[KeyPath] = []
    for key, attr, specs in _ACCOUNT_SUBTABLES:
        settings = getattr(account, attr)
        if settings is not None and any(path[0] == key for path in edits) and not _is_table(table.get(key)):
            table[key] = _new_table(specs, settings)
            changed += [(key, spec.key) for spec in specs if spec.key in table[key]]
    for path, wanted in edits.items():
        target: object = table if len(path) == 1 else table.get(path[0])
        if not _is_table(target) or (len(path) == 2 and path in changed):
            continue
        key = path[-1]
        spec = _SPECS_BY_TABLE["" if len(path) == 1 else path[0]][key]
        if wanted is None:
            if key in target:
                del target[key]
                changed.append(path)
        elif key not in target or not _unchanged(spec, target[key], wanted):
            target[key] = _toml_value(wanted)
            changed.append(path)
    for key, attr, _specs in _ACCOUNT_SUBTABLES:
        current = table.get(key)
        if getattr(account, attr) is None and _is_table(current) and not current:
            _remove_keeping_trailing_comments(table, key)  # nothing the technician added is left in it
    return changed


def _all_keys(table: Mapping[str, Any], prefix: KeyPath = ()) -> list[KeyPath]:
    keys: list[KeyPath] = []
    for key, value in table.items():
        keys += _all_keys(value, prefix + (key,)) if isinstance(value, Mapping) else [prefix + (key,)]
    return keys


def _accounts_data(data: Mapping[str, Any]) -> Mapping[str, Any]:
    accounts = data.get("cuentas")
    return accounts if isinstance(accounts, Mapping) else {}


def save_account(
    path: Path,
    account: Account,
    *,
    snapshot: ConfigSnapshot | None = None,
    new: bool = False,
    overwrite: bool = False,
    provider_smtp: bool | None = None,
) -> SavedAccount:
    """Save one account as a merge into the file at `path`; everything else stays as written.

    Only the keys whose value in `account` differs from the account in `snapshot` (what the
    form loaded) are written; every other key, comment, table and account is kept as the file
    has it now. `new` refuses a name the file already has (`AccountExists`). When the file's
    values changed since `snapshot`, `ConfigChangedOnDisk` names them, unless `overwrite`.
    `provider_smtp` (whether the provider brings SMTP defaults) enables the SMTP route rule.
    The result is checked as a whole before anything is written: ConfigProblems then, and the
    file is left untouched. Without `snapshot` the current file is the base (every value that
    differs from it is written).
    """
    before = _existing_text(path)
    document = _parse_document(before, path)  # a file broken by hand: its syntax problem, located
    current = toml_data(before)
    base = toml_data(snapshot.text) if snapshot is not None else current
    if new and account.id in _accounts_data(current):
        raise AccountExists(account.id, path)
    edits = _edits(account, None if new else _accounts_data(base).get(account.id))
    if snapshot is not None and not overwrite and fingerprint(before) != snapshot.fingerprint:
        on_disk = changed_keys(base, current)
        if on_disk:
            ours = {("cuentas", account.id) + key for key in edits}
            raise ConfigChangedOnDisk(path, on_disk, [key for key in on_disk if key in ours])
    accounts = _accounts_table(document, path)
    table = accounts.get(account.id)
    if _is_table(table):
        changed = _apply_edits(table, account, edits)
        appended = False
    else:
        appended = _set_account(accounts, account)
        changed = _all_keys(account_to_toml(account))
    text = _dump(document, path, before=before, appended=appended)
    config, problems = parse_config(text, path, require_accounts=False, allow_unknown=True)
    if config is None:  # warnings (unknown keys the file keeps) do not stop a save
        raise ConfigProblems(problems)
    route = smtp_route_problem(config.accounts[account.id], provider_smtp) if provider_smtp is not None else None
    if route is not None:
        raise ConfigProblems([Problem(path, key_name(("cuentas", account.id, "smtp")), None, route)])
    if text != before:
        _write_atomically(path, text)
    return SavedAccount(config, ConfigSnapshot.of(path, text),
                        tuple(key_name(("cuentas", account.id) + key) for key in changed))


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

