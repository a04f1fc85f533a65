"""Where the store, extracted files and account locks live.

The one place that resolves these paths: an explicit command-line value wins, then (for the
store) the environment variable `TUI_RECEPCION_BASE_DATOS`, then the config's `[general]`
keys (`base_datos`, `carpeta_documentos`), then the platform data dir. The store is an
SQLite file or a PostgreSQL URL (`postgresql://…`); the variable keeps a URL's password out
of config.toml.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_path

from tui_recepcion.config import APP_NAME, Config
from tui_recepcion.store import is_postgres_url

DATABASE_VARIABLE = "TUI_RECEPCION_BASE_DATOS"


def data_dir() -> Path:
    return user_data_path(APP_NAME)


def database_path(config: Config | None = None, explicit: str | Path | None = None, *,
                  use_environment: bool = True) -> Path | str:
    """The store: `--base-datos`, else $TUI_RECEPCION_BASE_DATOS, else `[general] base_datos`,
    else the data dir's SQLite file. A `str` only for a PostgreSQL URL; a file is a `Path`."""
    variable = os.environ.get(DATABASE_VARIABLE, "").strip() if use_environment else ""
    for value in (explicit, variable):
        if value:
            return str(value) if is_postgres_url(value) else Path(value).expanduser()
    if config is not None and config.general.database is not None:
        return config.general.database
    return data_dir() / "recepcion.db"


def documents_dir(config: Config | None = None, explicit: str | Path | None = None) -> Path:
    """Where extracted XML and PDF files are kept."""
    if explicit:
        return Path(explicit).expanduser()
    if config is not None and config.general.documents_dir is not None:
        return config.general.documents_dir
    return data_dir() / "documentos"


def lock_dir(config: Config | None = None) -> Path:
    """Per-account processing locks, next to the SQLite file they protect (in the data dir
    when the store is on PostgreSQL)."""
    database = database_path(config)
    return (database.parent if isinstance(database, Path) else data_dir()) / "bloqueos"
