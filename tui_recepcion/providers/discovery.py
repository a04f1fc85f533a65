"""Server discovery for an email address: RFC 6186/8314 SRV records, then common names.

The generic provider calls `discover_servers` from its `recepcion_discover_servers` hook.

SRV ordering (RFC 2782 with RFC 6186 §3.4 and RFC 8314 §5.1): for each protocol the records
of both services (e.g. `_imaps` and `_imap`) are merged; the lowest priority wins; at equal
priority implicit TLS is preferred over STARTTLS; then the higher weight comes first.
RFC 2782 meant weight for a weighted random choice, but a suggestion shown in a form must be
stable, so we take the server the domain gives the largest share to. A lone target of "."
says the service is not offered: no host name is guessed for it either.

Without SRV records for a protocol we guess `imap.`, `pop.`, `pop3.`, `mail.`, `smtp.` +
domain on the standard ports and keep only what a TCP + TLS probe (certificate verified)
confirms.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Literal, TypeVar

from tui_recepcion.providers.model import (
    PROTOCOLS,
    Protocol,
    Security,
    ServerDefaults,
    standard_port,
)
from tui_recepcion.providers.probe import ProbeResult, probe_server
from tui_recepcion.providers.resolver import DNS_ERRORS, Resolver, SrvRecord
from tui_recepcion.vocabulary import SSL, STARTTLS

T = TypeVar("T")
Source = Literal["srv", "nombre_comun"]


@dataclass(frozen=True, slots=True)
class SrvService:
    name: str  # e.g. "_imaps._tcp"
    protocol: Protocol
    security: Security


SRV_SERVICES: tuple[SrvService, ...] = (
    SrvService("_imaps._tcp", "imap", "ssl"),
    SrvService("_imap._tcp", "imap", "starttls"),
    SrvService("_pop3s._tcp", "pop3", "ssl"),
    SrvService("_pop3._tcp", "pop3", "starttls"),
    SrvService("_submissions._tcp", "smtp", "ssl"),
    SrvService("_submission._tcp", "smtp", "starttls"),
)

COMMON_HOST_PREFIXES: dict[Protocol, tuple[str, ...]] = {
    "imap": ("imap", "mail"),
    "pop3": ("pop", "pop3", "mail"),
    "smtp": ("smtp", "mail"),
}
_GUESSED_SECURITIES: tuple[Security, ...] = (SSL, STARTTLS)  # implicit TLS first
_PHASE_MARGIN = 0.5  # seconds a phase may wait beyond `timeout` for its threads to report


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoveredServer:
    """A server suggested for an address, saying how it was found and whether it answered."""

    protocol: Protocol
    server: ServerDefaults
    source: Source
    detail: str  # Spanish: how it was found
    verified: bool  # a TLS handshake with a valid certificate and the protocol greeting
    probe: str = ""  # Spanish: what the probe saw


@dataclass(frozen=True, slots=True)
class Discovery:
    """What `ProviderRegistry.discover` found for one address."""

    email: str
    domain: str
    provider_id: str  # the suggested provider for the address
    servers: tuple[DiscoveredServer, ...]

    def for_protocol(self, protocol: Protocol) -> tuple[DiscoveredServer, ...]:
        return tuple(found for found in self.servers if found.protocol == protocol)

    def best(self, protocol: Protocol) -> DiscoveredServer | None:
        """The first confirmed server for `protocol`, else the first one found at all."""
        candidates = self.for_protocol(protocol)
        first = candidates[0] if candidates else None
        return next((found for found in candidates if found.verified), first)


def order_srv_records(
    answers: Sequence[tuple[SrvService, SrvRecord]],
) -> list[tuple[SrvService, SrvRecord]]:
    """Order one protocol's SRV records by preference (see the module docstring)."""
    usable = [(service, record) for service, record in answers if not record.declares_no_service]
    return sorted(
        usable,
        key=lambda item: (
            item[1].priority,
            0 if item[0].security == SSL else 1,
            -item[1].weight,
            item[1].host,
            item[1].port,
        ),
    )


def discover_servers(
    domain: str,
    resolver: Resolver,
    timeout: float,
    ssl_context: ssl.SSLContext,
) -> list[DiscoveredServer]:
    """Servers for `domain` in protocol order (imap, pop3, smtp), best first in each."""
    lookups = _parallel(
        [_srv_lookup(resolver, f"{service.name}.{domain}") for service in SRV_SERVICES],
        timeout,
    )
    answers = {service: records or [] for service, records in zip(SRV_SERVICES, lookups, strict=True)}

    candidates: list[tuple[Protocol, ServerDefaults, Source, str]] = []
    for protocol in PROTOCOLS:
        srv = order_srv_records(
            [(s, r) for s, records in answers.items() if s.protocol == protocol for r in records]
        )
        if srv:
            candidates += [
                (
                    protocol,
                    ServerDefaults(record.host, record.port, service.security),
                    "srv",
                    f"registro SRV {service.name}.{domain} "
                    f"(prioridad {record.priority}, peso {record.weight})",
                )
                for service, record in srv
            ]
            continue
        not_offered = {
            s.security
            for s, records in answers.items()
            if s.protocol == protocol and records and all(r.declares_no_service for r in records)
        }
        candidates += [
            (
                protocol,
                ServerDefaults(f"{prefix}.{domain}", standard_port(protocol, security), security),
                "nombre_comun",
                f"nombre habitual {prefix}.{domain} en el puerto estándar",
            )
            for security in _GUESSED_SECURITIES
            if security not in not_offered
            for prefix in COMMON_HOST_PREFIXES[protocol]
        ]

    probes = _parallel(
        [_probe(resolver, protocol, server, ssl_context, timeout) for protocol, server, _, _ in candidates],
        timeout,
    )
    found: list[DiscoveredServer] = []
    for (protocol, server, source, detail), result in zip(candidates, probes, strict=True):
        result = result or ProbeResult(False, "tiempo de espera agotado")
        # A guessed name is only a suggestion once it answered; an SRV record is the
        # domain's own statement, kept even when this machine cannot reach it.
        if result.ok or source == "srv":
            found.append(
                DiscoveredServer(
                    protocol=protocol,
                    server=server,
                    source=source,
                    detail=detail,
                    verified=result.ok,
                    probe=result.detail,
                )
            )
    return found


def _srv_lookup(resolver: Resolver, name: str) -> Callable[[], list[SrvRecord]]:
    def lookup() -> list[SrvRecord]:
        try:
            return resolver.srv(name)
        except DNS_ERRORS:
            return []  # an unreachable DNS is the same as no record: fall back to names

    return lookup


def _probe(
    resolver: Resolver,
    protocol: Protocol,
    server: ServerDefaults,
    ssl_context: ssl.SSLContext,
    timeout: float,
) -> Callable[[], ProbeResult]:
    return lambda: probe_server(resolver, protocol, server, ssl_context, timeout)


def _parallel(calls: Sequence[Callable[[], T]], timeout: float) -> list[T | None]:
    """Run `calls` concurrently; None for a call that raised or did not finish in time."""
    if not calls:
        return []
    pool = ThreadPoolExecutor(max_workers=min(16, len(calls)), thread_name_prefix="descubrir")
    try:
        futures = [pool.submit(call) for call in calls]
        wait(futures, timeout=timeout + _PHASE_MARGIN)
        return [
            future.result() if future.done() and future.exception() is None else None
            for future in futures
        ]
    finally:
        # Never block the caller on a stuck lookup: abandoned threads end on their own timeouts.
        pool.shutdown(wait=False, cancel_futures=True)
