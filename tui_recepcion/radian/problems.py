"""The problems of sending RADIAN events, each with a Spanish message that never holds a secret."""

from __future__ import annotations

from typing import Literal

from tui_recepcion.errors import RecepcionError

RefusalCode = Literal[
    "orden", "confirmacion_requerida", "aceptacion_en_lote", "documento_desconocido",
    "empresa_sin_configurar", "datos_incompletos", "ya_registrado", "en_curso", "tipo_no_enviable",
    "documento_ajeno",
]


class RadianError(RecepcionError):
    """Building, signing or sending an event failed; `transient` says whether a retry may work."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient

    def __repr__(self) -> str:
        return f"{type(self).__name__}(transient={self.transient}, message={str(self)!r})"


class SendRefused(RecepcionError):
    """One of the rules that protect the company refused the event before anything was signed."""

    def __init__(self, code: RefusalCode, message: str) -> None:
        super().__init__(message)
        self.code: RefusalCode = code

    def __repr__(self) -> str:
        return f"SendRefused(code={self.code!r}, message={str(self)!r})"
