"""OAuth2 token health: per account, the last successful token refresh and the last failure.

The store is the usual listener of `tui_recepcion.oauth.health`; it never holds a token.
"""

from __future__ import annotations

from tui_recepcion.store.database import StoreBase, as_datetime, now_text
from tui_recepcion.store.problems import translated
from tui_recepcion.store.rows import TokenHealth


class TokenHealthLog(StoreBase):
    """The token-health aggregate of `Store`."""

    @translated
    def record_token_refresh(self, account: str) -> None:
        """An access token was obtained from the identity provider (authorization or refresh)."""
        with self._db.transaction(scope=account):
            self._db.execute(
                """INSERT INTO oauth_tokens (account, healthy, last_refresh_at) VALUES (?, 1, ?)
                   ON CONFLICT (account) DO UPDATE SET healthy = 1, last_refresh_at = excluded.last_refresh_at""",
                (account, now_text()),
            )

    @translated
    def record_token_failure(self, account: str, code: str, message: str) -> None:
        """Refreshing failed (`code` like "token_revocado"); `message` is the Spanish reason."""
        with self._db.transaction(scope=account):
            self._db.execute(
                """INSERT INTO oauth_tokens (account, healthy, last_failure_at, last_failure_code, last_failure)
                   VALUES (?, 0, ?, ?, ?)
                   ON CONFLICT (account) DO UPDATE SET healthy = 0, last_failure_at = excluded.last_failure_at,
                   last_failure_code = excluded.last_failure_code, last_failure = excluded.last_failure""",
                (account, now_text(), code, message),
            )

    @translated
    def token_health(self, account: str) -> TokenHealth | None:
        with self._db.lock:
            row = self._db.execute(
                """SELECT healthy, last_refresh_at, last_failure_at, last_failure_code, last_failure
                   FROM oauth_tokens WHERE account = ?""",
                (account,),
            ).fetchone()
        if row is None:
            return None
        return TokenHealth(account, bool(row[0]), as_datetime(row[1]), as_datetime(row[2]), row[3], row[4])
