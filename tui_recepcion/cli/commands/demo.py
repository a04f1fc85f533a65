"""`tui-recepcion demo [--sin-tui]`: generated DIAN mail processed live on the dashboard."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tui_recepcion.demo import DEFAULT_GOOD, prepare_demo, run_headless
from tui_recepcion.errors import RecepcionError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="demostración: correo DIAN generado, procesado en vivo en el tablero",
        description="Genera en una carpeta temporal un buzón local con facturas, notas crédito y "
        "notas débito de varios proveedores, más correos que deben fallar, y los procesa en vivo en "
        "el tablero. No usa la configuración ni la base de datos del usuario.",
    )
    parser.add_argument("--sin-tui", action="store_true", help="procesa sin interfaz e imprime el resumen")
    parser.add_argument("--correos", type=_positive, default=DEFAULT_GOOD, metavar="N",
                        help=f"cuántos correos válidos generar (por defecto {DEFAULT_GOOD})")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="tui-recepcion-demo-") as folder:
        print(f"Generando {args.correos} correos DIAN de prueba y los que deben fallar…", flush=True)
        demo = prepare_demo(Path(folder), good=args.correos)
        if args.sin_tui:
            try:
                print(run_headless(demo))
            except RecepcionError as error:
                print(f"Error: {error}")
                return 1
            return 0
        from tui_recepcion.ui.app import create_app  # Textual only for the interactive demo

        app = create_app(demo.config_path, demo=demo)
        try:
            app.run()
        finally:
            app.services.engine.close()
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"«{text}» no es un número") from None
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError("debe estar entre 1 y 10000")
    return value
