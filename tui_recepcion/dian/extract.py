"""From raw email (or an imported file) to DIAN documents or one failure reason.

The entry points never raise: anything unexpected becomes `error_interno`, so a message
that crashes the parser is a permanent failure, not an endless retry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath
from types import MappingProxyType

from tui_recepcion.dian import archive, codes, mime, subject, ubl
from tui_recepcion.dian.archive import Blob, Budget, LimitExceeded, sniff
from tui_recepcion.dian.limits import DEFAULT_LIMITS, Limits
from tui_recepcion.dian.model import (
    Document,
    Extraction,
    Failure,
    HintMismatch,
    ReceivedEvent,
    SavedFile,
    SubjectHint,
)
from tui_recepcion.dian.nit import split_nit
from tui_recepcion.dian.reasons import Reason
from tui_recepcion.dian.xml import XmlRejected

# When no document was found, the most telling problem is reported.
_NON_FATAL_PRIORITY = (Reason.XML_INVALIDO, Reason.ZIP_CORRUPTO, Reason.XML_NO_DIAN)


def extract_message(raw: bytes, *, receiver_nit: str | None = None,
                    limits: Limits = DEFAULT_LIMITS, require_valid_signature: bool = False) -> Extraction:
    """Documents and events in one raw RFC 5322 message, or the reason there are none.

    A broken signature never loses a document: it is returned, flagged; with
    `require_valid_signature` the extraction also carries the failure `firma_invalida`,
    so the message goes to Fallidos while its documents are stored."""
    headers = mime.Headers(None, None, None, None)
    try:
        if len(raw) > limits.max_message_bytes:
            headers = mime.read_headers(mime.parse_headers(raw), limits)
            return _with_headers(
                _failure(Reason.ZIP_EXCEDE_LIMITES,
                         f"El correo ocupa {len(raw)} bytes; el máximo es {limits.max_message_bytes}."),
                headers,
            )
        try:
            message = mime.parse_message(raw, limits)
        except LimitExceeded:
            headers = mime.read_headers(mime.parse_headers(raw), limits)
            raise
        headers = mime.read_headers(message, limits)
        collector = _Collector(limits, receiver_nit, require_valid_signature)
        for part in mime.iter_parts(message, limits):
            collector.add(part.name, part.data, origin=f"p{len(collector.seen_names)}")
        result = collector.result()
        hint = subject.parse_subject(headers.subject)
        mismatches = subject.compare(hint, result.documents[0]) if result.documents else ()
        return _with_headers(result, headers, hint=hint, mismatches=mismatches)
    except LimitExceeded as error:
        return _with_headers(_failure(Reason.ZIP_EXCEDE_LIMITES, str(error)), headers)
    except Exception as error:  # the extractor must never take the process down
        return _with_headers(internal_error(error), headers)


def extract_file(name: str, data: bytes, *, receiver_nit: str | None = None,
                 limits: Limits = DEFAULT_LIMITS, require_valid_signature: bool = False) -> Extraction:
    """Documents in an imported .zip, .xml or .eml file (judged by content, not name)."""
    try:
        if len(data) > limits.max_message_bytes:
            return _failure(Reason.ZIP_EXCEDE_LIMITES,
                            f"El archivo ocupa {len(data)} bytes; el máximo es {limits.max_message_bytes}.")
        kind = sniff(data[:512])
        if kind in ("zip", "xml"):
            collector = _Collector(limits, receiver_nit, require_valid_signature)
            collector.add(PurePath(name).name, data, origin="archivo")
            return collector.result()
        if kind == "pdf":
            return _failure(Reason.SIN_ADJUNTOS, "El archivo es un PDF; se necesita el XML o el ZIP del documento.")
        return extract_message(data, receiver_nit=receiver_nit, limits=limits,
                               require_valid_signature=require_valid_signature)
    except LimitExceeded as error:
        return _failure(Reason.ZIP_EXCEDE_LIMITES, str(error))
    except Exception as error:
        return internal_error(error)


@dataclass(slots=True)
class _Found:
    document: Document
    xml: bytes
    name: str
    origin: str
    content_sha256: str


@dataclass(slots=True)
class _Collector:
    """Gathers documents, PDFs and problems from every blob of one message."""

    limits: Limits
    receiver_nit: str | None
    require_valid_signature: bool = False
    budget: Budget = field(init=False)
    found: dict[str, _Found] = field(default_factory=dict)
    events: dict[tuple[str, str, str], ReceivedEvent] = field(default_factory=dict)
    pdfs: list[Blob] = field(default_factory=list)
    problems: list[Failure] = field(default_factory=list)
    fatal: Failure | None = None
    seen_names: list[str] = field(default_factory=list)
    saw_zip: bool = False
    saw_xml: bool = False

    def __post_init__(self) -> None:
        self.budget = Budget(self.limits.max_total_uncompressed_bytes)
        if self.receiver_nit:
            self.receiver_nit = split_nit(self.receiver_nit)[0]

    def add(self, name: str, data: bytes, *, origin: str) -> None:
        self.seen_names.append(name)
        kind = sniff(data[:512])
        if kind == "zip":
            self.saw_zip = True
            contents = archive.read_zip(data, name, limits=self.limits, budget=self.budget, origin=origin)
            self.problems.extend(Failure(code, detail) for code, detail in contents.problems)
            for blob in contents.blobs:
                self._take(blob)
        elif kind is not None:
            self._take(Blob(kind, name, data, origin))

    def _take(self, blob: Blob) -> None:
        if blob.kind == "pdf":
            self.pdfs.append(blob)
            return
        self.saw_xml = True
        try:
            parsed = ubl.parse_dian_xml(blob.data, limits=self.limits)
        except XmlRejected as error:
            if error.code == Reason.ZIP_EXCEDE_LIMITES:
                raise LimitExceeded(f"«{blob.name}»: {error.detail}") from None
            self.problems.append(Failure(error.code, f"«{blob.name}»: {error.detail}"))
            return
        except ubl.DianProblem as problem:
            failure = Failure(problem.code, f"«{blob.name}»: {problem.detail}")
            if problem.code == Reason.XML_NO_DIAN:
                self.problems.append(failure)  # an annex or a loose DIAN response: not ours
            else:
                self._fail(failure)
            return
        if isinstance(parsed, tuple):
            for event in parsed:  # the same event often comes twice (container and bare)
                key = (event.cude, event.code, event.cufe)
                if key not in self.events or (self.events[key].dian_validation is None and event.dian_validation):
                    self.events[key] = event
            return
        document = parsed.document
        verdict = self._verdict(document)
        if verdict is not None:
            self._fail(verdict)
            return
        previous = self.found.get(document.cufe)
        # The same document often comes twice (container and bare invoice): keep the one
        # that carries DIAN's validation.
        if previous is None or (previous.document.dian_validation is None and document.dian_validation):
            self.found[document.cufe] = _Found(document, blob.data, blob.name, blob.origin, parsed.content_sha256)

    def _verdict(self, document: Document) -> Failure | None:
        if document.dian_validation is not None and document.dian_validation != codes.VALIDATED:
            return Failure(
                Reason.RECHAZADO_DIAN,
                f"La DIAN respondió {document.dian_validation} para el documento {document.number}.",
            )
        if self.receiver_nit and document.customer.nit != self.receiver_nit:
            return Failure(
                Reason.RECEPTOR_NO_COINCIDE,
                f"El documento {document.number} está dirigido al NIT {document.customer.nit}, "
                f"no al {self.receiver_nit}.",
            )
        return None

    def _fail(self, failure: Failure) -> None:
        if self.fatal is None:
            self.fatal = failure

    def result(self) -> Extraction:
        if self.fatal is not None:
            return Extraction(failure=self.fatal)
        if self.found or self.events:
            documents = tuple(found.document for found in self.found.values())
            events = tuple(self.events.values())
            return Extraction(
                documents=documents,
                files=MappingProxyType({cufe: self._files(found) for cufe, found in self.found.items()}),
                events=events,
                failure=self._signature_failure(documents, events),
            )
        for code in _NON_FATAL_PRIORITY:
            for problem in self.problems:
                if problem.code == code:
                    return Extraction(failure=problem)
        if self.saw_zip and not self.saw_xml:
            return _failure(Reason.ZIP_SIN_XML, "El archivo ZIP no contiene ningún XML.")
        if self.seen_names:
            names = ", ".join(f"«{name}»" for name in self.seen_names[:5])
            return _failure(Reason.SIN_ADJUNTOS, f"Ningún adjunto es un ZIP o un XML (adjuntos: {names}).")
        return _failure(Reason.SIN_ADJUNTOS, "El correo no trae adjuntos.")

    def _signature_failure(self, documents: tuple[Document, ...], events: tuple[ReceivedEvent, ...]) -> Failure | None:
        if not self.require_valid_signature:
            return None
        broken = [document.number for document in documents if document.signature_broken]
        broken += [f"evento {event.code}" for event in events
                   if any(c is not None and c.status == "invalida" for c in (event.issuer_signature, event.dian_signature))]
        if not broken:
            return None
        return Failure(Reason.FIRMA_INVALIDA, f"Firma no intacta en: {', '.join(broken[:5])}. Los documentos se guardan marcados.")

    def _files(self, found: _Found) -> tuple[SavedFile, ...]:
        files = [SavedFile("xml", found.xml, found.content_sha256)]
        pdf = self._pdf_for(found)
        if pdf is not None:
            files.append(SavedFile("pdf", pdf.data))
        return tuple(files)

    def _pdf_for(self, found: _Found) -> Blob | None:
        """The PDF that came with a document: the one beside it, by name when several
        documents share an archive, or the only one when the message has one document."""
        siblings = [f for f in self.found.values() if f.origin == found.origin]
        beside = [pdf for pdf in self.pdfs if pdf.origin == found.origin]
        if len(siblings) > 1:
            stem = PurePath(found.name).stem.lower()
            beside = [pdf for pdf in beside if PurePath(pdf.name).stem.lower() == stem]
        if beside:
            return beside[0]
        if len(self.found) == 1 and self.pdfs:
            return self.pdfs[0]
        return None


def _failure(code: str, detail: str) -> Extraction:
    return Extraction(failure=Failure(code, detail))


def internal_error(error: BaseException) -> Extraction:
    """The outcome of a message whose processing crashed: a failure, never an exception."""
    return _failure(Reason.ERROR_INTERNO, f"Error interno al procesar ({type(error).__name__}).")


def _with_headers(result: Extraction, headers: mime.Headers, *, hint: SubjectHint | None = None,
                  mismatches: tuple[HintMismatch, ...] = ()) -> Extraction:
    return Extraction(
        documents=result.documents,
        failure=result.failure,
        message_id=headers.message_id,
        subject=headers.subject,
        sender=headers.sender,
        date=headers.date,
        subject_hint=hint,
        hint_mismatches=mismatches,
        files=result.files,
        events=result.events,
    )
