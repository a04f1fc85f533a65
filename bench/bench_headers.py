"""Header decoding cost on RFC 2047 encoded-word bombs: linear, not quadratic.

    python bench/bench_headers.py [--mb MB] [--repeats R] [--sin-referencia]

A bomb is a Subject made of encoded words. Each kind is decoded at sizes N, 2N and 4N
in the same run, and the ratio of each time to the one before is printed: a linear
decoder gives about 2. The bench exits with status 1 if a ratio exceeds 3.

- decodificador sin topes: `mime.decode_header_value` with its caps lifted, so the
  algorithm itself is measured on the whole bomb (issue 12: 3.4 MB took 25 s with
  `email.header.decode_header`, 6.8 MB 106 s);
- extracción completa: `extract_message` of a real document email whose Subject is the
  bomb, with the default limits (the caps make the header cost constant; what is left
  is parsing, which is linear in the message size);
- referencia stdlib: `email.header.decode_header` on much smaller bombs, to show the
  quadratic growth that was fixed (not checked).

Times are CPU time (`time.process_time`), the best of several runs, since a shared
machine only ever makes a run slower; the cyclic garbage collector is off while a run is
timed, as `timeit` does.
"""

from __future__ import annotations

import argparse
import email.header
import gc
import sys
import time
from collections.abc import Callable

from tui_recepcion.demo.samples import DEFAULT_RECEIVER, SampleFactory
from tui_recepcion.dian import mime
from tui_recepcion.dian.extract import extract_message

MAX_RATIO = 3.0
UNLIMITED = 10**12

KINDS: dict[str, str] = {
    "palabras": "=?utf-8?q?a?= ",  # the bomb
    "base64 pegadas": "=?utf-8?b?YWFh?=",
    "sin cierre": "=?utf-8?q?a",  # every `=?` starts a word that never closes
}


def bomb(kind: str, size: int) -> str:
    word = KINDS[kind]
    return word * (size // len(word))


def best_of(repeats: int, work: Callable[[], object], *, min_seconds: float = 1.0) -> float:
    """The best CPU time of at least `repeats` runs, and of as many more as fit in
    `min_seconds` (short runs are the noisiest). CPU time, not wall time: on a shared
    machine, waiting for a core is not the decoder's cost. The cyclic garbage collector
    is off while a run is timed, as `timeit` does."""
    timings: list[float] = []
    while len(timings) < repeats or sum(timings) < min_seconds:
        gc.collect()
        gc.disable()
        try:
            start = time.process_time()
            work()
            timings.append(time.process_time() - start)
        finally:
            gc.enable()
    return min(timings)


def with_subject(raw: bytes, subject: bytes) -> bytes:
    head, _, rest = raw.partition(b"\nSubject: ")
    return head + b"\nSubject: " + subject + rest[rest.index(b"\n"):]


def series(label: str, sizes: list[int], repeats: int, work_for: Callable[[int], Callable[[], object]],
           *, checked: bool = True, min_seconds: float = 1.0) -> bool:
    """Times `work_for(size)()` at each size; prints them and the ratios. True if linear."""
    times = [best_of(repeats, work_for(size), min_seconds=min_seconds) for size in sizes]
    ratios = [later / earlier for earlier, later in zip(times, times[1:], strict=False)]
    cells = "  ".join(f"{size / 1e6:5.2f} MB: {seconds * 1000:9.2f} ms" for size, seconds in zip(sizes, times, strict=True))
    worst = max(ratios)
    verdict = ("" if not checked else "  OK" if worst <= MAX_RATIO else f"  NO LINEAL (> {MAX_RATIO:.0f})")
    print(f"{label:34s} {cells}  razones: {' '.join(f'{r:.2f}' for r in ratios)}{verdict}")
    return worst <= MAX_RATIO or not checked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=3.4, help="tamaño N de la bomba en MB (por defecto 3.4)")
    parser.add_argument("--repeats", type=int, default=3, help="corridas; cuenta la mejor (por defecto 3)")
    parser.add_argument("--sin-referencia", action="store_true", help="no medir email.header (cuadrático)")
    args = parser.parse_args()
    n = int(args.mb * 1e6)
    sizes = [n, 2 * n, 4 * n]
    linear = True

    print(f"Bombas de palabras codificadas RFC 2047 en el asunto: N, 2N y 4N (N = {args.mb} MB); "
          f"razón máxima aceptada {MAX_RATIO:.0f}")
    for kind in KINDS:
        bombs = {size: bomb(kind, size) for size in sizes}

        def decode(size: int, bombs: dict[int, str] = bombs) -> Callable[[], object]:
            return lambda: mime.decode_header_value(bombs[size], 1000, max_bytes=UNLIMITED, max_words=UNLIMITED)

        linear &= series(f"decodificador sin topes, {kind}:", sizes, args.repeats, decode)

    good = SampleFactory(seed=2025).document_email().raw
    for kind in KINDS:
        raws = {size: with_subject(good, bomb(kind, size).encode()) for size in sizes}
        for raw in raws.values():
            result = extract_message(raw, receiver_nit=DEFAULT_RECEIVER.nit)
            assert result.ok, result.failure

        def extract(size: int, raws: dict[int, bytes] = raws) -> Callable[[], object]:
            return lambda: extract_message(raws[size], receiver_nit=DEFAULT_RECEIVER.nit)

        linear &= series(f"extracción completa, {kind}:", sizes, args.repeats, extract)

    if not args.sin_referencia:
        small = [n // 40, n // 20, n // 10]
        words = {size: bomb("palabras", size) for size in small}

        def stdlib(size: int) -> Callable[[], object]:
            return lambda: email.header.decode_header(words[size])

        series("referencia email.header, palabras:", small, 1, stdlib, checked=False, min_seconds=0)

    print("lineal: sí" if linear else f"lineal: NO (alguna razón supera {MAX_RATIO:.0f})")
    return 0 if linear else 1


if __name__ == "__main__":
    sys.exit(main())
