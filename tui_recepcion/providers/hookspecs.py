"""Hook specifications: what a provider plugin may implement.

Every hook is documented in docs/plugins.md (a test checks it). Compatibility rules:
new hooks and new keyword arguments may be added in later versions; an implementation
only declares the arguments it uses, so old plugins keep working. A plugin that
implements a hook this version does not know yet should mark it
`@hookimpl(optionalhook=True)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import ssl

    from tui_recepcion.oauth.flows import OAuthFlow
    from tui_recepcion.providers.discovery import DiscoveredServer, Resolver
    from tui_recepcion.providers.model import Provider

PROJECT_NAME = "tui_recepcion"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def recepcion_register_providers() -> list[Provider]:  # type: ignore[empty-body]  # a hook specification has no body
    """Return the providers this plugin adds (an empty list is fine)."""


@hookspec(firstresult=True)
def recepcion_suggest_provider(email: str, domain: str) -> str | None:
    """Return the id of the provider that serves `email`, or None when it is not yours.

    `domain` is the lower-cased part after the last "@". Called while the technician
    types, so it must be fast and must not touch the network.
    """


@hookspec
def recepcion_discover_servers(
    email: str,
    domain: str,
    resolver: Resolver,
    timeout: float,
    ssl_context: ssl.SSLContext,
) -> list[DiscoveredServer] | None:
    """Return servers found for `email` (DNS, probes…), each saying how it was found.

    Use `resolver` for every DNS question (tests replace it) and `ssl_context` for every
    TLS handshake (it verifies certificates); keep each network operation under `timeout`
    seconds.
    """


@hookspec(firstresult=True)
def recepcion_oauth_flow(provider_id: str) -> OAuthFlow | None:
    """Return how accounts of provider `provider_id` obtain OAuth2 tokens, or None if not yours.

    The result is an `OAuthFlow` (see `tui_recepcion.oauth.flows`): `authorize(account, ui,
    tokens)` runs the interactive authorization once, `access_token(account, tokens)` gives
    a valid token later, refreshing and saving the state. Called only when an OAuth2 account
    is used; import heavy libraries (msal…) inside, not at module level.
    """
