"""Extraction of well-formed DIAN mail in all the shapes real senders use."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tui_recepcion.demo.samples import (
    SUPPLIERS,
    Attachment,
    SampleFactory,
    build_zip,
    check_digit,
)
from tui_recepcion.dian.extract import extract_file, extract_message
from tui_recepcion.dian.model import CREDIT_NOTE, DEBIT_NOTE, INVOICE

STYLES = ("zip", "zip_upper", "zip_annexes", "fv_name", "cufe_name", "bare_container", "bare_document",
          "no_declaration", "code_002")
CONTENT_TYPES = ("application/zip", "application/x-zip-compressed", "application/octet-stream")


@pytest.mark.parametrize("style", STYLES)
def test_every_attachment_style_yields_the_document(factory: SampleFactory, receiver_nit: str, style: str) -> None:
    mail = factory.document_email(INVOICE, style=style)
    result = extract_message(mail.raw, receiver_nit=receiver_nit)
    assert result.failure is None
    assert result.cufes == mail.cufes
    assert result.message_id and result.message_id.startswith("<")
    assert result.date is not None


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_zip_found_whatever_its_content_type(factory: SampleFactory, content_type: str) -> None:
    mail = factory.document_email(INVOICE, content_type=content_type)
    assert extract_message(mail.raw).cufes == mail.cufes


def test_values_come_from_the_embedded_document(factory: SampleFactory) -> None:
    generated = factory.document(INVOICE, withholding_percent=Decimal("2.5"))
    result = extract_file("x.xml", factory.container(generated))
    (document,) = result.documents
    assert document.number == generated.number
    assert document.tipo == "01"
    assert document.issue_date == generated.issue.date()
    assert document.supplier.nit == generated.supplier.nit
    assert document.supplier.dv == generated.supplier.dv
    assert document.customer.nit == generated.customer.nit
    assert document.total == generated.total
    assert document.subtotal == generated.subtotal
    # Lines carry their own TaxTotal: only the document-level one counts.
    assert document.tax_total == generated.tax_total
    assert document.withholding_total == generated.withholding_total
    assert document.dian_validation == "02"
    assert document.environment == "1" and not document.is_test


def test_credit_and_debit_notes(factory: SampleFactory) -> None:
    invoice = factory.document(INVOICE)
    credit = factory.document(CREDIT_NOTE, supplier=invoice.supplier)
    debit = factory.document(DEBIT_NOTE, supplier=invoice.supplier, currency="USD")
    credit_doc = extract_file("nc.xml", credit.xml).documents[0]
    debit_doc = extract_file("nd.xml", factory.container(debit)).documents[0]
    assert (credit_doc.kind, credit_doc.tipo) == (CREDIT_NOTE, "91")
    assert credit_doc.reference is not None and credit_doc.reference.cufe == invoice.cufe
    assert credit_doc.dian_validation is None  # bare document: no DIAN response
    assert (debit_doc.kind, debit_doc.tipo, debit_doc.currency) == (DEBIT_NOTE, "92", "USD")
    assert debit_doc.total == debit.total  # from RequestedMonetaryTotal
    assert debit_doc.reference is not None and debit_doc.reference.number == invoice.number


def test_test_environment_is_flagged(factory: SampleFactory) -> None:
    generated = factory.document(environment="2")
    (document,) = extract_file("f.xml", factory.container(generated)).documents
    assert document.is_test


def test_validation_code_002_counts_as_validated(factory: SampleFactory) -> None:
    generated = factory.document()
    xml = factory.container(generated, validation_result_code="002", with_response=True)
    # Drop the ApplicationResponse text so the container's ValidationResultCode decides.
    text = xml.decode()
    start = text.index("<cac:Attachment>", text.index("ParentDocumentLineReference"))
    end = text.index("</cac:Attachment>", start) + len("</cac:Attachment>")
    (document,) = extract_file("f.xml", (text[:start] + text[end:]).encode()).documents
    assert document.dian_validation == "02"


def test_container_and_bare_copy_in_one_zip_count_once(factory: SampleFactory) -> None:
    generated = factory.document()
    archive = build_zip([("fv.xml", generated.xml), ("ad.xml", factory.container(generated)),
                         ("ad.pdf", factory.pdf(generated))])
    result = extract_file("z.zip", archive)
    assert result.cufes == (generated.cufe,)
    assert result.documents[0].dian_validation == "02"  # the validated copy wins
    assert [saved.kind for saved in result.files[generated.cufe]] == ["xml", "pdf"]


def test_pdf_is_kept_with_its_document(factory: SampleFactory) -> None:
    mail = factory.document_email(style="zip")
    result = extract_message(mail.raw)
    files = {saved.kind: saved.data for saved in result.files[mail.cufes[0]]}
    assert files["pdf"].startswith(b"%PDF-")
    assert b"AttachedDocument" in files["xml"]


def test_two_documents_in_one_message(factory: SampleFactory) -> None:
    first, second = factory.document(), factory.document()
    raw = factory.email("varios", [
        Attachment("uno.zip", build_zip([("uno.xml", factory.container(first)), ("uno.pdf", factory.pdf(first))])),
        Attachment("dos.zip", build_zip([("dos.xml", factory.container(second))])),
    ])
    result = extract_message(raw)
    assert set(result.cufes) == {first.cufe, second.cufe}
    assert [saved.kind for saved in result.files[first.cufe]] == ["xml", "pdf"]
    assert [saved.kind for saved in result.files[second.cufe]] == ["xml"]


def test_rfc2047_names_and_subject_are_decoded(factory: SampleFactory) -> None:
    supplier = next(s for s in SUPPLIERS if "Á" in s.name)
    mail = factory.document_email(subject_style="encoded", supplier=supplier)
    result = extract_message(mail.raw)
    assert result.ok
    assert result.subject is not None and supplier.name in result.subject
    assert result.subject_hint is not None and result.subject_hint.nit == supplier.nit
    assert result.hint_mismatches == ()


@pytest.mark.parametrize("subject_style", ["standard", "spaces", "no_separator"])
def test_subject_hint_matches_xml(factory: SampleFactory, subject_style: str) -> None:
    mail = factory.document_email(subject_style=subject_style)
    result = extract_message(mail.raw)
    hint = result.subject_hint
    assert hint is not None and hint.nit == result.documents[0].supplier.nit
    assert hint.number == result.documents[0].number
    assert result.hint_mismatches == ()


def test_subject_disagreeing_with_xml_is_recorded_not_fatal(factory: SampleFactory) -> None:
    generated = factory.document()
    raw = factory.email("900000001;OTRA EMPRESA;XX1;01;Otra",
                        [Attachment("f.zip", build_zip([("f.xml", factory.container(generated))]))])
    result = extract_message(raw)
    assert result.ok
    fields = {mismatch.field for mismatch in result.hint_mismatches}
    assert fields == {"nit_emisor", "numero"}


def test_forwarded_message_attachment_is_walked(factory: SampleFactory) -> None:
    from email import message_from_bytes
    from email.mime.message import MIMEMessage
    from email.mime.multipart import MIMEMultipart

    inner = factory.document_email()
    wrapper = MIMEMultipart()
    wrapper["Subject"] = "Reenviado: resultado procesado"
    wrapper.attach(MIMEMessage(message_from_bytes(inner.raw)))
    assert extract_message(wrapper.as_bytes()).cufes == inner.cufes


def test_eml_file_import_goes_through_the_message_path(factory: SampleFactory) -> None:
    mail = factory.document_email()
    assert extract_file("correo.eml", mail.raw).cufes == mail.cufes


def test_generated_nits_have_valid_check_digits() -> None:
    assert check_digit("890903858") == "7"  # published DV of a real NIT
    assert check_digit("800197268") == "4"  # DIAN's own NIT
    assert all(len(s.dv) == 1 for s in SUPPLIERS)


def test_mailbox_outcomes_match_expectations(receiver_nit: str) -> None:
    factory = SampleFactory(seed=99, pdf_size=2_000)
    mails = factory.mailbox(good=12)
    for mail in mails:
        result = extract_message(mail.raw, receiver_nit=receiver_nit)
        assert (result.failure.code if result.failure else None) == mail.expected_reason, mail.name
        if mail.expected_reason is None:
            assert result.cufes == mail.cufes
