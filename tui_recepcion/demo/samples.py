"""Realistic generated DIAN mail: suppliers, invoices, notes, containers, zips and emails.

Used by the tests, the `demo` command and the benchmark. Every company here is invented
(names and NITs with valid check digits); CUFEs are computed with DIAN's formula and a
made-up technical key, so they look and behave like real ones.
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, make_msgid
from xml.sax.saxutils import escape

from tui_recepcion.demo.signing import sign_sample
from tui_recepcion.dian import codes
from tui_recepcion.dian.limits import DEFAULT_LIMITS
from tui_recepcion.dian.model import CREDIT_NOTE, DEBIT_NOTE, INVOICE
from tui_recepcion.dian.nit import check_digit as check_digit  # re-exported for the tests and the benchmark
from tui_recepcion.dian.reasons import ENGINE_REASONS, OPT_IN_REASONS, Reason

UBL = "urn:oasis:names:specification:ubl:schema:xsd:"
CAC = f"{UBL}CommonAggregateComponents-2"
CBC = f"{UBL}CommonBasicComponents-2"
EXT = f"{UBL}CommonExtensionComponents-2"
STS = "dian:gov:co:facturaelectronica:Structures-2-1"
DS = "http://www.w3.org/2000/09/xmldsig#"
BOGOTA = timezone(timedelta(hours=-5))
CENT = Decimal("0.01")
_TIPO = {INVOICE: codes.SALES_INVOICE, CREDIT_NOTE: codes.CREDIT_NOTE, DEBIT_NOTE: codes.DEBIT_NOTE}
_NIT_SCHEME = codes.ID_NIT


@dataclass(frozen=True, slots=True)
class Company:
    nit: str
    name: str
    trade_name: str
    city: str
    city_code: str
    department: str
    address: str
    email: str
    prefix: str = "FE"

    @property
    def dv(self) -> str:
        return check_digit(self.nit)


def _company(nit: str, name: str, trade: str, city: str, code: str, dept: str, address: str,
             domain: str, prefix: str) -> Company:
    return Company(nit, name, trade, city, code, dept, address, f"facturacion@{domain}", prefix)


SUPPLIERS: tuple[Company, ...] = (
    _company("900482117", "DISTRIBUIDORA ANDINA DE ALIMENTOS S.A.S.", "Andina Alimentos", "Bogotá, D.C.", "11001",
             "Bogotá", "CALLE 80 69 70 BG 12", "andinaalimentos.com.co", "DAA"),
    _company("901137542", "SUMINISTROS INDUSTRIALES DEL VALLE S.A.S.", "SumiValle", "Cali", "76001",
             "Valle del Cauca", "CARRERA 1 47 120", "sumivalle.co", "SIV"),
    _company("830095213", "PAPELERÍA Y OFICINA LOS ÁLAMOS LTDA", "Los Álamos", "Medellín", "05001",
             "Antioquia", "CALLE 10 SUR 43A 27", "losalamos.com.co", "PLA"),
    _company("860521784", "TRANSPORTES CORDILLERA S.A.", "Cordillera Carga", "Funza", "25286",
             "Cundinamarca", "KM 2 VIA FUNZA SIBERIA", "cordilleracarga.co", "TC"),
    _company("900913650", "SERVICIOS TECNOLÓGICOS NUBE ALTA S.A.S.", "Nube Alta", "Bogotá, D.C.", "11001",
             "Bogotá", "AV CARRERA 9 115 06 OF 1702", "nubealta.co", "NA"),
    _company("890317264", "LÁCTEOS DEL RÍO CAUCA S.A.", "Lácteos Río Cauca", "Palmira", "76520",
             "Valle del Cauca", "CALLE 31 29 15", "lacteosriocauca.com", "LRC"),
    _company("901456208", "ASEO Y MANTENIMIENTO INTEGRAL CARIBE S.A.S.", "AMI Caribe", "Barranquilla", "08001",
             "Atlántico", "CARRERA 53 76 239", "amicaribe.co", "AMC"),
    _company("800236479", "FERRETERÍA EL TORNILLO FELIZ S.A.S.", "El Tornillo Feliz", "Bucaramanga", "68001",
             "Santander", "CALLE 36 17 52", "tornillofeliz.com.co", "FTF"),
)

DEFAULT_RECEIVER = _company("901234567", "HOTEL MIRADOR DE LOS ANDES S.A.S.", "Mirador de los Andes",
                            "Bogotá, D.C.", "11001", "Bogotá", "CALLE 72 10 34", "miradorandes.co", "HMA")
OTHER_RECEIVER = _company("900765432", "COMERCIALIZADORA PUERTO NUEVO S.A.S.", "Puerto Nuevo", "Cartagena",
                          "13001", "Bolívar", "AV PEDRO DE HEREDIA 31 55", "puertonuevo.co", "CPN")

_PRODUCTS = (
    ("Arroz blanco x 25 kg", Decimal("98500"), 5),
    ("Aceite vegetal x 3 L", Decimal("32900"), 19),
    ("Resma papel carta 75 g", Decimal("18900"), 19),
    ("Servicio de transporte de carga", Decimal("1250000"), 0),
    ("Licencia de software mensual", Decimal("450000"), 19),
    ("Leche entera x 1100 ml", Decimal("4350"), 0),
    ("Servicio de aseo y mantenimiento", Decimal("2850000"), 19),
    ("Tornillo drywall 6x1 caja x 1000", Decimal("36500"), 19),
    ("Café molido x 500 g", Decimal("21800"), 5),
    ("Toalla de manos x 150 hojas", Decimal("9900"), 19),
)


@dataclass(frozen=True, slots=True)
class Line:
    description: str
    quantity: Decimal
    unit_price: Decimal
    iva_percent: int

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(CENT, ROUND_HALF_UP)

    @property
    def iva(self) -> Decimal:
        return (self.amount * self.iva_percent / 100).quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class GeneratedDocument:
    """A generated signed-looking document and the values a correct parser must read."""

    kind: str
    tipo: str
    number: str
    cufe: str
    issue: datetime
    supplier: Company
    customer: Company
    currency: str
    subtotal: Decimal
    tax_total: Decimal
    withholding_total: Decimal
    total: Decimal
    environment: str
    xml: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    data: bytes = field(repr=False)
    content_type: str = "application/zip"
    encode_name: bool = False
    """Write the name as an RFC 2047 encoded word, as some mail clients do."""


@dataclass(frozen=True, slots=True)
class SampleMail:
    """One generated email and what processing it must give."""

    name: str
    raw: bytes = field(repr=False)
    expected_reason: str | None
    """None when the message must be processed; else the failure reason code."""
    cufes: tuple[str, ...] = ()


def cufe(number: str, issue: datetime, subtotal: Decimal, taxes: dict[str, Decimal], total: Decimal,
         supplier_nit: str, customer_nit: str, key: str, environment: str) -> str:
    """DIAN's CUFE/CUDE: SHA-384 over the concatenated values and a technical key."""
    parts = [number, issue.date().isoformat(), issue.strftime("%H:%M:%S-05:00"), f"{subtotal:.2f}"]
    for code in codes.CUFE_TAXES:
        parts += [code, f"{taxes.get(code, Decimal('0')):.2f}"]
    parts += [f"{total:.2f}", supplier_nit, customer_nit, key, environment]
    return hashlib.sha384("".join(parts).encode()).hexdigest()


class SampleFactory:
    """Deterministic generator of documents and emails (same seed, same bytes).

    With `signed`, documents and DIAN's responses carry real signatures (throwaway
    certificates, see `demo.signing`; ~10 ms each) instead of signature-shaped random bytes,
    which the extractor reports as «firma inválida»; then the bytes of a signature vary
    between processes, nothing else does."""

    def __init__(self, seed: int = 7, receiver: Company = DEFAULT_RECEIVER,
                 start: datetime | None = None, pdf_size: int = 40_000, signed: bool = False) -> None:
        self.signed = signed
        self.rng = random.Random(seed)
        self.receiver = receiver
        self.clock = start or datetime(2025, 7, 1, 8, 0, tzinfo=BOGOTA)
        self.pdf_size = pdf_size
        self._numbers: dict[str, int] = {}
        self._issued: list[GeneratedDocument] = []

    # ---- documents -------------------------------------------------------------------

    def document(self, kind: str = INVOICE, *, supplier: Company | None = None, customer: Company | None = None,
                 environment: str = codes.PRODUCTION, currency: str = "COP", lines: Sequence[Line] | None = None,
                 withholding_percent: Decimal | None = None, with_uuid: bool = True,
                 xml_declaration: bool = True, invoice_type: str = codes.SALES_INVOICE) -> GeneratedDocument:
        supplier = supplier or self.rng.choice(SUPPLIERS)
        customer = customer or self.receiver
        self.clock += timedelta(minutes=self.rng.randint(7, 400))
        issue = self.clock.replace(microsecond=0)
        prefix = {INVOICE: supplier.prefix, CREDIT_NOTE: "NC", DEBIT_NOTE: "ND"}[kind]
        key = f"{supplier.nit}:{prefix}"
        self._numbers[key] = self._numbers.get(key, self.rng.randint(100, 9000)) + 1
        number = f"{prefix}{self._numbers[key]}"
        lines = list(lines or self._lines())
        subtotal = sum((line.amount for line in lines), Decimal("0"))
        iva = sum((line.iva for line in lines), Decimal("0"))
        if withholding_percent is None and self.rng.random() < 0.4:
            withholding_percent = self.rng.choice((Decimal("2.5"), Decimal("4"), Decimal("11")))
        withholding = (subtotal * (withholding_percent or 0) / 100).quantize(CENT, ROUND_HALF_UP)
        total = subtotal + iva
        tipo = invoice_type if kind == INVOICE else _TIPO[kind]
        reference = self._reference(supplier) if kind != INVOICE else None
        code = cufe(number, issue, subtotal, {codes.IVA: iva}, total, supplier.nit, customer.nit,
                    f"clave-tecnica-{supplier.nit}", environment)
        xml = _document_xml(
            kind=kind, tipo=tipo, number=number, cufe=code if with_uuid else None, issue=issue,
            supplier=supplier, customer=customer, currency=currency, lines=lines, subtotal=subtotal,
            iva=iva, withholding=withholding, withholding_percent=withholding_percent, total=total,
            environment=environment, reference=reference, rng=self.rng, declaration=xml_declaration,
        )
        if self.signed:
            xml = sign_sample(xml, supplier.nit, supplier.name)
        document = GeneratedDocument(kind, tipo, number, code, issue, supplier, customer, currency, subtotal, iva,
                                     withholding, total, environment, xml)
        if kind == INVOICE:
            self._issued.append(document)
        return document

    def container(self, document: GeneratedDocument, *, response_code: str = codes.VALIDATED,
                  validation_result_code: str | None = None, with_response: bool = True,
                  xml_declaration: bool = True, embedded: str | None = None) -> bytes:
        """An AttachedDocument holding the document as CDATA and DIAN's ApplicationResponse."""
        return _container_xml(
            document, rng=self.rng, response_code=response_code,
            validation_result_code=validation_result_code or response_code,
            with_response=with_response, declaration=xml_declaration,
            embedded=document.xml.decode("utf-8") if embedded is None else embedded, signed=self.signed,
        )

    def pdf(self, document: GeneratedDocument | None = None) -> bytes:
        title = f"Representación gráfica {document.number}" if document else "Anexo"
        return build_pdf(title, size=self.pdf_size, rng=self.rng)

    def _lines(self) -> list[Line]:
        chosen = self.rng.sample(_PRODUCTS, self.rng.randint(1, 4))
        return [Line(name, Decimal(self.rng.randint(1, 40)), price, iva) for name, price, iva in chosen]

    def _reference(self, supplier: Company) -> tuple[str, str, date] | None:
        earlier = [doc for doc in self._issued if doc.supplier == supplier] or self._issued
        if not earlier:
            return None
        target = self.rng.choice(earlier)
        return target.number, target.cufe, target.issue.date()

    # ---- emails ----------------------------------------------------------------------

    def email(self, subject: str, attachments: Sequence[Attachment] = (), *, sender: Company | None = None,
              encode_subject: bool = False, body: str | None = None) -> bytes:
        sender = sender or self.rng.choice(SUPPLIERS)
        self.clock += timedelta(minutes=1)
        return build_email(
            subject=subject, sender=formataddr((sender.trade_name, sender.email)),
            to=formataddr(("Recepción facturas", self.receiver.email)), attachments=attachments,
            date=self.clock, message_id=make_msgid(domain=sender.email.split("@")[1]),
            encode_subject=encode_subject, body=body,
        )

    def document_email(self, kind: str = INVOICE, *, style: str = "zip", subject_style: str = "standard",
                       content_type: str = "application/zip", **document_options) -> SampleMail:
        """A good email. `style`: zip (container + PDF), zip_upper (upper-case names),
        zip_annexes (nested annex zip), fv_name (container named fv….xml), cufe_name,
        bare_container (loose .xml), bare_document (signed Invoice without container),
        no_declaration, code_002."""
        document = self.document(kind, xml_declaration=style != "no_declaration", **document_options)
        container = self.container(
            document,
            validation_result_code="002" if style == "code_002" else None,
            xml_declaration=style != "no_declaration",
        )
        stem = f"ad{document.supplier.nit}{document.number}"
        pdf = self.pdf(document)
        if style == "bare_container":
            attachments = [Attachment(f"{stem}.xml", container, "text/xml")]
        elif style == "bare_document":
            attachments = [Attachment(f"{document.number}.xml", document.xml, "application/xml"),
                           Attachment(f"{document.number}.pdf", pdf, "application/pdf")]
        else:
            entries = {
                "zip_upper": [(f"{stem.upper()}.XML", container), (f"{stem.upper()}.PDF", pdf)],
                "fv_name": [(f"fv08{document.supplier.nit}00025{document.number[-4:]}.xml", container), (f"{stem}.pdf", pdf)],
                "cufe_name": [(f"{document.cufe}.xml", container), (f"{document.cufe}.pdf", pdf)],
                "zip_annexes": [(f"{stem}.xml", container), (f"{stem}.pdf", pdf),
                                ("anexos.zip", build_zip([("orden_compra.pdf", self.pdf()),
                                                          ("remision.txt", b"Remision 4471 entregada")]))],
            }.get(style, [(f"{stem}.xml", container), (f"{stem}.pdf", pdf)])
            zip_name = f"z{stem}.zip".upper() if style == "zip_upper" else f"z{stem}.zip"
            attachments = [Attachment(zip_name, build_zip(entries), content_type,
                                      encode_name=subject_style == "encoded")]
        subject = dian_subject(document, subject_style)
        raw = self.email(subject, attachments, sender=document.supplier, encode_subject=subject_style == "encoded")
        return SampleMail(f"{document.tipo}-{document.number}-{style}", raw, None, (document.cufe,))

    def failing_email(self, reason: str) -> SampleMail:
        """An email that must fail with `reason` (any code but error_interno)."""
        supplier = self.rng.choice(SUPPLIERS)
        subject = f"{supplier.nit};{supplier.name};{supplier.prefix}{self.rng.randint(1000, 9999)};01;{supplier.trade_name}"

        def mail(attachments: Sequence[Attachment], body: str | None = None) -> SampleMail:
            raw = self.email(subject, attachments, sender=supplier, body=body)
            return SampleMail(f"fallido-{reason}", raw, reason)

        def zipped(name: str, xml: bytes) -> list[Attachment]:
            return [Attachment(f"{name}.zip", build_zip([(f"{name}.xml", xml), (f"{name}.pdf", self.pdf())]))]

        if reason == Reason.SIN_ADJUNTOS:
            return mail([], body="Adjuntamos la factura del mes. Cordial saludo.")
        if reason == Reason.ZIP_CORRUPTO:
            good = build_zip([("factura.xml", self.container(self.document(supplier=supplier)))])
            return mail([Attachment("factura.zip", good[: len(good) // 2])])
        if reason == Reason.ZIP_SIN_XML:
            return mail([Attachment("factura.zip", build_zip([("factura.pdf", self.pdf())]))])
        if reason == Reason.ZIP_EXCEDE_LIMITES:
            # More entries than the extractor opens: over a limit, without being an attack payload
            # (the zip bombs and entity expansions live in the tests).
            annexes = [(f"anexo-{number:03d}.txt", b"") for number in range(DEFAULT_LIMITS.max_zip_entries + 44)]
            return mail([Attachment("factura.zip", build_zip(annexes))])
        if reason == Reason.XML_INVALIDO:
            xml = self.container(self.document(supplier=supplier))
            return mail(zipped("factura", xml[: len(xml) // 3]))
        if reason == Reason.XML_NO_DIAN:
            order = b'<?xml version="1.0"?><pedido><numero>4471</numero><total>150000</total></pedido>'
            return mail(zipped("pedido", order))
        if reason == Reason.DOCUMENTO_EMBEBIDO_INVALIDO:
            document = self.document(supplier=supplier)
            broken = document.xml.decode()[: len(document.xml) // 2]
            return mail(zipped("factura", self.container(document, embedded=broken)))
        if reason == Reason.SIN_CUFE:
            document = self.document(supplier=supplier, with_uuid=False)
            return mail(zipped("factura", self.container(document, with_response=False)))
        if reason == Reason.RECEPTOR_NO_COINCIDE:
            document = self.document(supplier=supplier, customer=OTHER_RECEIVER)
            return mail(zipped("factura", self.container(document)))
        if reason == Reason.RECHAZADO_DIAN:
            document = self.document(supplier=supplier)
            return mail(zipped("factura", self.container(document, response_code=codes.REJECTED)))
        raise ValueError(f"no sample for reason {reason!r}")

    def mailbox(self, good: int = 24, failing_each: int = 1) -> list[SampleMail]:
        """A varied inbox: invoices, credit and debit notes in every attachment style,
        plus `failing_each` message of each failure reason, shuffled."""
        styles = ("zip", "zip_upper", "zip_annexes", "fv_name", "cufe_name", "bare_container",
                  "bare_document", "no_declaration", "code_002")
        subjects = ("standard", "spaces", "no_separator", "encoded")
        types = ("application/zip", "application/x-zip-compressed", "application/octet-stream")
        mails = []
        for index in range(good):
            kind = INVOICE if index < 3 or index % 5 not in (3, 4) else (CREDIT_NOTE if index % 5 == 3 else DEBIT_NOTE)
            mails.append(self.document_email(
                kind, style=styles[index % len(styles)], subject_style=subjects[index % len(subjects)],
                content_type=types[index % len(types)], environment=codes.TESTING if index % 11 == 10 else codes.PRODUCTION,
            ))
        for reason in FAILING_REASONS:
            mails += [self.failing_email(reason) for _ in range(failing_each)]
        self.rng.shuffle(mails)
        return mails


FAILING_REASONS: tuple[str, ...] = tuple(
    code for code in Reason if code != Reason.ERROR_INTERNO and code not in ENGINE_REASONS | OPT_IN_REASONS
)


def dian_subject(document: GeneratedDocument, style: str = "standard") -> str:
    """The subject DIAN prescribes; `spaces` pads the separators, `no_separator` uses
    spaces instead of `;`, `encoded` is the standard text (the caller RFC 2047-encodes it)."""
    supplier = document.supplier
    fields = [supplier.nit, supplier.name, document.number, document.tipo, supplier.trade_name]
    if style == "spaces":
        return " ; ".join(fields)
    if style == "no_separator":
        return " ".join(fields)
    return ";".join(fields)


def build_zip(entries: Iterable[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def build_pdf(title: str, *, size: int = 40_000, rng: random.Random | None = None) -> bytes:
    """A small valid PDF whose image stream pads it to about `size` bytes (incompressible,
    like the scanned logos and fonts of real invoices)."""
    rng = rng or random.Random(0)
    filler = rng.randbytes(max(0, size - 900))
    text = title.encode("latin-1", errors="replace").replace(b"(", b"[").replace(b")", b"]")
    content = b"BT /F1 14 Tf 72 720 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Length %d >>\nstream\n" % len(filler) + filler + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def build_email(*, subject: str, sender: str, to: str, attachments: Sequence[Attachment] = (),
                date: datetime | None = None, message_id: str | None = None, encode_subject: bool = False,
                body: str | None = None) -> bytes:
    message = MIMEMultipart()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = Header(subject, "utf-8").encode() if encode_subject else subject
    message["Date"] = format_datetime(date or datetime.now(BOGOTA))
    message["Message-ID"] = message_id or make_msgid()
    message.attach(MIMEText(body or "Cordial saludo, adjuntamos el documento electrónico.", "plain", "utf-8"))
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        part = MIMEApplication(attachment.data, _subtype=subtype or "octet-stream")
        if maintype != "application":
            part.replace_header("Content-Type", attachment.content_type)
        name = Header(attachment.filename, "utf-8").encode() if attachment.encode_name else attachment.filename
        part.add_header("Content-Disposition", "attachment", filename=name)
        message.attach(part)
    return message.as_bytes()


# ---- XML builders ---------------------------------------------------------------------------


def _fake_signature(rng: random.Random, signed_id: str) -> str:
    """A signature-shaped block: same elements and weight as a real XAdES signature."""
    b64 = lambda n: base64.b64encode(rng.randbytes(n)).decode()  # noqa: E731
    return (
        f'<ds:Signature xmlns:ds="{DS}" Id="xmldsig-{signed_id}"><ds:SignedInfo>'
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>'
        '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        f'<ds:Reference URI=""><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
        f"<ds:DigestValue>{b64(32)}</ds:DigestValue></ds:Reference></ds:SignedInfo>"
        f"<ds:SignatureValue>{b64(256)}</ds:SignatureValue>"
        f"<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{b64(1400)}</ds:X509Certificate>"
        "</ds:X509Data></ds:KeyInfo></ds:Signature>"
    )


def _party(role: str, company: Company) -> str:
    name = escape(company.name)
    address = (
        f"<cac:Address><cbc:ID>{company.city_code}</cbc:ID><cbc:CityName>{escape(company.city)}</cbc:CityName>"
        f"<cbc:CountrySubentity>{escape(company.department)}</cbc:CountrySubentity>"
        f"<cac:AddressLine><cbc:Line>{escape(company.address)}</cbc:Line></cac:AddressLine>"
        '<cac:Country><cbc:IdentificationCode>CO</cbc:IdentificationCode>'
        '<cbc:Name languageID="es">Colombia</cbc:Name></cac:Country></cac:Address>'
    )
    company_id = (f'<cbc:CompanyID schemeAgencyID="195" schemeAgencyName="CO, DIAN (Dirección de Impuestos y '
                  f'Aduanas Nacionales)" schemeID="{company.dv}" schemeName="{_NIT_SCHEME}">{company.nit}</cbc:CompanyID>')
    return (
        f"<cac:{role}><cbc:AdditionalAccountID>1</cbc:AdditionalAccountID><cac:Party>"
        f"<cac:PartyName><cbc:Name>{escape(company.trade_name)}</cbc:Name></cac:PartyName>"
        f"<cac:PhysicalLocation>{address}</cac:PhysicalLocation>"
        f"<cac:PartyTaxScheme><cbc:RegistrationName>{name}</cbc:RegistrationName>{company_id}"
        f"<cbc:TaxLevelCode listName=\"48\">O-13</cbc:TaxLevelCode>"
        f"<cac:RegistrationAddress>{address[len('<cac:Address>'):-len('</cac:Address>')]}</cac:RegistrationAddress>"
        "<cac:TaxScheme><cbc:ID>01</cbc:ID><cbc:Name>IVA</cbc:Name></cac:TaxScheme></cac:PartyTaxScheme>"
        f"<cac:PartyLegalEntity><cbc:RegistrationName>{name}</cbc:RegistrationName>{company_id}"
        "</cac:PartyLegalEntity>"
        f"<cac:Contact><cbc:ElectronicMail>{escape(company.email)}</cbc:ElectronicMail></cac:Contact>"
        f"</cac:Party></cac:{role}>"
    )


def _tax_total(tag: str, currency: str, amount: Decimal, base: Decimal, percent: Decimal | int,
               code: str, name: str) -> str:
    return (
        f'<cac:{tag}><cbc:TaxAmount currencyID="{currency}">{amount:.2f}</cbc:TaxAmount>'
        f'<cac:TaxSubtotal><cbc:TaxableAmount currencyID="{currency}">{base:.2f}</cbc:TaxableAmount>'
        f'<cbc:TaxAmount currencyID="{currency}">{amount:.2f}</cbc:TaxAmount>'
        f"<cac:TaxCategory><cbc:Percent>{Decimal(percent):.2f}</cbc:Percent>"
        f"<cac:TaxScheme><cbc:ID>{code}</cbc:ID><cbc:Name>{name}</cbc:Name></cac:TaxScheme>"
        f"</cac:TaxCategory></cac:TaxSubtotal></cac:{tag}>"
    )


def _document_xml(*, kind: str, tipo: str, number: str, cufe: str | None, issue: datetime, supplier: Company,
                  customer: Company, currency: str, lines: Sequence[Line], subtotal: Decimal, iva: Decimal,
                  withholding: Decimal, withholding_percent: Decimal | None, total: Decimal,
                  environment: str, reference: tuple[str, str, date] | None, rng: random.Random,
                  declaration: bool) -> bytes:
    line_tag = {INVOICE: "InvoiceLine", CREDIT_NOTE: "CreditNoteLine", DEBIT_NOTE: "DebitNoteLine"}[kind]
    quantity_tag = {INVOICE: "InvoicedQuantity", CREDIT_NOTE: "CreditedQuantity", DEBIT_NOTE: "DebitedQuantity"}[kind]
    totals_tag = "RequestedMonetaryTotal" if kind == DEBIT_NOTE else "LegalMonetaryTotal"
    scheme = "CUFE-SHA384" if kind == INVOICE else "CUDE-SHA384"
    type_element = {
        INVOICE: f"<cbc:InvoiceTypeCode>{tipo}</cbc:InvoiceTypeCode>",
        CREDIT_NOTE: "<cbc:CreditNoteTypeCode>91</cbc:CreditNoteTypeCode>",
        DEBIT_NOTE: "",  # DIAN's debit note has no type-code element
    }[kind]
    head = [
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>' if declaration else "",
        f'<{kind} xmlns="{UBL}{kind}-2" xmlns:cac="{CAC}" xmlns:cbc="{CBC}" xmlns:ext="{EXT}" '
        f'xmlns:sts="{STS}" xmlns:ds="{DS}">',
        "<ext:UBLExtensions><ext:UBLExtension><ext:ExtensionContent><sts:DianExtensions>"
        "<sts:InvoiceControl><sts:InvoiceAuthorization>18764000001234</sts:InvoiceAuthorization>"
        "<sts:AuthorizationPeriod><cbc:StartDate>2025-01-01</cbc:StartDate><cbc:EndDate>2027-01-01</cbc:EndDate>"
        f"</sts:AuthorizationPeriod><sts:AuthorizedInvoices><sts:Prefix>{supplier.prefix}</sts:Prefix>"
        "<sts:From>1</sts:From><sts:To>5000000</sts:To></sts:AuthorizedInvoices></sts:InvoiceControl>"
        f'<sts:SoftwareProvider><sts:ProviderID schemeID="{supplier.dv}" schemeName="{_NIT_SCHEME}">{supplier.nit}'
        "</sts:ProviderID></sts:SoftwareProvider>"
        f"<sts:QRCode>NumFac: {number} ValTolFac: {total:.2f} CUFE: {cufe or ''}</sts:QRCode>"
        "</sts:DianExtensions></ext:ExtensionContent></ext:UBLExtension>"
        f"<ext:UBLExtension><ext:ExtensionContent>{_fake_signature(rng, number)}</ext:ExtensionContent>"
        "</ext:UBLExtension></ext:UBLExtensions>",
        "<cbc:UBLVersionID>UBL 2.1</cbc:UBLVersionID><cbc:CustomizationID>10</cbc:CustomizationID>",
        f"<cbc:ProfileID>DIAN 2.1</cbc:ProfileID><cbc:ProfileExecutionID>{environment}</cbc:ProfileExecutionID>",
        f"<cbc:ID>{number}</cbc:ID>",
        f'<cbc:UUID schemeID="{environment}" schemeName="{scheme}">{cufe}</cbc:UUID>' if cufe else "",
        f"<cbc:IssueDate>{issue.date().isoformat()}</cbc:IssueDate>",
        f"<cbc:IssueTime>{issue.strftime('%H:%M:%S')}-05:00</cbc:IssueTime>",
        f"<cbc:DueDate>{(issue.date() + timedelta(days=30)).isoformat()}</cbc:DueDate>" if kind == INVOICE else "",
        type_element,
        f"<cbc:Note>Documento generado para pruebas de recepción {number}</cbc:Note>",
        f'<cbc:DocumentCurrencyCode listID="ISO 4217 Alpha">{currency}</cbc:DocumentCurrencyCode>',
        f"<cbc:LineCountNumeric>{len(lines)}</cbc:LineCountNumeric>",
    ]
    if reference is not None:
        ref_number, ref_cufe, ref_date = reference
        head += [
            f"<cac:DiscrepancyResponse><cbc:ReferenceID>{ref_number}</cbc:ReferenceID>"
            "<cbc:ResponseCode>2</cbc:ResponseCode><cbc:Description>Ajuste de precio</cbc:Description>"
            "</cac:DiscrepancyResponse>",
            f"<cac:BillingReference><cac:InvoiceDocumentReference><cbc:ID>{ref_number}</cbc:ID>"
            f'<cbc:UUID schemeName="CUFE-SHA384">{ref_cufe}</cbc:UUID>'
            f"<cbc:IssueDate>{ref_date.isoformat()}</cbc:IssueDate></cac:InvoiceDocumentReference>"
            "</cac:BillingReference>",
        ]
    body = [
        _party("AccountingSupplierParty", supplier),
        _party("AccountingCustomerParty", customer),
        "<cac:PaymentMeans><cbc:ID>2</cbc:ID><cbc:PaymentMeansCode>42</cbc:PaymentMeansCode>"
        f"<cbc:PaymentDueDate>{(issue.date() + timedelta(days=30)).isoformat()}</cbc:PaymentDueDate></cac:PaymentMeans>",
        _tax_total("TaxTotal", currency, iva, subtotal, 19 if iva else 0, codes.IVA, codes.TAX_NAMES[codes.IVA]),
    ]
    if withholding:
        body.append(_tax_total("WithholdingTaxTotal", currency, withholding, subtotal, withholding_percent or 0,
                               "06", "ReteRenta"))
    body.append(
        f'<cac:{totals_tag}><cbc:LineExtensionAmount currencyID="{currency}">{subtotal:.2f}</cbc:LineExtensionAmount>'
        f'<cbc:TaxExclusiveAmount currencyID="{currency}">{subtotal:.2f}</cbc:TaxExclusiveAmount>'
        f'<cbc:TaxInclusiveAmount currencyID="{currency}">{total:.2f}</cbc:TaxInclusiveAmount>'
        f'<cbc:PayableAmount currencyID="{currency}">{total:.2f}</cbc:PayableAmount></cac:{totals_tag}>'
    )
    for index, line in enumerate(lines, start=1):
        # Lines carry their own TaxTotal: a parser that sums `.//TaxTotal` double-counts.
        body.append(
            f"<cac:{line_tag}><cbc:ID>{index}</cbc:ID>"
            f'<cbc:{quantity_tag} unitCode="94">{line.quantity}</cbc:{quantity_tag}>'
            f'<cbc:LineExtensionAmount currencyID="{currency}">{line.amount:.2f}</cbc:LineExtensionAmount>'
            + _tax_total("TaxTotal", currency, line.iva, line.amount, line.iva_percent, codes.IVA, codes.TAX_NAMES[codes.IVA])
            + f"<cac:Item><cbc:Description>{escape(line.description)}</cbc:Description>"
            f"<cac:StandardItemIdentification><cbc:ID schemeID=\"999\">{7700000000000 + index}</cbc:ID>"
            f"</cac:StandardItemIdentification></cac:Item>"
            f'<cac:Price><cbc:PriceAmount currencyID="{currency}">{line.unit_price:.2f}</cbc:PriceAmount>'
            f'<cbc:BaseQuantity unitCode="94">1</cbc:BaseQuantity></cac:Price></cac:{line_tag}>'
        )
    return "".join(head + body + [f"</{kind}>"]).encode("utf-8")


def _container_xml(document: GeneratedDocument, *, rng: random.Random, response_code: str,
                   validation_result_code: str, with_response: bool, declaration: bool, embedded: str,
                   signed: bool = False) -> bytes:
    supplier, customer = document.supplier, document.customer
    validated = document.issue + timedelta(minutes=rng.randint(1, 30))

    def tax_party(role: str, company: Company) -> str:
        return (f"<cac:{role}><cac:PartyTaxScheme><cbc:RegistrationName>{escape(company.name)}</cbc:RegistrationName>"
                f'<cbc:CompanyID schemeAgencyID="195" schemeID="{company.dv}" schemeName="{_NIT_SCHEME}">{company.nit}</cbc:CompanyID>'
                "<cbc:TaxLevelCode>O-13</cbc:TaxLevelCode><cac:TaxScheme><cbc:ID>01</cbc:ID><cbc:Name>IVA</cbc:Name>"
                f"</cac:TaxScheme></cac:PartyTaxScheme></cac:{role}>")

    response = ""
    if with_response:
        application_response = _application_response(document, response_code, validated, rng)
        if signed:
            application_response = sign_sample(application_response.encode("utf-8"), codes.DIAN_NIT,
                                               "U.A.E. Dirección de Impuestos y Aduanas Nacionales").decode("utf-8")
        response = (
            "<cac:ParentDocumentLineReference><cbc:LineID>1</cbc:LineID><cac:DocumentReference>"
            f"<cbc:ID>{document.number}</cbc:ID>"
            f'<cbc:UUID schemeName="CUFE-SHA384">{document.cufe}</cbc:UUID>'
            f"<cbc:IssueDate>{validated.date().isoformat()}</cbc:IssueDate>"
            "<cbc:DocumentType>ApplicationResponse</cbc:DocumentType>"
            "<cac:Attachment><cac:ExternalReference><cbc:MimeCode>text/xml</cbc:MimeCode>"
            f"<cbc:EncodingCode>UTF-8</cbc:EncodingCode><cbc:Description><![CDATA[{application_response}]]>"
            "</cbc:Description></cac:ExternalReference></cac:Attachment>"
            "<cac:ResultOfVerification><cbc:ValidatorID>Unidad Especial Dirección de Impuestos y Aduanas Nacionales"
            f"</cbc:ValidatorID><cbc:ValidationResultCode>{validation_result_code}</cbc:ValidationResultCode>"
            f"<cbc:ValidationDate>{validated.date().isoformat()}</cbc:ValidationDate>"
            f"<cbc:ValidationTime>{validated.strftime('%H:%M:%S')}-05:00</cbc:ValidationTime>"
            "</cac:ResultOfVerification></cac:DocumentReference></cac:ParentDocumentLineReference>"
        )
    text = "".join([
        '<?xml version="1.0" encoding="UTF-8"?>' if declaration else "",
        f'<AttachedDocument xmlns="{UBL}AttachedDocument-2" xmlns:cac="{CAC}" xmlns:cbc="{CBC}" '
        f'xmlns:ext="{EXT}" xmlns:ds="{DS}">',
        f"<ext:UBLExtensions><ext:UBLExtension><ext:ExtensionContent>{_fake_signature(rng, 'ad' + document.number)}"
        "</ext:ExtensionContent></ext:UBLExtension></ext:UBLExtensions>",
        "<cbc:UBLVersionID>UBL 2.1</cbc:UBLVersionID><cbc:CustomizationID>Documentos adjuntos</cbc:CustomizationID>",
        f"<cbc:ProfileID>DIAN 2.1</cbc:ProfileID><cbc:ProfileExecutionID>{document.environment}</cbc:ProfileExecutionID>",
        f"<cbc:ID>{rng.randint(10**9, 10**10)}</cbc:ID>",  # container ids are unreliable, as in real mail
        f"<cbc:IssueDate>{validated.date().isoformat()}</cbc:IssueDate>",
        f"<cbc:IssueTime>{validated.strftime('%H:%M:%S')}-05:00</cbc:IssueTime>",
        "<cbc:DocumentType>Contenedor de Factura Electrónica</cbc:DocumentType>",
        f"<cbc:ParentDocumentID>{document.number}</cbc:ParentDocumentID>",
        tax_party("SenderParty", supplier),
        tax_party("ReceiverParty", customer),
        "<cac:Attachment><cac:ExternalReference><cbc:MimeCode>text/xml</cbc:MimeCode>"
        f"<cbc:EncodingCode>UTF-8</cbc:EncodingCode><cbc:Description><![CDATA[{embedded}]]></cbc:Description>"
        "</cac:ExternalReference></cac:Attachment>",
        response,
        "</AttachedDocument>",
    ])
    return text.encode("utf-8")


def _application_response(document: GeneratedDocument, code: str, when: datetime, rng: random.Random) -> str:
    description = codes.RESPONSE_NAMES[codes.VALIDATED if code == codes.VALIDATED else codes.REJECTED]
    cude = hashlib.sha384(f"respuesta:{document.cufe}:{code}".encode()).hexdigest()
    return (
        '<?xml version="1.0" encoding="utf-8" standalone="no"?>'
        f'<ApplicationResponse xmlns="{UBL}ApplicationResponse-2" xmlns:cac="{CAC}" xmlns:cbc="{CBC}" '
        f'xmlns:ext="{EXT}">'
        f"<ext:UBLExtensions><ext:UBLExtension><ext:ExtensionContent>{_fake_signature(rng, 'ar' + document.number)}"
        "</ext:ExtensionContent></ext:UBLExtension></ext:UBLExtensions>"
        "<cbc:UBLVersionID>UBL 2.1</cbc:UBLVersionID><cbc:CustomizationID>1</cbc:CustomizationID>"
        f"<cbc:ProfileID>DIAN 2.1</cbc:ProfileID><cbc:ProfileExecutionID>{document.environment}</cbc:ProfileExecutionID>"
        f"<cbc:ID>{rng.randint(10**7, 10**8)}</cbc:ID>"
        f'<cbc:UUID schemeName="CUDE-SHA384">{cude}</cbc:UUID>'
        f"<cbc:IssueDate>{when.date().isoformat()}</cbc:IssueDate>"
        f"<cbc:IssueTime>{when.strftime('%H:%M:%S')}-05:00</cbc:IssueTime>"
        "<cac:SenderParty><cac:PartyTaxScheme><cbc:RegistrationName>Unidad Especial Dirección de Impuestos y "
        'Aduanas Nacionales</cbc:RegistrationName>'
        f'<cbc:CompanyID schemeID="{check_digit(codes.DIAN_NIT)}" schemeName="{_NIT_SCHEME}">{codes.DIAN_NIT}'
        "</cbc:CompanyID><cac:TaxScheme><cbc:ID>01</cbc:ID><cbc:Name>IVA</cbc:Name></cac:TaxScheme>"
        "</cac:PartyTaxScheme></cac:SenderParty>"
        f"<cac:DocumentResponse><cac:Response><cbc:ResponseCode>{code}</cbc:ResponseCode>"
        f"<cbc:Description>{description}</cbc:Description></cac:Response>"
        f"<cac:DocumentReference><cbc:ID>{document.number}</cbc:ID>"
        f'<cbc:UUID schemeName="CUFE-SHA384">{document.cufe}</cbc:UUID></cac:DocumentReference>'
        "<cac:LineResponse><cac:LineReference><cbc:LineID>1</cbc:LineID></cac:LineReference>"
        "<cac:Response><cbc:ResponseCode>FAJ43b</cbc:ResponseCode><cbc:Description>Nombre informado No "
        "corresponde al registrado en el RUT con respecto al Nit suminstrado.</cbc:Description></cac:Response>"
        "</cac:LineResponse></cac:DocumentResponse></ApplicationResponse>"
    )
