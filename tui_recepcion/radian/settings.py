"""[empresa] made ready to sign: the certificate opened, the PIN read, the sender's party.

The certificate's password and the PIN are read from where [empresa] says (keyring, env:VAR
or archivo:/ruta, `tui_recepcion/secrets.py`) only when an event is signed; they stay
`Secret`s (masked) and are revealed only to the PKCS#12 loader and the SHA-384.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tui_recepcion.config import Company
from tui_recepcion.dian.nit import check_digit
from tui_recepcion.errors import SecretError
from tui_recepcion.radian.client import ENDPOINTS
from tui_recepcion.radian.event import EventParty, Person
from tui_recepcion.radian.identity import SigningIdentity, load_identity
from tui_recepcion.radian.problems import RadianError
from tui_recepcion.secrets import Secret, secret_store

ENVIRONMENT_CODES = {"produccion": "1", "habilitacion": "2"}  # ProfileExecutionID
KEYRING_OWNER = "empresa"  # keyring items "empresa:clave_certificado" and "empresa:pin"


@dataclass(frozen=True, slots=True)
class SendingProfile:
    company: Company
    sender: EventParty
    person: Person | None
    identity: SigningIdentity
    pin: Secret = field(repr=False)

    @property
    def environment_code(self) -> str:
        return ENVIRONMENT_CODES[self.company.environment]

    @property
    def service_url(self) -> str:
        return self.company.service_url or ENDPOINTS[self.company.environment]

    @property
    def ca_file(self) -> Path | None:
        return self.company.ca_file


def company_party(company: Company) -> EventParty:
    digits = company.nit_digits
    computed = check_digit(digits)
    given = company.given_check_digit
    if given is not None and given != computed:
        raise RadianError(
            f"[empresa] nit: el dígito de verificación {given} no corresponde al NIT {digits} (debería ser {computed})."
        )
    return EventParty(digits, company.name, computed, "31")


def company_person(company: Company) -> Person | None:
    if not (company.person_first_name and company.person_family_name and company.person_id):
        return None
    return Person(company.person_first_name, company.person_family_name, company.person_id_type or "13",
                  company.person_id, company.person_job_title, company.person_department)


def read_secret(reference: str, key: str) -> Secret:
    try:
        return secret_store(reference, KEYRING_OWNER, key).read()
    except SecretError as error:
        raise RadianError(f"[empresa] {key}: {error}") from None


def load_profile(company: Company) -> SendingProfile:
    """Everything needed to sign and send; RadianError (Spanish, no secret) if something is missing."""
    sender = company_party(company)
    password = read_secret(company.certificate_password_ref, "clave_certificado")
    pin = read_secret(company.pin_ref, "pin")
    identity = load_identity(company.certificate, password)
    return SendingProfile(company, sender, company_person(company), identity, pin)
