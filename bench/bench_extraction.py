"""Extraction throughput on realistic generated mail, against bare lxml parsing.

    python bench/bench_extraction.py [--n N]

Generates N emails (~65 KB each: a zip with the AttachedDocument and its PDF), runs the
full `extract_message` on each, and compares with the floor of the same work: a bare
`lxml.etree.fromstring` of the container plus one of its embedded document.
"""

from __future__ import annotations

import argparse
import statistics
import time
import zipfile
from io import BytesIO

from lxml import etree

from tui_recepcion.dian.extract import extract_message
from tui_recepcion.dian.samples import DEFAULT_RECEIVER, SampleFactory

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
DESCRIPTION = f"{{{CAC}}}Attachment/{{{CAC}}}ExternalReference/{{{CBC}}}Description"


def containers_of(raws: list[bytes]) -> list[bytes]:
    """The container XML inside each generated email (outside the timed region)."""
    import email

    out = []
    for raw in raws:
        for part in email.message_from_bytes(raw).walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and payload.startswith(b"PK"):
                with zipfile.ZipFile(BytesIO(payload)) as archive:
                    out.append(next(archive.read(n) for n in archive.namelist() if n.endswith(".xml")))
    return out


def bare_parse(xml: bytes) -> None:
    root = etree.fromstring(xml)
    etree.fromstring(root.find(DESCRIPTION).text.encode("utf-8"))


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
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best counts (default 3)")
    args = parser.parse_args()

    factory = SampleFactory(seed=2025, pdf_size=40_000)
    raws = [factory.document_email(style="zip").raw for _ in range(args.n)]
    containers = containers_of(raws)
    assert len(containers) == len(raws)

    results = [extract_message(raw, receiver_nit=DEFAULT_RECEIVER.nit) for raw in raws]
    failures = [r.failure for r in results if not r.ok]
    assert not failures, failures[:3]

    full = best_of(args.repeats, lambda: [extract_message(raw, receiver_nit=DEFAULT_RECEIVER.nit) for raw in raws])
    floor = best_of(args.repeats, lambda: [bare_parse(xml) for xml in containers])

    sizes = [len(raw) for raw in raws]
    print(f"mensajes: {len(raws)}  tamaño medio: {statistics.mean(sizes) / 1024:.1f} KB  "
          f"XML contenedor medio: {statistics.mean(len(c) for c in containers) / 1024:.1f} KB")
    print(f"extract_message:        {len(raws) / full:8.0f} documentos/s  ({full / len(raws) * 1000:.2f} ms c/u)")
    print(f"lxml.fromstring (x2):   {len(raws) / floor:8.0f} documentos/s  ({floor / len(raws) * 1000:.2f} ms c/u)")
    print(f"razón extracción / lxml puro: {full / floor:.2f}x")


if __name__ == "__main__":
    main()
