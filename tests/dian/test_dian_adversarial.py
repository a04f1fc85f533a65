"""Hostile and broken input ends in its reason code and leaves the process unharmed."""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import pytest

from tests.support.hostile_payloads import billion_laughs, external_entity, zip_bomb
from tui_recepcion.demo.samples import (
    FAILING_REASONS,
    OTHER_RECEIVER,
    Attachment,
    SampleFactory,
    build_zip,
)
from tui_recepcion.dian.extract import extract_file, extract_message
from tui_recepcion.dian.limits import Limits
from tui_recepcion.dian.model import Extraction
from tui_recepcion.dian.reasons import REASONS, Reason

MiB = 1024 * 1024


def reason(result: Extraction) -> str | None:
    assert (result.failure is None) == bool(result.documents)
    return result.failure.code if result.failure else None


@pytest.mark.parametrize("code", FAILING_REASONS)
def test_each_generated_failure_gives_its_reason(factory: SampleFactory, receiver_nit: str, code: str) -> None:
    mail = factory.failing_email(code)
    result = extract_message(mail.raw, receiver_nit=receiver_nit)
    assert reason(result) == code
    assert result.failure is not None and result.failure.detail
    assert result.message_id  # headers survive a failure


def test_every_reason_has_a_spanish_description() -> None:
    assert set(REASONS) == {code.value for code in Reason}
    assert all(text.endswith(".") and len(text) > 20 for text in REASONS.values())


def test_message_without_attachments(factory: SampleFactory) -> None:
    assert reason(extract_message(factory.email("Factura", []))) == Reason.SIN_ADJUNTOS


def test_unrelated_attachments_are_listed(factory: SampleFactory) -> None:
    raw = factory.email("Factura", [Attachment("factura.rar", b"Rar!\x1a\x07\x00junk", "application/x-rar")])
    result = extract_message(raw)
    assert reason(result) == Reason.SIN_ADJUNTOS
    assert "factura.rar" in result.failure.detail


def test_corrupt_zip(factory: SampleFactory) -> None:
    assert reason(extract_file("f.zip", b"PK\x03\x04" + b"\x00" * 200)) == Reason.ZIP_CORRUPTO


def test_zip_entry_with_bad_crc(factory: SampleFactory) -> None:
    data = bytearray(build_zip([("f.xml", factory.container(factory.document()))]))
    data[60] ^= 0xFF  # inside the deflate stream of the only entry
    assert reason(extract_file("f.zip", bytes(data))) == Reason.ZIP_CORRUPTO


def test_encrypted_entry_is_corrupt_not_a_crash(factory: SampleFactory) -> None:
    data = bytearray(build_zip([("f.xml", factory.container(factory.document()))]))
    data[6] |= 0x01  # general-purpose flag: encrypted (local header)
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x01  # and in the central directory
    assert reason(extract_file("f.zip", bytes(data))) == Reason.ZIP_CORRUPTO


def test_zip_without_xml(factory: SampleFactory) -> None:
    archive = build_zip([("factura.pdf", factory.pdf()), ("leeme.txt", b"hola")])
    assert reason(extract_file("f.zip", archive)) == Reason.ZIP_SIN_XML


def test_zip_bomb_stops_at_the_limit_with_bounded_memory() -> None:
    bomb = zip_bomb(320 * MiB, nested=True)
    assert len(bomb) < 64 * 1024  # a few KB on the wire…
    with zipfile.ZipFile(io.BytesIO(bomb)) as outer:
        inner = zipfile.ZipFile(io.BytesIO(outer.read("factura.zip")))
        assert inner.infolist()[0].file_size >= 300 * MiB  # …that inflate to more than 300 MB
    tracemalloc.start()
    try:
        result = extract_file("bomba.zip", bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reason(result) == Reason.ZIP_EXCEDE_LIMITES
    assert peak < 40 * MiB


def test_total_uncompressed_budget_applies_across_entries(factory: SampleFactory) -> None:
    xml = factory.container(factory.document())
    archive = build_zip([(f"f{i}.xml", xml) for i in range(6)])
    limits = Limits(max_total_uncompressed_bytes=len(xml) * 3)
    assert reason(extract_file("f.zip", archive, limits=limits)) == Reason.ZIP_EXCEDE_LIMITES


def test_too_many_entries() -> None:
    archive = build_zip([(f"e{i}.txt", b"x") for i in range(300)])
    assert reason(extract_file("f.zip", archive)) == Reason.ZIP_EXCEDE_LIMITES


def test_nesting_depth_is_limited(factory: SampleFactory) -> None:
    archive = build_zip([("f.xml", factory.container(factory.document()))])
    for _ in range(4):
        archive = build_zip([("anidado.zip", archive)])
    assert reason(extract_file("f.zip", archive)) == Reason.ZIP_EXCEDE_LIMITES
    assert reason(extract_file("f.zip", archive, limits=Limits(max_zip_depth=6))) is None


def test_oversized_attachment(factory: SampleFactory) -> None:
    raw = factory.email("x", [Attachment("f.zip", b"PK\x03\x04" + b"\x00" * 2048)])
    assert reason(extract_message(raw, limits=Limits(max_attachment_bytes=1024))) == Reason.ZIP_EXCEDE_LIMITES


def test_oversized_message() -> None:
    raw = b"Subject: grande\r\nMessage-ID: <m@x>\r\n\r\n" + b"x" * 5000
    result = extract_message(raw, limits=Limits(max_message_bytes=1000))
    assert reason(result) == Reason.ZIP_EXCEDE_LIMITES
    assert result.subject == "grande"


def test_entry_names_with_dot_dot_are_never_paths(factory: SampleFactory, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    generated = factory.document()
    archive = build_zip([("../../../etc/evil.xml", factory.container(generated)),
                         ("/abs/evil.pdf", factory.pdf(generated))])
    result = extract_file("f.zip", archive)
    assert result.cufes == (generated.cufe,)
    assert list(tmp_path.iterdir()) == []  # extraction writes nothing anywhere


@pytest.mark.parametrize("payload", [billion_laughs(), external_entity()], ids=["billion_laughs", "xxe"])
def test_doctype_and_entities_are_rejected(payload: bytes) -> None:
    result = extract_file("f.xml", payload)
    assert reason(result) == Reason.XML_INVALIDO
    assert "DOCTYPE" in result.failure.detail


def test_doctype_inside_the_embedded_document(factory: SampleFactory) -> None:
    generated = factory.document()
    xml = factory.container(generated, embedded=external_entity().decode())
    assert reason(extract_file("f.xml", xml)) == Reason.DOCUMENTO_EMBEBIDO_INVALIDO


def test_utf16_doctype_is_rejected() -> None:
    text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'
    assert reason(extract_file("f.xml", text.encode("utf-16"))) == Reason.XML_INVALIDO


def test_non_dian_xml() -> None:
    assert reason(extract_file("f.xml", b"<pedido><n>1</n></pedido>")) == Reason.XML_NO_DIAN
    # The right local name in a foreign namespace is not a DIAN document either.
    assert reason(extract_file("f.xml", b'<Invoice xmlns="urn:otro"/>')) == Reason.XML_NO_DIAN


def test_non_dian_annex_does_not_spoil_a_good_message(factory: SampleFactory) -> None:
    generated = factory.document()
    archive = build_zip([("f.xml", factory.container(generated)), ("pedido.xml", b"<pedido/>"),
                         ("roto.xml", b"<a><b></a>")])
    assert extract_file("f.zip", archive).cufes == (generated.cufe,)


def test_broken_embedded_document(factory: SampleFactory) -> None:
    generated = factory.document()
    for embedded in ("", "no es xml", generated.xml.decode()[:500], "<pedido/>"):
        xml = factory.container(generated, embedded=embedded)
        assert reason(extract_file("f.xml", xml)) == Reason.DOCUMENTO_EMBEBIDO_INVALIDO, embedded[:20]


def test_cufe_mismatch_between_container_and_document(factory: SampleFactory) -> None:
    generated, other = factory.document(), factory.document()
    # The first UUID element holding the CUFE is the embedded document's own.
    xml = factory.container(generated).replace(f">{generated.cufe}</cbc:UUID>".encode(),
                                               f">{other.cufe}</cbc:UUID>".encode(), 1)
    result = extract_file("f.xml", xml)
    assert reason(result) == Reason.DOCUMENTO_EMBEBIDO_INVALIDO
    assert "CUFE" in result.failure.detail


@pytest.mark.parametrize("bad", ["", "abc", "g" * 96, "a" * 95])
def test_missing_or_malformed_cufe(factory: SampleFactory, bad: str) -> None:
    generated = factory.document()
    xml = generated.xml.replace(generated.cufe.encode(), bad.encode())
    assert reason(extract_file("f.xml", xml)) == Reason.SIN_CUFE


def test_missing_total_is_an_invalid_document(factory: SampleFactory) -> None:
    generated = factory.document()
    xml = generated.xml.replace(b"PayableAmount", b"OtherAmount")
    assert reason(extract_file("f.xml", xml)) == Reason.DOCUMENTO_EMBEBIDO_INVALIDO


def test_non_numeric_amount_is_an_invalid_document(factory: SampleFactory) -> None:
    generated = factory.document()
    xml = generated.xml.replace(f">{generated.total:.2f}</cbc:PayableAmount>".encode(), b">NaN</cbc:PayableAmount>")
    assert reason(extract_file("f.xml", xml)) == Reason.DOCUMENTO_EMBEBIDO_INVALIDO


def test_wrong_receiver(factory: SampleFactory, receiver_nit: str) -> None:
    generated = factory.document(customer=OTHER_RECEIVER)
    result = extract_file("f.xml", factory.container(generated), receiver_nit=receiver_nit)
    assert reason(result) == Reason.RECEPTOR_NO_COINCIDE
    assert OTHER_RECEIVER.nit in result.failure.detail
    # Without a configured receiver the same document is accepted;
    assert reason(extract_file("f.xml", factory.container(generated))) is None
    # and a receiver written with dots and check digit still matches.
    formatted = f"{OTHER_RECEIVER.nit[:3]}.{OTHER_RECEIVER.nit[3:6]}.{OTHER_RECEIVER.nit[6:]}-{OTHER_RECEIVER.dv}"
    assert reason(extract_file("f.xml", factory.container(generated), receiver_nit=formatted)) is None


def test_dian_rejection(factory: SampleFactory) -> None:
    xml = factory.container(factory.document(), response_code="04")
    result = extract_file("f.xml", xml)
    assert reason(result) == Reason.RECHAZADO_DIAN
    assert "04" in result.failure.detail


def test_a_rejected_document_fails_the_whole_message(factory: SampleFactory) -> None:
    good, bad = factory.document(), factory.document()
    archive = build_zip([("a.xml", factory.container(good)), ("b.xml", factory.container(bad, response_code="04"))])
    assert reason(extract_file("f.zip", archive)) == Reason.RECHAZADO_DIAN


def test_internal_errors_become_error_interno(factory: SampleFactory, monkeypatch) -> None:
    from tui_recepcion.dian import ubl

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(ubl, "parse_dian_xml", explode)
    mail = factory.document_email()
    result = extract_message(mail.raw)
    assert reason(result) == Reason.ERROR_INTERNO
    assert "RuntimeError" in result.failure.detail and "secret" not in result.failure.detail
    assert result.message_id is not None
    assert reason(extract_file("f.zip", build_zip([("f.xml", b"<a/>")]))) == Reason.ERROR_INTERNO


def test_control_characters_in_headers_are_removed(factory: SampleFactory) -> None:
    raw = b"Subject: =?utf-8?b?" + __import__("base64").b64encode(b"Factura \x1b[31mroja\x07") + b"?=\r\n\r\nx"
    result = extract_message(raw)
    assert result.subject == "Factura [31mroja"
    assert result.failure is not None and result.failure.code == Reason.SIN_ADJUNTOS


def test_raw_8bit_and_unknown_charset_headers() -> None:
    raw = ("Subject: Facturación año\r\nFrom: =?x-desconocido?q?Jos=E9?= <a@b.co>\r\n\r\nx").encode()
    result = extract_message(raw)
    assert result.subject == "Facturación año"
    assert result.sender is not None and "a@b.co" in result.sender


def test_long_comment_before_the_root_is_not_a_doctype(factory: SampleFactory) -> None:
    generated = factory.document()
    declaration, _, body = generated.xml.partition(b"?>")
    commented = declaration + b"?>\n<!-- " + b"generado por el ERP " * 500 + b"-->\n" + body
    assert reason(extract_file("f.xml", commented)) is None
    hidden = b"<!-- " + b"x" * 10_000 + b" -->" + external_entity()
    assert reason(extract_file("f.xml", hidden)) == Reason.XML_INVALIDO
