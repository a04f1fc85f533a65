"""Where the store, extracted files and account locks live.

The one place that resolves these paths: an explicit command-line value wins, then the
config's `[general]` keys (`base_datos`, `carpeta_documentos`), then the platform data dir.
"""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_path

from tui_recepcion.config import APP_NAME, Config


def data_dir() -> Path:
    return user_data_path(APP_NAME)


def database_path(config: Config | None = None, explicit: str | Path | None = None) -> Path:
    """The SQLite file: `--base-datos`, else `[general] base_datos`, else the data dir."""
    if explicit:
        return Path(explicit).expanduser()
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
    """Per-account processing locks, next to the database they protect."""
    return database_path(config).parent / "bloqueos"
