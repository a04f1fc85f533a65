"""The form's «Empresa (eventos RADIAN)» section: the one [empresa] table of config.toml.

[empresa] is one per file, not per account, so it has its own collapsible, its own save
button and its own merge-save (`config.save_company`). The certificate's password and the
software PIN are typed here and written where their location says (a 0600 file by default,
or the keyring); config.toml only ever holds the location.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Button, Collapsible, Input, Select, Static

from tui_recepcion.config import (
    EMPRESA_FIELDS,
    Company,
    ConfigChangedOnDisk,
    ConfigSnapshot,
    NitError,
    parse_nit,
    save_company,
    take_snapshot,
)
from tui_recepcion.config.fields import AMBIENTES
from tui_recepcion.errors import RecepcionError
from tui_recepcion.radian.settings import KEYRING_OWNER
from tui_recepcion.secrets import Secret, parse_secret_ref, secret_store
from tui_recepcion.ui.fields import FieldRow

COMPANY_TITLE = "Empresa (eventos RADIAN)"
SPECS = {spec.key: spec for spec in EMPRESA_FIELDS}
# The keys the section edits; the others ([empresa] acuse_automatico…) stay as the file has them.
TEXT_KEYS = ("nit", "razon_social", "certificado", "software_id", "set_pruebas", "persona_nombre",
             "persona_apellido", "persona_tipo_documento", "persona_documento", "persona_cargo", "persona_area")
SECRET_KEYS = ("clave_certificado", "pin")
VALUE_SUFFIX = "-valor"
_PORTAL = "En el portal de facturación electrónica de la DIAN, Registro y habilitación → Habilitación: "
# Where each value comes from at DIAN (README, «Habilitar el software en la DIAN para eventos»).
HELP = {
    "nit": "El NIT de la empresa como figura en el RUT, con o sin dígito de verificación "
           "(901.234.567-7); si lo escribe, se comprueba con la fórmula de la DIAN.",
    "razon_social": "La razón social exacta del RUT de la empresa.",
    "certificado": "El archivo .p12 o .pfx del certificado de firma digital de la empresa, el que "
                   "entregó la entidad de certificación (Certicámara, GSE…). Debe existir y poder leerse.",
    "clave_certificado": "Dónde se guarda la clave del certificado: «archivo:/ruta» (un archivo 0600, por "
                         "defecto junto a config.toml), «keyring» (el llavero del sistema) o «env:VARIABLE».",
    "clave_certificado" + VALUE_SUFFIX: "La clave con la que la entidad de certificación entregó el .p12. "
                                        "Se guarda donde dice el campo anterior, nunca en config.toml.",
    "software_id": _PORTAL + "el «Identificador del software» (SoftwareID) que muestra la DIAN al "
                   "registrar el software propio.",
    "pin": "Dónde se guarda el PIN del software: «archivo:/ruta», «keyring» o «env:VARIABLE».",
    "pin" + VALUE_SUFFIX: _PORTAL + "el PIN que usted eligió al registrar el software propio (la DIAN no lo "
                          "vuelve a mostrar). Se guarda donde dice el campo anterior, nunca en config.toml.",
    "ambiente": "«habilitacion» mientras corre el set de pruebas de la DIAN; «produccion» cuando la DIAN lo "
                "dé por aceptado y lo pase a producción en el mismo portal.",
    "set_pruebas": _PORTAL + "el TestSetId del set de pruebas; solo para la habilitación.",
    "persona_nombre": "Nombre de la persona de la empresa que recibe la factura o el bien: va en el acuse "
                      "(030) y en el recibo (032).",
    "persona_apellido": "Apellidos de esa persona.",
    "persona_tipo_documento": "Tipo de documento según la tabla de la DIAN: 13 cédula de ciudadanía, "
                              "22 cédula de extranjería, 41 pasaporte…",
    "persona_documento": "Número de documento de esa persona, sin puntos.",
    "persona_cargo": "Cargo de esa persona (p. ej. Auxiliar contable).",
    "persona_area": "Área o departamento de esa persona.",
}
SECRET_LABELS = {"clave_certificado": "Clave del certificado (valor)", "pin": "PIN del software (valor)"}


def default_secret_ref(config_path: Path, key: str) -> str:
    name = "empresa-" + key.replace("_", "-") + ".secreto"
    return f"archivo:{config_path.parent / name}"


def company_problems(values: dict[str, str]) -> dict[str, str]:
    """The Spanish problem of each field (key → message); empty when [empresa] is valid."""
    problems: dict[str, str] = {}
    for key in (*TEXT_KEYS, *SECRET_KEYS, "ambiente"):
        spec = SPECS[key]
        text = values.get(key, "").strip()
        if not text:
            if spec.required:
                problems[key] = "obligatorio"
            continue
        try:
            spec.convert(text)
        except ValueError as error:
            problems[key] = str(error)
    nit = values.get("nit", "").strip()
    if nit and "nit" not in problems:
        try:
            parse_nit(nit)
        except NitError as error:
            problems["nit"] = str(error)
    certificate = values.get("certificado", "").strip()
    if certificate and "certificado" not in problems and not os.access(Path(certificate).expanduser(), os.R_OK):
        problems["certificado"] = f"el archivo {certificate} no se puede leer (revise sus permisos)"
    return problems


class CompanySection(Vertical):
    """The [empresa] fields in their collapsible, with their F1 help, and «Guardar empresa»."""

    DEFAULT_CSS = "CompanySection { height: auto; }"

    def __init__(self, config_path: Path, company: Company | None) -> None:
        super().__init__(id="empresa-section")
        self.config_path = config_path
        self.company = company
        self._snapshot: ConfigSnapshot | None = None
        self._loaded: dict[str, str] = {}  # what the section showed right after load()

    def compose(self) -> ComposeResult:
        with Collapsible(title=COMPANY_TITLE, collapsed=True, id="empresa"):
            yield from self._rows()

    def _rows(self) -> ComposeResult:
        for key in TEXT_KEYS[:3]:
            yield self._row(key, Input(compact=True, id=f"e-{key}"))
        for key in SECRET_KEYS:
            yield self._row(key, Input(compact=True, id=f"e-{key}", placeholder="archivo:/ruta, keyring o env:VAR"))
            yield FieldRow(key + VALUE_SUFFIX, SECRET_LABELS[key], HELP[key + VALUE_SUFFIX],
                           Input(password=True, compact=True, id=f"e-{key}{VALUE_SUFFIX}"), id=f"row-e-{key}{VALUE_SUFFIX}")
        yield self._row("software_id", Input(compact=True, id="e-software_id"))
        yield self._row("ambiente", Select([(value, value) for value in AMBIENTES], allow_blank=False,
                                           value=AMBIENTES[0], compact=True, id="e-ambiente"))
        for key in TEXT_KEYS[4:]:
            yield self._row(key, Input(compact=True, id=f"e-{key}"))
        yield Button("Guardar empresa", id="guardar-empresa", compact=True)
        yield Static("", id="empresa-status")

    def _row(self, key: str, control: Any) -> FieldRow:
        spec = SPECS[key]
        return FieldRow(key, spec.label, HELP[key], control, required=spec.required, id=f"row-e-{key}")

    def on_mount(self) -> None:
        self.load(self.company)

    def load(self, company: Company | None) -> None:
        self.company = company
        self._snapshot = take_snapshot(self.config_path) if self.config_path.exists() else None
        for key in TEXT_KEYS:
            value = getattr(company, SPECS[key].attr) if company else None
            self.query_one(f"#e-{key}", Input).value = "" if value is None else str(value)
        for key in SECRET_KEYS:
            ref = getattr(company, SPECS[key].attr) if company else default_secret_ref(self.config_path, key)
            self.query_one(f"#e-{key}", Input).value = ref
            self.query_one(f"#e-{key}{VALUE_SUFFIX}", Input).value = ""
        self.query_one("#e-ambiente", Select).value = company.environment if company else AMBIENTES[0]
        self._loaded = self.values()

    def unsaved_changes(self) -> bool:
        """Whether the section shows something [empresa] (or the secret store) does not hold."""
        return bool(self.typed_secrets()) or self.values() != self._loaded

    def values(self) -> dict[str, str]:
        values = {key: self.query_one(f"#e-{key}", Input).value for key in (*TEXT_KEYS, *SECRET_KEYS)}
        choice = self.query_one("#e-ambiente", Select).value
        values["ambiente"] = choice if isinstance(choice, str) else ""
        return values

    def typed_secrets(self) -> dict[str, str]:
        return {key: value for key in SECRET_KEYS
                if (value := self.query_one(f"#e-{key}{VALUE_SUFFIX}", Input).value)}

    def _status(self, text: str) -> None:
        self.query_one("#empresa-status", Static).update(Content(text))

    # The account form listens to every Input of the screen: these rows are not the account's.
    @on(Input.Changed)
    @on(Input.Blurred)
    def _edited(self, event: Input.Changed | Input.Blurred) -> None:
        event.stop()

    def _company(self, values: dict[str, str]) -> Company | None:
        problems = company_problems(values)
        for row in self.query(FieldRow):
            row.show_error(problems.get(row.key))
        if problems:
            return None
        converted: dict[str, Any] = {SPECS[key].attr: None for key in TEXT_KEYS if not values[key].strip()}
        converted.update({SPECS[key].attr: SPECS[key].convert(text.strip())
                          for key, text in values.items() if text.strip()})
        if self.company is not None:
            return replace(self.company, **converted)
        return Company(**{attr: value for attr, value in converted.items() if value is not None})

    @on(Button.Pressed, "#guardar-empresa")
    def save(self, event: Button.Pressed | None = None) -> None:
        if event is not None:
            event.stop()
        company = self._company(self.values())
        if company is None:
            self._status("No se guardó la empresa: corrija los campos marcados.")
            return
        missing = [key for key in SECRET_KEYS if key not in self.typed_secrets()
                   and parse_secret_ref(getattr(company, SPECS[key].attr)).kind != "env"
                   and (self.company is None or getattr(self.company, SPECS[key].attr) != getattr(company, SPECS[key].attr))]
        for key in missing:
            self.query_one(f"#row-e-{key}{VALUE_SUFFIX}", FieldRow).show_error("escríbalo: se guarda en el lugar nuevo")
        if missing:
            self._status("No se guardó la empresa: falta escribir la clave o el PIN.")
            return
        try:
            for key, value in self.typed_secrets().items():  # the secrets first, as the account's
                secret_store(getattr(company, SPECS[key].attr), KEYRING_OWNER, key).write(Secret(value))
            result = save_company(self.config_path, company, snapshot=self._snapshot)
        except ConfigChangedOnDisk as conflict:
            self._status(f"No se guardó la empresa: {conflict}. Cierre y abra el formulario para ver el archivo.")
            return
        except RecepcionError as error:
            self._status(f"No se guardó la empresa: {error}")
            return
        self._snapshot = result.snapshot
        self.company = result.config.company
        for key in SECRET_KEYS:
            self.query_one(f"#e-{key}{VALUE_SUFFIX}", Input).value = ""
        self._loaded = self.values()
        self._status(f"Empresa guardada en {self.config_path}.")
