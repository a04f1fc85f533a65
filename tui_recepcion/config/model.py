"""The configuration's model: what a reception account, [general] and the whole file hold.

Plain frozen dataclasses with English attributes; the Spanish TOML keys they come from are
described once in `fields.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from tui_recepcion.errors import ConfigError
from tui_recepcion.vocabulary import AuthType, MailboxProtocol, Security

DEFAULT_TIMEZONE = "America/Bogota"


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Outgoing mail for forwarding (POP3) and alerts; unset parts come from the provider."""

    host: str
    port: int
    security: Security
    username: str | None = None  # None: the account's own username
    secret_ref: str | None = None  # None: the account's own secret
    authenticate: bool = True


@dataclass(frozen=True, slots=True)
class OAuthSettings:
    """Which application registration and authority an OAuth2 account signs in with."""

    client_id: str | None = None
    authority: str | None = None
    client_secret_ref: str | None = None  # where a client secret lives (Google), never the value


@dataclass(frozen=True, slots=True)
class Account:
    """One reception mailbox: every field of the reception form."""

    id: str
    provider: str
    auth_type: AuthType
    protocol: MailboxProtocol
    host: str
    port: int
    security: Security
    username: str
    secret_ref: str = "keyring"
    allow_plaintext: bool = False
    receiver_nit: str | None = None  # digits only, without the check digit
    receiver_check_digit: str | None = None  # dígito de verificación, kept apart
    password_expiry: date | None = None
    notify_email: str | None = None
    backup_email: str | None = None
    processed_folder: str = "Procesados"
    failed_folder: str = "Fallidos"
    ca_file: Path | None = None
    timezone: str = DEFAULT_TIMEZONE
    smtp: SmtpSettings | None = None
    oauth: OAuthSettings | None = None

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class General:
    database: Path | str | None = None  # an SQLite file, or a PostgreSQL URL (text)
    documents_dir: Path | None = None
    interval_minutes: int = 5
    require_valid_signature: bool = False
    signing_roots: Path | None = None
    claim_clock_start: str = "recepcion"
    saturday_business_day: bool = True
    claims_summary: bool = False


@dataclass(frozen=True, slots=True)
class Company:
    """[empresa]: who sends RADIAN events to DIAN, and where its certificate and PIN live.

    The certificate's password and the software PIN are secret locations (`keyring`,
    `env:VAR`, `archivo:/ruta`), never the values.
    """

    nit: str  # digits, optionally "-D" (check digit)
    name: str
    certificate: Path
    certificate_password_ref: str
    software_id: str
    pin_ref: str
    environment: str  # "habilitacion" | "produccion"
    test_set_id: str | None = None
    person_first_name: str | None = None
    person_family_name: str | None = None
    person_id_type: str | None = None
    person_id: str | None = None
    person_job_title: str | None = None
    person_department: str | None = None
    auto_acknowledge: bool = False
    auto_receipt: bool = False
    service_url: str | None = None
    ca_file: Path | None = None

    @property
    def nit_digits(self) -> str:
        return self.nit.partition("-")[0]

    @property
    def given_check_digit(self) -> str | None:
        return self.nit.partition("-")[2] or None


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None = None
    general: General = field(default_factory=General)
    accounts: Mapping[str, Account] = field(default_factory=dict)
    company: Company | None = None

    def account(self, account_id: str | None) -> Account:
        """The named account, or the only one; raises ConfigError with a Spanish reason."""
        if not self.accounts:
            raise ConfigError(f"No hay cuentas configuradas en {self.path}. Use el formulario (tui-recepcion) para crear una.")
        if account_id is None:
            if len(self.accounts) == 1:
                return next(iter(self.accounts.values()))
            names = ", ".join(self.accounts)
            raise ConfigError(f"Hay varias cuentas ({names}); indique una con --cuenta.")
        try:
            return self.accounts[account_id]
        except KeyError:
            names = ", ".join(self.accounts)
            raise ConfigError(f"No existe la cuenta «{account_id}». Cuentas configuradas: {names}.") from None

