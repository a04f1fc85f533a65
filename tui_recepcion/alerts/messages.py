"""The Spanish (es-CO) texts of alerts: the emails, the state lines, and the dates in them.

Kept apart from `alerts.py` (the rules and the delivery) so the wording can be read and
changed in one place. Dates are written out by hand: the system locale of a server is
rarely es_CO, and `strftime` would print English month names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING

from tui_recepcion.config import Account
from tui_recepcion.dian.reasons import Reason, describe
from tui_recepcion.secrets import parse_secret_ref
from tui_recepcion.vocabulary import OAUTH2, POP3, PROTOCOL_LABELS

if TYPE_CHECKING:  # alerts.py composes its emails here; the dependency runs that way
    from tui_recepcion.alerts import AlertStatus
    from tui_recepcion.store import ConflictRow, LedgerEntry

MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
          "octubre", "noviembre", "diciembre")
WEEKDAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
MAX_REASON_CHARS = 500
SENDER_NAME = "tui-recepcion"


def long_date(day: date) -> str:
    """2027-03-31 → "31 de marzo de 2027"."""
    return f"{day.day} de {MONTHS[day.month - 1]} de {day.year}"


def weekday_date(day: date) -> str:
    """2027-03-31 → "miércoles 31 de marzo de 2027"."""
    return f"{WEEKDAYS[day.weekday()]} {long_date(day)}"


def short_moment(moment: datetime) -> str:
    """A moment as the technician reads it: "26/03/2027 08:15" (in the moment's zone)."""
    return moment.strftime("%d/%m/%Y %H:%M")


def days_phrase(days: int) -> str:
    """How far the expiry date is: "faltan 5 días", "mañana", "hoy", "hace 3 días"."""
    if days == 0:
        return "hoy"
    if days == 1:
        return "mañana"
    if days > 1:
        return f"faltan {days} días"
    return "hace 1 día" if days == -1 else f"hace {-days} días"


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who sends an alert, to whom, and when (the moment is in the account's zone)."""

    sender: str
    recipient: str
    now: datetime


# ---- the emails ------------------------------------------------------------------------------


def expiry_notice(account: Account, envelope: Envelope, expiry: date, days_left: int) -> EmailMessage:
    """The first alert, sent from 5 days before the expiry date."""
    subject = f"Alerta: la contraseña del buzón {account.username} vence el {long_date(expiry)}"
    body = [
        f"La contraseña del buzón de recepción de facturas electrónicas {account.username} vence el "
        f"{weekday_date(expiry)} ({days_phrase(days_left)}).",
        _consequence(),
        "Qué hacer antes de esa fecha:\n" + _steps(account),
        "Si la fecha no se actualiza, recibirá otro aviso el día del vencimiento.",
    ]
    return _message(envelope, subject, _body(account, body))


def expiry_final(account: Account, envelope: Envelope, expiry: date, days_left: int) -> EmailMessage:
    """The final alert: on the expiry date, or late when the service was down that day."""
    if days_left >= 0:
        subject = f"Alerta: la contraseña del buzón {account.username} vence hoy, {long_date(expiry)}"
        opening = (f"La contraseña del buzón de recepción de facturas electrónicas {account.username} vence hoy, "
                   f"{weekday_date(expiry)}.")
    else:
        subject = f"Alerta: la contraseña del buzón {account.username} venció el {long_date(expiry)}"
        opening = (f"La contraseña del buzón de recepción de facturas electrónicas {account.username} venció el "
                   f"{weekday_date(expiry)} ({days_phrase(days_left)}).")
    body = [
        opening,
        _consequence(expired=days_left < 0),
        "Qué hacer ahora:\n" + _steps(account),
        "Si ya cambió la contraseña y la actualizó en tui-recepcion, basta con actualizar la Fecha Expiración.",
    ]
    return _message(envelope, subject, _body(account, body))


def authentication_alert(account: Account, envelope: Envelope, reason: str, since: datetime) -> EmailMessage:
    """One alert per incident: logging in to the mailbox failed."""
    subject = f"Alerta: no se pudo iniciar sesión en el buzón {account.username}"
    cause = "la contraseña venció o alguien la cambió"
    if account.auth_type == OAUTH2:
        cause += ", o se revocó la autorización (token OAuth2) de tui-recepcion"
    body = [
        f"tui-recepcion no pudo iniciar sesión en el buzón de recepción de facturas electrónicas "
        f"{account.username} desde el {weekday_date(since.date())} a las {since:%H:%M}.",
        f"Motivo: {clean_reason(reason)}",
        f"Causa habitual: {cause}.",
        "Mientras no se corrija, las facturas que lleguen no se procesarán (quedan en el buzón, no se pierden).",
        "Qué hacer:\n" + _steps(account, check_login=True),
        "No se enviará otra alerta por esta misma falla. Si el acceso se restablece y luego vuelve a fallar, "
        "recibirá una nueva.",
    ]
    return _message(envelope, subject, _body(account, body))


def message_problem_alert(account: Account, envelope: Envelope, *, source_key: str, reason: str, detail: str,
                          entry: LedgerEntry | None = None, evidence: Sequence[ConflictRow] = ()) -> EmailMessage:
    """One alert per message the engine set aside: why, where the message is, what to do."""
    pop3 = account.protocol == POP3
    where_failed = ("El correo se reenvía al correo de respaldo, marcado como fallido." if pop3
                    else f"El correo queda en la carpeta «{account.failed_folder}» del buzón.")
    if reason == Reason.CUFE_EN_CONFLICTO:
        subject = f"Alerta: posible factura falsificada en el buzón {account.username}"
        if evidence:
            files = [str(path) for row in evidence for path in (row.xml_path, row.pdf_path) if path is not None]
            kept = ("El contenido nuevo se guardó aparte como evidencia, sin reemplazar nada:\n"
                    + "\n".join(f"- {name}" for name in files)) if files else (
                "El contenido nuevo quedó registrado como evidencia en la base de datos (no había carpeta de "
                "documentos donde guardar sus archivos).")
            stored = ", ".join(dict.fromkeys(row.stored_number for row in evidence if row.stored_number))
        else:
            kept, stored = "El contenido nuevo quedó registrado aparte como evidencia.", ""
        stored_text = f" (documento {stored})" if stored else ""
        body = [
            "Llegó un correo con el CUFE de un documento electrónico que ya estaba guardado"
            f"{stored_text}, pero con otro contenido: otro valor, otro proveedor u otros datos bajo el mismo CUFE. "
            "Los CUFE aparecen impresos en cada factura, así que puede ser un intento de falsificación.",
            "La factura guardada no se modificó: sus datos y sus archivos siguen siendo los del primer correo que "
            "la trajo.",
            f"Detalle: {clean_reason(detail)}",
            _message_lines(source_key, entry),
            f"{kept}\n{where_failed}",
            "Qué hacer:\n" + _numbered([
                "No pague ni registre el documento del correo nuevo hasta confirmarlo.",
                "Compare la evidencia con el documento guardado (consulte «tui-recepcion documentos» y "
                f"«tui-recepcion mensajes --estado fallido --cuenta {account.id}»).",
                "Consulte el CUFE en el portal de la DIAN (catalogo-vpfe.dian.gov.co) y confirme con el proveedor, "
                "por un medio distinto de este correo, cuál es el documento auténtico.",
            ]),
        ]
    elif reason == Reason.REENVIO_RECHAZADO:
        subject = f"Alerta: un correo del buzón {account.username} no se pudo reenviar al respaldo"
        body = [
            "El servidor de correo saliente (SMTP) rechazó de forma definitiva el reenvío de un correo al correo "
            "de respaldo, así que tui-recepcion no lo borró del buzón.",
            f"Detalle: {clean_reason(detail)}",
            _message_lines(source_key, entry),
            "El correo se conserva en el servidor POP3 y tui-recepcion no lo vuelve a reenviar ni a procesar; los "
            "demás correos se siguen procesando con normalidad. Si traía una factura válida, ya quedó guardada.",
            "Qué hacer:\n" + _numbered([
                "Lea la respuesta del servidor en el detalle: un 552 suele indicar que el correo supera el tamaño "
                "que admite el servidor de respaldo; un 500 o 554, un contenido que el servidor no acepta (por "
                "ejemplo, líneas demasiado largas).",
                f"Abra el buzón {account.username} con su cliente de correo o el webmail, y guarde o reenvíe ese "
                "correo a mano al respaldo.",
                "Cuando el respaldo lo tenga, bórrelo del buzón desde el cliente de correo.",
            ]),
        ]
    elif reason == Reason.NO_SE_PUDO_LEER:
        subject = f"Alerta: un correo del buzón {account.username} no se pudo leer"
        kept_on = ("El correo se conserva en el servidor POP3 y no se vuelve a intentar."
                   if pop3 else f"El correo queda en la carpeta «{account.failed_folder}» del buzón.")
        body = [
            "El servidor de correo no entregó un correo después de varios intentos; tui-recepcion lo apartó para "
            "que no bloquee el resto del buzón.",
            f"Detalle: {clean_reason(detail)}",
            _message_lines(source_key, entry),
            f"{kept_on} Los demás correos se siguen procesando con normalidad.",
            "Qué hacer:\n" + _numbered([
                f"Abra el buzón {account.username} con su cliente de correo o el webmail y revise ese correo.",
                "Si trae una factura, guarde el adjunto (ZIP o XML) e impórtelo con «tui-recepcion importar "
                f"ARCHIVO --cuenta {account.id}».",
            ]),
        ]
    else:
        subject = f"Alerta: un correo del buzón {account.username} no se pudo procesar"
        body = [
            f"tui-recepcion apartó un correo: {describe(reason)}",
            f"Detalle: {clean_reason(detail)}",
            _message_lines(source_key, entry),
            where_failed if not pop3 else "El correo se conserva en el servidor POP3 y no se vuelve a intentar.",
            f"Qué hacer: revise ese correo en el buzón {account.username} con su cliente de correo.",
        ]
    body.append("No se enviará otra alerta por este mismo correo.")
    return _message(envelope, subject, _body(account, body))


def _message_lines(source_key: str, entry: LedgerEntry | None) -> str:
    lines = ["El correo:"]
    if entry is not None and entry.subject:
        lines.append(f"- Asunto: {clean_reason(entry.subject)}")
    if entry is not None and entry.sender:
        lines.append(f"- Remitente: {clean_reason(entry.sender)}")
    if entry is not None and entry.message_id:
        lines.append(f"- Message-ID: {clean_reason(entry.message_id)}")
    lines.append(f"- Identificador en tui-recepcion: {source_key}")
    return "\n".join(lines)


def _numbered(steps: list[str]) -> str:
    return "\n".join(f"{number}. {step}" for number, step in enumerate(steps, start=1))


def clean_reason(reason: str) -> str:
    """A reason on one line and of bounded length (it comes from a server's answer)."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in reason).split())
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 1] + "…"
    return text or "(sin detalle)"


# ---- building blocks -------------------------------------------------------------------------


def _consequence(*, expired: bool = False) -> str:
    when = "Con la contraseña vencida, tui-recepcion no puede" if expired else "Cuando venza, tui-recepcion no podrá"
    return (f"{when} iniciar sesión en el buzón ni procesar las facturas que lleguen (quedan en el buzón, no se "
            "pierden, hasta que se corrija).")


def _steps(account: Account, *, check_login: bool = False) -> str:
    """What the technician does, numbered: change at the provider, then update it here."""
    form = f"el formulario de la cuenta «{account.id}» (ejecute «tui-recepcion»)"
    steps = ["Cambie la contraseña de la cuenta en el sitio de su proveedor de correo; si ya venció, el proveedor "
             "le pedirá una nueva al iniciar sesión."]
    if account.auth_type == OAUTH2:
        steps.append("Autorice de nuevo a tui-recepcion (el cambio de contraseña revoca el token): ejecute "
                     f"«tui-recepcion autorizar --cuenta {account.id}» e inicie sesión con la nueva contraseña.")
    elif _secret_kind(account) == "env":
        variable = account.secret_ref.partition(":")[2]
        steps.append(f"Actualícela en tui-recepcion: esta cuenta lee la contraseña de la variable de entorno "
                     f"{variable}; cámbiela donde se define (p. ej. el EnvironmentFile del servicio) y reinicie "
                     "el servicio.")
    else:
        steps.append(f"Actualícela en tui-recepcion: abra {form} y escriba la nueva contraseña en «Contraseña» y "
                     "«Confirmar Contraseña».")
        form = "el mismo formulario"
    steps.append(f"En {form}, escriba en «Fecha Expiración» la nueva fecha de vencimiento: así se programan las "
                 "próximas alertas.")
    if check_login:
        steps.append(f"Compruebe el acceso con «tui-recepcion probar --cuenta {account.id}».")
    return "\n".join(f"{number}. {step}" for number, step in enumerate(steps, start=1))


def _secret_kind(account: Account) -> str | None:
    try:
        return parse_secret_ref(account.secret_ref).kind
    except ValueError:  # the config was validated already; this only guards the wording
        return None


def _body(account: Account, paragraphs: list[str]) -> str:
    protocol = PROTOCOL_LABELS.get(account.protocol, account.protocol)
    details = (f"Cuenta en tui-recepcion: {account.id}\n"
               f"Servidor: {account.host}:{account.port} ({protocol})")
    footer = "Este mensaje lo envió automáticamente tui-recepcion; no lo responda."
    return "\n\n".join([*paragraphs, details, footer]) + "\n"


def _message(envelope: Envelope, subject: str, body: str) -> EmailMessage:
    """A proper MIME message: UTF-8 text, Date, Message-ID, From (the sending mailbox), To."""
    message = EmailMessage()
    message["From"] = Address(SENDER_NAME, addr_spec=envelope.sender)
    message["To"] = envelope.recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(envelope.now)
    _, _, domain = envelope.sender.rpartition("@")
    # An explicit domain: without one, make_msgid asks DNS for this machine's name.
    message["Message-ID"] = make_msgid("alerta", domain=domain or "tui-recepcion.invalid")
    # RFC 3834: an automatic message; well-behaved mailers send no vacation replies to it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body, charset="utf-8", cte="quoted-printable")
    return message


# ---- the state, for `alertas` and the TUI ------------------------------------------------------


def status_lines(status: AlertStatus) -> list[str]:
    """An account's alert state in Spanish, one fact a line (what `alertas` prints)."""
    lines = [f"Alertas a: {status.notify_email}" if status.notify_email
             else "Alertas a: nadie (falta correo_notificacion: no se envían alertas)"]
    lines += _expiry_lines(status)
    for alert in status.pending:
        if alert.in_progress:
            lines.append(f"Envío en curso: {alert.label} (intento {alert.attempts}).")
            continue
        retry = f"; próximo intento: {short_moment(alert.next_attempt_at)}" if alert.next_attempt_at else ""
        attempts = "1 intento" if alert.attempts == 1 else f"{alert.attempts} intentos"
        lines.append(f"Envío fallido: {alert.label}, {attempts}{retry}. Último error: {alert.last_error}")
    if not status.incident_open:
        lines.append("Inicio de sesión: sin fallas abiertas.")
    else:
        since = short_moment(status.incident_since) if status.incident_since else "?"
        lines.append(f"Inicio de sesión: falla abierta desde {since}: {status.incident_reason}")
        if status.incident_alert_sent_at:
            lines.append(f"Alerta de la falla: enviada el {short_moment(status.incident_alert_sent_at)}.")
        elif status.notify_email is None:
            lines.append("Alerta de la falla: no se envía (falta correo_notificacion).")
    return lines


def _expiry_lines(status: AlertStatus) -> list[str]:
    expiry, days = status.expiry, status.days_left
    if expiry is None or days is None:
        return ["Vencimiento de la contraseña: sin fecha (fecha_expiracion no está configurada)."]
    lines = [f"Vencimiento de la contraseña: {long_date(expiry)} ({days_phrase(days)})."]
    if status.first_alert_sent_at:
        notice = f"enviado el {short_moment(status.first_alert_sent_at)}."
    elif status.first_alert_skipped:
        notice = "no se envió: cuando se evaluó ya correspondía el aviso final."
    elif status.first_alert_from is not None and status.today < status.first_alert_from:
        notice = f"se enviará el {long_date(status.first_alert_from)}."
    else:
        notice = "pendiente." if days > 0 else "no se envió."
    lines.append(f"Primer aviso: {notice}")
    if status.final_alert_sent_at:
        final = f"enviado el {short_moment(status.final_alert_sent_at)}."
    elif days > 0:
        final = f"se enviará el {long_date(expiry)}."
    elif status.expiry_stale:
        final = "no se envía: la fecha pasó hace demasiado; actualice fecha_expiracion."
    else:
        final = "pendiente."
    lines.append(f"Aviso final (día del vencimiento): {final}")
    return lines
