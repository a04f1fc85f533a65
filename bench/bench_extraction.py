"""Extraction throughput on realistic generated mail, against bare lxml parsing.

    python bench/bench_extraction.py [--n N] [--repeats R]

Generates N emails (~65 KB each: a zip with the AttachedDocument and its PDF), runs the
full `extract_message` on each, and compares with two floors of the same work:

- lxml x2: a bare `lxml.etree.fromstring` of the container plus one of its embedded
  document;
- C floor: what no Python code can avoid — base64-decoding the attachment, inflating
  the zip entries (the PDF is kept too), and parsing the container, the embedded
  document and DIAN's ApplicationResponse.

Results are dropped as they come, as the engine hands each one on; the best of several
runs counts, since a shared machine only ever makes a run slower.
"""

from __future__ import annotations

import argparse
import email
import statistics
import time
import zipfile
from dataclasses import dataclass
from email.message import Message
from io import BytesIO

import pybase64
from lxml import etree

from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory
from tui_recepcion.dian import fastmime
from tui_recepcion.dian.extract import extract_message

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
DESCRIPTION = f"{{{CAC}}}Attachment/{{{CAC}}}ExternalReference/{{{CBC}}}Description"
RESPONSE = f"{{{CAC}}}ParentDocumentLineReference/{{{CAC}}}DocumentReference/{DESCRIPTION}"


@dataclass(frozen=True)
class Inputs:
    """What each floor starts from, prepared outside the timed region."""

    attachment_base64: bytes
    container: bytes


def inputs_of(raw: bytes) -> Inputs:
    for part in email.message_from_bytes(raw).walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes) and payload.startswith(b"PK"):
            with zipfile.ZipFile(BytesIO(payload)) as archive:
                container = next(archive.read(n) for n in archive.namelist() if n.endswith(".xml"))
            return Inputs(part.get_payload().encode("ascii"), container)
    raise ValueError("the generated email has no zip")


def lxml_x2(xml: bytes) -> None:
    root = etree.fromstring(xml)
    etree.fromstring(root.find(DESCRIPTION).text.encode("utf-8"))


def c_floor(inputs: Inputs) -> None:
    archive = pybase64.b64decode(inputs.attachment_base64.replace(b"\n", b""), validate=True)
    with zipfile.ZipFile(BytesIO(archive)) as entries:
        container = [entries.read(info) for info in entries.infolist()][0]
    root = etree.fromstring(container)
    etree.fromstring(root.find(DESCRIPTION).text.encode("utf-8"))
    etree.fromstring(root.find(RESPONSE).text.encode("utf-8"))


def best_of(repeats: int, work) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        timings.append(time.perf_counter() - start)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="emails to generate (default 300)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs; the best counts (default 5)")
    args = parser.parse_args()

    factory = SampleFactory(seed=2025, pdf_size=40_000)
    raws = [factory.document_email(style="zip").raw for _ in range(args.n)]
    inputs = [inputs_of(raw) for raw in raws]

    results = [extract_message(raw, receiver_nit=DEFAULT_RECEIVER.nit) for raw in raws]
    failures = [r.failure for r in results if not r.ok]
    assert not failures, failures[:3]
    del results
    fast_path = sum(fastmime.parse(raw, Message) is not None for raw in raws)

    def extract_all() -> None:
        for raw in raws:
            extract_message(raw, receiver_nit=DEFAULT_RECEIVER.nit)

    def lxml_all() -> None:
        for item in inputs:
            lxml_x2(item.container)

    def c_floor_all() -> None:
        for item in inputs:
            c_floor(item)

    full = best_of(args.repeats, extract_all)
    floor = best_of(args.repeats, lxml_all)
    c_work = best_of(args.repeats, c_floor_all)

    n = len(raws)
    print(f"mensajes: {n}  tamaño medio: {statistics.mean(len(raw) for raw in raws) / 1024:.1f} KB  "
          f"XML contenedor medio: {statistics.mean(len(i.container) for i in inputs) / 1024:.1f} KB  "
          f"vía MIME rápida: {fast_path}/{n}")
    for label, seconds in (("extract_message:", full), ("lxml.fromstring (x2):", floor),
                           ("piso C (b64+zip+lxml x3):", c_work)):
        print(f"{label:27s} {n / seconds:8.0f} documentos/s  ({seconds / n * 1000:.2f} ms c/u)")
    print(f"razón extracción / lxml puro: {full / floor:.2f}x")
    print(f"razón extracción / piso C:    {full / c_work:.2f}x")


if __name__ == "__main__":
    main()
