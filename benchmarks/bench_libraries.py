"""Real libraries bound by declarations, side by side with their native PyPI packages, on 10 MB.

Run: ``make bench-libraries`` (or ``.venv/bin/python benchmarks/bench_libraries.py --write``).
Brotli one-shot and streaming (1 MiB chunks) compress (quality 5) and decompress,
pycryptodome's SHA-256 and AES-128 in ECB mode, xxHash's XXH3 one-shot and streaming
(1 MiB updates) and XXH3-128 (a struct result), each against the native package and
hashlib where there is one; the per-call cost of a handle method (XXH3 digest of a
state) against a scalar call of the same library (XXH3 of an empty buffer is not
scalar, so XXH_versionNumber()); and declared bindings against the hand-written shims
a user wrote before declarations (XXH3-128 through a caller's buffer of two uint64_t,
SHA-256's digest into a caller's buffer), per call on 16 bytes.
"""

from __future__ import annotations

import array
import hashlib
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable

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
    from Crypto.Cipher import AES as CryptoAES
    from Crypto.Hash import SHA256 as CryptoSHA256

    work = workdir()
    b, s, x = libraries.brotli(work / "b"), libraries.sha256(work / "s"), libraries.xxh(work / "x")
    a, shim = libraries.aes(work / "a"), _shims(work / "shim")
    data = (os.urandom(1000) + b"setuptools-wasm " * 2000) * (MB // 33000)
    data = (data * 2)[:MB]  # exactly 10 MB: a whole number of AES blocks
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
    key = bytes(range(16))
    ecb = a.ECB_start_operation(a.AES_start_operation(key))
    native_ecb = CryptoAES.new(key, CryptoAES.MODE_ECB)
    assert a.ECB_encrypt(ecb, data[:4096]) == native_ecb.encrypt(data[:4096])
    h128 = x.XXH3_128bits(data)
    assert (h128.high64 << 64) | h128.low64 == xxhash.xxh3_128_intdigest(data)
    assert libraries.brotli_compress_stream(b, chunks) == brotli.compress(data, quality=5)

    def native_compress_stream() -> bytes:
        compressor = brotli.Compressor(quality=5)
        return b"".join([*(compressor.process(c) for c in chunks), compressor.finish()])

    def native_decompress_stream() -> bytes:
        decompressor = brotli.Decompressor()
        return b"".join(decompressor.process(packed[i : i + (1 << 20)]) for i in range(0, len(packed), 1 << 20))

    cases = [
        ("Brotli compress (q5)", {
            "native brotli": lambda: brotli.compress(data, quality=5),
            "setuptools-wasm, declared": lambda: b.BrotliEncoderCompress(5, 22, 0, data),
        }),
        ("Brotli decompress", {
            "native brotli": lambda: brotli.decompress(packed),
            "setuptools-wasm, declared": lambda: b.BrotliDecoderDecompress(packed, len(data)),
        }),
        ("Brotli compress (q5), 1 MiB chunks", {
            "native brotli (Compressor)": native_compress_stream,
            "setuptools-wasm, declared": lambda: libraries.brotli_compress_stream(b, chunks),
        }),
        ("Brotli decompress, 1 MiB chunks", {
            "native brotli (Decompressor)": native_decompress_stream,
            "setuptools-wasm, declared": lambda: libraries.brotli_decompress_stream(b, packed, 1 << 20),
        }),
        ("AES-128-ECB encrypt", {
            "native pycryptodome": lambda: native_ecb.encrypt(data),
            "setuptools-wasm, declared": lambda: a.ECB_encrypt(ecb, data),
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
        ("XXH3-128 one-shot", {
            "native xxhash": lambda: xxhash.xxh3_128_intdigest(data),
            "setuptools-wasm, declared (struct result)": lambda: x.XXH3_128bits(data),
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
    shims = _shim_rows(x, s, shim, _undeclared_digest(work / "s2"), budget=0.1 if args.quick else 0.4)
    a.ECB_stop_operation(ecb)
    shutil.rmtree(work, ignore_errors=True)

    header = "| work (10 MB) | implementation | MB/s | vs first row |\n|---|---|---:|---:|"
    table = "\n".join([header, *(f"| {c} | {n} | {v:,.0f} | {r:.2f}x |" for c, n, v, r in rows)])
    after = (
        f"Per call: XXH3_64bits_digest(state), a handle method, {handle:.2f} us; XXH_versionNumber(), a scalar "
        f"call, {scalar:.2f} us ({handle / scalar:.2f}x; the digest also does the hashing's finalization)."
    )
    shim_header = "| call (16 bytes) | declared | hand-written shim | declared / shim |\n|---|---:|---:|---:|"
    shim_table = "\n".join([shim_header, *(f"| {c} | {d:.2f} us | {h:.2f} us | {d / h:.2f}x |" for c, d, h in shims)])
    after += (
        "\n\nDeclared bindings against the hand-written C shim and Python wrapper a user wrote before declarations"
        " (same library, same build; goal: within 1.05x):\n\n" + shim_table
    )
    print(table, after, sep="\n\n")
    records: list[Record] = [{"case": c, "impl": n, "value": v, "unit": "MB/s"} for c, n, v, _ in rows]
    write_json(args.json, records)
    if args.write:
        write_section("libraries", "Real libraries, bound by declarations", "bench_libraries.py",
                      f"Best of {repeats} runs; MB/s of input.", table, after)  # fmt: skip
    return 0


SHIM = r"""
/* What a user wrote before declarations: scalars and (pointer, length) pairs only. */
#include <stdint.h>
#include <stddef.h>
#include "xxhash.h"

void xxh128_shim(const uint8_t *data, size_t len, uint64_t *out, size_t out_len) {
    XXH128_hash_t h = XXH3_128bits(data, len);
    if (out_len >= 2) { out[0] = h.low64; out[1] = h.high64; }
}
"""


def _shims(work: Path) -> Any:
    """The shim build: xxHash with a C wrapper, the way bindings were written before declarations."""
    root = libraries.sdist("xxhash", libraries.XXHASH_VERSION)
    tree = work / "src"
    shutil.copytree(root / "deps" / "xxhash", tree / "xxhash")
    (tree / "xxhash" / "shim.c").write_text(SHIM)
    return libraries.build(
        work, "shim", tree, ["xxhash/xxhash.c", "xxhash/shim.c"], exports=["xxh128_shim"], include_dirs=["xxhash"]
    )


def _undeclared_digest(work: Path) -> Any:
    """SHA-256 with SHA256_digest left undeclared: (digest, digest_size) pair by the rule, a buffer the
    caller passes and checks the status of, as a user's Python wrapper did before declarations."""
    functions = {k: v for k, v in libraries.SHA256["functions"].items() if k != "SHA256_digest"}
    return libraries.sha256(work, functions=functions)


def _shim_rows(x: Any, s: Any, shim: Any, s_shim: Any, budget: float) -> list[tuple[str, float, float]]:
    data = bytes(range(16))
    pair = array.array("Q", [0, 0])

    def xxh128_by_shim() -> tuple[int, int]:  # the Python wrapper around the shim
        shim.xxh128_shim(data, pair)
        return pair[0], pair[1]

    h = x.XXH3_128bits(data)
    assert xxh128_by_shim() == (h.low64, h.high64)
    with s.SHA256_init() as state, s_shim.SHA256_init() as shim_state:
        digest = bytearray(32)

        def digest_by_shim() -> bytes:  # SHA256_digest(state, out, n) with the buffer and the check in Python
            code = s_shim.SHA256_digest(shim_state, digest)
            if code:
                raise ValueError(code)
            return bytes(digest)

        assert digest_by_shim() == s.SHA256_digest(state)
        rows = [
            ("XXH3_128bits: struct result / shim with a uint64_t[2]", per_call_us(lambda: x.XXH3_128bits(data), budget),
             per_call_us(xxh128_by_shim, budget)),
            ("SHA256_digest: out[32] + error convention / shim into a bytearray", per_call_us(lambda: s.SHA256_digest(state), budget),
             per_call_us(digest_by_shim, budget)),
        ]  # fmt: skip
    return rows


if __name__ == "__main__":
    sys.exit(main())
