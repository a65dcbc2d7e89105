"""Cold start and threads: what a fresh process pays before its first result, and how the
log parser scales from one thread to two (one wasmtime Store per thread).

Cold start is measured in new interpreters (byte-compiled, as an installed wheel is):
``import`` of the stub plus its first call,
loading the shipped precompiled artifact, or compiling the portable ``.wasm`` (JIT, with an
empty run-time cache), for the example's module and for a ~200 KB generated module.
The same first call is also taken apart, step by step (each its own median): the import
of the stub, of wasmtime, of the stdlib modules the runtime needs then, of the runtime's
own first-call modules, making the engine, loading (manifest, read, sha256, deserialize;
or compile), instantiating, binding and the call itself; and the load of a precompiled
artifact once more, piece by piece: read + sha256 + ``Module.deserialize`` (what the
runtime does) against ``Module.deserialize_file`` (which maps the file).

Run: ``make bench-startup`` (``.venv/bin/python benchmarks/bench_startup.py --write``).
"""

from __future__ import annotations

import compileall
import json
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


STEPS = (
    "import of the stub",
    "import of wasmtime",
    "stdlib the runtime needs (json)",
    "import of the runtime's first-call modules",
    "engine",
    "load (manifest, read, sha256, deserialize or compile)",
    "instantiate",
    "bind",
    "first call",
)
STEP_CODE = """
import time
t = [time.perf_counter()]
import {module} as k
t.append(time.perf_counter())
import wasmtime
t.append(time.perf_counter())
import json
t.append(time.perf_counter())
from {runtime} import instance, wasmtime_engine
t.append(time.perf_counter())
k._module.engine().get()
t.append(time.perf_counter())
k._module._load()
t.append(time.perf_counter())
k._module.instance()
t.append(time.perf_counter())
k._module.bind("{export}", False)
t.append(time.perf_counter())
k.{call}
t.append(time.perf_counter())
assert k._module.loaded_from == "{loaded_from}", k._module.loaded_from
print(json.dumps([b - a for a, b in zip(t, t[1:])]))
"""
LOAD_CODE = """
import json, time
import wasmtime
from {runtime} import digest, wasmtime_engine
engine = wasmtime_engine.DEFAULT_ENGINE.get()
path = {path!r}
def from_bytes():
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        data = f.read()
    t1 = time.perf_counter()
    digest.sha256_hex(data)  # as the loader does
    t2 = time.perf_counter()
    wasmtime.Module.deserialize(engine, data)
    return [t1 - t0, t2 - t1, time.perf_counter() - t2]
def from_file():
    t0 = time.perf_counter()
    wasmtime.Module.deserialize_file(engine, path)
    return [time.perf_counter() - t0]
first = {first}()  # alternately first: whichever runs first pays what a first module costs the engine
second = {second}()
print(json.dumps(first + second if {first!r} == "from_bytes" else second + first))
"""
LOAD_PARTS = ("read", "sha256", "Module.deserialize(bytes)", "Module.deserialize_file(path)")


def child_json(work: Path, code: str) -> list[float]:
    cache = work / "empty-cache"
    shutil.rmtree(cache, ignore_errors=True)
    env = {**os.environ, "WASM_EXT_CACHE_DIR": str(cache)}
    out = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True, check=True)
    return [1000 * v for v in json.loads(out.stdout)]


def medians(samples: list[list[float]]) -> list[float]:
    return [statistics.median(column) for column in zip(*samples)]


def first_call_steps(work: Path, package: str, export: str, call: str, loaded_from: str, runs: int) -> list[float]:
    """Median ms of each of :data:`STEPS` over *runs* new interpreters (empty run-time cache)."""
    code = STEP_CODE.format(
        module=f"{package}.kernels",
        runtime=f"{package}._wasm_ext_runtime",
        export=export,
        call=call,
        loaded_from=loaded_from,
    )
    return medians([child_json(work, code) for _ in range(runs)])


def load_parts(work: Path, package: str, artifact: Path, runs: int) -> list[float]:
    """Median ms of each of :data:`LOAD_PARTS` for *artifact*, over *runs* new interpreters."""
    samples = []
    for i in range(runs):
        first, second = ("from_bytes", "from_file") if i % 2 == 0 else ("from_file", "from_bytes")
        code = LOAD_CODE.format(runtime=f"{package}._wasm_ext_runtime", path=str(artifact), first=first, second=second)
        samples.append(child_json(work, code))
    return medians(samples)


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
    steps: dict[str, list[float]] = {}  # "<module>, precompiled" / "<module>, JIT" -> ms per step
    parts = []
    for label, package, wasm, export, call in (
        ("example kernels", "small_pkg", wasm_small, "fib", "fib(10)"),
        ("generated ~200 KB module", "big_pkg", wasm_big, "k1", "k1(5)"),
    ):
        precompiled = cold_start_ms(work, f"{package}.kernels", call, runs)
        steps[f"{label}, precompiled"] = first_call_steps(work, package, export, call, "precompiled", runs)
        (artifact,) = (a for a in wasm.parent.glob("kernels.*.cwasm") if not a.name.endswith(".sandbox.cwasm"))
        parts.append((label, artifact.stat().st_size, load_parts(work, package, artifact, runs)))
        for artifact in wasm.parent.glob("kernels.*.cwasm"):
            artifact.unlink()  # now only the portable .wasm is left: the loader compiles it
        jit = cold_start_ms(work, f"{package}.kernels", call, runs)
        steps[f"{label}, JIT"] = first_call_steps(work, package, export, call, "wasm", runs)
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
    lines += ["", "| first call, step by step | " + " | ".join(steps) + " |", "|---|" + "---:|" * len(steps)]
    lines += [
        f"| {step} | " + " | ".join(f"{v[i]:.2f} ms" for v in steps.values()) + " |" for i, step in enumerate(STEPS)
    ]
    lines.append("| sum of the steps | " + " | ".join(f"{sum(v):.1f} ms" for v in steps.values()) + " |")
    lines += [
        "",
        "| loading a precompiled artifact | size | " + " | ".join(LOAD_PARTS) + " | read + sha256 + deserialize |",
    ]
    lines.append("|---|---:|" + "---:|" * (len(LOAD_PARTS) + 1))
    lines += [
        f"| {label} | {size / 1024:.0f} KiB | " + " | ".join(f"{v:.3f} ms" for v in ms) + f" | {sum(ms[:3]):.3f} ms |"
        for label, size, ms in parts
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
    for case, values in steps.items():
        for step, ms in zip(STEPS, values):
            records.append({"case": f"first call step, {case}", "impl": step, "value": ms, "unit": "ms"})
    for label, size, ms in parts:
        for part, value in zip(LOAD_PARTS, ms):
            records.append(
                {"case": f"artifact load, {label}", "impl": part, "value": value, "unit": "ms", "cwasm_bytes": size}
            )
    for n, ms, mbps in threaded:
        records.append({"case": "log parser threads", "impl": f"{n} thread(s)", "value": mbps, "unit": "MB/s"})
    write_json(args.json, records)
    if args.write:
        method = (
            f"Cold start, its steps and the artifact's load: median of {runs} new interpreters each, "
            "with an empty run-time cache; "
            "threads: best of 5, each thread parsing the same 11 MB buffer."
        )
        write_section("startup", "Cold start and threads", "bench_startup.py", method, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
