"""Per-call cost of declared bindings: a handle method vs a scalar call, out-values vs a shim.

Run: ``make bench-declared`` (or ``.venv/bin/python benchmarks/bench_declared.py --write``).
The handle call and the scalar call have the same arity (one 32-bit argument, one
result); the out-value call is compared with the hand-written shim a user wrote before
declarations (results through a two-item buffer, unpacked in Python), and native C.
"""

from __future__ import annotations

import array
import ctypes
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HERE, Record, bench_args, build_native, build_stub, per_call_us, workdir, write_json, write_section

ZEROS = (0, 0)


def main() -> int:
    args = bench_args(__doc__)
    budget = 0.1 if args.quick else 0.4
    work = workdir()
    source = HERE / "kernels" / "declared.c"
    k = build_stub(
        source,
        "bench_declared_pkg.kernels",
        work,
        exports=["scalar_get", "counter_new", "counter_free", "counter_get", "divmod", "divmod_shim", "produce"],
        handles={"counter": {"destroy": "counter_free"}},
        functions={
            "divmod": {"quot": "out", "rem": "out"},
            "divmod_shim": {"out": "inout[n]"},
            "produce": {"out": "out[cap] -> return"},
        },
    )
    native = build_native(source, work)
    native.scalar_get.argtypes, native.scalar_get.restype = [ctypes.c_int32], ctypes.c_int32
    native.counter_new.restype = ctypes.c_void_p
    native.counter_get.argtypes, native.counter_get.restype = [ctypes.c_void_p], ctypes.c_int32
    q, r = ctypes.c_int64(), ctypes.c_int64()
    native.divmod.argtypes = [
        ctypes.c_int64,
        ctypes.c_int64,
        ctypes.POINTER(ctypes.c_int64),
        ctypes.POINTER(ctypes.c_int64),
    ]
    native.divmod.restype = ctypes.c_int
    pq, pr = ctypes.byref(q), ctypes.byref(r)

    def native_divmod() -> tuple[int, int, int]:
        return native.divmod(-7, 2, pq, pr), q.value, r.value

    def shim_divmod() -> tuple[int, int, int]:  # what the user wrote around divmod_shim
        out = array.array("q", ZEROS)
        error = k.divmod_shim(-7, 2, out)
        return error, out[0], out[1]

    counter = k.counter_new()
    native_counter = native.counter_new()
    assert (
        k.scalar_get(1) == native.scalar_get(1) == 2
        and k.counter_get(counter) == native.counter_get(native_counter) == 1
    )
    assert k.divmod(-7, 2) == shim_divmod() == native_divmod() == (0, -3, -1)

    cases = [
        ("one 32-bit argument", {
            "native C (ctypes), scalar": lambda: native.scalar_get(1),
            "stub, scalar": lambda: k.scalar_get(1),
            "native C (ctypes), handle": lambda: native.counter_get(native_counter),
            "stub, handle method": lambda: k.counter_get(counter),
        }),
        ("divmod: two int64 out-values", {
            "native C (ctypes, byref)": native_divmod,
            "stub, declared out-values": lambda: k.divmod(-7, 2),
            "stub, hand-written shim (buffer + struct)": shim_divmod,
        }),
    ]  # fmt: skip
    rows = []
    for case, impls in cases:
        times = {name: per_call_us(fn, budget=budget) for name, fn in impls.items()}
        base = next(iter(times.values()))
        rows += [(case, name, t, t / base) for name, t in times.items()]
    handle = next(t for c, n, t, _ in rows if n == "stub, handle method")
    scalar = next(t for c, n, t, _ in rows if n == "stub, scalar")
    declared = next(t for c, n, t, _ in rows if n == "stub, declared out-values")
    shim = next(t for c, n, t, _ in rows if n.startswith("stub, hand-written"))
    copies = []  # bytes from an output buffer (reserve, call, copy out) against the copy alone
    for size in (64 << 10, 4 << 20):
        source = bytes(size)
        assert len(k.produce(size)) == size
        stub = per_call_us(lambda size=size: k.produce(size), budget=budget)
        copy = per_call_us(lambda source=source: bytes(memoryview(source)), budget=budget)
        copies.append((size, size / stub, size / copy))
    counter.close()
    shutil.rmtree(work, ignore_errors=True)

    header = "| call | implementation | per call | vs first row |\n|---|---|---:|---:|"
    table = "\n".join([header, *(f"| {c} | {n} | {t:.2f} us | {x:.2f}x |" for c, n, t, x in rows)])
    after = (
        f"Handle method / scalar call of the same arity: {handle / scalar:.2f}x (goal: at most 1.2x). "
        f"Declared out-values / hand-written shim: {declared / shim:.2f}x (goal: within 1.05x)."
    )
    copy_header = "| bytes returned | stub, output buffer -> bytes | bytes(memoryview) of the same size | ratio |"
    copy_table = "\n".join(
        [copy_header, "|---|---:|---:|---:|"]
        + [f"| {n >> 10} KiB | {a:,.0f} MB/s | {c:,.0f} MB/s | {a / c:.2f}x |" for n, a, c in copies]
    )
    after += (
        "\n\nReturning `bytes` from an output buffer (`out[cap] -> return`; the C side writes nothing, so this"
        " is the stub's path alone) against copying the same number of bytes (goal: no slower than the copy):\n\n"
        + copy_table
    )
    print(table, after, sep="\n\n")
    records: list[Record] = [{"case": c, "impl": n, "value": t, "unit": "us"} for c, n, t, _ in rows]
    write_json(args.json, records)
    if args.write:
        write_section(
            "declared", "Declared bindings", "bench_declared.py", "Best of 5 repeats; times per call.", table, after
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
