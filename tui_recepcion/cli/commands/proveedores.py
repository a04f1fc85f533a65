"""`tui-recepcion proveedores`: every provider, where it comes from, and plugin failures.

With `--formato json` stdout is exactly the JSON array of providers (docs/architecture.md, «Contracts»); plugin
failures and blocked plugins always go to stderr, so scripts can parse stdout safely.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from tui_recepcion.providers import (
    BLOCK_ENV_VAR,
    PROTOCOLS,
    ProviderRegistry,
    ServerDefaults,
    load_registry,
)
from tui_recepcion.vocabulary import SECURITY_LABELS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "proveedores",
        help="lista los proveedores de correo, su origen y las fallas de complementos",
        description=(
            "Lista los proveedores de correo disponibles (integrados y de complementos "
            "instalados), su origen y los complementos que no se pudieron cargar."
        ),
    )
    parser.add_argument(
        "--formato",
        choices=("tabla", "json"),
        default="tabla",
        help="formato de salida (por defecto: tabla)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    registry = load_registry()
    if args.formato == "json":
        json.dump(providers_as_json(registry), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print_table(registry, sys.stdout)
    print_problems(registry, sys.stderr)
    if not registry.providers:
        print("No se cargó ningún proveedor.", file=sys.stderr)
        return 1
    return 0


def providers_as_json(registry: ProviderRegistry) -> list[dict[str, Any]]:
    return [
        {
            "id": provider.id,
            "nombre": provider.name,
            "origen": registry.origin(provider.id),
            "complemento": registry.plugin(provider.id),
            "tipos_servidor": list(provider.auth_types),
            "servidores": {
                protocol: _server_json(provider.server(protocol)) for protocol in PROTOCOLS
            },
            "alternativas": [
                {"protocolo": alt.protocol, **_server_fields(alt.server), "nota": alt.note}
                for alt in provider.alternatives
            ],
            "descubrimiento_automatico": provider.autodiscover,
            "usuario": provider.username_hint,
            "guia": provider.guidance_md,
        }
        for provider in registry.providers.values()
    ]


def _server_json(server: ServerDefaults | None) -> dict[str, Any] | None:
    return None if server is None else _server_fields(server)


def _server_fields(server: ServerDefaults) -> dict[str, Any]:
    return {"servidor": server.host, "puerto": server.port, "seguridad": server.security}


def print_table(registry: ProviderRegistry, out: TextIO) -> None:
    rows = [
        (
            provider.id,
            provider.name,
            registry.origin(provider.id),
            ", ".join(provider.auth_types),
        )
        for provider in registry.providers.values()
    ]
    headers = ("ID", "NOMBRE", "ORIGEN", "TIPOS")
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    print(line(headers), file=out)
    for row, provider in zip(rows, registry.providers.values(), strict=True):
        print(line(row), file=out)
        servers = [
            (protocol, server, "" if index == 0 and provider.server(protocol) else "  (alternativa)")
            for protocol in PROTOCOLS
            for index, server in enumerate(provider.servers_for(protocol))
        ]
        addresses = [f"{server.host}:{server.port}" for _, server, _ in servers]
        width = max(map(len, addresses), default=0)
        for (protocol, server, mark), address in zip(servers, addresses, strict=True):
            print(
                f"    {protocol:<4}  {address:<{width}}  {SECURITY_LABELS[server.security]}{mark}",
                file=out,
            )
        if not servers and provider.autodiscover:
            print("    servidores sugeridos a partir de la dirección (DNS SRV y nombres habituales)", file=out)


def print_problems(registry: ProviderRegistry, out: TextIO) -> None:
    if registry.blocked:
        print(
            f"Complementos bloqueados por {BLOCK_ENV_VAR}: {', '.join(registry.blocked)}",
            file=out,
        )
    if registry.failures:
        print(f"Fallas de complementos ({len(registry.failures)}):", file=out)
        for failure in registry.failures:
            print(f"  - {failure}", file=out)
