"""`tui-recepcion eventos …`: RADIAN events (the group; each sub-command lives in its own module)."""

from __future__ import annotations

import argparse

from tui_recepcion.cli.commands import eventos_envio


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eventos", help="eventos RADIAN: acuse, recibo, aceptación y reclamo ante la DIAN",
        description="Eventos RADIAN de los documentos recibidos (acuse de recibo, recibo del bien o servicio, "
                    "aceptación expresa, reclamo).")
    sub = parser.add_subparsers(dest="eventos", metavar="SUBCOMANDO", title="subcomandos", required=True)
    eventos_envio.add_commands(sub)
