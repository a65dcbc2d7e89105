"""What ``bench_simd.py`` times, the same code on both engines (CPython + wasmtime, Pyodide + V8).

Standard library only: under Pyodide it runs as a script inside Node (``tests/pyodide/run_node.mjs``),
given the zipped site of the packages ``bench_simd.py`` built; on CPython ``bench_simd.py`` imports it.
Each case names the module of each variant (``off``: ``simd=False``, ``on``: ``simd=True``); the
variants' results must agree before anything is timed.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import random
import sys
import tempfile
import time
import zipfile
from array import array
from typing import Any, Callable

FIB_N = 20_000_000
SIEVE_N = 10_000_000
LOG_LINES = 100_000
MB = 10 * 1000 * 1000

# (case, module with simd=False, module with simd=True, work)
CASES = (
    ("fib loop 20M", "simd_off.kernels", "simd_on.kernels", "fib"),
    ("sieve(10,000,000)", "simd_off.kernels", "simd_on.kernels", "sieve"),
    ("log parser, 100k lines", "simd_off._logparse", "simd_on._logparse", "logs"),
    ("XXH3-64, 10 MB", "lib_xxh_off.xxh_off", "lib_xxh_on.xxh_on", "xxh3"),
    ("XXH3-64, 10 MB, SIMDe NEON path", "lib_xxh_off.xxh_off", "lib_xxh_neon.xxh_neon", "xxh3"),
    ("XXH64, 10 MB", "lib_xxh_off.xxh_off", "lib_xxh_on.xxh_on", "xxh64"),
    ("XXH32, 10 MB", "lib_xxh_off.xxh_off", "lib_xxh_on.xxh_on", "xxh32"),
    ("Brotli compress (q5), 10 MB", "lib_brotli_off.brotli_off", "lib_brotli_on.brotli_on", "brotli_c"),
    ("Brotli decompress, 10 MB", "lib_brotli_off.brotli_off", "lib_brotli_on.brotli_on", "brotli_d"),
)


def log_data() -> bytes:
    """The example's log workload, 100k JSON lines (bench_kernels.py and bench_simd.py both use it)."""
    line = '{"ts":"2024-09-15T10:%02d:%02dZ","level":"%s","ip":"10.0.%d.%d","msg":"GET /api/v1/items/%d \\"ok\\" in %d ms"}'
    levels = ("INFO", "warning", "ERROR", "debug", "INFO")
    return "\n".join(
        line % (i // 60 % 60, i % 60, levels[i % 5], i % 7, i % 251, i, i % 97) for i in range(LOG_LINES)
    ).encode()


def payload() -> bytes:
    """10 MB of bench_libraries.py's shape (random bytes and repeated text), the same on every engine."""
    chunk = random.Random(15).randbytes(1000) + b"setuptools-wasm " * 2000
    return (chunk * (MB // len(chunk) + 1))[:MB]


class Inputs:
    """The inputs, made once per process."""

    def __init__(self) -> None:
        self.logs = log_data()
        self.data = payload()
        self.packed: bytes | None = None  # Brotli's output of data, made by the first Brotli module


def work(kind: str, module: Any, inputs: Inputs) -> Callable[[], object]:
    """The call to time for *kind* on *module* (a stub)."""
    data = inputs.data
    if kind == "fib":
        return lambda: module.fib(FIB_N)
    if kind == "sieve":
        return lambda: module.sieve(SIEVE_N)
    if kind == "logs":

        def logs() -> list[int]:
            out = array("q", bytes(8 * 16))
            assert module.parse_logs(inputs.logs, out) == 0
            return list(out[:12])

        return logs
    if kind == "xxh3":
        return lambda: module.XXH3_64bits(data)
    if kind == "xxh64":
        return lambda: module.XXH64(data, 0)
    if kind == "xxh32":
        return lambda: module.XXH32(data, 0)
    if kind == "brotli_c":
        return lambda: module.BrotliEncoderCompress(5, 22, 0, data)
    if kind == "brotli_d":
        if inputs.packed is None:
            inputs.packed = bytes(module.BrotliEncoderCompress(5, 22, 0, data))
        packed = inputs.packed
        return lambda: module.BrotliDecoderDecompress(packed, len(data))[1]  # (result code, the bytes)
    raise ValueError(f"unknown work {kind!r}")


def digest(value: object) -> str:
    """A short, comparable form of a result (bytes by their hash)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "sha256:" + hashlib.sha256(value).hexdigest()[:16]
    if isinstance(value, tuple):
        return "(" + ", ".join(map(digest, value)) + ")"
    return repr(value)[:200]


def best_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return 1000 * min(times)


def run(repeat: int, inputs: Inputs | None = None) -> list[dict[str, object]]:
    """Every case whose modules import here, on each variant: ``case``, ``variant``, ``ms``, ``result``."""
    inputs = inputs or Inputs()
    records: list[dict[str, object]] = []
    for case, off, on, kind in CASES:
        try:
            modules = {"off": importlib.import_module(off), "on": importlib.import_module(on)}
        except ImportError:  # that variant was not built (bench_simd.py says why)
            continue
        calls = {variant: work(kind, module, inputs) for variant, module in modules.items()}
        results = {variant: digest(call()) for variant, call in calls.items()}
        if len(set(results.values())) != 1:
            raise AssertionError(f"{case}: the variants disagree: {results}")
        best = dict.fromkeys(calls, float("inf"))
        for _ in range(repeat):  # the variants interleaved, so a busy spell on the machine hits both alike
            for variant, call in calls.items():
                best[variant] = min(best[variant], best_ms(call, 1))
        for variant in calls:
            records.append({"case": case, "variant": variant, "ms": best[variant], "result": results[variant]})
    return records


def main() -> None:
    """Under Pyodide: ``simd_workloads.py SITE_ZIP REPEAT``; prints the records as JSON on the last line."""
    site = tempfile.mkdtemp()
    with zipfile.ZipFile(sys.argv[1]) as zf:
        zf.extractall(site)
    sys.path.insert(0, site)
    records = run(int(sys.argv[2]))
    print(json.dumps({"platform": sys.platform, "records": records}))


if __name__ == "__main__":
    main()
