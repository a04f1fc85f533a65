"""docs/plugins.md documents every hook in the hook specification, with its signature."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tui_recepcion.providers import hookspecs

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "plugins.md"


def hook_signatures(spec_source: str) -> dict[str, list[str]]:
    """Each function decorated with `hookspec` in the source, with its argument names."""
    hooks = {}
    for node in ast.parse(spec_source).body:
        if isinstance(node, ast.FunctionDef) and any(_is_hookspec(d) for d in node.decorator_list):
            hooks[node.name] = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
    return hooks


def _is_hookspec(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Name) and target.id == "hookspec"


def undocumented_hooks(spec_source: str, docs: str) -> list[str]:
    """Hooks without a heading `name(arguments…)` in the docs, or missing an argument there."""
    headings = [line for line in docs.splitlines() if line.startswith("#")]
    problems = []
    for name, arguments in hook_signatures(spec_source).items():
        documented = [
            match.group(1)
            for line in headings
            if (match := re.search(rf"\b{name}\(([^)]*)\)", line))
        ]
        if not documented:
            problems.append(name)
            continue
        named = {part.strip() for part in documented[0].split(",") if part.strip()}
        problems += [f"{name}: falta el argumento {arg}" for arg in arguments if arg not in named]
    return problems


SPEC_SOURCE = Path(hookspecs.__file__).read_text(encoding="utf-8")


def test_the_hook_specification_is_found():
    assert set(hook_signatures(SPEC_SOURCE)) == {
        name for name in dir(hookspecs) if name.startswith("recepcion_")
    }
    assert len(hook_signatures(SPEC_SOURCE)) >= 3


def test_every_hook_is_documented_with_its_signature():
    assert undocumented_hooks(SPEC_SOURCE, DOCS.read_text(encoding="utf-8")) == []


def test_the_check_catches_an_undocumented_hook_and_a_missing_argument():
    extra = SPEC_SOURCE + (
        "\n\n@hookspec(firstresult=True)\n"
        "def recepcion_oauth2_token(provider, account):\n    ...\n"
    )
    docs = DOCS.read_text(encoding="utf-8").replace(
        "recepcion_suggest_provider(email, domain)", "recepcion_suggest_provider(email)"
    )

    assert undocumented_hooks(extra, docs) == [
        "recepcion_suggest_provider: falta el argumento domain",
        "recepcion_oauth2_token",
    ]
