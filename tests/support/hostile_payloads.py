"""Attack payloads for the hostile-input tests: a zip bomb, entity expansion, an external entity.

They live with the tests, not in the package: the demo's failing mail only goes over limits.
"""

from __future__ import annotations

import io
import zipfile

from tui_recepcion.demo.samples import UBL, build_zip


def zip_bomb(inflated_bytes: int, *, nested: bool = True) -> bytes:
    """A zip whose XML-looking entry inflates to `inflated_bytes`; `nested` wraps it in a
    second zip so a few KB expand to hundreds of MB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("factura.xml", "w", force_zip64=True) as entry:
            entry.write(b'<?xml version="1.0"?><Invoice>')
            chunk = b" " * (1024 * 1024)
            for _ in range(max(1, inflated_bytes // len(chunk))):
                entry.write(chunk)
    inner = buffer.getvalue()
    if not nested:
        return inner
    return build_zip([("factura.zip", inner)])


def billion_laughs() -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    return ('<?xml version="1.0"?><!DOCTYPE Invoice [' + "".join(entities) + ']>'
            f'<Invoice xmlns="{UBL}Invoice-2">&lol9;</Invoice>').encode()


def external_entity(path: str = "/etc/passwd") -> bytes:
    return (f'<?xml version="1.0"?><!DOCTYPE Invoice [<!ENTITY xxe SYSTEM "file://{path}">]>'
            f'<Invoice xmlns="{UBL}Invoice-2"><ID>&xxe;</ID></Invoice>').encode()
