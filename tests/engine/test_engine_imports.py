"""The engine never imports Textual: it must run headless as a service (docs/architecture.md, «Engine and UI»)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import tui_recepcion

REPO = Path(__file__).resolve().parents[2]
# Everything a headless service loads: every package but the interface (ui, cli).
ENGINE_ROOTS = ("config", "secrets", "errors", "vocabulary", "events", "accounts", "mailbox", "engine", "dian",
                "providers", "store", "alerts", "oauth", "output", "paths", "demo")


def engine_modules() -> list[str]:
    names: list[str] = []
    for info in pkgutil.iter_modules(tui_recepcion.__path__):
        if info.name not in ENGINE_ROOTS:
            continue
        name = f"tui_recepcion.{info.name}"
        names.append(name)
        if info.ispkg:
            package = __import__(name, fromlist=["__path__"])
            names += [sub.name for sub in pkgutil.walk_packages(package.__path__, prefix=f"{name}.")]
    return sorted(names)


def modules_loaded_by(imports: list[str]) -> set[str]:
    code = "import importlib, json, sys\n" + "".join(f"importlib.import_module({name!r})\n" for name in imports)
    code += "print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return set(json.loads(result.stdout))


def test_engine_modules_are_found() -> None:
    found = engine_modules()
    for required in ("tui_recepcion.config", "tui_recepcion.secrets", "tui_recepcion.engine.pipeline",
                     "tui_recepcion.engine.service", "tui_recepcion.mailbox.imap", "tui_recepcion.store.ledger"):
        assert required in found


def test_importing_the_engine_does_not_import_textual() -> None:
    loaded = modules_loaded_by(engine_modules())
    assert not {name for name in loaded if name == "textual" or name.startswith("textual.")}


@pytest.mark.parametrize("probe", ["textual.app"])
def test_the_check_detects_textual(probe: str) -> None:
    assert "textual" in modules_loaded_by([probe])
