"""Helpers for the poison, tamper and UIDL-reuse tests (issue 12): hostile mail built from
the sample generator, the `procesar --una-vez` subprocess, and mailbox state read from disk.

Poison messages are made the way they happen on real servers:

* IMAP, a message the server cannot FETCH: its Maildir file becomes unreadable to the mail
  user (`chmod 000`: a restore or a migration that left the wrong owner), or it is shorter
  than the size its file name declares (a truncated copy). Dovecot 2.3 then answers
  `UID FETCH … BODY.PEEK[]` with `* BYE FETCH failed: Internal error occurred` (chmod) or
  cuts the connection in the middle of the literal it announced (truncated), on every
  attempt; `UID MOVE` of the same message still works (Maildir hard link/rename). The file
  name carries `S=` and `W=` as a real MTA writes them, so RFC822.SIZE is known without
  reading the file, and only the body fetch fails.
* POP3, a message the SMTP relay refuses for good: bigger than the relay's limit (552) or
  with a line over 998 characters (500).
* POP3, a message with one 5.6 MB line (an unwrapped base64 attachment).
"""

from __future__ import annotations

import base64
import email
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from email import policy
from email.utils import make_msgid
from pathlib import Path
from xml.sax.saxutils import escape

from tests.servers.dovecot import DovecotServer, MailUser
from tests.support.engine_support import crlf
from tui_recepcion.demo.samples import Attachment, SampleFactory, SampleMail, build_email, build_zip

REPO = Path(__file__).resolve().parents[2]


# --- the command line ----------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str


def procesar_una_vez(config_path: Path, timeout: float = 240) -> Run:
    """`tui-recepcion procesar --una-vez` in its own process, as cron or a technician runs it."""
    completed = subprocess.run(
        [sys.executable, "-m", "tui_recepcion", "--config", str(config_path), "procesar", "--una-vez"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


def assert_clean_pass(run: Run) -> None:
    """Exit 0 and no Python traceback: a bad message never stops a pass."""
    output = run.stdout + run.stderr
    assert "Traceback" not in output, output
    assert run.returncode == 0, output
    assert "Resumen:" in run.stdout, output


def mensajes_json(config_path: Path) -> list[dict]:
    completed = subprocess.run(
        [sys.executable, "-m", "tui_recepcion", "--config", str(config_path), "mensajes", "--formato", "json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr, completed.stderr
    return json.loads(completed.stdout)


# --- Maildir state read from disk ----------------------------------------------------------


def maildir_files(server: DovecotServer, user: MailUser, mailbox: str = "INBOX") -> list[Path]:
    """The message files of `mailbox` as they are on disk (root reads unreadable ones too)."""
    folder = server._folder_dir(user, mailbox)
    return sorted(path for sub in ("new", "cur") if (folder / sub).is_dir() for path in (folder / sub).iterdir())


def maildir_contents(server: DovecotServer, user: MailUser, mailbox: str = "INBOX") -> list[bytes]:
    return sorted(path.read_bytes() for path in maildir_files(server, user, mailbox))


def mta_name(index: int, raw: bytes) -> str:
    """A Maildir file name as an MTA writes it: physical size S= and virtual (CRLF) size W=."""
    return f"1790000000.M{index}P4242.mta.prueba.co,S={len(raw)},W={len(crlf(raw))}"


# --- mail ----------------------------------------------------------------------------------


def good_mails(factory: SampleFactory, count: int) -> list[SampleMail]:
    return [factory.document_email() for _ in range(count)]


def with_long_line(mail: SampleMail, length: int = 1200) -> SampleMail:
    """`mail` with one header line of `length` characters (unfolded References, as some
    mailers write them): over SMTP's 998-character limit, well under POP3 clients' limits."""
    references = " ".join(f"<hilo.{n:06d}@proveedor.prueba.co>" for n in range(length // 30 + 1))
    line = f"References: {references}"[:length].encode()
    assert len(line) == length
    head, sep, body = mail.raw.partition(b"\n\n")
    return SampleMail(f"{mail.name}-linea-larga", head + b"\n" + line + sep + body, mail.expected_reason, mail.cufes)


def single_line_mail(factory: SampleFactory, line_bytes: int = 5_600_000) -> bytes:
    """An invoice email whose zip is base64 on ONE line of about `line_bytes` bytes."""
    good = factory.document_email()
    message = email.message_from_bytes(good.raw, policy=policy.compat32)
    filler = os.urandom(line_bytes * 3 // 4)  # incompressible: the zip stays that big
    entries = [(name, data) for name, data in _zip_entries(message)] + [("anexo.bin", filler)]
    encoded = base64.b64encode(build_zip(entries))
    boundary = b"==limite-linea-unica=="
    headers = b"".join(
        f"{name}: {message[name]}\n".encode() for name in ("From", "To", "Subject", "Date", "Message-ID")
    )
    return (
        headers
        + b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="' + boundary + b'"\n\n'
        + b"--" + boundary + b"\nContent-Type: text/plain; charset=utf-8\n\nAdjuntamos la factura.\n"
        + b"--" + boundary + b'\nContent-Type: application/zip\nContent-Disposition: attachment; filename="factura.zip"\n'
        + b"Content-Transfer-Encoding: base64\n\n" + encoded + b"\n"
        + b"--" + boundary + b"--\n"
    )


def _zip_entries(message: email.message.Message) -> list[tuple[str, bytes]]:
    for part in message.walk():
        if part.get_content_maintype() == "multipart":
            continue
        if (part.get_filename() or "").lower().endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(part.get_payload(decode=True))) as archive:
                return [(info.filename, archive.read(info)) for info in archive.infolist()]
    raise AssertionError("el correo de muestra no trae zip")


def forged_copy(raw: bytes, *, total: str, new_total: str, supplier_name: str, new_name: str) -> bytes:
    """What a forger sends: the stored invoice's CUFE with another total and payee.

    The zip's AttachedDocument is edited in place (the embedded Invoice's TaxInclusiveAmount,
    PayableAmount and QR text, and every RegistrationName of the supplier), the PDF is replaced,
    and a new email with the same subject and sender carries them. The CUFE is untouched
    (the receiver cannot recompute it: it needs the issuer's clave técnica)."""
    message = email.message_from_bytes(raw, policy=policy.compat32)
    entries = _zip_entries(message)
    forged: list[tuple[str, bytes]] = []
    for name, data in entries:
        if name.lower().endswith(".xml"):
            text = data.decode("utf-8")
            for old, new in (
                (f">{total}</cbc:PayableAmount>", f">{new_total}</cbc:PayableAmount>"),
                (f">{total}</cbc:TaxInclusiveAmount>", f">{new_total}</cbc:TaxInclusiveAmount>"),
                (f"ValTolFac: {total}", f"ValTolFac: {new_total}"),
                (f"<cbc:RegistrationName>{escape(supplier_name)}</cbc:RegistrationName>",
                 f"<cbc:RegistrationName>{escape(new_name)}</cbc:RegistrationName>"),
            ):
                assert old in text, old
                text = text.replace(old, new)
            data = text.encode("utf-8")
        elif name.lower().endswith(".pdf"):
            data = data.replace(b"%PDF-1.4", b"%PDF-1.4\n% pagar a la cuenta 000-111-222", 1)
        forged.append((name, data))
    zip_name = next(part.get_filename() for part in message.walk() if (part.get_filename() or "").lower().endswith(".zip"))
    return build_email(
        subject=message["Subject"],
        sender=message["From"],
        to=message["To"],
        attachments=[Attachment(zip_name, build_zip(forged))],
        message_id=make_msgid(domain="proveedor-falso.prueba.co"),
    )


# --- forwarding ----------------------------------------------------------------------------


def expected_resent_message_id(account: str, uidl: str, raw: bytes, domain: str) -> str:
    """CONTRACT.md: <reenvio.{h}@{domain}>, h = sha256(account \\0 uidl \\0 sha256(raw))[:32]."""
    raw_sha256 = hashlib.sha256(raw).hexdigest()
    digest = hashlib.sha256(f"{account}\0{uidl}\0{raw_sha256}".encode()).hexdigest()[:32]
    return f"<reenvio.{digest}@{domain}>"


def header(raw: bytes, name: str) -> str | None:
    parsed = email.message_from_bytes(raw, policy=policy.compat32)
    value = parsed[name]
    return None if value is None else " ".join(str(value).split())  # unfolded
