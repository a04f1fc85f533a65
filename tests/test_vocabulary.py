"""The one plural helper: «1 correo», «2 correos»."""

from __future__ import annotations

from tui_recepcion.vocabulary import counted


def test_counts_take_the_right_number() -> None:
    assert counted(1, "correo", "correos") == "1 correo"
    assert [counted(n, "correo", "correos") for n in (0, 2, 21)] == ["0 correos", "2 correos", "21 correos"]
    assert counted(1, "nota crédito", "notas crédito") == "1 nota crédito"
