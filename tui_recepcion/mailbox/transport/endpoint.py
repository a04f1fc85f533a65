"""Where a mail service listens and how the connection to it is secured."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tui_recepcion.errors import ConfigError
from tui_recepcion.vocabulary import SECURITIES, Security


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a mail service listens and how to secure the connection to it."""

    host: str
    port: int
    security: Security
    ca_file: Path | None = None  # extra CA bundle (`certificados_ca`); system CAs stay trusted
    allow_plaintext: bool = False  # `permitir_sin_cifrado`; required for security "ninguna"
    timeout: float = 30.0  # seconds, for connecting and for every read

    def __post_init__(self) -> None:
        if not self.host or self.host != self.host.strip():
            raise ConfigError(f"El servidor «{self.host}» no es un nombre de host válido.")
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"El puerto {self.port} no es válido: debe estar entre 1 y 65535.")
        if self.security not in SECURITIES:
            raise ConfigError(
                f"La seguridad «{self.security}» no es válida: use ssl, starttls o ninguna."
            )
        if not self.timeout > 0:
            raise ConfigError(
                f"El tiempo de espera {self.timeout} no es válido: debe ser positivo."
            )
