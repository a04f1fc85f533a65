"""DIAN's SOAP service for events: SendEventUpdateStatus and GetStatusEvent, with WS-Security.

zeep is the SOAP client (the bundled `dian.wsdl` describes the two operations; zeep adds the
WS-Addressing Action/To headers the WSDL declares). The WS-Security header is ours but built
with python-xmlsec, as zeep's own `wsse.signature` does: an X.509 BinarySecurityToken, a
wsu:Timestamp, and one RSA-SHA256 signature (exclusive C14N, SHA-256 digests) over the Body,
the Timestamp and wsa:To, referring to the token. zeep's stock BinarySignature adds no
Timestamp and does not sign wsa:To, which DIAN's WCF binding checks.

Every failure to get DIAN's answer becomes a `RadianError` (transient): the caller cannot know
whether DIAN registered the event, and reads it back with GetStatusEvent before sending again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import xmlsec
import zeep
import zeep.exceptions
from lxml import etree  # type: ignore[import-untyped]
from zeep.transports import Transport
from zeep.wsse.utils import ensure_id, get_security_header

from tui_recepcion.radian.answer import DianAnswer, answer_from
from tui_recepcion.radian.identity import SigningIdentity
from tui_recepcion.radian.problems import RadianError

WSDL = Path(__file__).with_name("dian.wsdl")
BINDING = "{http://wcf.dian.colombia}WSHttpBinding_IWcfDianCustomerServices"
ENDPOINTS = {
    "habilitacion": "https://vpfe-hab.dian.gov.co/WcfDianCustomerServices.svc",
    "produccion": "https://vpfe.dian.gov.co/WcfDianCustomerServices.svc",
}
DEFAULT_TIMEOUT = 60.0  # DIAN answers events synchronously, sometimes slowly

WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSA = "http://www.w3.org/2005/08/addressing"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class DianWsSecurity:
    """zeep's `wsse` hook: signs each outgoing envelope with the company's certificate."""

    def __init__(self, identity: SigningIdentity, lifetime: timedelta = timedelta(minutes=5)) -> None:
        self._identity = identity
        self._lifetime = lifetime

    def apply(self, envelope: etree._Element, headers: dict[str, str]) -> tuple[etree._Element, dict[str, str]]:
        security = get_security_header(envelope)
        security.set(f"{{{SOAP12}}}mustUnderstand", "true")
        now = datetime.now(UTC)
        timestamp = etree.SubElement(security, f"{{{WSU}}}Timestamp")
        etree.SubElement(timestamp, f"{{{WSU}}}Created").text = _stamp(now)
        etree.SubElement(timestamp, f"{{{WSU}}}Expires").text = _stamp(now + self._lifetime)
        token = etree.SubElement(security, f"{{{WSSE}}}BinarySecurityToken", ValueType=X509V3, EncodingType=BASE64)
        token.text = self._identity.certificate_der_base64()
        token_id = ensure_id(token)
        signature = xmlsec.template.create(envelope, xmlsec.constants.TransformExclC14N, xmlsec.constants.TransformRsaSha256)
        security.append(signature)
        context = xmlsec.SignatureContext()
        header = envelope.find(f"{{{SOAP12}}}Header")
        targets = [envelope.find(f"{{{SOAP12}}}Body"), timestamp]
        to = header.find(f"{{{WSA}}}To") if header is not None else None
        if to is not None:
            targets.append(to)
        for target in targets:
            uri = "#" + ensure_id(target)
            context.register_id(target, "Id", WSU)
            reference = xmlsec.template.add_reference(signature, xmlsec.constants.TransformSha256, uri=uri)
            xmlsec.template.add_transform(reference, xmlsec.constants.TransformExclC14N)
        key_info = xmlsec.template.ensure_key_info(signature)
        token_reference = etree.SubElement(key_info, f"{{{WSSE}}}SecurityTokenReference")
        etree.SubElement(token_reference, f"{{{WSSE}}}Reference", URI="#" + token_id, ValueType=X509V3)
        try:
            context.key = xmlsec.Key.from_memory(self._identity.key_pem(), xmlsec.constants.KeyDataFormatPem)
            context.sign(signature)
        except xmlsec.Error as error:
            raise RadianError(f"No se pudo firmar la solicitud a la DIAN ({type(error).__name__}).") from None
        return envelope, headers

    def verify(self, envelope: etree._Element) -> etree._Element:
        # DIAN's answers carry only a Timestamp, no signature: nothing to verify; TLS
        # (certificate and host name checked) is what authenticates the service.
        return envelope


class _Transport(Transport):
    """zeep's transport, remembering the last HTTP status (a 500 with an HTML page is no SOAP fault)."""

    last_status: int | None = None

    def post(self, address: str, message: Any, headers: Any) -> Any:
        self.last_status = None
        response = super().post(address, message, headers)
        self.last_status = response.status_code
        return response


class DianClient:
    """One company's connection to DIAN's web service (a zeep client built on first use)."""

    def __init__(self, url: str, identity: SigningIdentity, *, ca_file: Path | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url
        self._identity = identity
        self._ca_file = ca_file
        self._timeout = timeout
        self._service: Any = None
        self._transport: _Transport | None = None

    def _proxy(self) -> Any:
        if self._service is None:
            session = requests.Session()
            session.trust_env = False  # REQUESTS_CA_BUNDLE and the like must not replace our verification
            session.verify = str(self._ca_file) if self._ca_file else True
            self._transport = _Transport(session=session, timeout=self._timeout, operation_timeout=self._timeout)
            client = zeep.Client(str(WSDL), transport=self._transport, wsse=DianWsSecurity(self._identity))
            self._service = client.create_service(BINDING, self.url)
        return self._service

    def _call(self, operation: str, **arguments: Any) -> DianAnswer:
        try:
            result = getattr(self._proxy(), operation)(**arguments)
        except requests.exceptions.Timeout:
            raise RadianError(
                f"La DIAN no respondió a tiempo ({self._timeout:.0f} s). No se sabe si registró el evento: "
                "se consultará su estado antes de volver a enviarlo.", transient=True) from None
        except requests.exceptions.SSLError:
            raise RadianError(f"No se pudo verificar el certificado TLS del servicio de la DIAN ({self.url}).",
                              transient=True) from None
        except requests.exceptions.RequestException as error:
            raise RadianError(f"No se pudo conectar con el servicio de la DIAN ({type(error).__name__}).",
                              transient=True) from None
        except zeep.exceptions.Fault as fault:
            status = self._transport.last_status if self._transport else None
            if fault.code is None and status not in (None, 200):  # an error page, not a SOAP fault
                raise RadianError(f"El servicio de la DIAN respondió con un error HTTP {status}.",
                                  transient=True) from None
            raise RadianError(f"La DIAN rechazó la solicitud: {' '.join(str(fault.message).split())[:300]}",
                              transient=True) from None
        except zeep.exceptions.TransportError as error:
            raise RadianError(f"El servicio de la DIAN respondió con un error HTTP {error.status_code}.",
                              transient=True) from None
        except (zeep.exceptions.Error, etree.XMLSyntaxError) as error:
            raise RadianError(f"La respuesta de la DIAN no se pudo leer ({type(error).__name__}).",
                              transient=True) from None
        return answer_from(result)

    def send_event(self, zip_bytes: bytes) -> DianAnswer:
        """SendEventUpdateStatus: `zip_bytes` is a zip with one signed ApplicationResponse."""
        return self._call("SendEventUpdateStatus", contentFile=zip_bytes)

    def status_event(self, cufe: str) -> DianAnswer:
        """GetStatusEvent: the events DIAN has registered for the document `cufe`."""
        return self._call("GetStatusEvent", trackId=cufe)
