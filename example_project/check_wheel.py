"""Check an installed wasm-ext-example on whatever engine runs it; print per-call timings.

The same script runs under CPython (wasmtime) in the end-to-end tests and under Pyodide
(the JavaScript engine's WebAssembly) in Node: same wheel, same checks. It exits non-zero
(an AssertionError) on the first wrong result and prints one JSON line of timings last.
"""

from __future__ import annotations

import json
import sys
import time
import zlib
from typing import Any, Callable


def py_fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, (a + b) & 0xFFFFFFFF
    return a - (1 << 32) if a >= 1 << 31 else a


def per_call_us(fn: Callable[[], object], calls: int) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, time.perf_counter() - started)
    return best / calls * 1e6


def expect_error(kind: type[BaseException], text: str, fn: Callable[[], object]) -> BaseException:
    try:
        fn()
    except kind as exc:
        assert text in str(exc), f"{kind.__name__} without {text!r}: {exc}"
        return exc
    raise AssertionError(f"no {kind.__name__} raised (expected one mentioning {text!r})")


def main() -> int:
    from wasm_example import kernels
    from wasm_example.logs import parse_logs, parse_logs_python

    # scalars: fib's u32 wrap-around, sieve's malloc inside the kernel
    assert [kernels.fib(n) for n in range(60)] == [py_fib(n) for n in range(60)]
    assert kernels.fib(40) == 102334155
    assert kernels.sieve(100_000) == 9592 and kernels.sieve(1) == 0
    assert kernels.sieve(10_000_000) == 664579

    # buffers: scratch area, malloc'ed blocks, memory growth; an unsigned 32-bit result
    for size in (0, 1, 16, 65_536, 100_000, 3 << 20):
        data = bytes((i * 7 + size) & 0xFF for i in range(size))
        assert kernels.adler32(data) == zlib.adler32(data), size
    assert kernels.adler32(b"\xff" * 5553) == zlib.adler32(b"\xff" * 5553) > 1 << 31
    assert kernels.adler32(bytearray(b"abc")) == kernels.adler32(memoryview(b"abc")) == zlib.adler32(b"abc")
    with kernels.alloc(1000) as buf:
        buf.write(b"x" * 1000)
        assert buf.read() == b"x" * 1000
        assert kernels.adler32(buf) == zlib.adler32(b"x" * 1000)

    # bad arguments: clear errors naming the function
    expect_error(TypeError, "fib", lambda: kernels.fib("10"))  # type: ignore[arg-type]
    expect_error(OverflowError, "fib", lambda: kernels.fib(1 << 40))
    expect_error(TypeError, "adler32", lambda: kernels.adler32(12))  # type: ignore[arg-type]

    # a trap (the kernel reads past the end of linear memory) -> KernelTrap; the next call works
    bad = kernels.alloc(16)
    bad.address = 0xFFFF0000  # a pointer far beyond memory: the kernel's first load traps
    trap: Any = expect_error(kernels.KernelTrap, "adler32", lambda: kernels.adler32(bad))
    assert trap.trap_code == "memory_out_of_bounds", trap.trap_code
    assert kernels.fib(10) == 55 and kernels.adler32(b"abc") == zlib.adler32(b"abc")

    # sandboxes: limits on wasmtime; under Pyodide a clear error (no epochs or store limits there)
    if sys.platform == "emscripten":
        expect_error(kernels.KernelError, "sandbox", lambda: kernels.sandbox(timeout=1.0))
    else:
        with kernels.sandbox(timeout=5.0, max_memory="32MiB") as box:
            assert box.fib(40) == 102334155 and box.adler32(b"abc") == zlib.adler32(b"abc")
            expect_error(MemoryError, "adler32", lambda: box.adler32(bytes(40 << 20)))
            assert box.sieve(1000) == 168

    # the log parser: one call per buffer, checked against the pure-Python reference
    lines = [
        '{"ts":"2024-09-15T10:30:00Z","level":"ERROR","ip":"10.0.0.42","msg":"disk \\"sda\\" full \\u00e9"}',
        '{"level":" warning ","ts":"2024-09-15T12:30:05.25+02:00","ip":"2001:DB8::1"}',
        '{"ts":"2024-09-15T10:31:00Z","level":"debug"}',
        "",
        '{"ts":"2024-02-30T00:00:00Z","level":"info"}',
        "not json",
        '{"ts":"2024-09-15T10:32:00Z","level":"fatal","ip":"10.0.0.42"',
    ]
    small = "\n".join(lines).encode()
    assert parse_logs(small) == parse_logs_python(small)
    line = '{"ts":"2024-09-15T10:%02d:%02dZ","level":"%s","ip":"10.0.%d.%d","msg":"GET /items/%d"}'
    big = "\n".join(line % (i // 60 % 60, i % 60, "INFO", i % 7, i % 251, i) for i in range(100_000)).encode()
    stats = parse_logs(big)
    assert stats == parse_logs_python(big) and stats.lines == 100_000 and stats.malformed == 0

    started = time.perf_counter()
    parse_logs(big)
    parse_ms = 1000 * (time.perf_counter() - started)
    started = time.perf_counter()
    kernels.sieve(10_000_000)
    sieve_ms = 1000 * (time.perf_counter() - started)
    timings = {
        "platform": sys.platform,
        "fib(1) us": round(per_call_us(lambda: kernels.fib(1), 20_000), 2),
        "adler32(16 B) us": round(per_call_us(lambda: kernels.adler32(b"0123456789abcdef"), 20_000), 2),
        "sieve(10M) ms": round(sieve_ms, 1),
        "parse_logs(100k lines) ms": round(parse_ms, 1),
    }
    print("all checks passed")
    print(json.dumps(timings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
