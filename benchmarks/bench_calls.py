"""Per-call cost of a kernel: pure Python, native C (ctypes), raw wasmtime-py, our stub.

Run: ``make bench-calls`` (or ``.venv/bin/python benchmarks/bench_calls.py --write``).
Prints a table; with ``--write`` also replaces the "calls" section of RESULTS.md.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    HERE,
    Record,
    bench_args,
    build_native,
    build_stub,
    per_call_us_side_by_side,
    workdir,
    write_json,
    write_section,
)

MIB = 1 << 20


def py_add(a: int, b: int) -> int:
    return (a + b + 2**31) % 2**32 - 2**31


def py_checksum(data: bytes) -> int:
    a, b = 1, 0
    for byte in data:
        a = (a + byte) % 65521
        b = (b + a) % 65521
    return (b << 16) | a


def py_xor(data: bytearray, key: int) -> None:
    data[:] = bytes(x ^ key for x in data)


def main() -> int:
    args = bench_args(__doc__)
    budget = 0.1 if args.quick else 0.4

    work = workdir()
    source = HERE / "kernels" / "calls.c"
    kernels = build_stub(source, "bench_calls_pkg.kernels", work)
    native = build_native(source, work)
    native.add.argtypes, native.add.restype = [ctypes.c_int32, ctypes.c_int32], ctypes.c_int32
    native.checksum.argtypes, native.checksum.restype = [ctypes.c_char_p, ctypes.c_size_t], ctypes.c_uint32
    native.xor_bytes.argtypes, native.xor_bytes.restype = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint8], None

    import wasmtime

    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    raw = wasmtime.Instance(
        store, wasmtime.Module.from_file(engine, str(work / "bench_calls_pkg" / "kernels.wasm")), []
    )
    ex = raw.exports(store)
    if "_initialize" in ex:
        ex["_initialize"](store)
    add_f, checksum_f, xor_f, malloc_f, free_f, memory = (
        ex["add"], ex["checksum"], ex["xor_bytes"], ex["malloc"], ex["free"], ex["memory"],
    )  # fmt: skip

    def raw_checksum(data: bytes) -> int:
        p = malloc_f(store, len(data))
        try:
            memory.write(store, data, p)
            return int(checksum_f(store, p, len(data))) & 0xFFFFFFFF
        finally:
            free_f(store, p)

    def raw_xor(data: bytearray, key: int) -> None:
        p = malloc_f(store, len(data))
        try:
            memory.write(store, data, p)
            xor_f(store, p, len(data), key)
            data[:] = memory.read(store, p, p + len(data))
        finally:
            free_f(store, p)

    def native_xor(data: bytearray, key: int) -> None:
        native.xor_bytes((ctypes.c_ubyte * len(data)).from_buffer(data), len(data), key)

    small = os.urandom(16)
    big = bytearray(os.urandom(MIB))
    # every implementation computes the same thing
    assert kernels.add(2, 40) == native.add(2, 40) == add_f(store, 2, 40) == py_add(2, 40) == 42
    assert (
        kernels.checksum(small)
        == native.checksum(small, 16)
        == raw_checksum(small)
        == py_checksum(small)
        == zlib.adler32(small)
    )
    copies = [bytearray(big) for _ in range(4)]
    kernels.xor_bytes(copies[0], 7), native_xor(copies[1], 7), raw_xor(copies[2], 7), py_xor(copies[3], 7)
    assert len({bytes(c) for c in copies}) == 1 and copies[0] != big

    # The floor of the approach: what a stub call does with every check, lookup and guard taken
    # out (write the raw slots, copy the bytes into the scratch area, one ctypes call into
    # wasmtime_func_call_unchecked). The stub's time above it is the price of its safety.
    instance = kernels._module.instance()
    add_b, checksum_b = instance.binding("add"), instance.binding("checksum")
    scratch, scratch_view = instance.scratch, instance.scratch_view

    def floor_add(a: int, b: int) -> int:
        add_b.i32[0], add_b.i32[4] = a, b
        add_b.call()
        return add_b.i32[0]

    def floor_checksum(data: bytes) -> int:
        scratch_view[0:16] = data
        checksum_b.u32[0], checksum_b.u32[4] = scratch, 16
        checksum_b.call()
        return checksum_b.u32[0]

    assert floor_add(2, 40) == 42 and floor_checksum(small) == zlib.adler32(small)

    rows = []
    with kernels.alloc(MIB) as wasm_buf:
        wasm_buf.write(big)
        cases = [
            ("add(int32, int32)", {
                "pure Python": lambda: py_add(1, 2),
                "native C (ctypes)": lambda: native.add(1, 2),
                "wasmtime-py Func.__call__": lambda: add_f(store, 1, 2),
                "setuptools-wasm stub": lambda: kernels.add(1, 2),
                "floor: raw slots + one call into wasmtime": lambda: floor_add(1, 2),
            }),
            ("checksum(16-byte buffer)", {
                "pure Python": lambda: py_checksum(small),
                "native C (ctypes)": lambda: native.checksum(small, 16),
                "wasmtime-py Func.__call__": lambda: raw_checksum(small),
                "setuptools-wasm stub": lambda: kernels.checksum(small),
                "floor: raw slots + one call into wasmtime": lambda: floor_checksum(small),
            }),
            ("xor_bytes(1 MiB in+out)", {
                "pure Python": lambda: py_xor(big, 7),
                "native C (ctypes)": lambda: native_xor(big, 7),
                "wasmtime-py Func.__call__": lambda: raw_xor(big, 7),
                "setuptools-wasm stub": lambda: kernels.xor_bytes(big, 7),
                "setuptools-wasm stub, alloc() buffer (no copy)": lambda: kernels.xor_bytes(wasm_buf, 7),
            }),
        ]  # fmt: skip
        for case, impls in cases:
            slow = {name: fn for name, fn in impls.items() if "Python" in name and "add" not in case}
            times = per_call_us_side_by_side({n: f for n, f in impls.items() if n not in slow}, budget=budget)
            times.update(per_call_us_side_by_side(slow, budget=5 * budget, rounds=3))
            times = {name: times[name] for name in impls}  # the table keeps the order of the cases
            base = times["native C (ctypes)"]
            for name, t in times.items():
                rows.append((case, name, t, t / base))
    shutil.rmtree(work, ignore_errors=True)

    header = "| call | implementation | per call | vs native C (ctypes) |\n|---|---|---:|---:|"
    lines = [f"| {case} | {name} | {_fmt(t)} | {ratio:.2f}x |" for case, name, t, ratio in rows]
    table = "\n".join([header, *lines])
    print(table)
    records: list[Record] = [{"case": c, "impl": n, "value": t, "unit": "us"} for c, n, t, _ in rows]
    write_json(args.json, records)
    if args.write:
        write_section(
            "calls",
            "Per-call cost",
            "bench_calls.py",
            "Implementations timed in turns, 7 rounds (pure Python on buffers: 3); the best round of each; times per call.",
            table,
        )
    return 0


def _fmt(us: float) -> str:
    return f"{us:.2f} us" if us < 1000 else f"{us / 1000:.2f} ms"


if __name__ == "__main__":
    sys.exit(main())
