"""What the screens need from the engine, gathered in one object the app hands them.

Tests build it with fakes or a fixed clock; the CLI builds it with the real engine. Screens
read it as `self.app.services`, so no screen opens a store or reads config.toml itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from tui_recepcion.accounts import DEFAULT_TIMEOUT
from tui_recepcion.alerts import SendAlert
from tui_recepcion.config import DEFAULT_TIMEZONE, Account, Config, load_config_or_empty
from tui_recepcion.engine.service import Engine, SourceFactory
from tui_recepcion.providers import ProviderRegistry
from tui_recepcion.providers.discovery import Discovery
from tui_recepcion.secrets import KeyringStatus, probe_keyring
from tui_recepcion.store import Store

if TYPE_CHECKING:  # the SOAP and signing libraries load when an event is sent, not at start
    from tui_recepcion.radian.sender import EventSender


def utc_now() -> datetime:
    return datetime.now(UTC)


# Seconds each discovery phase (DNS, then probes) may take while the technician waits.
DISCOVERY_TIMEOUT = 4.0


@dataclass
class Services:
    config_path: Path
    engine: Engine
    clock: Callable[[], datetime] = utc_now
    keyring_probe: Callable[[], KeyringStatus] = probe_keyring
    # Seconds a connection test waits for the server before giving up.
    probe_timeout: float = DEFAULT_TIMEOUT
    # The demo's Maildir sources by account id; real accounts use their IMAP/POP3 server.
    sources: dict[str, SourceFactory] = field(default_factory=dict)
    # Start processing every account as soon as the dashboard opens (the demo does).
    autostart: bool = False
    # How alerts leave; None sends them through each account's SMTP (the demo has none).
    send_alert: SendAlert | None = None
    # How the form looks up servers for an address (DNS SRV records, probes); tests replace it.
    discover: Callable[[str], Discovery] | None = None

    @property
    def config(self) -> Config:
        return self.engine.config

    @property
    def store(self) -> Store:
        return self.engine.store

    @property
    def registry(self) -> ProviderRegistry:
        return self.engine.registry

    @property
    def accounts(self) -> list[Account]:
        return list(self.config.accounts.values())

    def find_servers(self, email: str) -> Discovery:
        """Servers for `email` on a provider without fixed ones; blocks, so call it from a worker."""
        if self.discover is not None:
            return self.discover(email)
        return self.registry.discover(email, DISCOVERY_TIMEOUT)

    def reload_config(self) -> Config:
        """Re-read config.toml after the form saved it; the store stays open."""
        self.engine.config = load_config_or_empty(self.config_path)
        return self.engine.config

    def local_time(self, moment: datetime, account: Account | None = None) -> datetime:
        """`moment` in the account's time zone (Colombia unless configured otherwise)."""
        return moment.astimezone(account.tzinfo if account is not None else ZoneInfo(DEFAULT_TIMEZONE))

    def event_sender(self) -> EventSender:
        """The sender of RADIAN events for [empresa] (raises a RecepcionError in Spanish)."""
        from tui_recepcion.radian.client import DianClient
        from tui_recepcion.radian.problems import SendRefused
        from tui_recepcion.radian.sender import EventSender
        from tui_recepcion.radian.settings import load_profile

        company = self.config.company
        if company is None:
            raise SendRefused("empresa_sin_configurar", (
                "Para enviar eventos a la DIAN falta la sección [empresa] en la configuración "
                "(NIT, certificado, software y PIN): vea el README, sección «Eventos RADIAN»."))
        profile = load_profile(company)
        return EventSender(self.store, profile, DianClient(profile.service_url, profile.identity,
                                                           ca_file=profile.ca_file))

