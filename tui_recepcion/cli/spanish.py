"""Spanish for argparse's own texts ("usage:", "options", its error messages).

argparse looks its texts up through gettext at call time via its module-level `_`; the
technician should read Spanish everywhere, so the CLI installs this table as that lookup.
Texts missing here fall back to English rather than failing.
"""

from __future__ import annotations

import argparse

SPANISH: dict[str, str] = {
    "usage: ": "uso: ",
    "options": "opciones",
    "positional arguments": "argumentos",
    "show this help message and exit": "muestra esta ayuda y termina",
    "show program's version number and exit": "muestra la versión y termina",
    "%(prog)s: error: %(message)s\n": "%(prog)s: error: %(message)s\n",
    "the following arguments are required: %s": "faltan los argumentos obligatorios: %s",
    "invalid choice: %(value)r (choose from %(choices)s)": "opción inválida: %(value)r (elija entre %(choices)s)",
    "unrecognized arguments: %s": "argumentos no reconocidos: %s",
    "expected one argument": "se esperaba un valor",
    "expected at least one argument": "se esperaba al menos un valor",
    "expected at most one argument": "se esperaba como máximo un valor",
    "invalid %(type)s value: %(value)r": "valor %(type)s inválido: %(value)r",
    "argument %(argument_name)s: %(message)s": "argumento %(argument_name)s: %(message)s",
    "ambiguous option: %(option)s could match %(matches)s": "opción ambigua: %(option)s puede ser %(matches)s",
    "not allowed with argument %s": "no se permite junto con el argumento %s",
    "one of the arguments %s is required": "se requiere uno de los argumentos %s",
    "ignored explicit argument %r": "se ignoró el argumento explícito %r",
}


def _translate(text: str) -> str:
    return SPANISH.get(text, text)


def install() -> None:
    argparse._ = _translate  # type: ignore[attr-defined]
