"""Real libraries bound by declarations, side by side with their native PyPI packages, on 10 MB.

Run: ``make bench-libraries`` (or ``.venv/bin/python benchmarks/bench_libraries.py --write``).
Brotli one-shot compress (quality 5) and decompress, pycryptodome's SHA-256 and xxHash's
XXH3 one-shot and streaming (1 MiB updates), each against the native package and
hashlib where there is one; the per-call cost of a handle method (XXH3 digest of a
state) against a scalar call of the same library (XXH3 of an empty buffer is not
scalar, so XXH_versionNumber()).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))  # the libraries' declarations live with the tests that check them
from _common import Record, bench_args, per_call_us, workdir, write_json, write_section
from support import libraries

MB = 10 * 1000 * 1000


def mb_per_s(fn: Callable[[], object], nbytes: int, repeats: int) -> float:
    best = min(_seconds(fn) for _ in range(repeats))
    return nbytes / best / 1e6


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    args = bench_args(__doc__)
    repeats = 2 if args.quick else 5
    import brotli
    import xxhash
    from Crypto.Hash import SHA256 as CryptoSHA256

    work = workdir()
    b, s, x = libraries.brotli(work / "b"), libraries.sha256(work / "s"), libraries.xxh(work / "x")
    data = (os.urandom(1000) + b"setuptools-wasm " * 2000) * (MB // 33000)
    data = data[:MB]
    packed = brotli.compress(data, quality=5)
    assert b.BrotliEncoderCompress(5, 22, 0, data) == packed
    chunks = [data[i : i + (1 << 20)] for i in range(0, len(data), 1 << 20)]

    def sha_stream() -> bytes:
        with s.SHA256_init() as h:
            for c in chunks:
                s.SHA256_update(h, c)
            return bytes(s.SHA256_digest(h))

    def xxh_stream() -> int:
        with x.XXH3_createState() as st:
            x.XXH3_64bits_reset(st)
            for c in chunks:
                x.XXH3_64bits_update(st, c)
            return int(x.XXH3_64bits_digest(st))

    def native_xxh_stream() -> int:
        h = xxhash.xxh3_64()
        for c in chunks:
            h.update(c)
        return int(h.intdigest())

    assert sha_stream() == hashlib.sha256(data).digest() and xxh_stream() == native_xxh_stream()
    cases = [
        ("Brotli compress (q5)", {
            "native brotli": lambda: brotli.compress(data, quality=5),
            "setuptools-wasm, declared": lambda: b.BrotliEncoderCompress(5, 22, 0, data),
        }),
        ("Brotli decompress", {
            "native brotli": lambda: brotli.decompress(packed),
            "setuptools-wasm, declared": lambda: b.BrotliDecoderDecompress(packed, len(data)),
        }),
        ("SHA-256, 1 MiB updates", {
            "hashlib (OpenSSL)": lambda: hashlib.sha256(data).digest(),
            "native pycryptodome": lambda: CryptoSHA256.new(data).digest(),
            "setuptools-wasm, declared": sha_stream,
        }),
        ("XXH3-64 one-shot", {
            "native xxhash": lambda: xxhash.xxh3_64_intdigest(data),
            "setuptools-wasm, declared": lambda: x.XXH3_64bits(data),
        }),
        ("XXH3-64, 1 MiB updates", {
            "native xxhash": native_xxh_stream,
            "setuptools-wasm, declared": xxh_stream,
        }),
    ]  # fmt: skip
    rows: list[tuple[str, str, float, float]] = []
    for case, impls in cases:
        speeds = {name: mb_per_s(fn, len(data), repeats) for name, fn in impls.items()}
        base = next(iter(speeds.values()))
        rows += [(case, name, v, v / base) for name, v in speeds.items()]
    state = x.XXH3_createState()
    x.XXH3_64bits_reset(state)
    handle = per_call_us(lambda: x.XXH3_64bits_digest(state), budget=0.1 if args.quick else 0.4)
    scalar = per_call_us(x.XXH_versionNumber, budget=0.1 if args.quick else 0.4)
    state.close()
    shutil.rmtree(work, ignore_errors=True)

    header = "| work (10 MB) | implementation | MB/s | vs first row |\n|---|---|---:|---:|"
    table = "\n".join([header, *(f"| {c} | {n} | {v:,.0f} | {r:.2f}x |" for c, n, v, r in rows)])
    after = (
        f"Per call: XXH3_64bits_digest(state), a handle method, {handle:.2f} us; XXH_versionNumber(), a scalar "
        f"call, {scalar:.2f} us ({handle / scalar:.2f}x; the digest also does the hashing's finalization)."
    )
    print(table, after, sep="\n\n")
    records: list[Record] = [{"case": c, "impl": n, "value": v, "unit": "MB/s"} for c, n, v, _ in rows]
    write_json(args.json, records)
    if args.write:
        write_section("libraries", "Real libraries, bound by declarations", "bench_libraries.py",
                      f"Best of {repeats} runs; MB/s of input.", table, after)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
