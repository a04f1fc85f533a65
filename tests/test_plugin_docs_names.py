"""Every name docs/plugins.md uses exists, and the docs describe the attributes authors get.

The guide is read as code: its fenced Python blocks and its inline code spans are parsed,
and each import, public name, attribute chain (`account.oauth.client_id`), constructor
keyword and documented method signature is checked against the real objects. The other
direction holds too: every public name of `tui_recepcion.providers` and
`tui_recepcion.testing`, and every field of the documented classes, is in the guide.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib
import inspect
import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tui_recepcion.providers as providers
import tui_recepcion.testing as testing

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "plugins.md"

# Variables the guide uses in its examples and prose, and what they really are.
ROOTS: dict[str, Any] = {
    "account": providers.Account,
    "registro": providers.ProviderRegistry,
    "resolver": providers.Resolver,
    "tokens": providers.TokenStore,
    "ui": providers.AuthorizationUI,
    "secreto": providers.Secret,
}
# Protocols whose methods the guide lists by signature (`authorize(account, ui, tokens)`):
# a flow is written against these names.
SIGNATURE_OWNERS = (providers.OAuthFlow, providers.AuthorizationUI)
# Names the guide cites that are not public API, with where they live.
OTHER_HOMES = {"TableResolver": "tests.providers.provider_support", "Stage": "tui_recepcion.providers.manager"}
PUBLIC_MODULES = (providers, testing)


# ---- reading the guide ------------------------------------------------------------------


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def inline_spans(text: str) -> list[str]:
    """The `code` spans outside fenced blocks."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.findall(r"`([^`\n]+)`", prose)


def parsed_span(span: str) -> ast.AST | None:
    """An inline span as a Python expression (a trailing `-> type` dropped), or None."""
    code = re.sub(r"\s*->.*$", "", span).replace("\\|", "|")
    try:
        return ast.parse(code, mode="eval")
    except SyntaxError:
        return None


def code_trees(text: str) -> Iterator[ast.AST]:
    for block in python_blocks(text):
        yield ast.parse(block)
    for span in inline_spans(text):
        tree = parsed_span(span)
        if tree is not None:
            yield tree


# ---- resolving names --------------------------------------------------------------------


def public_name(name: str) -> Any:
    for module in PUBLIC_MODULES:
        if name in module.__all__:
            return getattr(module, name)
    if name in OTHER_HOMES:
        return getattr(importlib.import_module(OTHER_HOMES[name]), name)
    raise LookupError(name)


def _unwrap(annotation: Any) -> Any:
    """`X | None` → X; anything else unchanged."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        others = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(others) == 1:
            return others[0]
    return annotation


def attribute_type(owner: Any, name: str) -> Any:
    """The type of `owner.name` when it is a field or property; `...` for a method or a value
    whose type does not matter; raises AttributeError when `owner` has no such attribute."""
    if inspect.isclass(owner):
        hints = typing.get_type_hints(owner)
        if name in hints:
            return _unwrap(hints[name])
        member = inspect.getattr_static(owner, name)  # AttributeError when missing
        if isinstance(member, property) and member.fget is not None:
            return _unwrap(typing.get_type_hints(member.fget).get("return", ...))
        return ...
    getattr(owner, name)
    return ...


def attribute_chains(tree: ast.AST) -> Iterator[tuple[str, list[str]]]:
    """`root.a.b` chains in the tree, outermost only, as (root, [a, b])."""
    inner: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and id(node) not in inner:
            parts: list[str] = []
            current: ast.expr = node
            while isinstance(current, ast.Attribute):
                parts.insert(0, current.attr)
                current = current.value
                inner.add(id(current))
            if isinstance(current, ast.Name):
                yield current.id, parts


def imported_names(tree: ast.AST) -> dict[str, Any]:
    """What the tree's `from tui_recepcion… import X` statements bind (checked elsewhere)."""
    bound: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tui_recepcion."):
            try:
                module = importlib.import_module(node.module or "")
            except ImportError:
                continue  # reported by import_problems
            for alias in node.names:
                if hasattr(module, alias.name):
                    bound[alias.asname or alias.name] = getattr(module, alias.name)
    return bound


# ---- the checks -------------------------------------------------------------------------


def import_problems(tree: ast.AST) -> list[str]:
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
            names: list[tuple[str, str]] = []
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module]
            names = [(node.module, alias.name) for alias in node.names]
        else:
            continue
        for module in modules:
            if module != "tui_recepcion" and not module.startswith("tui_recepcion."):
                continue  # the plugin being written in the example, or another library
            try:
                found = importlib.import_module(module)
            except ImportError as error:
                problems.append(f"import {module}: {error}")
                continue
            problems += [
                f"from {module} import {name}: no existe" for of, name in names if of == module and not hasattr(found, name)
            ]
    return problems


def chain_problems(tree: ast.AST) -> list[str]:
    problems = []
    roots = {**ROOTS, **imported_names(tree)}
    for root, parts in attribute_chains(tree):
        if root not in roots:
            continue
        owner = roots[root]
        walked = root
        for part in parts:
            if owner is ...:
                break
            try:
                owner = attribute_type(owner, part)
            except AttributeError:
                problems.append(f"{walked}.{part}: {getattr(owner, '__name__', owner)} no tiene «{part}»")
                break
            walked += f".{part}"
    return problems


def _parameters(target: Any) -> list[inspect.Parameter]:
    parameters = list(inspect.signature(target).parameters.values())
    return [p for p in parameters if p.name != "self"]


def call_problems(tree: ast.AST) -> list[str]:
    """Calls of public classes: keywords must exist; for dataclasses, positional names too
    (`ServerDefaults(host, port, security)` names its fields). Bare calls of a documented
    protocol method must name its parameters exactly."""
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        name = node.func.id
        try:
            target = public_name(name)
        except LookupError:
            target = None
        if target is not None and callable(target):
            parameters = _parameters(target)
            accepted = {p.name for p in parameters}
            takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters)
            problems += [
                f"{name}(…{k.arg}=…): no existe ese argumento"
                for k in node.keywords
                if k.arg is not None and k.arg not in accepted and not takes_any
            ]
            if dataclasses.is_dataclass(target):
                fields = [f.name for f in dataclasses.fields(target)]
                problems += [
                    f"{name}({arg.id}): no es un campo de {name}"
                    for arg in node.args
                    if isinstance(arg, ast.Name) and arg.id not in fields
                ]
            continue
        owners = [owner for owner in SIGNATURE_OWNERS if name in dir(owner) and not name.startswith("_")]
        if len(owners) == 1 and all(isinstance(arg, ast.Name) for arg in node.args):
            expected = [p.name for p in _parameters(getattr(owners[0], name))]
            given = [arg.id for arg in node.args]  # type: ignore[attr-defined]
            if given != expected:
                problems.append(f"{name}({', '.join(given)}): en {owners[0].__name__} es {name}({', '.join(expected)})")
    return problems


def class_name_problems(spans: list[str]) -> list[str]:
    """Every class-like name the guide writes in code exists where the guide says."""
    problems = []
    for span in spans:
        match = re.fullmatch(r"([A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*)(\(.*\))?", span)
        if match is None or hasattr(builtins, match.group(1)) or hasattr(typing, match.group(1)):
            continue  # None, True, AssertionError, Literal…
        try:
            public_name(match.group(1))
        except LookupError:
            problems.append(f"{match.group(1)}: no está en tui_recepcion.providers ni en tui_recepcion.testing")
        except AttributeError:
            problems.append(f"{match.group(1)}: no existe en {OTHER_HOMES[match.group(1)]}")
    return problems


def module_path_problems(spans: list[str]) -> list[str]:
    """`tui_recepcion.x.y` spans name a module, or an attribute of one."""
    problems = []
    for span in spans:
        if not re.fullmatch(r"tui_recepcion(\.\w+)+", span):
            continue
        parts = span.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                found: Any = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            try:
                for part in parts[cut:]:
                    found = getattr(found, part)
            except AttributeError:
                problems.append(f"{span}: no existe")
            break
        else:
            problems.append(f"{span}: no se puede importar")
    return problems


def guide_problems(text: str) -> list[str]:
    problems = []
    spans = inline_spans(text)
    for tree in code_trees(text):
        problems += import_problems(tree) + chain_problems(tree) + call_problems(tree)
    problems += class_name_problems(spans) + module_path_problems(spans)
    # The same inline `from … import …` line may appear in prose.
    for line in re.findall(r"`(from tui_recepcion[\w.]* import [\w, ]+)`", text):
        problems += import_problems(ast.parse(line))
    return problems


GUIDE = DOCS.read_text(encoding="utf-8")


def test_every_name_the_guide_uses_exists() -> None:
    assert guide_problems(GUIDE) == []


def test_the_guide_is_read_as_code() -> None:
    # The checks above only mean something if they see the guide's code.
    assert len(python_blocks(GUIDE)) >= 5
    chains = {f"{root}.{'.'.join(parts)}" for tree in code_trees(GUIDE) for root, parts in attribute_chains(tree)}
    assert {"account.oauth.client_id", "account.username", "registro.providers", "resolver.srv"} <= chains


def test_every_public_name_is_documented() -> None:
    spans = set(inline_spans(GUIDE)) | set(re.findall(r"\b\w+\b", "\n".join(python_blocks(GUIDE))))
    documented = {re.match(r"\w*", span).group(0) for span in spans}  # type: ignore[union-attr]
    missing = [name for module in PUBLIC_MODULES for name in module.__all__ if name not in documented]
    assert missing == []


def _row_names(text: str, after: str) -> set[str]:
    """The backticked names in the first column of the first table after `after`."""
    table = text[text.index(after):].split("\n\n| ", 1)[1].split("\n\n", 1)[0]
    names: set[str] = set()
    for row in table.splitlines()[2:]:
        first = re.split(r"(?<!\\)\|", row)[1]  # "\|" inside a cell is not a column break
        names |= {re.match(r"[\w.]+", name).group(0) for name in re.findall(r"`([^`]+)`", first)}  # type: ignore[union-attr]
    return names


def test_the_provider_table_lists_exactly_the_provider_fields() -> None:
    fields = {field.name for field in dataclasses.fields(providers.Provider)}
    assert _row_names(GUIDE, "**`Provider(...)`**") == fields


def test_the_discovered_server_attributes_are_its_fields() -> None:
    sentence = re.search(r"`DiscoveredServer` tiene (.*?)\. El orden", GUIDE, flags=re.S)
    assert sentence is not None
    named = {name for name in re.findall(r"`(\w+)`", sentence.group(1)) if not name.startswith('"')}
    named -= {"srv", "nombre_comun"}  # the values of `source`
    assert named == {field.name for field in dataclasses.fields(providers.DiscoveredServer)}


def test_the_help_fields_are_the_real_ones() -> None:
    row = next(line for line in GUIDE.splitlines() if line.startswith("| `field_help` |"))
    assert set(re.findall(r"`(\w+)`", row)) - {"field_help"} == set(providers.HELP_FIELDS)


def test_the_flow_members_are_the_protocol_members() -> None:
    members = {name.split("(")[0] for name in _row_names(GUIDE, "El flujo cumple el protocolo `OAuthFlow`")}
    protocol = {name for name in vars(providers.OAuthFlow) if not name.startswith("_")}
    protocol |= set(typing.get_type_hints(providers.OAuthFlow))
    assert members == protocol


def test_the_account_attributes_table_names_real_attributes() -> None:
    rows = _row_names(GUIDE, "Los que un flujo\nsuele usar:")
    assert rows and all(row.startswith("account.") for row in rows)
    assert chain_problems(ast.parse("\n".join(sorted(rows)))) == []


def test_the_checks_catch_a_wrong_name() -> None:
    wrong = GUIDE + (
        "\n```python\nfrom tui_recepcion.providers import Nada\nfrom tui_recepcion.nada import x\n```\n"
        "La `autoridad` está en `account.oauth.autoridad`, el usuario en `account.usuario`; "
        "`ServerDefaults(servidor, port, security)`, `AccessToken(valor=1)`, "
        "`authorize(cuenta, ui, tokens)`, `ProveedorFalso`, `tui_recepcion.providers.nada`.\n"
    )
    assert guide_problems(wrong) == [
        "from tui_recepcion.providers import Nada: no existe",
        "import tui_recepcion.nada: No module named 'tui_recepcion.nada'",
        "account.oauth.autoridad: OAuthSettings no tiene «autoridad»",
        "account.usuario: Account no tiene «usuario»",
        "ServerDefaults(servidor): no es un campo de ServerDefaults",
        "AccessToken(…valor=…): no existe ese argumento",
        "authorize(cuenta, ui, tokens): en OAuthFlow es authorize(account, ui, tokens)",
        "ProveedorFalso: no está en tui_recepcion.providers ni en tui_recepcion.testing",
        "tui_recepcion.providers.nada: no existe",
    ]
