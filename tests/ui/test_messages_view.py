"""The messages view's detail of one ledger entry."""

from __future__ import annotations

from datetime import UTC, datetime

from tui_recepcion.store import LedgerEntry
from tui_recepcion.ui.messages import detail_lines


def entry(**changes) -> LedgerEntry:
    values = dict(
        account="principal", source_key="imap:1:7", message_id="<a@b>", subject="901;EMPRESA;F1;01;X",
        status="fallido", reason="receptor_no_coincide", destination="Fallidos", cufes=(),
        created_at=datetime(2026, 11, 28, 12, 0, tzinfo=UTC), forwarded_at=None, disposed_at=None,
        detail="El documento está dirigido al NIT 800000001.",
    )
    values.update(changes)
    return LedgerEntry(**values)


def test_detail_names_the_reason_in_spanish() -> None:
    lines = detail_lines(entry(), "2026-11-28 07:00")
    assert "Motivo: receptor_no_coincide — El documento está dirigido a un NIT distinto del configurado para la cuenta." in lines
    assert "Detalle: El documento está dirigido al NIT 800000001." in lines
    assert "Destino: Fallidos" in lines


def test_detail_shows_where_the_subject_disagreed_with_the_xml() -> None:
    mismatch = "numero: asunto «F1» ≠ XML «F2»"
    lines = detail_lines(entry(status="procesado", reason=None, detail=None, subject_mismatches=(mismatch,)), "x")
    assert f"El asunto no coincide con el XML (manda el XML): {mismatch}" in lines
    assert not any(line.startswith("Motivo:") for line in lines)
