"""Long-lived instances: does a kernel that allocates inside every call get slower call after call?

Run: ``make bench-drift`` (or ``.venv/bin/python benchmarks/bench_drift.py --write``).
``kernels/alloc_heavy.c`` copies every word of a ~10 MB document onto the heap, indexes and
renders them and frees it all, in each call. It runs 50 times in one process, calls of the
three builds interleaved so they share the machine's noise: native C (gcc -O3, glibc's
malloc, through ctypes), the module with zig's libc malloc (built with
``-DWASM_EXT_USER_MALLOC``, as every module was before the plugin linked its own), and the
module as built by default (the plugin's TLSF malloc, ``include/wasm_ext_malloc.c``).
"""

from __future__ import annotations

import ctypes
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HERE, bench_args, build_native, build_stub, workdir, write_json, write_section


def document(words: int) -> bytes:
    rnd = random.Random(1)
    vocabulary = ["".join(rnd.choice("abcdefghij") for _ in range(rnd.randint(1, 40))) for _ in range(20_000)]
    return " ".join(rnd.choice(vocabulary) for _ in range(words)).encode()


def main() -> int:
    args = bench_args(__doc__)
    calls, words = (12, 100_000) if args.quick else (50, 450_000)
    work = workdir()
    source = HERE / "kernels" / "alloc_heavy.c"
    ours = build_stub(source, "bench_drift_tlsf.kernels", work, exports=["render", "memory_pages"])
    zig = build_stub(
        source,
        "bench_drift_zig.kernels",
        work,
        exports=["render", "memory_pages"],
        extra_compile_args=["-DWASM_EXT_USER_MALLOC"],
    )
    native = build_native(source, work)
    native.render.argtypes, native.render.restype = [ctypes.c_char_p, ctypes.c_size_t], ctypes.c_uint64
    doc = document(words)
    expected = native.render(doc, len(doc))
    assert ours.render(doc) == zig.render(doc) == expected

    impls = {
        "native C (gcc -O3, glibc malloc)": lambda: native.render(doc, len(doc)),
        "wasm, zig's libc malloc": lambda: zig.render(doc),
        "wasm, the plugin's malloc (default)": lambda: ours.render(doc),
    }
    fresh = {"wasm, zig's libc malloc": zig, "wasm, the plugin's malloc (default)": ours}
    for module in fresh.values():  # the render above made the instances; start from new ones
        module._module.discard_instance()
    times: dict[str, list[float]] = {name: [] for name in impls}
    for _ in range(calls):
        for name, fn in impls.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    pages = {name: m.memory_pages() for name, m in fresh.items()}
    shutil.rmtree(work, ignore_errors=True)

    tail = max(1, calls // 5)
    header = (
        f"| implementation | call 1 | calls 2-{1 + tail} (median) | last {tail} (median) | last / first |"
        " memory after |\n|---|---:|---:|---:|---:|---:|"
    )
    rows, records = [], []
    for name, ts in times.items():
        first, early, late = ts[0], statistics.median(ts[1 : 1 + tail]), statistics.median(ts[-tail:])
        memory = f"{pages[name] * 64 / 1024:.1f} MiB" if name in pages else "-"
        rows.append(
            f"| {name} | {first * 1e3:.0f} ms | {early * 1e3:.0f} ms | {late * 1e3:.0f} ms | {late / first:.2f}x | {memory} |"
        )
        records += [
            {"case": "first call", "impl": name, "value": first * 1e3, "unit": "ms"},
            {"case": "late calls (median)", "impl": name, "value": late * 1e3, "unit": "ms"},
        ]
    table = "\n".join([header, *rows])
    after = (
        f"{calls} calls on a {len(doc) / 1e6:.1f} MB document, interleaved. Memory: the instance's linear memory"
        " after the last call (the 16 MiB stack included)."
    )
    print(table, after, sep="\n\n")
    write_json(args.json, records)
    if args.write:
        write_section("drift", "Long-lived instances", "bench_drift.py", "One run; times per call.", table, after)
    return 0


if __name__ == "__main__":
    sys.exit(main())
