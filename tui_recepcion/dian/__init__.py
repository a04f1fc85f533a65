"""DIAN electronic documents: from raw email bytes to documents or a failure reason.

The public entry points are `extract_message` and `extract_file`; they never raise.
"""

from tui_recepcion.dian.extract import extract_file, extract_message, internal_error
from tui_recepcion.dian.limits import DEFAULT_LIMITS, Limits
from tui_recepcion.dian.model import Document, Extraction, Failure, Party, SavedFile, Tax
from tui_recepcion.dian.reasons import REASONS, Reason, describe

__all__ = [
    "DEFAULT_LIMITS",
    "REASONS",
    "Document",
    "Extraction",
    "Failure",
    "Limits",
    "Party",
    "Reason",
    "SavedFile",
    "Tax",
    "describe",
    "extract_file",
    "extract_message",
    "internal_error",
]
