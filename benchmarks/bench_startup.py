"""Cold start and threads: what a fresh process pays before its first result, and how the
log parser scales from one thread to two (one wasmtime Store per thread).

Cold start is measured in new interpreters (byte-compiled, as an installed wheel is):
``import`` of the stub plus its first call,
loading the shipped precompiled artifact, or compiling the portable ``.wasm`` (JIT, with an
empty run-time cache), for the example's module and for a ~200 KB generated module.

Run: ``make bench-startup`` (``.venv/bin/python benchmarks/bench_startup.py --write``).
"""

from __future__ import annotations

import compileall
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HERE, Record, bench_args, workdir, write_json, write_section

EXAMPLE = HERE.parent / "example_project"


def big_source(functions: int) -> str:
    """A C file of *functions* distinct exported kernels (a ~200 KB module at ~500)."""
    body = ["#include <stdint.h>", "#include <wasm_ext.h>"]
    for i in range(functions):
        body.append(
            f"WASM_EXPORT int64_t k{i}(int64_t x) {{ int64_t a = x * {i + 3}; "
            f"for (int j = 0; j < (int)(x & 7); j++) {{ a = (a ^ (a >> {i % 13 + 1})) * {2 * i + 7} + j; "
            f"if (a % {i + 5} == 3) a += {i}; else a -= x >> {i % 5 + 1}; }} return a + {i}; }}"
        )
    return "\n".join(body) + "\n"


def build(work: Path, package: str, stem: str, source: Path, root: Path) -> Path:
    from wasm_ext import WasmExtension
    from wasm_ext.builder.pipeline import build_extension

    package_dir = work / package
    package_dir.mkdir(parents=True, exist_ok=True)
    (package_dir / "__init__.py").write_text("")
    ext = WasmExtension(f"{package}.{stem}", sources=[str(source.relative_to(root))])
    build_extension(ext, source_root=root, package_dir=package_dir, temp_dir=work / "tmp" / package)
    compileall.compile_dir(str(package_dir), quiet=1)  # as pip does when it installs a wheel
    return package_dir / f"{stem}.wasm"


def cold_start_ms(work: Path, module: str, call: str, runs: int) -> float:
    """Median wall time of a new interpreter that imports *module* and makes one call."""
    code = f"import time; t = time.perf_counter(); import {module} as m; m.{call}; print(time.perf_counter() - t)"
    times = []
    for _ in range(runs):
        cache = work / "empty-cache"
        shutil.rmtree(cache, ignore_errors=True)
        env = {**os.environ, "WASM_EXT_CACHE_DIR": str(cache)}
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True, check=True
        )
        times.append(1000 * float(out.stdout))
    return statistics.median(times)


def main() -> int:
    args = bench_args(__doc__)
    runs = 3 if args.quick else 7

    work = workdir()
    (work / "src").mkdir()
    big_c = work / "src" / "big.c"
    big_c.write_text(big_source(500))
    wasm_small = build(work, "small_pkg", "kernels", EXAMPLE / "csrc" / "kernels.c", EXAMPLE)
    wasm_big = build(work, "big_pkg", "kernels", big_c, work)

    rows = []
    for label, package, wasm, call in (
        ("example kernels", "small_pkg", wasm_small, "fib(10)"),
        ("generated ~200 KB module", "big_pkg", wasm_big, "k1(5)"),
    ):
        precompiled = cold_start_ms(work, f"{package}.kernels", call, runs)
        for artifact in wasm.parent.glob("kernels.*.cwasm"):
            artifact.unlink()  # now only the portable .wasm is left: the loader compiles it
        jit = cold_start_ms(work, f"{package}.kernels", call, runs)
        rows.append((label, wasm.stat().st_size, precompiled, jit))

    # threads: the log parser on the same 11 MB buffer, 1 thread vs 2 threads at once
    sys.path.insert(0, str(work))
    logs_dir = work / "logs_pkg"
    logs_dir.mkdir()
    (logs_dir / "__init__.py").write_text("")
    (logs_dir / "logs.py").write_text((EXAMPLE / "src" / "wasm_example" / "logs.py").read_text())
    build(work, "logs_pkg", "_logparse", EXAMPLE / "csrc" / "logparse.c", EXAMPLE)
    from bench_kernels import log_data  # the same buffer as the kernel benchmark
    from logs_pkg.logs import parse_logs  # type: ignore[import-not-found]

    data = log_data()
    parse_logs(data)
    threaded = []
    for threads in (1, 2):
        best = float("inf")
        for _ in range(5):
            workers = [threading.Thread(target=parse_logs, args=(data,)) for _ in range(threads)]
            started = time.perf_counter()
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            best = min(best, time.perf_counter() - started)
        threaded.append((threads, 1000 * best, threads * len(data) / best / 1e6))
    shutil.rmtree(work, ignore_errors=True)

    lines = [
        "| module | .wasm size | import + first call, precompiled | import + first call, JIT from .wasm | JIT / precompiled |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {label} | {size / 1024:.0f} KiB | {pre:.1f} ms | {jit:.1f} ms | {jit / pre:.1f}x |"
        for label, size, pre, jit in rows
    ]
    lines += ["", "| log parser threads | wall time for all | throughput |", "|---:|---:|---:|"]
    lines += [f"| {n} | {ms:.1f} ms | {mbps:.0f} MB/s |" for n, ms, mbps in threaded]
    table = "\n".join(lines)
    print(table)
    records: list[Record] = []
    for label, size, pre, jit in rows:
        for impl, ms in (("precompiled", pre), ("JIT from .wasm", jit)):
            records.append(
                {"case": f"cold start, {label}", "impl": impl, "value": ms, "unit": "ms", "wasm_bytes": size}
            )
    for n, ms, mbps in threaded:
        records.append({"case": "log parser threads", "impl": f"{n} thread(s)", "value": mbps, "unit": "MB/s"})
    write_json(args.json, records)
    if args.write:
        method = (
            f"Cold start: median of {runs} new interpreters, each with an empty run-time cache; "
            "threads: best of 5, each thread parsing the same 11 MB buffer."
        )
        write_section("startup", "Cold start and threads", "bench_startup.py", method, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
