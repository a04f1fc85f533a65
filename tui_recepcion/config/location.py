"""Where config.toml lives: `--config`, $TUI_RECEPCION_CONFIG or the platform directory."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "tui-recepcion"
CONFIG_ENV_VAR = "TUI_RECEPCION_CONFIG"
ACCOUNTS_DIR_NAME = "cuentas.d"  # one account per file, next to config.toml


def default_config_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def resolve_config_path(cli_value: str | os.PathLike[str] | None) -> Path:
    """`--config`, else $TUI_RECEPCION_CONFIG, else the platform config directory."""
    given = cli_value or os.environ.get(CONFIG_ENV_VAR)
    if not given:
        return default_config_path()
    try:
        return Path(given).expanduser()
    except RuntimeError:  # "~nadie/config.toml": left as written; reading it says it does not exist
        return Path(given)


def accounts_dir(config_path: Path) -> Path:
    """The folder of account files (`cuentas.d/ID.toml`) that belongs to `config_path`."""
    return config_path.parent / ACCOUNTS_DIR_NAME
