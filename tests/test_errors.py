"""Messages a technician reads never name a Python class (issue: «no exception class names»)."""

from __future__ import annotations

import pytest

from tui_recepcion.errors import InternalFault

UNFORESEEN = [ConnectionError("secreto en el texto"), KeyError("x"), ZeroDivisionError(), RuntimeError("None")]


@pytest.mark.parametrize("error", UNFORESEEN, ids=lambda error: type(error).__name__)
def test_an_internal_fault_names_where_it_happened_but_not_the_exception(error: BaseException) -> None:
    message = str(InternalFault.from_exception(error, "la cuenta «principal»"))
    assert "la cuenta «principal»" in message and "TUI_RECEPCION_DEPURAR=1" in message
    assert type(error).__name__ not in message
    assert "secreto" not in message and "None" not in message


@pytest.mark.parametrize("error", [*UNFORESEEN, None], ids=lambda error: type(error).__name__)
def test_a_failed_worker_is_described_without_its_class(error: BaseException | None) -> None:
    from tui_recepcion.ui.screen import describe_error

    message = describe_error(error)
    assert message.startswith("Error inesperado") and "None" not in message
    if error is not None:
        assert type(error).__name__ not in message and "secreto" not in message

