"""What verifying signatures costs the extraction, on generated mail with real signatures.

    python bench/bench_signature.py [--n N] [--repeats R]

Each email carries a signed invoice inside a container with DIAN's signed response, so every
message has two signatures to verify (as real mail does). Prints, per message: the full
`extract_message`; the same mail with signature-shaped random bytes instead (the extractor
rejects those at the certificate, before any cryptography: the cost of extraction alone); and
one `check_signature` against one bare parse of the same document, so the figures can be read
as ratios measured in the same run. The best of several runs counts (a shared machine only
ever makes a run slower).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from lxml import etree

from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory
from tui_recepcion.dian.extract import extract_message
from tui_recepcion.dian.signature import check_signature


def best(repeats: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    signed = [SampleFactory(seed=seed, signed=True).document_email().raw for seed in range(args.n)]
    unsigned = [SampleFactory(seed=seed).document_email().raw for seed in range(args.n)]
    documents = [SampleFactory(seed=seed, signed=True).document(customer=DEFAULT_RECEIVER).xml for seed in range(args.n)]
    roots = [etree.fromstring(xml) for xml in documents]
    statuses = {d.issuer_signature.status for raw in signed[:5] for d in extract_message(raw).documents
                if d.issuer_signature is not None}
    assert statuses == {"valida"}, statuses

    with_signatures = best(args.repeats, lambda: [extract_message(raw) for raw in signed]) / args.n
    without = best(args.repeats, lambda: [extract_message(raw) for raw in unsigned]) / args.n
    verify = best(args.repeats, lambda: [check_signature(root) for root in roots]) / args.n
    parse = best(args.repeats, lambda: [etree.fromstring(xml) for xml in documents]) / args.n
    print(f"mensajes: {args.n}  (cada uno con 2 firmas: la del documento y la de la DIAN)")
    print(f"extract_message con firmas reales:   {with_signatures * 1000:6.2f} ms c/u")
    print(f"extract_message con firmas de relleno: {without * 1000:6.2f} ms c/u")
    print(f"check_signature (1 firma):           {verify * 1000:6.2f} ms c/u")
    print(f"lxml.fromstring del mismo documento: {parse * 1000:6.2f} ms c/u")
    print(f"razón con firmas / sin verificar:    {with_signatures / without:.2f}x")
    print(f"razón verificar / parsear:           {verify / parse:.2f}x")


if __name__ == "__main__":
    main()
