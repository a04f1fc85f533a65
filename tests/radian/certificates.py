"""Throwaway signing certificates for the RADIAN tests, made with `cryptography`.

A company certificate is RSA (DIAN signs RSA-SHA256) issued by a small test CA, packed as
PKCS#12 with a password, like the file a Colombian certification authority hands out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID


@dataclass(frozen=True, slots=True)
class CompanyCertificate:
    pkcs12: Path
    password: str
    certificate_pem: Path
    private_key_pem: bytes  # what must never leak: the tests grep for it


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CO"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Pruebas tui-recepcion"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_company_certificate(directory: Path, *, password: str = "Cl4ve-del-p12!", valid: bool = True,
                             common_name: str = "EMPRESA DE PRUEBAS S.A.S.") -> CompanyCertificate:
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (x509.CertificateBuilder().subject_name(_name("CA de pruebas")).issuer_name(_name("CA de pruebas"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    not_after = now + timedelta(days=30) if valid else now - timedelta(hours=1)
    certificate = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(ca.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(days=2)).not_valid_after(not_after)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .sign(ca_key, hashes.SHA256()))
    data = pkcs12.serialize_key_and_certificates(
        b"empresa", key, certificate, [ca], serialization.BestAvailableEncryption(password.encode()))
    path = directory / "empresa.p12"
    path.write_bytes(data)
    path.chmod(0o600)
    pem = directory / "empresa.pem"
    pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return CompanyCertificate(path, password, pem, key_pem)
