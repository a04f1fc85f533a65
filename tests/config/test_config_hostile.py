"""Hostile configurations (issue 12): any input ends in a config or in located Spanish problems.

Hypothesis generates TOML documents — random structures in the shape of config.toml, and
mutations of a valid file (wrong types, NULs, control characters, deep nesting, odd dates,
huge numbers, truncation) — and checks that `load_config` either succeeds or raises
ConfigError with a Spanish message, that what it accepts is safe for the engine to use, and
that `tui-recepcion validar` exits 0 or 1 without a traceback. A few of the worst files also
go through a real `python -m tui_recepcion` process.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import tomlkit
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from tui_recepcion import cli
from tui_recepcion.config import (
    ACCOUNT_FIELDS,
    GENERAL_FIELDS,
    OAUTH_FIELDS,
    SMTP_FIELDS,
    Config,
    ConfigProblems,
    load_config,
    parse_config,
)
from tui_recepcion.errors import ConfigError
from tui_recepcion.secrets import parse_secret_ref

REPO = Path(__file__).resolve().parents[2]

HOSTILE = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

VALID = {
    "general": {"intervalo_minutos": 5, "base_datos": "/var/lib/tui-recepcion/recepcion.db"},
    "cuentas": {
        "principal": {
            "proveedor": "generic",
            "tipo_servidor": "basica",
            "protocolo": "imap",
            "servidor": "mail.empresa.co",
            "puerto": 993,
            "seguridad": "ssl",
            "usuario": "recepcion@empresa.co",
            "secreto": "keyring",
            "fecha_expiracion": date(2027, 3, 31),
            "correo_notificacion": "tecnico@empresa.co",
            "smtp": {"servidor": "smtp.empresa.co", "puerto": 587, "seguridad": "starttls"},
        },
    },
}
VALID_TEXT = tomlkit.dumps(VALID)

# Words of Python's and tomllib's English messages; user values are quoted «…» and removed first.
_ENGLISH = re.compile(
    r"\b(Invalid|Illegal|Expected|Cannot|Unclosed|Unterminated|Unescaped|Exceeds|Errno|Traceback|"
    r"object|the|is|not|of|and|with|has|must|line|column|at)\b"
)
_INTERNAL = "error interno"


# --- Strategies -------------------------------------------------------------------------------

_tricky_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
        st.sampled_from(["\x00", "\x1b", "\x7f", "\x85", "\u2028", "~", "/", ":", "\\", '"', "'"]),
    ),
    max_size=30,
)
_special_text = st.sampled_from([
    "", " ", "keyring", "env:", "env:CLAVE", "env:1X", "archivo:", "archivo:/", "archivo:/dev/null",
    "archivo:/etc/clave\x00", "archivo:~nadie-jamas/x", "~nadie-jamas/db", "/tmp/a\x00b", "INBOX",
    "America", "America/Bogota", "../../etc", "a" * 5000, "/" + "a" * 300, "ninguna", "pop3", "oauth2",
    "2027-03-31", "0001-01-01", "9999-12-31", "Recepcion@Empresa.CO", "MAIL.empresa.co.",
])
_integers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 65535, 65536, 2**63 - 1, -(2**63), 10**4200]),
)
_dates = st.one_of(st.dates(), st.sampled_from([date(1, 1, 1), date(9999, 12, 31), date(1999, 12, 31), date(2100, 1, 1)]))
_datetimes = st.one_of(
    st.datetimes(),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=23, minutes=59))])),
)
_leaves = st.one_of(
    st.booleans(),
    _integers,
    st.floats(allow_nan=True, allow_infinity=True),
    _tricky_text,
    _special_text,
    _dates,
    _datetimes,
    st.times(),
)
_values = st.recursive(
    _leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(_tricky_text, st.sampled_from(["smtp", "oauth2", "servidor"])), children, max_size=4),
    ),
    max_leaves=12,
)
_known_keys = sorted({spec.key for spec in ACCOUNT_FIELDS + SMTP_FIELDS + OAUTH_FIELDS + GENERAL_FIELDS} | {"smtp", "oauth2"})


@st.composite
def _table(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """`base` with some keys given random values, some removed, some unknown ones added."""
    table = dict(base)
    for key in draw(st.lists(st.sampled_from(_known_keys), max_size=4, unique=True)):
        table[key] = draw(_values)
    for key in draw(st.lists(st.sampled_from(sorted(base) or ["x"]), max_size=2, unique=True)):
        table.pop(key, None)
    table.update(draw(st.dictionaries(_tricky_text, _values, max_size=2)))
    return table


@st.composite
def generated_documents(draw: st.DrawFn) -> str:
    """A TOML document shaped like config.toml, with random keys, values and types."""
    account = VALID["cuentas"]["principal"]
    accounts = {}
    for name in draw(st.lists(st.one_of(st.sampled_from(["principal", "segunda", "Mala", "a" * 41]), _tricky_text),
                              min_size=0, max_size=3, unique=True)):
        accounts[name] = draw(st.one_of(_table(account), _values))
    document: dict[str, Any] = {"general": draw(st.one_of(_table(VALID["general"]), _values)), "cuentas": accounts}
    if draw(st.booleans()):
        document["cuentas"] = draw(_values)
    document.update(draw(st.dictionaries(_tricky_text, _values, max_size=2)))
    try:
        return tomlkit.dumps(document)
    except (TypeError, ValueError):  # not representable in TOML (e.g. a top-level scalar table)
        assume(False)
        raise


_HOSTILE_LITERALS = st.sampled_from([
    "0001-01-01", "9999-12-31", "2027-02-30", "1979-05-27T07:32:00-08:00", "1979-05-27 07:32:00Z", "07:32:00",
    "nan", "-inf", "1e999", "-0", "9" * 5000, "0x7fffffffffffffff", "0b" + "1" * 200, "99999999999999999999",
    '"\\u0000"', '"/var/\\u0000db"', '"archivo:/etc/\\u0000clave"', '"env:CLAVE\\u0000"', '"\\u001b[31m"',
    '"\\u0085\\u2028"', "[" * 3000 + "]" * 3000, "{a = " * 1500 + "1" + "}" * 1500, "[1, 'a', [2]]",
    '"""varias\nlíneas"""', "'''\n'''", "true", "''", '"~nadie-jamas/x"', '"' + "a" * 5000 + '"',
    "{}", "[[]]", '"\\U0010FFFF"', '"\\uD800"', "\x00", "\x01", '"""', "[", "{", "=",
])


@st.composite
def mutated_documents(draw: st.DrawFn) -> str:
    """The valid config with a few edits a hostile or careless hand could make."""
    lines = VALID_TEXT.split("\n")
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        literal = draw(st.one_of(_HOSTILE_LITERALS, _tricky_text))
        action = draw(st.sampled_from(["value", "insert", "key", "char", "duplicate", "truncate", "header"]))
        line = lines[index]
        if action == "value" and " = " in line:
            lines[index] = line.split(" = ", 1)[0] + " = " + literal
        elif action == "insert":
            lines.insert(index, f"{draw(st.sampled_from(_known_keys))} = {literal}")
        elif action == "key":
            lines.insert(index, f"{literal} = 1")
        elif action == "char":
            position = draw(st.integers(min_value=0, max_value=len(line)))
            lines[index] = line[:position] + literal[:3] + line[position:]
        elif action == "duplicate":
            lines.insert(index, line)
        elif action == "truncate":
            lines[index] = line[: draw(st.integers(min_value=0, max_value=len(line)))]
            del lines[index + 1:]
        else:
            lines.insert(index, f"[{literal}]")
        if not lines:
            lines = [""]
    return "\n".join(lines)


# --- The properties ---------------------------------------------------------------------------


def _assert_spanish(message: str) -> None:
    assert message.strip(), "a problem without a message"
    assert _INTERNAL not in message, message
    without_values = re.sub(r"«[^»]*»", "", message)
    english = _ENGLISH.search(without_values)
    assert english is None, f"English in a message: {message!r}"


def _assert_safe_for_the_engine(config: Config) -> None:
    """What load_config accepts, procesar can use: no NUL paths, dates it can compute with."""
    for value in (config.general.database, config.general.documents_dir):
        assert value is None or "\x00" not in str(value)
    names: dict[tuple[str, str], str] = {}
    for account in config.accounts.values():
        assert 1 <= account.port <= 65535
        for text in (account.host, account.username, account.provider, account.processed_folder, account.failed_folder):
            assert text.isprintable(), repr(text)
        assert account.ca_file is None or "\x00" not in str(account.ca_file)
        parse_secret_ref(account.secret_ref)
        if account.password_expiry is not None:
            moment = datetime.combine(account.password_expiry, time(), account.tzinfo)
            assert moment - timedelta(days=366) < moment + timedelta(days=366)
        mailbox = (account.host.rstrip(".").casefold(), account.username.casefold())
        assert mailbox not in names, "two accounts on one mailbox were accepted"
        names[mailbox] = account.id


def _check(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.toml"
        path.write_text(text, encoding="utf-8")
        try:
            config: Config | None = load_config(path)
        except ConfigProblems as problems:
            config = None
            assert problems.problems
            for problem in problems.problems:
                _assert_spanish(problem.message)
                assert problem.key
        except ConfigError as error:  # unreadable as a whole (here: only too large)
            config = None
            _assert_spanish(str(error))
        if config is not None:
            _assert_safe_for_the_engine(config)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["--config", str(path), "validar"])
        printed = out.getvalue() + err.getvalue()
        assert code in (0, 1), printed
        assert "Traceback" not in printed
        assert _INTERNAL not in printed
        if config is None:
            assert code == 1, printed  # validar never passes what procesar refuses
        assert all(char.isprintable() or char in "\n" for char in printed), repr(printed)


@HOSTILE
@given(generated_documents())
def test_generated_documents_end_in_a_config_or_spanish_problems(text: str) -> None:
    _check(text)


@HOSTILE
@given(mutated_documents())
@example("x = " + "[" * 3000 + "]" * 3000)
@example(VALID_TEXT.replace("2027-03-31", "0001-01-01"))
@example(VALID_TEXT.replace('"/var/lib/tui-recepcion/recepcion.db"', '"/var/\\u0000db"'))
@example(VALID_TEXT.replace("puerto = 993", "puerto = " + "9" * 5000))
@example(VALID_TEXT.replace('"keyring"', '"archivo:/etc/\\u0000clave"'))
@example(VALID_TEXT + "\n" + VALID_TEXT[VALID_TEXT.index("[cuentas.principal]"):].replace("cuentas.principal", "cuentas.copia"))
def test_mutations_of_a_valid_config_end_in_a_config_or_spanish_problems(text: str) -> None:
    _check(text)


@HOSTILE
@given(st.text(max_size=300))
def test_any_text_at_all(text: str) -> None:
    _check(text)


def test_the_valid_base_is_valid() -> None:
    """The mutations start from a file that passes, so a problem found comes from the mutation."""
    config, problems = parse_config(VALID_TEXT, Path("config.toml"))
    assert problems == [] and config is not None


# --- A real process ----------------------------------------------------------------------------

_PROCESS_FILES = {
    "anidado.toml": "x = " + "[" * 100_000 + "]" * 100_000 + "\n",
    "tablas_en_linea.toml": "x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n",
    "fecha.toml": VALID_TEXT.replace("2027-03-31", "0001-01-01"),
    "nul.toml": VALID_TEXT.replace('"/var/lib/tui-recepcion/recepcion.db"', '"/var/\\u0000db"'),
    "numero.toml": VALID_TEXT.replace("puerto = 993", "puerto = " + "9" * 5000),
    "nul_crudo.toml": VALID_TEXT + "\x00\n",
}


def test_validar_in_a_real_process_never_prints_a_traceback(tmp_path: Path) -> None:
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for name, text in _PROCESS_FILES.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "-m", "tui_recepcion", "--config", str(path), "validar"],
            capture_output=True, text=True, timeout=60, cwd=REPO, env=environment,
        )
        printed = result.stdout + result.stderr
        assert result.returncode == 1, (name, printed)
        assert "Traceback" not in printed, (name, printed)
        assert f"{path}:" in printed, (name, printed)  # located: file and line
