"""The reception form: one account at a time, every field of docs/architecture.md, «The product», with its "?" help.

Labels and help come from `config.ACCOUNT_FIELDS` (and `OAUTH_FIELDS` for the
`[cuentas.ID.oauth2]` rows) and the chosen provider's `field_help`; validation is
`config.parse_account` on the table the form would write (form_model). What can block —
the keyring probe, writing the secret, the connection test, the OAuth2 authorization —
runs in thread workers, so the screen keeps answering keys meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from functools import partial
from typing import Any, TypeVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import (
    Button,
    Checkbox,
    Collapsible,
    Footer,
    Input,
    Label,
    LoadingIndicator,
    Select,
    Static,
)
from textual.worker import Worker, WorkerState

from tui_recepcion.accounts import authorize_account
from tui_recepcion.config import (
    FIELDS_BY_KEY,
    OAUTH_FIELDS,
    SMTP_FIELDS,
    Account,
    AccountExists,
    ConfigChangedOnDisk,
    ConfigSnapshot,
    FieldSpec,
    account_to_toml,
    format_date,
    is_past,
    parse_account,
    save_account,
    smtp_route_problem,
    take_snapshot,
)
from tui_recepcion.engine.connection_test import PROBE_SECONDS, ConnectionTestReport, probe_account
from tui_recepcion.errors import RecepcionError
from tui_recepcion.oauth import Authorization, AuthorizationCancelled
from tui_recepcion.providers.discovery import Discovery
from tui_recepcion.providers.guardrails import basic_auth_warning
from tui_recepcion.providers.manager import FALLBACK_PROVIDER
from tui_recepcion.secrets import KeyringStatus, Secret, parse_secret_ref, secret_store
from tui_recepcion.ui.account_picker import AccountPicker
from tui_recepcion.ui.authorize import TuiAuthorizationUI
from tui_recepcion.ui.company_form import CompanySection
from tui_recepcion.ui.dialogs import ChoiceDialog, ConfirmDialog, MessageDialog, SecretStoreDialog
from tui_recepcion.ui.fields import FieldRow
from tui_recepcion.ui.form_model import (
    ACCOUNT_NAME,
    CONFIRMATION,
    GENERAL,
    OAUTH_KEYS,
    OAUTH_REQUIRED,
    PASSWORD,
    SMTP_KEYS,
    SMTP_PASSWORD,
    FormValues,
    account_values,
    build_raw,
    field_problems,
    nit_problems,
    oauth_field,
    oauth_keys,
    oauth_problems,
    password_problems,
    smtp_field,
    suggest_account_name,
    suggest_server,
)
from tui_recepcion.ui.guide import GuidePanel, GuideScreen, provider_guide
from tui_recepcion.ui.navbar import NavBar
from tui_recepcion.ui.screen import RecepcionScreen, WorkerResult, describe_error, first_start_line
from tui_recepcion.vocabulary import (
    AUTH_TYPE_LABELS,
    BASIC,
    IMAP,
    MAILBOX_PROTOCOLS,
    OAUTH2,
    PLAINTEXT,
    POP3,
    PROTOCOL_LABELS,
    SECURITY_LABELS,
    STARTTLS,
    is_server_protocol,
)

NEW_ACCOUNT = "__nueva__"
# Form-only help texts: these fields have no config key of their own.
NAME_HELP = (
    "Nombre corto de esta cuenta en config.toml ([cuentas.NOMBRE]) y en la opción --cuenta: "
    "minúsculas, números, «-» o «_», p. ej. principal."
)
CONFIRMATION_HELP = "Escriba otra vez la contraseña, para descartar un error de digitación."
SELECTOR_HELP = (
    "Cuenta que se edita. Enter (o Ctrl+F desde cualquier campo) abre la lista de cuentas: escriba parte "
    "del nombre, del usuario o del NIT para encontrarla. Elija «Nueva cuenta…» para configurar otro buzón "
    "de recepción."
)
NEW_ACCOUNT_LABEL = "Nueva cuenta…"
OAUTH_NOTE = (
    "OAuth2 no usa contraseña: pulse Autorizar (Ctrl+O) e inicie sesión con la cuenta del buzón. "
    "El token se guarda aparte, nunca en config.toml."
)
OAUTH_SPECS = {spec.key: spec for spec in OAUTH_FIELDS}
ACCOUNT_DEFAULTS = {item.name: item.default for item in fields(Account)}
SMTP_SPECS = {spec.key: spec for spec in SMTP_FIELDS}
SMTP_PASSWORD_HELP = (
    "Contraseña propia del servidor SMTP, si no es la del buzón. Se guarda en un archivo 0600 "
    "junto a config.toml (nunca en config.toml). Deje vacío para usar la del buzón."
)
ADVANCED_TITLE = "Avanzado: certificado CA, carpetas IMAP y SMTP"
# The step shown while a connection test runs, before the first progress line arrives.
FIRST_STEP = "Preparando la prueba…"
OAUTH_PLACEHOLDERS = {
    "autoridad": "consumers u organizations, según el usuario",
    "secreto_cliente": "archivo:/ruta o keyring",
}


_Key = TypeVar("_Key", bound=str)
_MAILBOX_PROTOCOL_LABELS = {protocol: PROTOCOL_LABELS[protocol] for protocol in MAILBOX_PROTOCOLS}


def _options(labels: Mapping[_Key, str], keys: Iterable[_Key] | None = None) -> list[tuple[str, str]]:
    return [(labels[key], key) for key in (keys or labels)]


class InlineNote(Static):
    """A warning under a field (Outlook with Autenticación Básica…), hidden while empty."""

    DEFAULT_CSS = """
    InlineNote { height: auto; padding-left: 24; color: $text-warning; }
    """

    def show(self, text: str | None) -> None:
        self.display = bool(text)
        self.update(Content(text or ""))


class ConnectionTestProgress(Horizontal):
    """A spinner and the step a connection test is on; Esc cancels the test."""

    DEFAULT_CSS = """
    ConnectionTestProgress { height: 1; display: none; }
    ConnectionTestProgress LoadingIndicator { width: 6; height: 1; min-height: 1; background: transparent; }
    ConnectionTestProgress Static { width: 1fr; color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        yield LoadingIndicator()
        yield Static("", id="probe-step")

    def step(self, text: str) -> None:
        self.query_one("#probe-step", Static).update(Content(f"{text}  (Esc cancela)"))


class FormResult(WorkerResult):
    """A worker's result for the form as it was when the worker started (`generation`):
    a result that arrives after another account was loaded is not shown under it."""

    def __init__(self, generation: int) -> None:
        super().__init__()
        self.generation = generation


class ServersFound(WorkerResult):
    def __init__(self, discovery: Discovery | None) -> None:
        super().__init__()
        self.discovery = discovery


class ConnectionTested(FormResult):
    def __init__(self, generation: int, report: ConnectionTestReport) -> None:
        super().__init__(generation)
        self.report = report


class TestStep(FormResult):
    def __init__(self, generation: int, step: str) -> None:
        super().__init__(generation)
        self.step = step


class KeyringChecked(WorkerResult):
    def __init__(self, status: KeyringStatus) -> None:
        super().__init__()
        self.status = status


class AccountSaved(FormResult):
    def __init__(self, generation: int, account: Account, snapshot: ConfigSnapshot) -> None:
        super().__init__(generation)
        self.account = account
        self.snapshot = snapshot


class SaveConflict(FormResult):
    """config.toml changed on disk since the form loaded it: the technician decides."""

    def __init__(self, generation: int, account: Account, conflict: ConfigChangedOnDisk) -> None:
        super().__init__(generation)
        self.account = account
        self.conflict = conflict


class NameTaken(FormResult):
    """«Nueva cuenta…» with the name of an account the file already has."""

    def __init__(self, generation: int, error: AccountExists) -> None:
        super().__init__(generation)
        self.error = error


class SaveFailed(FormResult):
    def __init__(self, generation: int, message: str) -> None:
        super().__init__(generation)
        self.message = message


class AccountAuthorized(WorkerResult):
    def __init__(self, account: Account, authorization: Authorization) -> None:
        super().__init__()
        self.account = account
        self.authorization = authorization


class FormScreen(RecepcionScreen):
    """Create or edit one reception account."""

    TITLE = "Formulario de recepción"
    HELP = (
        "Configure aquí cada buzón de recepción. Tab y Mayús+Tab recorren los campos; "
        "F1 muestra la ayuda del campo; Ctrl+T prueba la conexión; Ctrl+S guarda; "
        "Ctrl+O autoriza una cuenta OAuth2 (la guarda antes si hace falta); "
        "Ctrl+G abre la guía del proveedor (Esc la cierra); Ctrl+F busca otra cuenta por nombre, usuario "
        "o NIT. Los campos con * son obligatorios. "
        "La sección «Avanzado» (Enter sobre su título la abre) tiene el certificado CA, las carpetas "
        "IMAP y el servidor SMTP; una cuenta POP3 necesita SMTP para reenviar al correo de respaldo. "
        "Esc cancela una prueba de conexión en curso."
    )
    BINDINGS = [
        Binding("ctrl+s", "save", "Guardar"),
        Binding("ctrl+t", "test_connection", "Probar"),
        # Not Ctrl+A: inputs use it to go to the start, and GNU screen takes it as its prefix.
        Binding("ctrl+o", "authorize", "Autorizar"),
        Binding("ctrl+g", "toggle_guidance", "Guía"),
        # Not in the footer: it is full at 80 columns (F1, the palette and «Cuenta ▾» say it).
        Binding("ctrl+f", "pick_account", "Buscar cuenta", show=False),
        Binding("escape", "cancel_test", "Cancelar prueba"),
    ]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    def __init__(self, account_id: str | None = None) -> None:
        super().__init__()
        self._touched: set[str] = set()
        self._show_all = False  # after a save or test attempt every problem stays visible
        self._provider_explicit = False
        self._suggested: dict[str, str] = {"servidor": "", "puerto": ""}
        self._editing: Account | None = None
        self._pending_save: tuple[Account, Secret | None] | None = None
        self._authorize_after_save = False
        self._authorization: TuiAuthorizationUI | None = None  # the one running
        self._oauth_keys: dict[str, tuple[str, ...]] = {}  # by provider
        self._first_account = account_id
        self._base: dict[str, Any] = {}
        # What the form itself last put in each Select: a Changed event carrying that value
        # (Select also posts one when it mounts) is not the technician's choice.
        self._shown: dict[str, object] = {}
        # Each load() starts a new generation: status lines and worker results of an older one
        # belong to another account (or an older form) and are dropped.
        self._generation = 0
        self._snapshot: ConfigSnapshot | None = None  # config.toml as the form loaded it
        self._loaded: tuple[str, dict[str, Any]] = ("", {})  # what the form showed right after load()
        self._probe_cancel: threading.Event | None = None  # the connection test running, if any
        self._quit_after_save = False

    # --- composition ---------------------------------------------------------------

    def _row(self, key: str, control: Widget, *, label: str | None = None, help_text: str | None = None,
             required: bool | None = None, spec: FieldSpec | None = None) -> FieldRow:
        spec = spec or FIELDS_BY_KEY.get(key)
        return FieldRow(
            key,
            label or (spec.label if spec else key),
            help_text or (spec.help if spec else ""),
            control,
            required=(spec.required if spec else False) if required is None else required,
        )

    def compose(self) -> ComposeResult:
        accounts = self.services.accounts
        initial = self._first_account if self._first_account in self.services.config.accounts else None
        if initial is None and accounts:
            initial = accounts[0].id
        yield NavBar(self.TITLE, "formulario")
        with Horizontal(id="form-body"):
            with VerticalScroll(id="form-fields"):
                # A button that opens the account picker (Ctrl+F): a list of every account made the
                # form take seconds to open with thousands of them, and could not search.
                self._first_account = initial or NEW_ACCOUNT
                selector = Button(self._selector_label(self._first_account), compact=True, id="f-selector")
                selector.styles.line_pad = 0  # aligned with the other fields (CSS refuses line-pad: 0)
                yield self._row("selector", selector, label="Cuenta", help_text=SELECTOR_HELP, required=False)
                yield self._row(ACCOUNT_NAME, Input(compact=True, id="f-cuenta", placeholder="principal"),
                                label="Nombre de la cuenta", help_text=NAME_HELP, required=True)
                yield self._row("proveedor", Select(self._provider_options(), allow_blank=False, compact=True,
                                                    id="f-proveedor"))
                yield self._row("tipo_servidor", Select(_options(AUTH_TYPE_LABELS), allow_blank=False, compact=True,
                                                        id="f-tipo_servidor"))
                yield InlineNote("", id="auth-warning")
                yield self._row("protocolo", Select(_options(_MAILBOX_PROTOCOL_LABELS), allow_blank=False, compact=True,
                                                    id="f-protocolo"))
                yield self._row("servidor", Input(compact=True, id="f-servidor"))
                yield self._row("puerto", Input(type="integer", compact=True, id="f-puerto", max_length=5))
                yield self._row("seguridad", Select(_options(SECURITY_LABELS), allow_blank=False, compact=True,
                                                    id="f-seguridad"))
                yield self._row("permitir_sin_cifrado", Checkbox("Sí, la contraseña viajará sin cifrar",
                                                                 compact=True, id="f-permitir_sin_cifrado"))
                yield self._row("usuario", Input(compact=True, id="f-usuario"))
                yield self._row(PASSWORD, Input(password=True, compact=True, id="f-contrasena"),
                                label=FIELDS_BY_KEY["secreto"].label, required=True)
                yield self._row(CONFIRMATION, Input(password=True, compact=True, id="f-confirmacion"),
                                label="Confirmar Contraseña", help_text=CONFIRMATION_HELP, required=True)
                for key in OAUTH_KEYS:
                    control = Input(compact=True, id=f"f-{oauth_field(key)}",
                                    placeholder=OAUTH_PLACEHOLDERS.get(key, ""))
                    yield self._row(oauth_field(key), control, spec=OAUTH_SPECS[key], required=key in OAUTH_REQUIRED)
                yield Static(Content(OAUTH_NOTE), id="oauth-note")
                # As on the RUT: «901.234.567-7»; the check digit is verified and stored apart.
                yield self._row("nit_receptor", Input(compact=True, id="f-nit_receptor", max_length=20,
                                                      placeholder="p. ej. 901.234.567-7"))
                yield self._row("fecha_expiracion", Input(compact=True, id="f-fecha_expiracion",
                                                          placeholder="DD/MM/AAAA", max_length=10))
                yield self._row("correo_notificacion", Input(compact=True, id="f-correo_notificacion"))
                yield self._row("correo_respaldo", Input(compact=True, id="f-correo_respaldo"), required=True)
                with Collapsible(title=ADVANCED_TITLE, collapsed=True, id="advanced"):
                    yield from self._advanced_rows()
                    # One [empresa] per file, not per account: its own section, saved apart.
                    yield CompanySection(self.services.config_path, self.services.config.company)
                yield Label("", id="form-general", classes="field-error")
                with Horizontal(id="form-buttons"):
                    yield Button("Probar conexión", id="probar", compact=True)
                    yield Button("Autorizar", id="autorizar", compact=True)
                    yield Button("Guardar", variant="primary", id="guardar", compact=True)
                yield ConnectionTestProgress(id="probe-progress")
                yield Static("", id="form-status")
            yield GuidePanel(id="guidance")
        yield Footer(compact=True)

    def _advanced_rows(self) -> ComposeResult:
        yield self._row("certificados_ca", Input(compact=True, id="f-certificados_ca", placeholder="/ruta/ca.pem"))
        # The placeholders are the defaults: left empty, the account uses them.
        yield self._row("carpeta_procesados", Input(compact=True, id="f-carpeta_procesados",
                                                    placeholder=str(ACCOUNT_DEFAULTS["processed_folder"])))
        yield self._row("carpeta_fallidos", Input(compact=True, id="f-carpeta_fallidos",
                                                  placeholder=str(ACCOUNT_DEFAULTS["failed_folder"])))
        for key in SMTP_KEYS:
            control: Widget
            if key == "seguridad":
                control = Select(_options(SECURITY_LABELS), value=STARTTLS, allow_blank=False, compact=True,
                                 id=f"f-{smtp_field(key)}")
            else:
                control = Input(type="integer" if key == "puerto" else "text", compact=True,
                                id=f"f-{smtp_field(key)}", max_length=5 if key == "puerto" else 0)
            yield self._row(smtp_field(key), control, spec=SMTP_SPECS[key], required=False)
        yield self._row(SMTP_PASSWORD, Input(password=True, compact=True, id=f"f-{SMTP_PASSWORD}"),
                        label="Contraseña SMTP", help_text=SMTP_PASSWORD_HELP, required=False)

    def on_mount(self) -> None:
        if self.services.registry.failures:
            failed = "; ".join(str(failure) for failure in self.services.registry.failures)
            self.notify(f"Algunos complementos de proveedores no cargaron: {failed}", severity="warning",
                        title="Proveedores", timeout=15)
        self.load(self.services.config.accounts.get(self._first_account or NEW_ACCOUNT))
        (self._input(ACCOUNT_NAME) if self._editing is None else self._select("proveedor")).focus()
        if not self.services.config_path.exists():
            self._status(first_start_line(self.services.config_path))

    def help_lines(self) -> list[str]:
        return [self.HELP, "", f"Archivo de configuración: {self.services.config_path}"]

    def _selector_label(self, account_id: str) -> Content:
        account = self.services.config.accounts.get(account_id)
        shown = f"{account.id} ({account.username})" if account else NEW_ACCOUNT_LABEL
        return Content(f"{shown} ▾")  # the marker says it opens a list, as a Select's does

    # --- reading and writing the widgets ---------------------------------------------

    def _input(self, key: str) -> Input:
        return self.query_one(f"#f-{key}", Input)

    def _select(self, key: str) -> Select:
        return self.query_one(f"#f-{key}", Select)

    def _rows(self) -> list[FieldRow]:
        # The [empresa] rows are not the account's: CompanySection validates them.
        return [row for row in self.query(FieldRow) if not row.id or not row.id.startswith("row-e-")]

    def _text(self, key: str) -> str:
        return self._input(key).value

    def _choice(self, key: str) -> str:
        value = self._select(key).value
        return value if isinstance(value, str) else ""

    @property
    def account_id(self) -> str:
        return self._editing.id if self._editing else self._text(ACCOUNT_NAME).strip()

    def values(self) -> FormValues:
        return FormValues(
            account_id=self.account_id,
            provider=self._choice("proveedor"),
            auth_type=self._choice("tipo_servidor"),
            protocol=self._choice("protocolo"),
            host=self._text("servidor"),
            port=self._text("puerto"),
            security=self._choice("seguridad"),
            allow_plaintext=self.query_one("#f-permitir_sin_cifrado", Checkbox).value,
            username=self._text("usuario"),
            receiver_nit=self._text("nit_receptor"),
            expiry=self._text("fecha_expiracion"),
            notify_email=self._text("correo_notificacion"),
            backup_email=self._text("correo_respaldo"),
            password=self._text(PASSWORD),
            confirmation=self._text(CONFIRMATION),
            oauth={key: self._text(oauth_field(key)) for key in self._shown_oauth_keys()},
            ca_file=self._text("certificados_ca"),
            processed_folder=self._text("carpeta_procesados"),
            failed_folder=self._text("carpeta_fallidos"),
            smtp={key: self._choice(smtp_field(key)) if key == "seguridad" else self._text(smtp_field(key))
                  for key in SMTP_KEYS},
            smtp_password=self._text(SMTP_PASSWORD),
        )

    def _shown_oauth_keys(self) -> tuple[str, ...]:
        """The `[oauth2]` keys of the chosen provider's flow (cached: plugins are asked once)."""
        provider = self._choice("proveedor")
        if provider not in self._oauth_keys:
            self._oauth_keys[provider] = oauth_keys(self.services.registry, provider)
        return self._oauth_keys[provider]

    def _silently(self):
        """Changes made by the form itself are not the technician's: no Changed handlers."""
        return self.prevent(Input.Changed, Select.Changed, Checkbox.Changed)

    def _set_select(self, key: str, value: str, options: list[tuple[str, str]] | None = None) -> None:
        select = self._select(key)
        self._shown[key] = value
        with self._silently():
            if options is not None:
                select.set_options(options)
            select.value = value

    def _chosen(self, event: Select.Changed) -> bool:
        """True when the technician made this choice (not the form, not the mount)."""
        key = (event.select.id or "").removeprefix("f-")
        stale = event.value != event.select.value  # e.g. the value Select picked while mounting
        if stale or event.value is Select.NULL or event.value == self._shown.get(key):
            return False
        self._shown[key] = event.value
        return True

    def load(self, account: Account | None) -> None:
        """Show `account` (None: a blank new account), as config.toml holds it now."""
        registry = self.services.registry
        self._generation += 1
        self._cancel_test()
        self._snapshot = self._take_snapshot()
        self._editing = account
        self._touched.clear()
        self._show_all = False
        self._provider_explicit = account is not None
        self._base = account_to_toml(account) if account else {}
        provider = account.provider if account else self._default_provider()
        protocol = account.protocol if account else IMAP
        suggestion = suggest_server(registry, provider, protocol, account.security if account else None)
        self._suggested = {"servidor": suggestion.host or "", "puerto": str(suggestion.port)}
        shown = account_values(account) if account else FormValues(
            account_id="", provider=provider, auth_type="", protocol=protocol, host=suggestion.host or "",
            port=str(suggestion.port), security=suggestion.security)
        texts = {
            ACCOUNT_NAME: "" if account or self.services.accounts else suggest_account_name(()),
            "servidor": shown.host,
            "puerto": shown.port,
            "usuario": shown.username,
            PASSWORD: "",
            CONFIRMATION: "",
            "nit_receptor": shown.receiver_nit,
            "fecha_expiracion": shown.expiry,
            "correo_notificacion": shown.notify_email,
            "correo_respaldo": shown.backup_email,
            "certificados_ca": shown.ca_file,
            "carpeta_procesados": shown.processed_folder,
            "carpeta_fallidos": shown.failed_folder,
            SMTP_PASSWORD: "",
            **{smtp_field(key): shown.smtp.get(key, "") for key in SMTP_KEYS if key != "seguridad"},
            **{oauth_field(key): shown.oauth.get(key, "") for key in OAUTH_KEYS},
        }
        with self._silently():
            for key, text in texts.items():
                self._input(key).value = text
            self.query_one("#f-permitir_sin_cifrado", Checkbox).value = shown.allow_plaintext
        self._show_selector(account.id if account else NEW_ACCOUNT)
        self._set_select("proveedor", provider, self._provider_options(provider))
        self._set_select("protocolo", protocol)
        self._set_select("seguridad", shown.security)
        self._set_select(smtp_field("seguridad"), shown.smtp.get("seguridad", STARTTLS))
        self._apply_provider(provider, fill_server=False)
        if account:
            self._set_select("tipo_servidor", account.auth_type)
        placeholder = "(sin cambios: deje vacío para conservarla)" if account else ""
        self._input(PASSWORD).placeholder = placeholder
        self._input(CONFIRMATION).placeholder = placeholder
        # The example name is never one that exists: a new account cannot be mistaken for it.
        self._input(ACCOUNT_NAME).placeholder = suggest_account_name(self.services.config.accounts)
        self._input(SMTP_PASSWORD).placeholder = placeholder if account and account.smtp and account.smtp.secret_ref else ""
        self._status("")  # what was said belonged to the account shown before
        if provider not in registry.providers:
            self._status(f"El proveedor «{provider}» de esta cuenta no está instalado: el formulario la muestra con "
                         f"la ayuda del proveedor genérico y, al guardar, conserva «{provider}» mientras no elija otro.")
        self._refresh()
        self._loaded = self._shown_state(self.values())

    def _take_snapshot(self) -> ConfigSnapshot | None:
        try:
            return take_snapshot(self.services.config_path)
        except RecepcionError as error:  # unreadable: saving will say so; nothing to compare with
            self.notify(str(error), severity="error", title="Formulario")
            return None

    def _raw(self, values: FormValues) -> dict[str, Any]:
        return build_raw(values, self._base, self._secret_ref(), self._smtp_secret_ref(values))

    def _smtp_secret_ref(self, values: FormValues) -> str | None:
        """A typed SMTP password goes to its own 0600 file: the keyring entry is the mailbox's."""
        if not values.smtp_password or not values.account_id:
            return None
        return f"archivo:{self.services.config_path.parent / f'{values.account_id}-smtp.secreto'}"

    def unsaved_changes(self) -> bool:
        """Whether the form shows something config.toml (or the secret store) does not hold."""
        if not self.is_mounted:
            return False
        values = self.values()
        typed_secret = bool(values.password or values.confirmation or values.smtp_password)
        company = self.query_one(CompanySection).unsaved_changes()
        return typed_secret or company or self._shown_state(values) != self._loaded

    def _shown_state(self, values: FormValues) -> tuple[str, dict[str, Any]]:
        """What a save would write: the account's name and its table."""
        return values.account_id, self._raw(values)

    def _set_suggested(self, key: str, value: str, *, force: bool) -> None:
        """Put a suggestion in Servidor or Puerto unless the technician typed their own."""
        field = self._input(key)
        custom = field.value not in ("", self._suggested[key])
        self._suggested[key] = value
        if force or not custom:
            with self._silently():
                field.value = value

    def _default_provider(self) -> str:
        """A new account's provider: the generic one, else the first installed."""
        providers = self.services.registry.providers
        return FALLBACK_PROVIDER if FALLBACK_PROVIDER in providers else next(iter(providers))

    def _provider_options(self, shown: str | None = None) -> list[tuple[str, str]]:
        """The installed providers, plus the account's own when it is not installed (a plugin
        removed since, or a name written by hand): shown as it is, never replaced unasked."""
        providers = self.services.registry.providers
        options = [(provider.name, provider.id) for provider in providers.values()]
        if shown is not None and shown not in providers:
            options.append((f"{shown} (no instalado)", shown))
        return options

    def _apply_provider(self, provider_id: str, *, fill_server: bool, force: bool = False) -> None:
        registry = self.services.registry
        # An account whose provider is not installed gets the default provider's help and sign-ins.
        provider = registry.providers.get(provider_id) or registry.providers[self._default_provider()]
        # A provider just chosen brings its preferred sign-in; a loaded account keeps its own.
        current = self._choice("tipo_servidor")
        keep = not fill_server and current in provider.auth_types
        self._set_select("tipo_servidor", current if keep else provider.auth_types[0],
                         _options(AUTH_TYPE_LABELS, provider.auth_types))
        if fill_server:
            suggestion = suggest_server(registry, provider_id, self._choice("protocolo"), None)
            self._set_select("seguridad", suggestion.security)
            if suggestion.host:
                self._set_suggested("servidor", suggestion.host, force=force)
            self._set_suggested("puerto", str(suggestion.port), force=force)
        for row in self._rows():
            row.help_text = provider.field_help.get(row.key, row.default_help)
        self._input("usuario").placeholder = provider.username_hint
        self.query_one(GuidePanel).show(provider_guide(provider))

    def _follow_protocol_or_security(self) -> None:
        suggestion = suggest_server(self.services.registry, self._choice("proveedor"), self._choice("protocolo"),
                                    self._choice("seguridad"))
        if suggestion.host:
            self._set_suggested("servidor", suggestion.host, force=False)
        self._set_suggested("puerto", str(suggestion.port), force=False)

    def _refresh(self, *, show_all: bool = False) -> Account | None:
        """Show only the fields that apply, and validate; returns the account when valid."""
        values = self.values()
        basic = values.auth_type == BASIC
        shown = {
            "#row-cuenta": self._editing is None,
            "#row-correo_respaldo": values.protocol == POP3,
            "#row-permitir_sin_cifrado": values.security == PLAINTEXT,
            f"#row-{PASSWORD}": basic,
            f"#row-{CONFIRMATION}": basic,
            "#oauth-note": not basic,
            "#autorizar": not basic,
            **{f"#row-{oauth_field(key)}": not basic and key in values.oauth for key in OAUTH_KEYS},
            "#row-carpeta_procesados": values.protocol != POP3,  # POP3 has no folders
            "#row-carpeta_fallidos": values.protocol != POP3,
            f"#row-{SMTP_PASSWORD}": basic,  # an OAuth2 account sends with its token
        }
        changed = False
        for selector, display in shown.items():
            widget = self.query_one(selector)
            if widget.display != display:
                widget.display = display
                changed = True
        if changed:
            self.refresh_bindings()  # Ctrl+O is offered only for OAuth2 accounts
        # Next to the field, not only in F1: Microsoft refuses a password for IMAP/POP3.
        self.query_one("#auth-warning", InlineNote).show(basic_auth_warning(values.provider, values.host,
                                                                            values.auth_type))
        return self._validate(values, show_all=show_all)

    def _validate(self, values: FormValues, *, show_all: bool) -> Account | None:
        self._show_all = show_all = self._show_all or show_all
        raw = self._raw(values)
        account, problems = parse_account(values.account_id, raw)
        errors = field_problems(problems)
        errors.update(password_problems(values, password_stored=self._editing is not None))
        errors.update(oauth_problems(values))
        errors.update(nit_problems(values))
        if self._editing is None and values.account_id in self.services.config.accounts:
            errors[ACCOUNT_NAME] = (f"ya existe una cuenta «{values.account_id}»: elija otro nombre, o "
                                    "selecciónela en «Cuenta» para editarla")
        if account is not None:
            route = smtp_route_problem(account, self._provider_smtp(account.provider))
            if route:
                errors.setdefault(smtp_field("servidor"), route)
        for row in self._rows():
            shown = show_all or row.key in self._touched
            row.show_error(errors.get(row.key) if shown and row.display else None)
        general = errors.get(GENERAL, "") if show_all or self._touched else ""
        self.query_one("#form-general", Label).update(Content(general))
        visible_errors = {key for key in errors if key == GENERAL or self.query_one(f"#row-{key}").display}
        if show_all and any(row.error for row in self.query_one("#advanced").query(FieldRow)):
            self.query_one("#advanced", Collapsible).collapsed = False  # a problem in it must be seen
        return account if not visible_errors else None

    def _provider_smtp(self, provider_id: str) -> bool:
        """Whether the provider brings its own SMTP server (the POP3 forwarding route)."""
        provider = self.services.registry.get(provider_id)
        return provider is not None and provider.smtp is not None

    def _secret_ref(self) -> str:
        """Where the account's secret goes: the edited account's store, else the keyring.

        An environment variable cannot hold an OAuth2 token (it is rewritten on every
        refresh): an account switched to OAuth2 chooses a store again when it is saved.
        """
        current = self._editing.secret_ref if self._editing else "keyring"
        if self._choice("tipo_servidor") == OAUTH2 and parse_secret_ref(current).kind == "env":
            return "keyring"
        return current

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "authorize" and self.is_mounted:
            return self._choice("tipo_servidor") == OAUTH2
        if action == "cancel_test":
            return self._probe_cancel is not None
        return True

    def _status(self, text: str) -> None:
        self.query_one("#form-status", Static).update(Content(text))

    # --- the technician's changes ----------------------------------------------------

    def _row_of(self, widget: Widget) -> FieldRow | None:
        node: Any = widget
        while node is not None and not isinstance(node, FieldRow):
            node = node.parent
        return node

    @on(Input.Changed)
    @on(Input.Blurred)
    @on(Checkbox.Changed)
    def _edited(self, event: Input.Changed | Input.Blurred | Checkbox.Changed) -> None:
        row = self._row_of(event.control)
        if row is None:
            return
        self._touched.add(row.key)
        if row.key == "usuario" and isinstance(event, Input.Changed) and not self._provider_explicit:
            self._suggest_provider(event.value)
        if row.key == "usuario" and isinstance(event, Input.Blurred):
            self._discover_servers(event.value)
        self._refresh()

    def _discover_servers(self, email: str) -> None:
        """For a provider without fixed servers (generic), look them up from the address."""
        provider = self.services.registry.get(self._choice("proveedor"))
        if provider is None or not provider.autodiscover or "@" not in email:
            return
        if self._input("servidor").value not in ("", self._suggested["servidor"]):
            return  # the technician typed a server: leave it alone
        self._status(f"Buscando los servidores de {email.rpartition('@')[2]}…")
        self.run_worker(partial(self._find_servers, email), thread=True, exclusive=True, exit_on_error=False,
                        group="descubrir", name="Buscar servidores")

    def _find_servers(self, email: str) -> None:
        try:
            discovery = self.services.find_servers(email)
        except RecepcionError:  # an address DNS cannot use: the technician types the server
            discovery = None
        self.post_result(ServersFound(discovery))

    @on(ServersFound)
    def _discovered(self, result: ServersFound) -> None:
        discovery = result.discovery
        protocol = self._choice("protocolo")
        found = discovery.best(protocol) if discovery is not None and is_server_protocol(protocol) else None
        if self._input("servidor").value not in ("", self._suggested["servidor"]):
            return  # typed while the lookup ran
        if found is None:
            self._status("No se encontraron servidores para esa dirección: escriba Servidor y Puerto.")
            return
        self._set_select("seguridad", found.server.security)
        self._set_suggested("servidor", found.server.host, force=False)
        self._set_suggested("puerto", str(found.server.port), force=False)
        checked = "confirmado" if found.verified else "sin confirmar"
        self._status(f"Servidor sugerido: {found.server.host}:{found.server.port} ({found.detail}; {checked}).")
        self._refresh()

    def _suggest_provider(self, email: str) -> None:
        suggested = self.services.registry.suggest_provider(email)
        if suggested != self._choice("proveedor"):
            self._set_select("proveedor", suggested)
            self._apply_provider(suggested, fill_server=True)

    def _show_selector(self, account_id: str) -> None:
        self.query_one("#f-selector", Button).label = self._selector_label(account_id)

    @on(Button.Pressed, "#f-selector")
    def action_pick_account(self) -> None:
        """Ctrl+F (or Enter on «Cuenta»): find the account to edit by name, user or NIT."""
        current = self._editing.id if self._editing else NEW_ACCOUNT
        picker = AccountPicker("Elegir la cuenta que se edita", self.services.accounts, current=current,
                               extras=[(NEW_ACCOUNT_LABEL, NEW_ACCOUNT)])
        self.app.push_screen(picker, self.switch_account)

    def switch_account(self, choice: str | None) -> None:
        """Show the chosen account (NEW_ACCOUNT: a blank one); unsaved changes are never lost
        silently: the technician discards them or stays."""
        current = self._editing.id if self._editing else NEW_ACCOUNT
        if choice is None or (choice == current and choice != NEW_ACCOUNT):
            return  # Esc, or the account already shown

        def answered(answer: str | None) -> None:
            if answer == "descartar":
                self._load_choice(choice)

        if self.unsaved_changes():
            target = "una cuenta nueva" if choice == NEW_ACCOUNT else f"la cuenta «{choice}»"
            lines = [f"La cuenta «{self.account_id or 'nueva'}» tiene cambios sin guardar.",
                     f"¿Descartarlos y mostrar {target}? Para conservarlos, cancele y guarde con Ctrl+S."]
            choices = [("descartar", "Descartar"), ("cancelar", "Cancelar")]
            self.app.push_screen(ChoiceDialog("Cambios sin guardar", lines, choices, default="cancelar"), answered)
            return
        self._load_choice(choice)

    def _load_choice(self, choice: str) -> None:
        self.load(self.services.config.accounts.get(choice))
        if choice == NEW_ACCOUNT:
            self._input(ACCOUNT_NAME).focus()
        else:
            self.query_one("#f-selector", Button).focus()

    @on(Select.Changed, "#f-proveedor")
    def _provider_chosen(self, event: Select.Changed) -> None:
        if not self._chosen(event):
            return
        self._provider_explicit = True
        self._touched.add("proveedor")
        self._apply_provider(str(event.value), fill_server=True, force=True)
        self._refresh()

    @on(Select.Changed, "#f-protocolo")
    @on(Select.Changed, "#f-seguridad")
    def _transport_chosen(self, event: Select.Changed) -> None:
        if not self._chosen(event):
            return
        self._follow_protocol_or_security()
        self._refresh()

    @on(Select.Changed, "#f-tipo_servidor")
    def _auth_chosen(self, event: Select.Changed) -> None:
        if self._chosen(event):
            self._refresh()

    def action_new_account(self) -> None:
        self.switch_account(NEW_ACCOUNT)

    def action_toggle_guidance(self) -> None:
        self.app.push_screen(GuideScreen(self.query_one(GuidePanel).markdown))

    # --- connection test ---------------------------------------------------------------

    @on(Button.Pressed, "#probar")
    def action_test_connection(self) -> None:
        account = self._refresh(show_all=True)
        if account is None:
            self._invalid()
            return
        values = self.values()
        password = values.password if account.auth_type == BASIC else ""
        smtp_password = values.smtp_password if account.auth_type == BASIC else ""
        self._cancel_test()
        self._probe_cancel = cancel = threading.Event()
        self._status(f"Probando la conexión con {account.host}:{account.port}…")
        progress = self.query_one(ConnectionTestProgress)
        progress.step(FIRST_STEP)
        progress.display = True
        self.refresh_bindings()  # Esc now cancels the test
        self._test_connection(self._generation, account, Secret(password) if password else None,
                              Secret(smtp_password) if smtp_password else None, cancel)

    @work(thread=True, exclusive=True, group="probar", exit_on_error=False, name="Probar conexión")
    def _test_connection(self, generation: int, account: Account, password: Secret | None,
                         smtp_password: Secret | None, cancel: threading.Event) -> None:
        # A password just typed is tried before it is saved; otherwise the account logs in as
        # `procesar` would: its stored password, or its OAuth2 token (refreshed if needed).
        report = probe_account(
            account,
            password=password,
            smtp_password=smtp_password,
            registry=self.services.registry,
            progress=lambda step: self.post_result(TestStep(generation, step)),
            cancel=cancel,
            timeout=min(self.services.probe_timeout, PROBE_SECONDS),
        )
        self.post_result(ConnectionTested(generation, report))

    def action_cancel_test(self) -> None:
        if self._cancel_test():
            self._status("Prueba de conexión cancelada.")

    def _cancel_test(self) -> bool:
        """Stop the connection test running, if any (its result, if it still comes, is dropped)."""
        cancel, self._probe_cancel = self._probe_cancel, None
        if cancel is None:
            return False
        cancel.set()
        self._generation += 1
        self._test_ended()
        return True

    def _test_ended(self) -> None:
        self._probe_cancel = None
        if self.is_mounted:
            self.query_one(ConnectionTestProgress).display = False
            self.refresh_bindings()

    @on(TestStep)
    def _test_step(self, result: TestStep) -> None:
        if result.generation == self._generation:
            self.query_one(ConnectionTestProgress).step(result.step)

    @on(ConnectionTested)
    def _tested(self, result: ConnectionTested) -> None:
        if result.generation != self._generation:
            return
        self._test_ended()
        report = result.report
        if report.cancelled:
            self._status("Prueba de conexión cancelada.")
            return
        # The mailbox and SMTP each get their own verdict: one can work while the other fails.
        verdicts = [f"{server.title}: {'correcto' if server.ok else 'falló'}"
                    for server in (report.mailbox, report.smtp) if server is not None]
        if report.ok:
            self._status("Conexión correcta. " + " · ".join(verdicts))
        else:
            failed = next(server for server in (report.mailbox, report.smtp) if server is not None and not server.ok)
            self._status(f"La prueba de conexión falló. {' · '.join(verdicts)}. "
                         f"{failed.lines[-1] if failed.lines else ''}".rstrip())
        title = "Conexión correcta" if report.ok else "La prueba de conexión falló"
        self.app.push_screen(MessageDialog(title, report.lines(), error=not report.ok))

    # --- saving ------------------------------------------------------------------------

    @on(Button.Pressed, "#guardar")
    def action_save(self) -> None:
        account = self._refresh(show_all=True)
        if account is None:
            self._quit_after_save = False
            self._invalid()
            return
        expiry = account.password_expiry
        if expiry is not None and is_past(expiry, timezone=account.timezone):
            def answered(confirmed: bool | None) -> None:
                if confirmed:
                    self._save_valid(account)
                else:
                    self._quit_after_save = False
                    self._status("No se guardó: corrija Fecha Expiración.")
                    self._input("fecha_expiracion").focus()

            question = (f"La Fecha Expiración {format_date(expiry)} ya pasó: la contraseña del buzón ya venció "
                        "y no se enviarán alertas de vencimiento. ¿Guardar de todos modos?")
            self.app.push_screen(ConfirmDialog("Fecha ya pasada", question, "Guardar así"), answered)
            return
        self._save_valid(account)

    def _save_valid(self, account: Account) -> None:
        password = self.values().password
        secret = Secret(password) if password and account.auth_type == BASIC else None
        # A new OAuth2 account (or one whose store changed) needs a store its token can be written to.
        new_store = self._editing is None or self._editing.secret_ref != account.secret_ref
        needs_store = secret is not None or (account.auth_type == OAUTH2 and new_store)
        if account.secret_ref == "keyring" and needs_store:
            self._pending_save = (account, secret)
            self._status("Revisando el llavero del sistema…")
            self._probe_keyring()
        else:
            self._store(account, secret)

    def ask_before_quitting(self) -> None:
        """Ctrl+Q with unsaved changes: guardar (then quit), descartar (quit) or cancelar."""
        lines = [f"La cuenta «{self.account_id or 'nueva'}» tiene cambios sin guardar.",
                 "¿Guardarlos antes de salir?"]

        def chosen(choice: str | None) -> None:
            if choice == "guardar":
                self._quit_after_save = True
                self.action_save()
            elif choice == "descartar":
                self.app.exit()

        choices = [("guardar", "Guardar"), ("descartar", "Descartar"), ("cancelar", "Cancelar")]
        self.app.push_screen(ChoiceDialog("Cambios sin guardar", lines, choices, default="guardar"), chosen)

    def _invalid(self) -> None:
        self.notify("Revise los campos marcados antes de continuar.", severity="error", title="Formulario")
        invalid = next((row for row in self._rows() if row.error and row.display), None)
        if invalid is not None:
            invalid.control.focus()

    @work(thread=True, exclusive=True, group="guardar", exit_on_error=False, name="Revisar el llavero")
    def _probe_keyring(self) -> None:
        self.post_result(KeyringChecked(self.services.keyring_probe()))

    @on(KeyringChecked)
    def _keyring_checked(self, result: KeyringChecked) -> None:
        status = result.status
        if self._pending_save is None:
            return
        account, secret = self._pending_save
        self._pending_save = None
        if status.usable:
            self._store(account, secret)
            return
        self._status("El llavero del sistema no se puede usar: elija dónde guardar el secreto.")
        suffix = "token" if account.auth_type == OAUTH2 else "secreto"
        suggested = self.services.config_path.parent / f"{account.id}.{suffix}"

        def chosen(reference: str | None) -> None:
            if reference is None:
                self._authorize_after_save = self._quit_after_save = False
                self._status("No se guardó: falta elegir dónde guardar el secreto.")
                return
            self._store(replace(account, secret_ref=reference), secret)

        dialog = SecretStoreDialog(account.id, status.reason, suggested, oauth=account.auth_type == OAUTH2)
        self.app.push_screen(dialog, chosen)

    def _store(self, account: Account, secret: Secret | None, *, overwrite: bool = False) -> None:
        values = self.values()
        smtp_secret = Secret(values.smtp_password) if values.smtp_password and account.smtp else None
        self._write(self._generation, account, secret, smtp_secret, self._editing is None, overwrite)

    @work(thread=True, exclusive=True, group="guardar", exit_on_error=False, name="Guardar la cuenta")
    def _write(self, generation: int, account: Account, secret: Secret | None, smtp_secret: Secret | None,
               new: bool, overwrite: bool) -> None:
        # The secrets first: a config that names a secret nobody stored would fail later.
        if secret is not None and parse_secret_ref(account.secret_ref).kind != "env":
            secret_store(account.secret_ref, account.id, account.username).write(secret)
        smtp_ref = account.smtp.secret_ref if account.smtp else None
        if smtp_secret is not None and smtp_ref and parse_secret_ref(smtp_ref).kind == "archivo":
            secret_store(smtp_ref, account.id, account.username).write(smtp_secret)
        try:
            result = save_account(self.services.config_path, account, snapshot=self._snapshot, new=new,
                                  overwrite=overwrite, provider_smtp=self._provider_smtp(account.provider))
        except ConfigChangedOnDisk as conflict:
            self.post_result(SaveConflict(generation, account, conflict))
            return
        except AccountExists as error:
            self.post_result(NameTaken(generation, error))
            return
        self.post_result(AccountSaved(generation, account, result.snapshot))

    @on(SaveConflict)
    def _conflict(self, result: SaveConflict) -> None:
        if result.generation != self._generation:
            return
        conflict = result.conflict
        lines = [str(conflict), "", "Claves que cambiaron en el archivo:"]
        lines += [f"  • {key}" + ("  (también la cambió aquí)" if key in conflict.conflicts else "")
                  for key in conflict.changed]
        self._status("No se guardó: config.toml cambió en el disco desde que se abrió el formulario.")

        def chosen(choice: str | None) -> None:
            if choice == "sobrescribir":
                self._store(result.account, None, overwrite=True)
                return
            self._quit_after_save = self._authorize_after_save = False
            if choice == "recargar":
                self.services.reload_config()
                self.recepcion.accounts_changed()
                self.load(self.services.config.accounts.get(result.account.id) if self._editing else None)
                self._status("Formulario recargado con lo que dice config.toml ahora.")

        choices = [("recargar", "Recargar"), ("sobrescribir", "Sobrescribir"), ("cancelar", "Cancelar")]
        self.app.push_screen(ChoiceDialog("El archivo cambió", lines, choices, default="cancelar"), chosen)

    @on(NameTaken)
    def _name_taken(self, result: NameTaken) -> None:
        self._quit_after_save = self._authorize_after_save = False
        if result.generation != self._generation:
            return
        self._status(f"No se guardó: {result.error}")
        self.services.reload_config()  # another process added it: the field's own check now says so
        self.recepcion.accounts_changed()
        self._refresh(show_all=True)
        self._input(ACCOUNT_NAME).focus()

    @on(AccountSaved)
    def _saved(self, result: AccountSaved) -> None:
        account = result.account
        self.services.reload_config()
        self.recepcion.accounts_changed()
        self.load(self.services.config.accounts.get(account.id, account))
        self._snapshot = result.snapshot
        where = parse_secret_ref(account.secret_ref)
        message = f"Cuenta «{account.id}» guardada en {self.services.config_path}."
        if where.kind == "env":
            message += f" Defina la variable {where.target} con la contraseña en el entorno del servicio."
        elif account.auth_type == OAUTH2:
            if not self._authorize_after_save:
                message += " Ahora autorícela con el botón Autorizar (Ctrl+O)."
        else:
            message += f" La contraseña quedó en {where.describe()}."
        self._status(message)
        self.notify(message, title="Formulario")
        if self._quit_after_save:
            self.app.exit()
            return
        if self._authorize_after_save:
            self._authorize_after_save = False
            self._start_authorization(self.services.config.accounts.get(account.id, account))

    # --- OAuth2 authorization ----------------------------------------------------------

    @on(Button.Pressed, "#autorizar")
    def action_authorize(self) -> None:
        self.authorize()

    def authorize(self) -> None:
        """Authorize the account on screen, saving it first when it differs from config.toml."""
        if self._authorization is not None:
            self.notify("Ya hay una autorización en curso.", title="Autorizar")
            return
        account = self._refresh(show_all=True)
        if account is None:
            self._invalid()
            return
        if account.auth_type != OAUTH2:
            self._status("Solo las cuentas OAuth2 se autorizan: elija OAuth2 en Tipo de Servidor.")
            return
        if self._editing is not None and self.services.config.accounts.get(account.id) == account:
            self._start_authorization(account)
        else:
            self._authorize_after_save = True
            self.action_save()

    def _start_authorization(self, account: Account) -> None:
        self._authorization = TuiAuthorizationUI(self.app)
        self._status(f"Autorizando la cuenta «{account.id}»…")
        self._authorize(account, self._authorization)

    @work(thread=True, exclusive=True, group="autorizar", exit_on_error=False, name="Autorizar")
    def _authorize(self, account: Account, ui: TuiAuthorizationUI) -> None:
        self.post_result(AccountAuthorized(account, authorize_account(account, ui, self.services.registry)))

    def stop_authorization(self) -> None:
        """The app is closing: stop waiting for the technician (any thread may call this)."""
        if self._authorization is not None:
            self._authorization.cancel()

    @on(AccountAuthorized)
    def _authorized(self, result: AccountAuthorized) -> None:
        self._close_authorization()
        account, authorization = result.account, result.authorization
        who = authorization.signed_in_as
        message = (f"Cuenta «{account.id}» autorizada{f' como {who}' if who else ''}. "
                   f"El token se guardó en {authorization.stored_in}. Pruebe la conexión con Ctrl+T.")
        self._status(message)
        self.notify(message, title="Autorizar", timeout=12)
        if who and who.lower() != account.username.lower():
            self.notify(f"Se inició sesión como {who}, no como el buzón {account.username}. Solo funcionará si esa "
                        "cuenta tiene acceso delegado al buzón (buzón compartido); si no, vuelva a autorizar con "
                        "la cuenta del buzón.", title="Autorizar", severity="warning", timeout=20)

    # --- worker results ----------------------------------------------------------------

    # Results arrive as typed messages (above); here only how a worker ended.

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker, state = event.worker, event.state
        if worker.group == "autorizar" and state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self._authorization_ended(event)
            return
        if worker.group == "probar" and state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self._test_ended()
        if state == WorkerState.ERROR:
            if worker.group == "guardar":
                self._authorize_after_save = self._quit_after_save = False  # nothing saved
            failed = {"probar": "La prueba de conexión falló", "descubrir": "No se pudieron buscar los servidores"}.get(
                worker.group, "No se guardó")
            self._status(f"{failed}: {describe_error(worker.error)}")

    def _close_authorization(self) -> None:
        if self._authorization is not None:
            self._authorization.close()
            self._authorization = None

    def _authorization_ended(self, event: Worker.StateChanged) -> None:
        self._close_authorization()
        worker = event.worker
        if isinstance(worker.error, AuthorizationCancelled):
            event.prevent_default()  # not a failure: the technician chose to stop
            self._status(str(worker.error))
            self.notify(str(worker.error), title="Autorizar", severity="warning")
        elif event.state == WorkerState.ERROR:
            self._status(f"No se autorizó: {describe_error(worker.error)}")
