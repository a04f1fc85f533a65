"""`eventos enviar|estado|generar|habilitacion`: the company's own RADIAN events to DIAN.

What is sent, and every rule that protects the company, is `tui_recepcion.radian.sender`;
these commands only read the options, print DIAN's answers in Spanish and set the exit code
(0 everything is at DIAN, 1 something was refused, rejected or got no answer, 2 usage).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tui_recepcion.cli.commands._common import add_database_argument, config_for, fail, open_store
from tui_recepcion.dian.radian import CLAIM_REASONS, event_label
from tui_recepcion.errors import RecepcionError
from tui_recepcion.radian.client import DianClient
from tui_recepcion.radian.problems import SendRefused
from tui_recepcion.radian.requester import requester
from tui_recepcion.radian.sender import AcceptanceConfirmation, EventSender, SendResult
from tui_recepcion.radian.settings import load_profile
from tui_recepcion.store import Store

EXIT_USAGE = 2
SENDABLE = ("030", "031", "032", "033")


def _codes(text: str) -> list[str]:
    codes = [part.strip() for part in text.split(",") if part.strip()]
    wrong = [code for code in codes if code not in SENDABLE]
    if not codes or wrong:
        raise argparse.ArgumentTypeError(
            f"tipo inválido «{text}»; use códigos separados por comas entre 030, 031, 032 y 033 (p. ej. 030,032)")
    return codes


def _reason(text: str) -> str:
    if text not in CLAIM_REASONS:
        options = "; ".join(f"{code} {name.lower()}" for code, name in CLAIM_REASONS.items())
        raise argparse.ArgumentTypeError(f"concepto de reclamo inválido «{text}»; use {options}")
    return text


def _cufe(text: str) -> str:
    cufe = text.strip().lower()
    if len(cufe) != 96 or any(ch not in "0123456789abcdef" for ch in cufe):
        raise argparse.ArgumentTypeError(f"CUFE inválido «{text[:20]}…»: deben ser 96 caracteres hexadecimales")
    return cufe


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--solicitante", metavar="NOMBRE",
                        help="quién pide el envío (queda registrado); por defecto, el usuario del sistema")
    parser.add_argument("--tiempo-espera", type=float, default=60.0, metavar="SEGUNDOS",
                        help="segundos de espera de la respuesta de la DIAN (por defecto 60)")
    add_database_argument(parser)


def add_commands(sub: argparse._SubParsersAction) -> None:
    send = sub.add_parser("enviar", help="envía eventos a la DIAN", description=(
        "Firma y envía a la DIAN eventos de documentos guardados. En lote (--pendientes o varios --cufe) solo "
        "030 y 032; la aceptación expresa (033) y el reclamo (031), documento por documento."))
    send.add_argument("--tipo", type=_codes, required=True, metavar="CODIGOS", help="eventos, p. ej. 030,032")
    target = send.add_mutually_exclusive_group(required=True)
    target.add_argument("--cufe", type=_cufe, action="append", metavar="CUFE", help="CUFE del documento (repetible)")
    target.add_argument("--pendientes", action="store_true", help="todas las facturas a las que les falta el evento")
    send.add_argument("--motivo", type=_reason, metavar="01-04", help="concepto del reclamo (031)")
    send.add_argument("--confirmar-aceptacion", metavar="NUMERO",
                      help="033: el número de la factura que acepta, como confirmación explícita (irrevocable)")
    _common(send)
    send.set_defaults(run=run_send)

    status = sub.add_parser("estado", help="consulta en la DIAN los eventos de un documento",
                            description="Muestra los envíos registrados aquí y lo que la DIAN tiene (GetStatusEvent).")
    status.add_argument("--cufe", type=_cufe, required=True, metavar="CUFE")
    _common(status)
    status.set_defaults(run=run_status)

    generate = sub.add_parser("generar", help="genera y firma un evento sin enviarlo (para revisarlo)")
    generate.add_argument("--tipo", type=_codes, required=True, metavar="CODIGO", help="un evento: 030, 031, 032 o 033")
    generate.add_argument("--cufe", type=_cufe, required=True, metavar="CUFE")
    generate.add_argument("--salida", type=Path, required=True, metavar="ARCHIVO", help="dónde escribir el XML firmado")
    generate.add_argument("--motivo", type=_reason, metavar="01-04", help="concepto del reclamo (031)")
    generate.add_argument("--confirmar-aceptacion", metavar="NUMERO", help="033: el número de la factura")
    _common(generate)
    generate.set_defaults(run=run_generate)

    enable = sub.add_parser("habilitacion", help="corre el set de pruebas de eventos en habilitación", description=(
        "Envía al ambiente de habilitación de la DIAN el acuse (030) y el recibo (032) de cada documento, y el "
        "reclamo (031) o la aceptación (033) de los indicados, e imprime cada respuesta de la DIAN."))
    enable.add_argument("--cufe", type=_cufe, action="append", required=True, metavar="CUFE",
                        help="documento de prueba (repetible)")
    enable.add_argument("--reclamar", type=_cufe, metavar="CUFE", help="además, reclamo (031) de este documento")
    enable.add_argument("--motivo", type=_reason, default="01", metavar="01-04", help="concepto del reclamo (01)")
    enable.add_argument("--aceptar", type=_cufe, metavar="CUFE", help="además, aceptación expresa (033)")
    enable.add_argument("--confirmar-aceptacion", metavar="NUMERO", help="el número de la factura que se acepta")
    _common(enable)
    enable.set_defaults(run=run_enablement)


def _requester(args: argparse.Namespace) -> str:
    if args.solicitante:
        return str(args.solicitante)
    return f"{requester()} (línea de comandos)"


def _sender(args: argparse.Namespace, store: Store) -> EventSender:
    config = config_for(args)
    if config.company is None:
        raise SendRefused("empresa_sin_configurar", (
            "Falta la sección [empresa] en la configuración (NIT, certificado, software y PIN): vea "
            "config.toml.example y el README, sección «Eventos RADIAN»."))
    profile = load_profile(config.company)
    client = DianClient(profile.service_url, profile.identity, ca_file=profile.ca_file, timeout=args.tiempo_espera)
    return EventSender(store, profile, client)


def _print_result(result: SendResult | SendRefused, cufe: str | None = None, code: str | None = None) -> bool:
    if isinstance(result, SendRefused):
        where = f"{code} " if code else ""
        print(f"{where}{(cufe or '')[:16]}…: no se envió: {result}")
        return False
    print(f"{result.code} ({event_label(result.code).lower()}) de {result.document_number} "
          f"[{result.event_number}]: {result.state}")
    for line in result.message.splitlines():
        print(f"    {line}")
    return result.at_dian


def _send_one(sender: EventSender, cufe: str, codes: Sequence[str], args: argparse.Namespace, who: str) -> bool:
    """Each code in turn for one document; stops at the first that does not reach DIAN."""
    for code in codes:
        confirmation = None
        if code == "033" and args.confirmar_aceptacion:
            confirmation = AcceptanceConfirmation(cufe, args.confirmar_aceptacion)
        try:
            result: SendResult | SendRefused = sender.send(
                cufe, code, requested_by=who, claim_reason=args.motivo if code == "031" else None,
                confirmation=confirmation)
        except SendRefused as refused:
            result = refused
        if not _print_result(result, cufe, code):
            return False
    return True


def run_send(args: argparse.Namespace) -> int:
    single = args.cufe is not None and len(args.cufe) == 1
    if not single and any(code in ("031", "033") for code in args.tipo):
        print("Error: la aceptación expresa (033) y el reclamo (031) se envían documento por documento: "
              "indique un solo --cufe.", file=sys.stderr)
        return EXIT_USAGE
    if "031" in args.tipo and args.motivo is None:
        print("Error: el reclamo (031) necesita --motivo (01 a 04).", file=sys.stderr)
        return EXIT_USAGE
    if "033" in args.tipo and not args.confirmar_aceptacion:
        print("Error: la aceptación expresa (033) es irrevocable: confirme con --confirmar-aceptacion "
              "NUMERO_DE_LA_FACTURA.", file=sys.stderr)
        return EXIT_USAGE
    who = _requester(args)
    try:
        with open_store(args) as store:
            sender = _sender(args, store)
            if single:
                return 0 if _send_one(sender, args.cufe[0], args.tipo, args, who) else 1
            cufes = sender.pending(args.tipo) if args.pendientes else args.cufe
            if not cufes:
                print("No hay documentos pendientes de esos eventos.")
                return 0
            results = sender.send_many(cufes, args.tipo, requested_by=who)
    except RecepcionError as error:
        return fail(str(error))
    return 0 if all([_print_result(result) for result in results]) else 1


def run_status(args: argparse.Namespace) -> int:
    try:
        with open_store(args) as store:
            sends = store.radian_sends(args.cufe)
            document = store.document_by_cufe(args.cufe)
            print(f"Documento {document.document.number if document else '(no está guardado)'} — CUFE {args.cufe}")
            if not sends:
                print("Eventos enviados desde aquí: ninguno.")
            for send in sends:
                print(f"  {send.code} ({event_label(send.code).lower()}) [{send.number}]: {send.state}, "
                      f"{send.attempts} intento(s), pedido por {send.requested_by}, {send.updated_at:%Y-%m-%d %H:%M}")
            sender = _sender(args, store)
            answer, codes = sender.status(args.cufe)
    except RecepcionError as error:
        return fail(str(error))
    print("En la DIAN (GetStatusEvent):")
    for line in answer.summary().splitlines():
        print(f"  {line}")
    registered = ", ".join(f"{code} ({event_label(code).lower()})" for code in sorted(codes)) or "ninguno"
    print(f"  Eventos registrados: {registered}")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    if len(args.tipo) != 1:
        print("Error: generar hace un solo evento: indique un solo código en --tipo.", file=sys.stderr)
        return EXIT_USAGE
    code = args.tipo[0]
    confirmation = AcceptanceConfirmation(args.cufe, args.confirmar_aceptacion) if args.confirmar_aceptacion else None
    try:
        with open_store(args) as store:
            xml = _sender(args, store).generate(args.cufe, code, claim_reason=args.motivo if code == "031" else None,
                                                confirmation=confirmation)
        with open(args.salida, "xb") as stream:  # never over an existing file
            stream.write(xml)
    except FileExistsError:
        return fail(f"{args.salida} ya existe; elija otro archivo.")
    except OSError as error:
        return fail(f"No se pudo escribir {args.salida}: {error.strerror}.")
    except RecepcionError as error:
        return fail(str(error))
    print(f"Evento {code} firmado y guardado en {args.salida} (no se envió a la DIAN).")
    return 0


def run_enablement(args: argparse.Namespace) -> int:
    if args.aceptar and args.confirmar_aceptacion is None:
        print("Error: --aceptar necesita --confirmar-aceptacion NUMERO_DE_LA_FACTURA.", file=sys.stderr)
        return EXIT_USAGE
    if args.aceptar and args.aceptar == args.reclamar:
        print("Error: un documento no se reclama y se acepta a la vez.", file=sys.stderr)
        return EXIT_USAGE
    who = _requester(args) + " — habilitación"
    ok = True
    try:
        with open_store(args) as store:
            sender = _sender(args, store)
            company = sender.profile.company
            if company.environment != "habilitacion":
                return fail("La habilitación se corre con ambiente = \"habilitacion\" en [empresa]; "
                            "este archivo dice \"produccion\".")
            print(f"Habilitación de eventos — software {company.software_id}, set de pruebas "
                  f"{company.test_set_id or '(sin set_pruebas)'}, servicio {sender.profile.service_url}")
            plan = [(cufe, ["030", "032"]) for cufe in dict.fromkeys(args.cufe)]
            if args.reclamar:
                plan.append((args.reclamar, ["031"]))
            if args.aceptar:
                plan.append((args.aceptar, ["033"]))
            for cufe, codes in plan:
                ok = _send_one(sender, cufe, codes, args, who) and ok
    except RecepcionError as error:
        return fail(str(error))
    print("Resultado: todos los eventos quedaron en la DIAN." if ok else "Resultado: hay eventos sin registrar (arriba).")
    return 0 if ok else 1

