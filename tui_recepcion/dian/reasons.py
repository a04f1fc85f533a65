"""Why a message could not be processed: stable codes and their Spanish descriptions.

The codes are part of the public contract (`mensajes --formato json`, the README, the
ledger), so they never change once released. `REASONS` is the single source the README
and its test read.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    SIN_ADJUNTOS = "sin_adjuntos"
    ZIP_CORRUPTO = "zip_corrupto"
    ZIP_SIN_XML = "zip_sin_xml"
    ZIP_EXCEDE_LIMITES = "zip_excede_limites"
    XML_INVALIDO = "xml_invalido"
    XML_NO_DIAN = "xml_no_dian"
    DOCUMENTO_EMBEBIDO_INVALIDO = "documento_embebido_invalido"
    SIN_CUFE = "sin_cufe"
    RECEPTOR_NO_COINCIDE = "receptor_no_coincide"
    RECHAZADO_DIAN = "rechazado_dian"
    ERROR_INTERNO = "error_interno"
    FIRMA_INVALIDA = "firma_invalida"  # only with exigir_firma_valida = true
    # Outcomes decided by the engine and the store rather than the extractor.
    CUFE_EN_CONFLICTO = "cufe_en_conflicto"
    NO_SE_PUDO_LEER = "no_se_pudo_leer"
    MENSAJE_DEMASIADO_GRANDE = "mensaje_demasiado_grande"
    REENVIO_RECHAZADO = "reenvio_rechazado"


# Decided by the engine or the store, never by the extractor (no message "is" one of these).
ENGINE_REASONS: frozenset[Reason] = frozenset(
    {Reason.CUFE_EN_CONFLICTO, Reason.NO_SE_PUDO_LEER, Reason.MENSAJE_DEMASIADO_GRANDE, Reason.REENVIO_RECHAZADO}
)

# Reached only when the technician opts in (`exigir_firma_valida`): no sample mail has one.
OPT_IN_REASONS: frozenset[Reason] = frozenset({Reason.FIRMA_INVALIDA})

REASONS: dict[str, str] = {
    Reason.SIN_ADJUNTOS: "El correo no trae ningún adjunto ZIP ni XML.",
    Reason.ZIP_CORRUPTO: "El archivo ZIP está dañado, cifrado o usa un método de compresión no admitido.",
    Reason.ZIP_SIN_XML: "El archivo ZIP no contiene ningún XML.",
    Reason.ZIP_EXCEDE_LIMITES: (
        "Un adjunto, archivo comprimido o XML supera los límites de seguridad "
        "(tamaño, proporción de compresión, número de entradas o anidamiento)."
    ),
    Reason.XML_INVALIDO: "El XML está mal formado o contiene construcciones prohibidas (DOCTYPE, entidades).",
    Reason.XML_NO_DIAN: "El XML no es un documento electrónico DIAN (AttachedDocument, Invoice, CreditNote o DebitNote).",
    Reason.DOCUMENTO_EMBEBIDO_INVALIDO: (
        "El documento electrónico (embebido en el contenedor o adjunto) es inválido, "
        "le faltan datos obligatorios o no concuerda con su contenedor."
    ),
    Reason.SIN_CUFE: "El documento no tiene un CUFE/CUDE válido (96 caracteres hexadecimales).",
    Reason.RECEPTOR_NO_COINCIDE: "El documento está dirigido a un NIT distinto del configurado para la cuenta.",
    Reason.RECHAZADO_DIAN: "La respuesta de la DIAN que acompaña el documento no es de validación (código distinto de 02).",
    Reason.ERROR_INTERNO: "Error interno al procesar el mensaje; se conserva para revisión.",
    Reason.FIRMA_INVALIDA: (
        "La firma del emisor o de la DIAN no está intacta (el XML cambió después de firmado). "
        "El documento se guarda marcado; el correo va a Fallidos solo con exigir_firma_valida = true."
    ),
    Reason.CUFE_EN_CONFLICTO: (
        "El CUFE ya estaba guardado con otro contenido: el documento guardado no se toca, el nuevo "
        "se conserva aparte como evidencia (posible falsificación)."
    ),
    Reason.NO_SE_PUDO_LEER: "El servidor no entregó el correo después de varios intentos; se aparta para revisión.",
    Reason.MENSAJE_DEMASIADO_GRANDE: "El correo supera el tamaño máximo que se procesa (40 MiB); no se descarga.",
    Reason.REENVIO_RECHAZADO: (
        "POP3: el servidor SMTP rechazó de forma definitiva el reenvío al correo de respaldo; el correo "
        "se conserva en el servidor y no se vuelve a intentar."
    ),
}


def describe(code: str) -> str:
    """The Spanish description of a reason code (the code itself if unknown)."""
    return REASONS.get(code, code)
