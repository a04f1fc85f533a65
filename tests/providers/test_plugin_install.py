"""The example plugin really installs with pip and is found through its entry point.

pip installs a copy of plugins/tui-recepcion-zoho into a `--target` directory (offline:
no index, no build isolation); a fresh interpreter with that directory on PYTHONPATH
then sees the package's dist-info and its `tui_recepcion` entry point, exactly as after
a `pip install` into the application's environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "plugins" / "tui-recepcion-zoho"
PLUGIN_VERSION = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]["version"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment variables for a subprocess that sees the installed plugin."""
    work = tmp_path_factory.mktemp("zoho")
    source = work / "fuente"
    # Building in a copy keeps build/ and *.egg-info out of the repository.
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = work / "site"
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
            "--no-build-isolation", "--target", str(target), str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    env = {k: v for k, v in os.environ.items() if k != "TUI_RECEPCION_BLOQUEAR_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(target), env.get("PYTHONPATH")]))
    return env


def run_cli(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui_recepcion", *args], env=env, cwd=cwd, capture_output=True, text=True
    )


def test_installed_plugin_is_listed_with_its_distribution_as_origin(installed, tmp_path):
    result = run_cli(installed, "proveedores", "--formato", "json", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    providers = {p["id"]: p for p in json.loads(result.stdout)}
    assert list(providers)[:3] == ["outlook", "gmail", "generic"]
    zoho = providers["zoho"]
    assert zoho["origen"] == f"tui-recepcion-zoho {PLUGIN_VERSION}"
    assert zoho["complemento"] == "zoho"
    assert zoho["servidores"]["imap"] == {"servidor": "imap.zoho.com", "puerto": 993, "seguridad": "ssl"}
    assert providers["zoho-eu"]["servidores"]["smtp"]["servidor"] == "smtp.zoho.eu"
    assert "Fallas" not in result.stderr


def test_installed_plugin_can_be_blocked_by_its_entry_point_name(installed, tmp_path):
    env = dict(installed, TUI_RECEPCION_BLOQUEAR_PLUGINS="zoho")

    result = run_cli(env, "proveedores", cwd=tmp_path)

    assert result.returncode == 0
    assert "zoho" not in result.stdout
    assert "Complementos bloqueados por TUI_RECEPCION_BLOQUEAR_PLUGINS: zoho" in result.stderr


def test_the_plugins_own_tests_pass_against_the_installed_package(installed, tmp_path):
    # Run from an unrelated directory so the package is imported from the installation.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(PLUGIN / "tests")],
        env=installed,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
