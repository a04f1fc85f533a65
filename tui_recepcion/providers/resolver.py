"""The DNS seam used by server discovery: SRV records and host addresses.

Discovery asks every DNS question through a `Resolver`, so tests answer from a table
(pointing host names at loopback) and the real implementation stays small.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Protocol as TypingProtocol
from typing import runtime_checkable

import dns.exception

Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class SrvRecord:
    """One SRV answer (RFC 2782). A `target` of "." means the service is not offered."""

    priority: int
    weight: int
    port: int
    target: str

    @property
    def declares_no_service(self) -> bool:
        return self.target in ("", ".")

    @property
    def host(self) -> str:
        """The target without the trailing dot of an absolute DNS name."""
        return self.target.rstrip(".")


@runtime_checkable
class Resolver(TypingProtocol):
    """What discovery needs from DNS. Methods return empty lists when a name has no answer."""

    def srv(self, name: str) -> list[SrvRecord]:
        """SRV records for `name`, e.g. "_imaps._tcp.ejemplo.co"."""
        ...

    def addresses(self, host: str, port: int) -> list[Address]:
        """Socket addresses to try, in order, to reach `host` on `port`."""
        ...


class DnsResolver:
    """The real resolver: SRV through dnspython, host names through the system (getaddrinfo).

    dnspython reads the system's resolv.conf, retries over TCP when an answer is
    truncated and bounds every query with `timeout`. `nameservers`/`port` point it at a
    specific server (tests use a loopback one).
    """

    def __init__(
        self,
        timeout: float = 5.0,
        *,
        nameservers: list[str] | None = None,
        port: int = 53,
    ) -> None:
        import dns.resolver  # heavy (~0.2 s); only discovery needs it, not every start

        self._timeout = timeout
        if nameservers is None:
            try:
                self._resolver = dns.resolver.Resolver()
            except dns.resolver.NoResolverConfiguration:
                # No resolv.conf: every SRV query fails (NoNameservers) and discovery
                # falls back to host names, which getaddrinfo may still resolve.
                self._resolver = dns.resolver.Resolver(configure=False)
        else:
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = list(nameservers)
        self._resolver.port = port
        self._resolver.lifetime = timeout

    def srv(self, name: str) -> list[SrvRecord]:
        import dns.rdatatype
        import dns.resolver

        try:
            answer = self._resolver.resolve(name, dns.rdatatype.SRV, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        return [
            SrvRecord(
                priority=rdata.priority,
                weight=rdata.weight,
                port=rdata.port,
                target=rdata.target.to_text(),
            )
            for rdata in answer
        ]

    def addresses(self, host: str, port: int) -> list[Address]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror:
            return []
        seen: list[Address] = []
        for _family, _type, _proto, _canon, sockaddr in infos:
            address = (str(sockaddr[0]), int(sockaddr[1]))
            if address not in seen:
                seen.append(address)
        return seen


# Errors a DNS lookup may raise besides "no answer": timeouts, SERVFAIL, no nameserver.
DNS_ERRORS: tuple[type[BaseException], ...] = (dns.exception.DNSException, OSError)
