"""Real XML signatures for the sample documents, with throwaway certificates.

The samples carry a signature as DIAN documents do, so the demo shows «firma válida» and the
benchmark pays the real cost of verifying one. The key is made once per process and never
leaves it; each issuer gets its own certificate (naming its NIT) over that key. Nothing here
is a credential: the certificates are self-signed and trusted by nobody.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no annotations
from signxml import XMLSigner

DS = "http://www.w3.org/2000/09/xmldsig#"
_PLACEHOLDER = f'<ds:Signature xmlns:ds="{DS}" Id="placeholder"></ds:Signature>'
_SIGNATURE = re.compile(rb"<ds:Signature .*?</ds:Signature>", re.S)
_DECLARATION = re.compile(rb"^<\?xml[^>]*\?>")


@functools.cache
def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _certificate_pem(nit: str, name: str) -> str:
    key = _key()
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CO"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{name[:40]} (demo)"),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, nit),
    ])
    start = datetime(2020, 1, 1, tzinfo=UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(int(nit)).not_valid_before(start).not_valid_after(start + timedelta(days=365 * 20))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def sign_sample(xml: bytes, nit: str, name: str) -> bytes:
    """`xml` with its (first) signature block replaced by a real enveloped signature."""
    declaration = _DECLARATION.match(xml)
    unsigned = _SIGNATURE.sub(_PLACEHOLDER.encode(), xml, count=1)
    root = etree.fromstring(unsigned)
    # The key object, not its PEM: loading a PEM re-checks the RSA key, tens of ms each time.
    signed = XMLSigner(signature_algorithm="rsa-sha256", digest_algorithm="sha256").sign(
        root, key=_key(), cert=_certificate_pem(nit, name))
    body: bytes = etree.tostring(signed, encoding="UTF-8", xml_declaration=False)
    return (declaration[0] if declaration else b"") + body
