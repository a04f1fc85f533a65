"""Generated events: valid UBL 2.1, the element paths of DIAN's samples, hashes, and signatures
that Debian's xmlsec1 verifies (and rejects after a one-byte change)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from tests.radian.conftest import PIN, SOFTWARE_ID
from tui_recepcion.radian.cude import CudeParts, event_cude, software_security_code
from tui_recepcion.radian.event import NS, EventParty, EventRequest, Person, build_event
from tui_recepcion.radian.settings import SendingProfile
from tui_recepcion.radian.xades import POLICY_HASH, POLICY_IDENTIFIER, sign_event
from tui_recepcion.secrets import Secret

HERE = Path(__file__).parent
XSD = HERE / "xsd" / "ubl-2.1" / "maindoc" / "UBL-ApplicationResponse-2.1.xsd"
FIXTURES = HERE / "fixtures"
PREFIXES = {uri: prefix for prefix, uri in NS.items() if prefix}
CODES = ("030", "031", "032", "033")
MOMENT = datetime(2026, 11, 20, 14, 15, 30, tzinfo=UTC)  # 09:15:30 in Colombia


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def _request(profile: SendingProfile, code: str, *, reason: str | None = None) -> EventRequest:
    return EventRequest(
        code=code, number=f"EV{code}0001", issued_at=MOMENT, environment="2", sender=profile.sender,
        receiver=EventParty("800111222", "Distribuidora del Valle Ltda.", "5"), document_number="FEV3501",
        cufe=hashlib.sha384(b"FEV3501").hexdigest(), document_type="01", software_id=SOFTWARE_ID,
        claim_reason=reason, person=profile.person if code in ("030", "032") else None,
    )


def _signed(profile: SendingProfile, code: str) -> bytes:
    request = _request(profile, code, reason="02" if code == "031" else None)
    return sign_event(build_event(request, profile.pin), profile.identity, MOMENT)


def element_paths(root: etree._Element) -> set[str]:
    paths = set()
    for element in root.iter(etree.Element):
        steps = []
        node = element
        while node is not None:
            qname = etree.QName(node)
            prefix = PREFIXES.get(qname.namespace or "")
            steps.append(f"{prefix}:{qname.localname}" if prefix else qname.localname)
            node = node.getparent()
        paths.add("/" + "/".join(reversed(steps)))
    return paths


@pytest.mark.parametrize("code", CODES)
def test_generated_events_validate_against_the_ubl_schema(profile: SendingProfile, schema: etree.XMLSchema,
                                                          code: str) -> None:
    document = etree.fromstring(_signed(profile, code))
    assert schema.validate(document), schema.error_log


@pytest.mark.parametrize("code", CODES)
def test_generated_events_have_the_element_paths_of_dians_sample(profile: SendingProfile, code: str) -> None:
    fixture = etree.parse(str(FIXTURES / f"evento-{code}.xml")).getroot()
    generated = etree.fromstring(_signed(profile, code))
    assert element_paths(generated) == element_paths(fixture)


def test_the_fixtures_are_what_they_claim(schema: etree.XMLSchema) -> None:
    """The path fixtures are valid UBL and differ per code where DIAN's samples do."""
    paths = {code: element_paths(etree.parse(str(FIXTURES / f"evento-{code}.xml")).getroot()) for code in CODES}
    person = "/ApplicationResponse/cac:DocumentResponse/cac:IssuerParty/cac:Person/cbc:FirstName"
    assert {code for code, found in paths.items() if person in found} == {"030", "032"}
    for code in CODES:
        assert schema.validate(etree.parse(str(FIXTURES / f"evento-{code}.xml"))), code


def _cbc(root: etree._Element, path: str) -> str:
    return str(root.findtext(path, namespaces={k: v for k, v in NS.items() if k}))


@pytest.mark.parametrize("code", CODES)
def test_cude_and_software_security_code_reproduce_the_samples_notes(code: str) -> None:
    """Each fixture carries both hashes' input strings in cbc:Note, as DIAN's samples do."""
    root = etree.parse(str(FIXTURES / f"evento-{code}.xml")).getroot()
    notes = root.findall("cbc:Note", namespaces={"cbc": NS["cbc"]})
    parts = CudeParts(
        number=_cbc(root, "cbc:ID"), issue_date=_cbc(root, "cbc:IssueDate"), issue_time=_cbc(root, "cbc:IssueTime"),
        sender_id=_cbc(root, "cac:SenderParty/cac:PartyTaxScheme/cbc:CompanyID"),
        receiver_id=_cbc(root, "cac:ReceiverParty/cac:PartyTaxScheme/cbc:CompanyID"),
        response_code=_cbc(root, "cac:DocumentResponse/cac:Response/cbc:ResponseCode"),
        document_id=_cbc(root, "cac:DocumentResponse/cac:DocumentReference/cbc:ID"),
        document_type=_cbc(root, "cac:DocumentResponse/cac:DocumentReference/cbc:DocumentTypeCode"),
    )
    cude_input = notes[0].text or ""
    pin = Secret(cude_input.removeprefix(parts.text(Secret(""))))
    assert parts.text(pin) == cude_input and pin.reveal().isdigit()
    assert event_cude(parts, pin) == _cbc(root, "cbc:UUID")
    software_id = _cbc(root, "ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sts:DianExtensions/"
                             "sts:SoftwareProvider/sts:SoftwareID")
    expected = _cbc(root, "ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sts:DianExtensions/"
                          "sts:SoftwareSecurityCode")
    assert notes[1].text == software_id + pin.reveal() + parts.number
    assert software_security_code(software_id, pin, parts.number) == expected


def test_cude_matches_the_anexo_worked_example() -> None:
    """The Anexo técnico's own vector (numeral of the event CUDE)."""
    parts = CudeParts("1", "2019-04-30", "19:48:50-05:00", "99998888", "800197268", "030", "FE123", "01")
    assert event_cude(parts, Secret("11111")) == (
        "0d91ba25b01f5e7dbda870a11b274501d3a62a73e91932c473c86c93f12a142a2ac45876efcde3e679024a01c0be41f9")


def test_a_generated_event_carries_its_own_hashes_and_the_sending_date(profile: SendingProfile) -> None:
    root = etree.fromstring(_signed(profile, "030"))
    assert _cbc(root, "cbc:IssueDate") == "2026-11-20" and _cbc(root, "cbc:IssueTime") == "09:15:30-05:00"
    parts = CudeParts("EV0300001", "2026-11-20", "09:15:30-05:00", profile.sender.id, "800111222", "030",
                      "FEV3501", "01")
    assert _cbc(root, "cbc:UUID") == event_cude(parts, Secret(PIN))
    assert PIN not in etree.tostring(root).decode()


def test_a_claim_carries_its_reason_as_dians_sample_does(profile: SendingProfile) -> None:
    root = etree.fromstring(_signed(profile, "031"))
    code = root.find("cac:DocumentResponse/cac:Response/cbc:ResponseCode", namespaces={k: v for k, v in NS.items() if k})
    assert (code.text, code.get("listID"), code.get("name")) == ("031", "02", "Mercancía no entregada totalmente")


def test_the_signature_names_dians_policy(profile: SendingProfile) -> None:
    text = _signed(profile, "033").decode()
    assert POLICY_IDENTIFIER in text and POLICY_HASH in text


def _xmlsec1(path: Path) -> subprocess.CompletedProcess[str]:
    assert shutil.which("xmlsec1"), "xmlsec1 (Debian) no está instalado"
    return subprocess.run(
        ["xmlsec1", "--verify", "--insecure", "--id-attr:Id", "SignedProperties", "--id-attr:Id", "KeyInfo", str(path)],
        capture_output=True, text=True, check=False)


@pytest.mark.parametrize("code", CODES)
def test_xmlsec1_verifies_the_signature_and_rejects_a_one_byte_change(profile: SendingProfile, tmp_path: Path,
                                                                      code: str) -> None:
    signed = _signed(profile, code)
    good = tmp_path / "evento.xml"
    good.write_bytes(signed)
    result = _xmlsec1(good)
    assert result.returncode == 0, result.stderr
    assert "References (ok/all): 3/3" in result.stderr
    marker = b"<cbc:DocumentTypeCode>01<"
    assert marker in signed
    tampered = tmp_path / "alterado.xml"
    tampered.write_bytes(signed.replace(marker, b"<cbc:DocumentTypeCode>02<"))
    assert _xmlsec1(tampered).returncode != 0


def test_only_030_and_032_name_the_person(profile: SendingProfile) -> None:
    assert isinstance(profile.person, Person)
    for code in CODES:
        text = _signed(profile, code).decode()
        assert (profile.person.first_name in text) == (code in ("030", "032")), code
