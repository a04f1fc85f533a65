"""The layers of docs/architecture.md are enforced, not hoped for.

`lint-imports` (run by scripts/test before the suite) checks the contracts in pyproject.toml;
these tests prove that a back-import really breaks them, and that importing the OAuth2
package has no side effect on any other module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(root)},  # the copy, not the installed package
    )


def copy_of_the_project(tmp_path: Path) -> Path:
    root = tmp_path / "proyecto"
    shutil.copytree(REPO / "tui_recepcion", root / "tui_recepcion", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_contracts_hold_on_the_code_as_it_is(tmp_path: Path) -> None:
    result = lint_imports(copy_of_the_project(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "back_import", "broken"),
    [
        ("dian/limits.py", "import tui_recepcion.store", "tui_recepcion.dian.limits -> tui_recepcion.store"),
        ("engine/pipeline.py", "import textual", "Only the interface knows Textual BROKEN"),
    ],
    ids=["dian-importa-el-almacen", "motor-importa-textual"],
)
def test_a_back_import_breaks_a_contract(tmp_path: Path, module: str, back_import: str, broken: str) -> None:
    root = copy_of_the_project(tmp_path)
    path = root / "tui_recepcion" / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{back_import}  # noqa: E402,F401\n", encoding="utf-8")
    result = lint_imports(root)
    assert result.returncode != 0
    assert broken in result.stdout


def test_importing_oauth_changes_no_other_module() -> None:
    probe = """
import sys, importlib, pkgutil
import tui_recepcion
names = [m.name for m in pkgutil.walk_packages(tui_recepcion.__path__, "tui_recepcion.")
         if not m.name.startswith(("tui_recepcion.oauth", "tui_recepcion.ui", "tui_recepcion.cli",
                                   "tui_recepcion.accounts", "tui_recepcion.providers", "tui_recepcion.engine",
                                   "tui_recepcion.alerts", "tui_recepcion.demo", "tui_recepcion.testing",
                                   "tui_recepcion.__main__"))]
for name in names:
    importlib.import_module(name)
before = {name: dict(vars(sys.modules[name])) for name in names}
import tui_recepcion.oauth
changed = [name for name in names
           if {k: id(v) for k, v in vars(sys.modules[name]).items()} != {k: id(v) for k, v in before[name].items()}]
print("changed:", changed)
"""
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "changed: []"
