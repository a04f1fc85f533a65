"""Where an OAuth2 account's token state lives: the account's own secret store.

The state (an msal token cache, or a refresh token with its access token) holds the
refresh token, so it is a secret like a password: it goes to the keyring or a 0600 file
named by `secreto`, never to config.toml, logs or the screen. An environment variable
cannot hold it, because the refresh token rotates and must be written back.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui_recepcion.config import Account
from tui_recepcion.errors import ConfigError, SecretMissing
from tui_recepcion.secrets import EnvStore, Secret, SecretStore, secret_store


@dataclass(frozen=True, slots=True)
class TokenStore:
    """Reads and writes one account's serialized token state through its SecretStore."""

    secrets: SecretStore

    @classmethod
    def for_account(cls, account: Account) -> TokenStore:
        store = secret_store(account.secret_ref, account.id, account.username)
        if isinstance(store, EnvStore):
            raise ConfigError(
                f"La cuenta «{account.id}» usa OAuth2 y su secreto está en una variable de entorno: "
                'el token se renueva y debe poder guardarse. Use secreto = "keyring" o '
                'secreto = "archivo:/ruta".'
            )
        return cls(store)

    def load(self) -> Secret | None:
        """The stored state, or None when nothing was stored yet; SecretError if unreadable."""
        try:
            return self.secrets.read()
        except SecretMissing:
            return None

    def save(self, state: Secret) -> None:
        self.secrets.write(state)

    def describe(self) -> str:
        """Where the state is kept, in Spanish (never the state itself)."""
        return self.secrets.ref.describe()
