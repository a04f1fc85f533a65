"""The company's signing identity: its PKCS#12 file (.p12/.pfx) opened with its password.

The private key lives only in memory; `repr` never shows it, and what leaves this module is
a PEM in memory handed straight to the signing library, never a file.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from tui_recepcion.radian.problems import RadianError
from tui_recepcion.secrets import FileRefused, Secret, read_regular_file

MAX_PKCS12_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class SigningIdentity:
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    _key: rsa.RSAPrivateKey = field(repr=False)

    def __repr__(self) -> str:
        return f"SigningIdentity(subject={self.certificate.subject.rfc4514_string()!r}, key='********')"

    def key_pem(self) -> bytes:
        """The private key as unencrypted PEM, for the signing library (memory only)."""
        return self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def certificate_der_base64(self) -> str:
        return base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode("ascii")

    def certificate_sha256_base64(self) -> str:
        digest = hashlib.sha256(self.certificate.public_bytes(serialization.Encoding.DER)).digest()
        return base64.b64encode(digest).decode("ascii")

    def public_numbers_base64(self) -> tuple[str, str]:
        """The RSA modulus and exponent, base64 of their big-endian bytes (ds:RSAKeyValue)."""
        numbers = self._key.public_key().public_numbers()

        def encoded(value: int) -> str:
            return base64.b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).decode("ascii")

        return encoded(numbers.n), encoded(numbers.e)

    def issuer_name(self) -> str:
        return self.certificate.issuer.rfc4514_string()

    def serial_number(self) -> str:
        return str(self.certificate.serial_number)


def load_identity(path: Path, password: Secret, *, now: datetime | None = None) -> SigningIdentity:
    """Open the PKCS#12 at `path`; RadianError (Spanish, no secret) if it cannot sign today."""
    try:
        data, _ = read_regular_file(path, MAX_PKCS12_BYTES)
    except FileRefused as refused:
        raise RadianError(f"El certificado {path} {refused.reason}.") from None
    try:
        key, certificate, chain = pkcs12.load_key_and_certificates(data, password.reveal().encode("utf-8"))
    except ValueError:
        raise RadianError(
            f"No se pudo abrir el certificado {path}: la clave no corresponde o el archivo no es PKCS#12 (.p12/.pfx)."
        ) from None
    if certificate is None or key is None:
        raise RadianError(f"El archivo {path} no trae el certificado con su llave privada.")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise RadianError(f"La llave del certificado {path} no es RSA; la DIAN exige firma RSA-SHA256.")
    moment = now or datetime.now(UTC)
    if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
        raise RadianError(
            f"El certificado {path} no está vigente (válido del {certificate.not_valid_before_utc:%Y-%m-%d} "
            f"al {certificate.not_valid_after_utc:%Y-%m-%d})."
        )
    return SigningIdentity(certificate, tuple(chain or ()), key)
