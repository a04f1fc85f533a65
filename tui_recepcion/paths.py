"""Where the store and the extracted files live when nothing else says so.

The one place that resolves these paths, so that reading `[general] base_datos` and
`carpeta_documentos` from the config can be added here later without touching callers.
"""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_path

APP_NAME = "tui-recepcion"


def data_dir() -> Path:
    return user_data_path(APP_NAME)


def database_path(explicit: str | Path | None = None) -> Path:
    """The SQLite file: the explicit value (`--base-datos`), else the platform data dir."""
    return Path(explicit).expanduser() if explicit else data_dir() / "recepcion.db"


def documents_dir(explicit: str | Path | None = None) -> Path:
    """Where extracted XML and PDF files are kept."""
    return Path(explicit).expanduser() if explicit else data_dir() / "documentos"
