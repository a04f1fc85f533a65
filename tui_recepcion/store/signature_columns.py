"""The signature columns of `documents`: `firma_emisor` and `firma_dian` (valida, invalida,
ausente; NULL for rows stored before signatures were checked) and `firma_detalle`, a JSON
object with each check's detail and certificate (subject, issuer, validity, NIT, DER)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tui_recepcion.dian.model import Document, SignatureCheck, SignatureStatus


def _status(check: SignatureCheck | None) -> str | None:
    return None if check is None else check.status


def signature_values(document: Document) -> dict[str, str | None]:
    """The `documents` columns for a document's signatures."""
    detail = {role: _check_json(check) for role, check in
              (("emisor", document.issuer_signature), ("dian", document.dian_signature)) if check is not None}
    return {
        "firma_emisor": _status(document.issuer_signature),
        "firma_dian": _status(document.dian_signature),
        "firma_detalle": json.dumps(detail, ensure_ascii=False) if detail else None,
    }


def signatures_from(values: Mapping[str, Any]) -> tuple[SignatureCheck | None, SignatureCheck | None]:
    """(issuer's, DIAN's) checks read back from a documents row (None for older rows)."""
    try:
        detail = json.loads(values.get("firma_detalle") or "{}")
    except ValueError:
        detail = {}
    return (_check_from(values.get("firma_emisor"), detail.get("emisor")),
            _check_from(values.get("firma_dian"), detail.get("dian")))


def _check_json(check: SignatureCheck) -> dict[str, Any]:
    return {
        "estado": check.status, "detalle": check.detail, "sujeto": check.subject, "emisor_certificado": check.issuer,
        "valido_desde": check.not_before.isoformat() if check.not_before else None,
        "valido_hasta": check.not_after.isoformat() if check.not_after else None,
        "fecha_firma": check.signing_time, "nit_certificado": check.certificate_nit, "certificado": check.certificate,
    }


_STATUSES: dict[str, SignatureStatus] = {"valida": "valida", "invalida": "invalida", "ausente": "ausente"}


def _check_from(text: str | None, detail: Any) -> SignatureCheck | None:
    status = _STATUSES.get(text or "")
    if status is None:
        return None
    detail = detail if isinstance(detail, dict) else {}

    def moment(key: str) -> datetime | None:
        text = detail.get(key)
        return datetime.fromisoformat(text) if isinstance(text, str) else None

    return SignatureCheck(
        status, detail.get("detalle") or "", subject=detail.get("sujeto"), issuer=detail.get("emisor_certificado"),
        not_before=moment("valido_desde"), not_after=moment("valido_hasta"), signing_time=detail.get("fecha_firma"),
        certificate_nit=detail.get("nit_certificado"), certificate=detail.get("certificado"),
    )
