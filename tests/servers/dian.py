"""A local HTTPS stand-in of DIAN's WcfDianCustomerServices for RADIAN events.

It serves the WSDL (`GET …?wsdl`) and answers SOAP 1.2 POSTs to SendEventUpdateStatus and
GetStatusEvent like DIAN does (a `DianResponse` in DIAN's namespaces). Before anything else it
verifies the request's WS-Security header with python-xmlsec, using the certificate of the
request's own BinarySecurityToken (as DIAN does): the signature must cover the Body, the
Timestamp and wsa:To, and the Timestamp must not have expired; otherwise a SOAP fault.

What SendEventUpdateStatus answers is scripted, one mode per call (`script(...)`), default
«aceptar»: «rechazar» (rules with codes), «regla90», «demorar» (registers the event, then holds
the answer until the client has given up and the test releases it) and «error500». An event
already registered for the same CUFE and code is always answered with Regla 90, as DIAN does.
"""

from __future__ import annotations

import base64
import io
import ssl
import threading
import zipfile
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from tests.servers.certs import ServerCertificate
from tests.servers.net import LOOPBACK

WSDL = Path(__file__).parents[2] / "tui_recepcion" / "radian" / "dian.wsdl"
SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSA = "http://www.w3.org/2005/08/addressing"
DS = "http://www.w3.org/2000/09/xmldsig#"
WCF = "http://wcf.dian.colombia"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
HOLD_LIMIT = 30.0  # «demorar» never holds a thread longer than this, whatever the test does

_RESULT = """<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing">
<s:Header><a:Action s:mustUnderstand="1">http://wcf.dian.colombia/IWcfDianCustomerServices/{operation}Response</a:Action></s:Header>
<s:Body><{operation}Response xmlns="http://wcf.dian.colombia"><{operation}Result
 xmlns:b="http://schemas.datacontract.org/2004/07/DianResponse" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
<b:ErrorMessage xmlns:c="http://schemas.microsoft.com/2003/10/Serialization/Arrays">{errors}</b:ErrorMessage>
<b:IsValid>{valid}</b:IsValid><b:StatusCode>{code}</b:StatusCode><b:StatusDescription>{description}</b:StatusDescription>
<b:StatusMessage>{message}</b:StatusMessage><b:XmlBase64Bytes>{xml}</b:XmlBase64Bytes><b:XmlBytes i:nil="true"/>
<b:XmlDocumentKey>{key}</b:XmlDocumentKey><b:XmlFileName>{operation}</b:XmlFileName>
</{operation}Result></{operation}Response></s:Body></s:Envelope>"""

_FAULT = """<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault>
<s:Code><s:Value>s:Sender</s:Value></s:Code><s:Reason><s:Text xml:lang="es-CO">{reason}</s:Text></s:Reason>
</s:Fault></s:Body></s:Envelope>"""

REJECTION_RULES = (
    "Regla: AAH07, Rechazo: El NIT del receptor no corresponde al emisor de la factura referenciada",
    "Regla: LGC01, Rechazo: La fecha del evento es anterior a la fecha de emisión de la factura",
)


@dataclass
class Received:
    operation: str
    cufe: str
    code: str | None = None
    cude: str | None = None
    event_xml: bytes | None = None
    envelope: bytes = b""


@dataclass
class DianState:
    registered: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # cufe -> [(code, cude)]
    received: list[Received] = field(default_factory=list)
    security_failures: list[str] = field(default_factory=list)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def verify_ws_security(envelope: etree._Element) -> str | None:
    """None when the WS-Security header is right; else why not (the fault's reason)."""
    security = envelope.find(f"{{{SOAP}}}Header/{{{WSSE}}}Security")
    if security is None:
        return "falta el encabezado wsse:Security"
    token = security.find(f"{{{WSSE}}}BinarySecurityToken")
    signature = security.find(f"{{{DS}}}Signature")
    timestamp = security.find(f"{{{WSU}}}Timestamp")
    if token is None or signature is None or timestamp is None:
        return "faltan BinarySecurityToken, Signature o Timestamp"
    expires = datetime.fromisoformat(timestamp.findtext(f"{{{WSU}}}Expires", "").replace("Z", "+00:00"))
    if expires < datetime.now(UTC):
        return "el Timestamp venció"
    certificate = x509.load_der_x509_certificate(base64.b64decode(token.text or ""))
    signed = set()
    context = xmlsec.SignatureContext()
    for reference in signature.iterfind(f"{{{DS}}}SignedInfo/{{{DS}}}Reference"):
        wanted = reference.get("URI", "")[1:]
        nodes = envelope.xpath("//*[@wsu:Id=$id]", namespaces={"wsu": WSU}, id=wanted)
        if len(nodes) != 1:
            return f"la referencia #{wanted} no existe"
        context.register_id(nodes[0], "Id", WSU)
        signed.add(nodes[0].tag)
    needed = {f"{{{SOAP}}}Body", f"{{{WSU}}}Timestamp", f"{{{WSA}}}To"}
    if not needed <= signed:
        return "la firma no cubre Body, Timestamp y wsa:To"
    context.key = xmlsec.Key.from_memory(certificate.public_bytes(serialization.Encoding.PEM),
                                         xmlsec.constants.KeyDataFormatCertPem)
    try:
        context.verify(signature)
    except xmlsec.Error:
        return "la firma WS-Security no es válida"
    return None


class DianStandIn:
    """`start()`/`stop()` (or `with`); `url` is the service address, `state` what it saw."""

    def __init__(self, cert: ServerCertificate) -> None:
        self.state = DianState()
        self._modes: deque[str] = deque()
        self._lock = threading.Lock()
        self.released = threading.Event()
        self.holding = threading.Event()  # set while a «demorar» answer is being held
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: str, content_type: str = "application/soap+xml; charset=utf-8") -> None:
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:  # the client already gave up (timeout)
                    pass

            def do_GET(self) -> None:
                if "wsdl" in self.path.lower():
                    wsdl = WSDL.read_text(encoding="utf-8").replace("https://vpfe.dian.gov.co/WcfDianCustomerServices.svc", outer.url)
                    self._reply(200, wsdl, "text/xml; charset=utf-8")
                else:
                    self._reply(404, "no encontrado", "text/plain")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = outer._answer(body)
                if status is not None:
                    self._reply(status, answer)

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert.cert, cert.key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://localhost:{self._server.server_address[1]}/WcfDianCustomerServices.svc"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def script(self, *modes: str) -> None:
        with self._lock:
            self._modes.extend(modes)

    def sends(self, cufe: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.state.received if r.operation == "SendEventUpdateStatus" and (cufe is None or r.cufe == cufe)]

    def _answer(self, body: bytes) -> tuple[int | None, str]:
        envelope = etree.fromstring(body)
        problem = verify_ws_security(envelope)
        if problem:
            with self._lock:
                self.state.security_failures.append(problem)
            return 500, _FAULT.format(reason=_escape(f"Error de seguridad: {problem}"))
        operation = etree.QName(envelope.find(f"{{{SOAP}}}Body")[0]).localname
        if operation == "GetStatusEvent":
            cufe = envelope.findtext(f".//{{{WCF}}}trackId", "").strip()
            with self._lock:
                self.state.received.append(Received(operation, cufe, envelope=body))
                events = list(self.state.registered.get(cufe, []))
            return 200, self._status_answer(cufe, events)
        if operation != "SendEventUpdateStatus":
            return 500, _FAULT.format(reason=f"operación desconocida {operation}")
        archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(envelope.findtext(f".//{{{WCF}}}contentFile", ""))))
        event_xml = archive.read(archive.namelist()[0])
        event = etree.fromstring(event_xml)
        code = event.findtext(f"{{{CAC}}}DocumentResponse/{{{CAC}}}Response/{{{CBC}}}ResponseCode", "")
        cufe = event.findtext(f"{{{CAC}}}DocumentResponse/{{{CAC}}}DocumentReference/{{{CBC}}}UUID", "")
        cude = event.findtext(f"{{{CBC}}}UUID", "")
        number = event.findtext(f"{{{CBC}}}ID", "")
        with self._lock:
            self.state.received.append(Received(operation, cufe, code, cude, event_xml, body))
            mode = self._modes.popleft() if self._modes else "aceptar"
            already = any(done == code for done, _ in self.state.registered.get(cufe, []))
        if already or mode == "regla90":
            return 200, self._send_answer(False, "99", "Validación contiene errores en campos mandatorios.", "",
                                          ("Regla: 90, Rechazo: Documento procesado anteriormente.",), cude)
        if mode == "error500":
            return 500, "<html><body>Internal Server Error</body></html>"
        if mode == "rechazar":
            return 200, self._send_answer(False, "99", "Validación contiene errores en campos mandatorios.", "",
                                          REJECTION_RULES, cude)
        with self._lock:
            self.state.registered.setdefault(cufe, []).append((code, cude))
        if mode == "demorar":
            self.holding.set()
            self.released.wait(HOLD_LIMIT)
            return None, ""
        return 200, self._send_answer(True, "00", "Procesado Correctamente.",
                                      f"La Application response {number}, ha sido autorizada.",
                                      ("Regla: AAH17, Notificación: No fue informado el cargo de la persona",), cude)

    @staticmethod
    def _send_answer(valid: bool, code: str, description: str, message: str, errors: tuple[str, ...], key: str) -> str:
        strings = "".join(f"<c:string>{_escape(error)}</c:string>" for error in errors)
        return _RESULT.format(operation="SendEventUpdateStatus", errors=strings, valid=str(valid).lower(), code=code,
                              description=_escape(description), message=_escape(message), xml="", key=key)

    @staticmethod
    def _status_answer(cufe: str, events: list[tuple[str, str]]) -> str:
        if not events:
            return _RESULT.format(operation="GetStatusEvent", errors="", valid="false", code="67",
                                  description="EL CUFE o Factura consultada no tiene a la fecha eventos asociados.",
                                  message="", xml="", key=cufe)
        responses = "".join(
            f"<cac:DocumentResponse><cac:Response><cbc:ResponseCode>{code}</cbc:ResponseCode></cac:Response>"
            f"<cac:DocumentReference><cbc:UUID schemeName=\"CUDE-SHA384\">{cude}</cbc:UUID></cac:DocumentReference>"
            "</cac:DocumentResponse>" for code, cude in events)
        document = (f'<ApplicationResponse xmlns="urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2" '
                    f'xmlns:cac="{CAC}" xmlns:cbc="{CBC}"><cbc:UBLVersionID>UBL 2.1</cbc:UBLVersionID>'
                    f"{responses}</ApplicationResponse>")
        encoded = base64.b64encode(document.encode("utf-8")).decode("ascii")
        return _RESULT.format(operation="GetStatusEvent", errors="", valid="true", code="00",
                              description="Procesado Correctamente.", message="", xml=encoded, key=cufe)

    def start(self) -> DianStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> DianStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
