"""Is a received document's XML signature intact? And who does its certificate name?

The library is signxml: pure Python over lxml and cryptography (both already here), so it
installs wherever the project does. python-xmlsec binds libxmlsec1 and must be built against
the same libxml2 as lxml (its wheels bundle another one, and a mismatch refuses to import),
a fragile pairing for a tool installed by technicians on assorted servers.

What is checked: every `ds:Reference` of the signature (the document itself, enveloped, the
KeyInfo and XAdES's SignedProperties) against its digest, and the `ds:SignatureValue` against
the public key of the certificate in the signature's own KeyInfo, at a moment inside the
certificate's validity: an expired certificate does not make a signature "altered"; the
validity dates are reported apart. What is not checked here: whether that certificate
deserves trust (`chain_status` does that against the roots the technician configures), nor
revocation.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature as InvalidSignatureError
from cryptography.hazmat.primitives import serialization
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no annotations
from signxml import DigestAlgorithm, SignatureConfiguration, SignatureMethod, XMLVerifier
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature

from tui_recepcion.dian.model import ABSENT, INVALID, VALID, SignatureCheck

DS = "http://www.w3.org/2000/09/xmldsig#"
_SIGNATURE = f"{{{DS}}}Signature"
# DIAN's signature lives in the document's own UBLExtensions, never in a nested document.
_OWN_SIGNATURE = f"{{*}}UBLExtensions/{{*}}UBLExtension/{{*}}ExtensionContent/{_SIGNATURE}"
# Certificate attributes Colombian certification authorities put the holder's NIT in:
# serialNumber and Certicámara/GSE's private "NIT" attribute.
_NIT_OIDS = (x509.ObjectIdentifier("2.5.4.5"), x509.ObjectIdentifier("1.3.6.1.4.1.4710.1.3.2"))
_DIGITS = re.compile(r"\d{5,15}")
# Received documents are judged on integrity, not on our taste in algorithms: old DIAN test
# files are signed with SHA-1, and still either intact or not.
_CONFIGURATION = dict(
    expect_references=True,
    signature_methods=frozenset(SignatureMethod),
    digest_algorithms=frozenset(DigestAlgorithm),
    ignore_ambiguous_key_info=True,  # DIAN's KeyInfo carries both X509Data and KeyValue
)

MAX_REFERENCES = 10  # DIAN's XAdES signs three: the document, the KeyInfo, the SignedProperties
CHAIN_NOT_CHECKED = "cadena no verificada"
CHAIN_TRUSTED = "cadena verificada"
CHAIN_UNTRUSTED = "cadena no confiable"


class _Verifier(XMLVerifier):
    """signxml's verifier, minus a per-parse Python walk of every node looking for entities.

    signxml re-parses its own serializations of the document several times per signature and,
    each time, walks the whole tree in Python for entity nodes: three quarters of the cost of
    a verification. The document reached here through the hardened parser (`dian.xml`: no
    DOCTYPE, no entities), and an entity cannot appear without a DTD, which is still refused
    here as signxml does; so the walk is skipped.
    """

    def _fromstring(self, xml_string: bytes | str, **kwargs: object) -> etree._Element:
        node = etree.fromstring(xml_string, parser=_parser(), **kwargs)
        info = etree.ElementTree(node).docinfo
        if info.internalDTD is not None or info.externalDTD is not None:
            raise InvalidInput("DTD declarations are not supported in XML input")
        return node


# lxml parsers must not be used by two threads at once: one per thread, as in `dian.xml`.
_local = threading.local()


def _parser() -> etree.XMLParser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    return parser


def check_signature(root: etree._Element) -> SignatureCheck:
    """The state of the signature of the document whose parsed root is `root`.

    Never raises: anything signxml cannot verify is `invalida` with the reason.
    """
    signature = root.find(_OWN_SIGNATURE)
    if signature is None:
        signature = next((s for s in root.iterchildren(_SIGNATURE)), None)
    if signature is None:
        return SignatureCheck(ABSENT, "El documento no trae firma (ds:Signature).")
    certificate_text = signature.findtext(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    certificate = _certificate(certificate_text)
    if certificate is None:
        return SignatureCheck(INVALID, "La firma no trae un certificado X.509 legible en su KeyInfo.")
    described = _describe(certificate, signature)
    references = signature.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    if len(references) > MAX_REFERENCES:  # each one digests its target again: a cheap way to stall us
        return replace(described, detail=f"La firma tiene {len(references)} referencias; se admiten hasta "
                                         f"{MAX_REFERENCES}.")
    if not _signs_whole_document(signature):
        return replace(described, detail="La firma no cubre el documento completo (falta la referencia URI=\"\").")
    configuration = SignatureConfiguration(verification_time=certificate.not_valid_before_utc, **_CONFIGURATION)  # type: ignore[arg-type]
    try:
        _Verifier().verify(root, x509_cert=certificate, expect_config=configuration)
    except InvalidDigest:
        return replace(described, detail="La firma no es válida: el contenido firmado cambió después de firmarse.")
    except InvalidSignature:
        return replace(described, detail="La firma no es válida: no corresponde a la clave del certificado que trae.")
    except InvalidCertificate:
        return replace(described, detail="La firma no es válida: el certificado que trae no se puede usar.")
    except InvalidInput as problem:
        return replace(described, detail=f"La firma no es válida: estructura no admitida ({_short(problem)}).")
    except Exception as problem:  # signxml raises plain errors on malformed input too
        return replace(described, detail=f"La firma no se pudo verificar ({type(problem).__name__}).")
    return replace(described, status=VALID, detail="La firma está intacta con el certificado que trae.")


def _certificate(text: str | None) -> x509.Certificate | None:
    if not text:
        return None
    try:
        return x509.load_der_x509_certificate(base64.b64decode("".join(text.split()), validate=True))
    except (ValueError, binascii.Error):
        return None


def _signs_whole_document(signature: etree._Element) -> bool:
    # A signature over its KeyInfo alone would verify while the invoice was rewritten.
    return any(reference.get("URI") == "" for reference in signature.iterfind(f"{{{DS}}}SignedInfo/{{{DS}}}Reference"))


def _describe(certificate: x509.Certificate, signature: etree._Element) -> SignatureCheck:
    """An `invalida` check carrying the certificate's details, for the caller to settle."""
    return SignatureCheck(
        INVALID,
        subject=_name(certificate.subject),
        issuer=_name(certificate.issuer),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        signing_time=_signing_time(signature),
        certificate_nit=certificate_nit(certificate),
        certificate=base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode("ascii"),
    )


def _name(name: x509.Name) -> str:
    return name.rfc4514_string()[:500]


def _signing_time(signature: etree._Element) -> str | None:
    for element in signature.iter("{*}SigningTime"):
        return (element.text or "").strip()[:40] or None
    return None


def certificate_nit(certificate: x509.Certificate) -> str | None:
    """The NIT the certificate names (without check digit), if any."""
    for oid in _NIT_OIDS:
        for attribute in certificate.subject.get_attributes_for_oid(oid):
            value = attribute.value if isinstance(attribute.value, str) else attribute.value.decode("latin-1")
            found = _DIGITS.search(value)
            if found:
                return found.group()
    return None


def nit_matches(check: SignatureCheck | None, nit: str) -> bool | None:
    """Whether the signing certificate names `nit` (None when unknown). Often False for
    good reason: many technology providers sign with their own certificate."""
    if check is None or check.certificate_nit is None:
        return None
    return check.certificate_nit == nit or check.certificate_nit[:-1] == nit  # some include the check digit


def valid_at_signing(check: SignatureCheck) -> bool | None:
    """Whether the certificate was within its validity dates when the document says it was signed."""
    if check.signing_time is None or check.not_before is None or check.not_after is None:
        return None
    try:
        moment = datetime.fromisoformat(check.signing_time)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return check.not_before <= moment <= check.not_after


def _short(problem: Exception) -> str:
    text = " ".join(str(problem).split())
    return text if len(text) <= 200 else text[:199] + "…"


# --- trust in the certificate ---------------------------------------------------------------


class TrustedRoots:
    """The PEM bundle of certification authorities the technician trusts (`certificados_firma`)."""

    def __init__(self, certificates: list[x509.Certificate]) -> None:
        self.certificates = certificates

    @classmethod
    def load(cls, path: Path) -> TrustedRoots:
        """Raises ValueError with a Spanish reason naming the file."""
        try:
            data = path.read_bytes()
        except OSError as error:
            raise ValueError(f"No se pudo leer {path}: {error.strerror or error}") from None
        try:
            certificates = x509.load_pem_x509_certificates(data)
        except ValueError:
            raise ValueError(f"{path} no es un paquete PEM de certificados.") from None
        return cls(certificates)

    def status(self, certificate_b64: str | None) -> str:
        """`cadena verificada` when the certificate is one of the bundle's or was signed by
        one of them (roots and their intermediates); else `cadena no confiable`."""
        if certificate_b64 is None:
            return CHAIN_UNTRUSTED
        try:
            leaf = x509.load_der_x509_certificate(base64.b64decode(certificate_b64))
        except ValueError:
            return CHAIN_UNTRUSTED
        if leaf in self.certificates or any(_issued_by(leaf, authority) for authority in self.certificates):
            return CHAIN_TRUSTED
        return CHAIN_UNTRUSTED


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    if certificate.issuer != issuer.subject:
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignatureError):
        return False
    return True


def chain_status(certificate_b64: str | None, roots: TrustedRoots | None) -> str:
    """What can honestly be said of the certificate's chain: without roots, nothing."""
    if roots is None:
        return CHAIN_NOT_CHECKED
    return roots.status(certificate_b64)

