"""DIAN's codes and the NIT check digit live in `dian`, defined once."""

from __future__ import annotations

import pytest

from tui_recepcion.dian import codes
from tui_recepcion.dian.nit import check_digit, split_nit


def test_check_digit_of_published_nits() -> None:
    assert check_digit("890903858") == "7"
    assert check_digit(codes.DIAN_NIT) == "4"


def test_check_digit_rejects_what_is_not_a_nit() -> None:
    with pytest.raises(ValueError):
        check_digit("900.123.456")


def test_split_nit() -> None:
    assert split_nit("900.123.456-7") == ("900123456", "7")
    assert split_nit(" 900123456 ") == ("900123456", None)


def test_response_codes_normalize() -> None:
    assert codes.normalize_response_code("002") == codes.VALIDATED
    assert codes.normalize_response_code(None) is None


def test_stored_types_have_names() -> None:
    assert all(codes.document_type_name(code) for code in codes.STORED_DOCUMENT_TYPES)
    assert codes.document_type_name("91") == "Nota crédito"
    assert codes.document_type_name("77") == ""


def test_codes_are_shown_with_their_meaning() -> None:
    assert codes.document_type_label("01") == "01 Factura de venta"
    assert codes.document_type_label("02") == "02 Factura de exportación"
    assert codes.document_type_label("04", short=True) == "04 Conting. DIAN"
    assert codes.document_type_label("20") == "20 Documento equivalente POS"
    assert codes.document_type_label("60") == "60 Servicios públicos"
    assert codes.document_type_label("77") == "77"
    assert codes.response_label("02") == codes.response_label("002") == "02 Validado"
    assert codes.response_label("04") == "04 Rechazado"
    assert codes.response_label(None) == "—"

