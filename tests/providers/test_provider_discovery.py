"""Server discovery: SRV ordering, common host names confirmed by real TLS probes on loopback."""

from __future__ import annotations

import socket
import threading

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest
from provider_support import closed_port

from tui_recepcion.providers import (
    DEFAULT_PLUGINS,
    DiscoveredServer,
    DnsResolver,
    ProviderError,
    ServerDefaults,
    SrvRecord,
    hookimpl,
    load_registry,
)
from tui_recepcion.providers.discovery import SRV_SERVICES, discover_servers, order_srv_records
from tui_recepcion.providers.probe import make_ssl_context, probe_server

IMAPS, IMAP = SRV_SERVICES[0], SRV_SERVICES[1]
TIMEOUT = 5.0


def srv(priority: int, weight: int, target: str, port: int = 993) -> SrvRecord:
    return SrvRecord(priority=priority, weight=weight, port=port, target=target)


# -- SRV ordering (pure) -----------------------------------------------------------------


def test_lowest_priority_wins_even_over_implicit_tls():
    ordered = order_srv_records(
        [(IMAPS, srv(20, 0, "tls.ejemplo.test.")), (IMAP, srv(10, 0, "starttls.ejemplo.test.", 143))]
    )

    assert [record.host for _, record in ordered] == ["starttls.ejemplo.test", "tls.ejemplo.test"]


def test_at_equal_priority_implicit_tls_is_preferred():
    ordered = order_srv_records(
        [(IMAP, srv(10, 90, "starttls.ejemplo.test.", 143)), (IMAPS, srv(10, 1, "tls.ejemplo.test."))]
    )

    assert [service.name for service, _ in ordered] == ["_imaps._tcp", "_imap._tcp"]


def test_at_equal_priority_and_service_the_higher_weight_comes_first():
    ordered = order_srv_records(
        [
            (IMAPS, srv(10, 5, "b.ejemplo.test.")),
            (IMAPS, srv(10, 60, "c.ejemplo.test.")),
            (IMAPS, srv(5, 0, "a.ejemplo.test.")),
            (IMAPS, srv(10, 5, "aa.ejemplo.test.")),
        ]
    )

    assert [record.host for _, record in ordered] == [
        "a.ejemplo.test",
        "c.ejemplo.test",
        "aa.ejemplo.test",  # equal weight: alphabetical, so the suggestion is stable
        "b.ejemplo.test",
    ]


def test_a_dot_target_is_never_suggested():
    assert order_srv_records([(IMAPS, srv(0, 0, "."))]) == []


# -- discovery against loopback listeners ------------------------------------------------


def test_srv_records_are_followed_in_order_and_probed(resolver, mail_listener, pki):
    secondary = mail_listener("imap", "ssl")
    primary = mail_listener("imap", "starttls")
    resolver.srv_records = {
        "_imaps._tcp.ejemplo.test": [srv(20, 5, "respaldo.ejemplo.test.", secondary.port)],
        "_imap._tcp.ejemplo.test": [srv(10, 0, "correo.ejemplo.test.", primary.port)],
    }
    resolver.hosts = {
        ("respaldo.ejemplo.test", secondary.port): [("127.0.0.1", secondary.port)],
        ("correo.ejemplo.test", primary.port): [("127.0.0.1", primary.port)],
    }

    found = discover_servers("ejemplo.test", resolver, TIMEOUT, make_ssl_context(str(pki.ca_file)))
    imap = [f for f in found if f.protocol == "imap"]

    assert [(f.server, f.source, f.verified) for f in imap] == [
        (ServerDefaults("correo.ejemplo.test", primary.port, "starttls"), "srv", True),
        (ServerDefaults("respaldo.ejemplo.test", secondary.port, "ssl"), "srv", True),
    ]
    assert imap[0].detail == "registro SRV _imap._tcp.ejemplo.test (prioridad 10, peso 0)"
    # SRV answered for IMAP, so no IMAP host name was guessed.
    assert not [asked for asked in resolver.asked if asked[0] in ("imap.ejemplo.test", "mail.ejemplo.test") and asked[1] in (993, 143)]


def test_common_names_are_suggested_only_when_a_tls_probe_confirms_them(resolver, mail_listener, pki):
    imaps = mail_listener("imap", "ssl")
    submission = mail_listener("smtp", "starttls")
    impostor = mail_listener("pop3", "ssl", wrong_certificate=True)
    resolver.point("imap.ejemplo.test", 993, imaps)
    resolver.point("smtp.ejemplo.test", 587, submission)
    resolver.point("mail.ejemplo.test", 995, impostor)
    resolver.hosts[("pop.ejemplo.test", 995)] = [("127.0.0.1", closed_port())]

    found = discover_servers("ejemplo.test", resolver, TIMEOUT, make_ssl_context(str(pki.ca_file)))

    assert [(f.protocol, f.server, f.source, f.verified) for f in found] == [
        ("imap", ServerDefaults("imap.ejemplo.test", 993, "ssl"), "nombre_comun", True),
        ("smtp", ServerDefaults("smtp.ejemplo.test", 587, "starttls"), "nombre_comun", True),
    ]
    assert found[0].detail == "nombre habitual imap.ejemplo.test en el puerto estándar"
    assert found[0].probe == "respondió IMAP con TLS y certificado válido"
    # Every guess was really tried: the impostor completed TCP but its certificate was refused.
    assert impostor.connections >= 1 and impostor.handshakes == 0
    assert {("pop.ejemplo.test", 995), ("pop3.ejemplo.test", 110), ("mail.ejemplo.test", 465)} <= set(resolver.asked)


def test_a_dot_srv_target_means_that_service_is_not_offered(resolver, mail_listener, pki):
    pop3s = mail_listener("pop3", "ssl")
    pop3_starttls = mail_listener("pop3", "starttls")
    resolver.srv_records = {"_pop3s._tcp.ejemplo.test": [srv(0, 0, ".", 0)]}
    resolver.point("pop.ejemplo.test", 995, pop3s)
    resolver.point("pop.ejemplo.test", 110, pop3_starttls)

    found = discover_servers("ejemplo.test", resolver, TIMEOUT, make_ssl_context(str(pki.ca_file)))

    assert [(f.protocol, f.server) for f in found] == [
        ("pop3", ServerDefaults("pop.ejemplo.test", 110, "starttls"))
    ]
    assert not [asked for asked in resolver.asked if asked[1] == 995]
    assert pop3s.connections == 0


def test_certificates_are_verified(resolver, mail_listener):
    imaps = mail_listener("imap", "ssl")
    resolver.point("imap.ejemplo.test", 993, imaps)
    resolver.srv_records = {"_submissions._tcp.ejemplo.test": [srv(0, 0, "smtp.ejemplo.test.", 465)]}
    resolver.point("smtp.ejemplo.test", 465, mail_listener("smtp", "ssl"))

    # Without the test CA the self-made certificate is not trusted.
    found = discover_servers("ejemplo.test", resolver, TIMEOUT, make_ssl_context())

    assert [(f.protocol, f.source, f.verified) for f in found] == [("smtp", "srv", False)]
    assert "certificado no válido para smtp.ejemplo.test" in found[0].probe
    assert imaps.connections >= 1 and imaps.handshakes == 0


@pytest.mark.parametrize(
    ("protocol", "security", "listener_kwargs", "reason"),
    [
        ("imap", "starttls", {"starttls_reply": b"A1 NO no disponible"}, "no ofrece STARTTLS"),
        ("pop3", "starttls", {"starttls_reply": b"-ERR no"}, "no ofrece STARTTLS"),
        ("smtp", "starttls", {"starttls_reply": b"454 TLS no disponible"}, "no ofrece STARTTLS"),
        ("imap", "ssl", {"greeting": b"220 esto es SMTP"}, "no es de un servidor IMAP"),
        ("pop3", "starttls", {"greeting": b"* OK esto es IMAP"}, "no es de un servidor POP3"),
    ],
)
def test_probe_refuses_servers_that_do_not_speak_the_protocol_or_starttls(
    resolver, mail_listener, pki, protocol, security, listener_kwargs, reason
):
    listener = mail_listener(protocol, security, **listener_kwargs)
    resolver.point("correo.ejemplo.test", 1000, listener)

    result = probe_server(
        resolver, protocol, ServerDefaults("correo.ejemplo.test", 1000, security),
        make_ssl_context(str(pki.ca_file)), TIMEOUT,
    )

    assert not result.ok
    assert reason in result.detail


def test_probe_tries_the_next_address_when_one_is_unreachable(resolver, mail_listener, pki):
    listener = mail_listener("pop3", "ssl")
    resolver.hosts[("pop.ejemplo.test", 995)] = [("127.0.0.1", closed_port()), ("127.0.0.1", listener.port)]

    result = probe_server(
        resolver, "pop3", ServerDefaults("pop.ejemplo.test", 995, "ssl"),
        make_ssl_context(str(pki.ca_file)), TIMEOUT,
    )

    assert result.ok, result.detail


def test_probe_gives_up_on_a_silent_server_at_the_timeout(resolver, pki):
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (backlog) but never speaks
    with silent:
        resolver.hosts[("imap.ejemplo.test", 993)] = [silent.getsockname()]
        result = probe_server(
            resolver, "imap", ServerDefaults("imap.ejemplo.test", 993, "ssl"),
            make_ssl_context(str(pki.ca_file)), 0.3,
        )

    assert not result.ok
    assert "tiempo de espera agotado" in result.detail


# -- through the registry ----------------------------------------------------------------


class FailingDiscovery:
    __name__ = "descubre-mal"

    @hookimpl
    def recepcion_discover_servers(self, domain):
        raise ConnectionError("sin red")


def test_registry_discover_returns_generic_suggestions_and_isolates_failing_plugins(
    resolver, mail_listener, pki
):
    resolver.point("imap.ejemplo.test", 993, mail_listener("imap", "ssl"))
    registry = load_registry(plugins=[*DEFAULT_PLUGINS, FailingDiscovery()], entry_points=[])

    discovery = registry.discover("ana@Ejemplo.Test", timeout=TIMEOUT, resolver=resolver, ca_file=str(pki.ca_file))

    assert (discovery.domain, discovery.provider_id) == ("ejemplo.test", "generic")
    best = discovery.best("imap")
    assert isinstance(best, DiscoveredServer)
    assert (best.server, best.verified) == (ServerDefaults("imap.ejemplo.test", 993, "ssl"), True)
    assert discovery.best("pop3") is None
    assert [(f.plugin, f.stage, f.message) for f in registry.failures] == [
        ("descubre-mal", "descubrimiento", "ConnectionError: sin red")
    ]


@pytest.mark.parametrize("email", ["ana", "ana@", "ana@localhost", "ana@ejemplo..co", "ana@-x.co"])
def test_registry_discover_rejects_addresses_without_a_domain(email):
    with pytest.raises(ProviderError, match="no es una dirección de correo válida"):
        load_registry(entry_points=[]).discover(email, resolver=object())  # type: ignore[arg-type]


# -- the real resolver against a loopback DNS server -------------------------------------


@pytest.fixture
def dns_server():
    """A UDP DNS server on loopback answering SRV questions from a table."""
    zone = {
        "_imaps._tcp.ejemplo.test.": ["0 5 993 imap.ejemplo.test.", "10 1 993 respaldo.ejemplo.test."],
        "_pop3s._tcp.ejemplo.test.": ["0 0 0 ."],
    }
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            data, peer = sock.recvfrom(4096)
            if stop.is_set():
                return
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            name = query.question[0].name.to_text()
            if name in zone:
                response.answer.append(dns.rrset.from_text_list(name, 60, "IN", "SRV", zone[name]))
            else:
                response.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as waker:  # unblock recvfrom
        waker.sendto(b"", sock.getsockname())
    thread.join(timeout=5)
    sock.close()


def test_dns_resolver_reads_srv_records(dns_server):
    resolver = DnsResolver(2.0, nameservers=["127.0.0.1"], port=dns_server)

    assert sorted(resolver.srv("_imaps._tcp.ejemplo.test"), key=lambda r: r.priority) == [
        SrvRecord(priority=0, weight=5, port=993, target="imap.ejemplo.test."),
        SrvRecord(priority=10, weight=1, port=993, target="respaldo.ejemplo.test."),
    ]
    [no_service] = resolver.srv("_pop3s._tcp.ejemplo.test")
    assert no_service.declares_no_service
    assert resolver.srv("_imap._tcp.ejemplo.test") == []


def test_dns_resolver_resolves_host_addresses():
    # /etc/hosts only: no query leaves the machine.
    assert ("127.0.0.1", 993) in DnsResolver().addresses("localhost", 993)


def test_dns_resolver_without_system_configuration_answers_nothing_instead_of_crashing(monkeypatch):
    def no_configuration(self, *args, **kwargs):
        raise dns.resolver.NoResolverConfiguration("sin resolv.conf")

    monkeypatch.setattr(dns.resolver.Resolver, "read_resolv_conf", no_configuration)
    resolver = DnsResolver(0.5)

    with pytest.raises(dns.exception.DNSException):
        resolver.srv("_imaps._tcp.ejemplo.test")
    resolver.addresses = lambda host, port: []  # keep the system resolver out of the test
    assert discover_servers("ejemplo.test", resolver, 0.5, make_ssl_context()) == []
