from __future__ import annotations

import pytest

from tui_recepcion.dian.subject import parse_subject


@pytest.mark.parametrize(
    ("subject", "nit", "name", "number", "tipo", "trade"),
    [
        ("890903858;INDUSTRIA NACIONAL DE GASEOSAS S.A.S.;FVNB605276;01;Postobón", "890903858",
         "INDUSTRIA NACIONAL DE GASEOSAS S.A.S.", "FVNB605276", "01", "Postobón"),
        ("  900181067 ; H. RINCON Y CIA. S. EN C. ; RINC430 ; 01 ; RINCON ; Inmobiliario", "900181067",
         "H. RINCON Y CIA. S. EN C.", "RINC430", "01", "RINCON"),
        ("900181067 H. RINCON Y CIA. S. EN C. RINC430 01 RINCON", "900181067",
         "H. RINCON Y CIA. S. EN C.", "RINC430", "01", "RINCON"),
        ("RV: 800.197.268-4;DIAN;NC3;91", "800197268", "DIAN", "NC3", "91", None),
        ("900181067;H. RINCON", "900181067", "H. RINCON", None, None, None),
        ("900181067;;RINC430;1;", "900181067", None, "RINC430", "01", None),
    ],
)
def test_subject_variants(subject, nit, name, number, tipo, trade) -> None:
    hint = parse_subject(subject)
    assert hint is not None
    assert (hint.nit, hint.name, hint.number, hint.tipo, hint.trade_name) == (nit, name, number, tipo, trade)


def test_business_line_is_the_sixth_field() -> None:
    hint = parse_subject("900181067;RINCON;RINC430;01;Rincón;Arrendamientos")
    assert hint is not None and hint.business_line == "Arrendamientos"


@pytest.mark.parametrize("subject", [None, "", "Factura de julio", "Hola; qué tal", "12;x;y"])
def test_subjects_that_are_not_dian_hints(subject) -> None:
    assert parse_subject(subject) is None
