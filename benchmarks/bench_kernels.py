"""Kernel speed: the example's fib, sieve and log parser in pure Python, native C and wasm.

Native C is the same source built with gcc -O3 and clang -O3 (zig's clang, for the host)
and called through ctypes; wasm is our stub, with and without wasm-opt. Every
implementation's result is checked against the others before it is timed.

Run: ``make bench-kernels`` (``.venv/bin/python benchmarks/bench_kernels.py --write``).
"""

from __future__ import annotations

import ctypes
import shutil
import sys
import time
from array import array
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HERE, Record, bench_args, build_native, workdir, write_json, write_section
from simd_workloads import LOG_LINES, log_data  # stdlib only: it also runs inside Pyodide

EXAMPLE = HERE.parent / "example_project"
FIB_N = 20_000_000
SIEVE_N = 10_000_000


def py_fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, (a + b) & 0xFFFFFFFF
    return a - (1 << 32) if a >= 1 << 31 else a


def py_sieve(limit: int) -> int:
    if limit < 2:
        return 0
    composite = bytearray(limit + 1)
    for i in range(2, int(limit**0.5) + 1):
        if not composite[i]:
            composite[i * i :: i] = b"\x01" * len(range(i * i, limit + 1, i))
    return (limit - 1) - composite.count(1, 2)


def best_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return 1000 * min(times)


def build_wasm(work: Path, package: str, wasm_opt: bool) -> tuple[object, object]:
    """The example's two wasm modules built into *package* (optionally without wasm-opt)."""
    import importlib

    from wasm_ext import WasmExtension
    from wasm_ext.builder.pipeline import build_extension

    package_dir = work / package
    package_dir.mkdir(parents=True)
    (package_dir / "__init__.py").write_text("")
    (package_dir / "logs.py").write_text((EXAMPLE / "src" / "wasm_example" / "logs.py").read_text())
    for stem, source in (("kernels", "csrc/kernels.c"), ("_logparse", "csrc/logparse.c")):
        ext = WasmExtension(f"{package}.{stem}", sources=[source], wasm_opt=wasm_opt)
        build_extension(ext, source_root=EXAMPLE, package_dir=package_dir, temp_dir=work / "tmp" / package / stem)
    if str(work) not in sys.path:
        sys.path.insert(0, str(work))
    return importlib.import_module(f"{package}.kernels"), importlib.import_module(f"{package}._logparse")


def native(work: Path, compiler: str) -> tuple[ctypes.CDLL, ctypes.CDLL]:
    libs = []
    for source in ("kernels.c", "logparse.c"):
        lib = build_native(EXAMPLE / "csrc" / source, work, compiler)
        libs.append(lib)
    kernels, logs = libs
    for name in ("fib", "sieve"):
        getattr(kernels, name).argtypes, getattr(kernels, name).restype = [ctypes.c_int32], ctypes.c_int32
    logs.parse_logs.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t]
    logs.parse_logs.restype = ctypes.c_int32
    return kernels, logs


def main() -> int:
    args = bench_args(__doc__)
    repeat = 1 if args.quick else 5

    work = workdir()
    zig_cc = work / "zig-cc"
    zig_cc.write_text(f'#!/bin/sh\nexec {sys.executable} -m ziglang cc -target native-linux-gnu "$@"\n')
    zig_cc.chmod(0o755)
    impls: dict[str, tuple[Callable[[int], int], Callable[[int], int], Callable[[bytes], list[int]]]] = {}

    def ctypes_logs(lib: ctypes.CDLL) -> Callable[[bytes], list[int]]:
        def run(data: bytes) -> list[int]:
            out = array("q", bytes(8 * 16))
            address = out.buffer_info()[0]
            assert lib.parse_logs(data, len(data), address, len(out)) == 0
            return list(out[:12])

        return run

    def wasm_logs(module: object) -> Callable[[bytes], list[int]]:
        def run(data: bytes) -> list[int]:
            out = array("q", bytes(8 * 16))
            assert module.parse_logs(data, out) == 0  # type: ignore[attr-defined]
            return list(out[:12])

        return run

    for label, compiler in (("native gcc -O3", "gcc"), ("native clang -O3", str(zig_cc))):
        kernels, logs = native(work, compiler)
        impls[label] = (kernels.fib, kernels.sieve, ctypes_logs(logs))
    for label, package, opt in (
        ("wasm (stub, wasm-opt)", "bench_opt", True),
        ("wasm (stub, no wasm-opt)", "bench_noopt", False),
    ):
        kernels_w, logs_w = build_wasm(work, package, opt)
        impls[label] = (kernels_w.fib, kernels_w.sieve, wasm_logs(logs_w))  # type: ignore[attr-defined]

    data = log_data()
    expected = [py_fib(1000), py_sieve(100_000)]
    for label, (fib, sieve, logs_fn) in impls.items():
        assert [fib(1000), sieve(100_000)] == expected, label
    reference_logs = impls["native gcc -O3"][2](data)
    assert all(fn[2](data) == reference_logs for fn in impls.values())

    rows: list[tuple[str, str, float]] = []
    rows.append(("fib loop 20M", "pure Python (loop)", best_ms(lambda: py_fib(FIB_N), 1)))
    rows.append(("sieve(10,000,000)", "pure Python (bytearray slices)", best_ms(lambda: py_sieve(SIEVE_N), 1)))
    from bench_opt.logs import parse_logs_python  # type: ignore[import-not-found]

    rows.append(
        ("log parser, 100k lines", "pure Python (json + datetime)", best_ms(lambda: parse_logs_python(data), 1))
    )
    for label, (fib, sieve, logs_fn) in impls.items():
        rows.append(("fib loop 20M", label, best_ms(lambda fib=fib: fib(FIB_N), repeat)))
        rows.append(("sieve(10,000,000)", label, best_ms(lambda sieve=sieve: sieve(SIEVE_N), repeat)))
        rows.append(("log parser, 100k lines", label, best_ms(lambda f=logs_fn: f(data), repeat)))
    records: list[Record] = [{"case": k, "impl": label, "value": t, "unit": "ms"} for k, label, t in rows]
    size_rows = []
    for stem in ("kernels", "_logparse"):
        before = (work / "bench_noopt" / f"{stem}.wasm").stat().st_size
        after = (work / "bench_opt" / f"{stem}.wasm").stat().st_size
        size_rows.append(f"| {stem}.wasm | {before:,} B | {after:,} B | {100 * (after - before) / before:+.1f}% |")
        records.append({"case": "module size", "impl": f"{stem}.wasm", "value": after, "unit": "B", "before": before})
    shutil.rmtree(work, ignore_errors=True)

    order = ["fib loop 20M", "sieve(10,000,000)", "log parser, 100k lines"]
    clang = {k: t for k, label, t in rows if label == "native clang -O3"}
    lines = ["| kernel | implementation | time | vs native clang -O3 |", "|---|---|---:|---:|"]
    for kernel in order:
        for k, label, t in rows:
            if k == kernel:
                lines.append(f"| {kernel} | {label} | {t:.1f} ms | {t / clang[kernel]:.2f}x |")
    lines += ["", "| module | without wasm-opt | with wasm-opt | change |", "|---|---:|---:|---:|", *size_rows]
    table = "\n".join(lines)
    print(table)
    write_json(args.json, records)
    print(f"\nlog buffer: {len(data) / 1e6:.1f} MB, {LOG_LINES} lines")
    if args.write:
        after = f"Log buffer: {len(data) / 1e6:.1f} MB, {LOG_LINES:,} lines."
        write_section("kernels", "Kernel speed", "bench_kernels.py", "Best of 5 (pure Python: 1 run).", table, after)
    return 0


if __name__ == "__main__":
    sys.exit(main())
