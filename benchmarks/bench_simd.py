"""wasm SIMD: every module built with and without ``simd=True``, on both engines, beside native.

The example's fib, sieve and log parser, xxHash (XXH3-64, XXH64, XXH32) and Brotli (compress
quality 5, decompress) from their PyPI sdists, each built twice with the real pipeline
(``simd=False``, ``simd=True``), then timed side by side in one run: native (the same C with
clang -O3 through ctypes; the native PyPI packages for xxHash and Brotli), wasmtime in this
process, and Pyodide in Node (V8) on the very same files. Results are checked equal first.

xxHash with ``simd=True`` does not compile as it is: with ``__wasm_simd128__`` it includes
``<arm_neon.h>`` whenever one exists (its wasm SIMD path is its NEON code through SIMDe's
``arm_neon.h``, as emscripten ships it), whatever ``XXH_VECTOR`` says, and zig's clang has its
own, which refuses any target but ARM. So the ``simd=True`` build puts an empty ``arm_neon.h``
first on the include path and defines ``XXH_VECTOR=0`` (XXH_SCALAR: only the compiler's
auto-vectorisation); where SIMDe is installed (Debian ``libsimde-dev``) a third build's
``arm_neon.h`` includes SIMDe instead (``XXH_VECTOR`` becomes XXH_NEON: the "SIMDe NEON path" row).

Run: ``make bench-simd`` (``.venv/bin/python benchmarks/bench_simd.py --write``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))  # the libraries' declarations live with the tests that check them
import bench_kernels
import simd_workloads as wl
from _common import Record, bench_args, write_json, write_section
from support import libraries

EXAMPLE = HERE.parent / "example_project"
RUN_NODE = HERE.parent / "tests" / "pyodide" / "run_node.mjs"
SIMDE = Path("/usr/include/simde")  # Debian's libsimde-dev
NEON_SHIM = "/* NEON intrinsics on wasm simd128, from SIMDe (what emscripten's arm_neon.h does) */\n" \
    "#define SIMDE_ENABLE_NATIVE_ALIASES\n#include <simde/arm/neon.h>\n"  # fmt: skip


def build_all(work: Path) -> list[str]:
    """Every module of :data:`simd_workloads.CASES` under ``work/site``; notes on what was left out."""
    from wasm_ext import WasmExtension
    from wasm_ext.builder.pipeline import build_extension

    site, notes = work / "site", []
    for variant, simd in (("off", False), ("on", True)):
        package = site / f"simd_{variant}"
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").write_text("")
        for stem, source in (("kernels", "csrc/kernels.c"), ("_logparse", "csrc/logparse.c")):
            ext = WasmExtension(f"simd_{variant}.{stem}", sources=[source], simd=simd)
            build_extension(ext, source_root=EXAMPLE, package_dir=package, temp_dir=work / "tmp" / variant / stem)
        xxh_root = libraries.sdist("xxhash", libraries.XXHASH_VERSION)
        options: dict[str, Any] = {}
        if simd:  # see the module's docstring
            empty = work / "no-neon"
            empty.mkdir()
            (empty / "arm_neon.h").write_text(
                "/* xxHash with XXH_VECTOR=0 needs none: zig's clang's own refuses wasm */\n"
            )
            options = {"define_macros": ["XXH_VECTOR=0"], "include_dirs": [str(empty)]}
        libraries.build(work, f"xxh_{variant}", xxh_root, ["deps/xxhash/xxhash.c"], simd=simd, **options,
                        **libraries.XXH3)  # fmt: skip
        brotli_root = libraries.sdist("brotli", libraries.BROTLI_VERSION)
        sources = sorted(
            str(p.relative_to(brotli_root)) for part in ("common", "enc", "dec") for p in (brotli_root / "c" / part).glob("*.c")
        )  # fmt: skip
        libraries.build(work, f"brotli_{variant}", brotli_root, sources, include_dirs=["c/include"], wasi=True,
                        simd=simd, **libraries.BROTLI)  # fmt: skip
    if SIMDE.is_dir():
        shim = work / "neon"
        shim.mkdir()
        (shim / "arm_neon.h").write_text(NEON_SHIM)
        (shim / "simde").symlink_to(SIMDE)
        xxh_root = libraries.sdist("xxhash", libraries.XXHASH_VERSION)
        libraries.build(work, "xxh_neon", xxh_root, ["deps/xxhash/xxhash.c"], simd=True, include_dirs=[str(shim)],
                        **libraries.XXH3)  # fmt: skip
    else:
        notes.append(f"SIMDe not found ({SIMDE}): the SIMDe NEON row of xxHash is left out")
    return notes


def natives(work: Path, inputs: wl.Inputs) -> dict[str, Callable[[], object]]:
    """The native call for each case that has one (same C with clang -O3; the PyPI packages)."""
    import brotli
    import xxhash

    zig_cc = work / "zig-cc"
    zig_cc.write_text(f'#!/bin/sh\nexec {sys.executable} -m ziglang cc -target native-linux-gnu "$@"\n')
    zig_cc.chmod(0o755)
    kernels, logs = bench_kernels.native(work, str(zig_cc))

    def parse() -> list[int]:
        from array import array

        out = array("q", bytes(8 * 16))
        assert logs.parse_logs(inputs.logs, len(inputs.logs), out.buffer_info()[0], len(out)) == 0
        return list(out[:12])

    data = inputs.data
    packed = brotli.compress(data, quality=5)
    return {
        "fib loop 20M": lambda: kernels.fib(wl.FIB_N),
        "sieve(10,000,000)": lambda: kernels.sieve(wl.SIEVE_N),
        "log parser, 100k lines": parse,
        "XXH3-64, 10 MB": lambda: xxhash.xxh3_64_intdigest(data),
        "XXH3-64, 10 MB, SIMDe NEON path": lambda: xxhash.xxh3_64_intdigest(data),
        "XXH64, 10 MB": lambda: xxhash.xxh64_intdigest(data),
        "XXH32, 10 MB": lambda: xxhash.xxh32_intdigest(data),
        "Brotli compress (q5), 10 MB": lambda: brotli.compress(data, quality=5),
        "Brotli decompress, 10 MB": lambda: brotli.decompress(packed),
    }


def pyodide_records(work: Path, repeat: int) -> tuple[list[dict[str, Any]], str]:
    """The workloads in Pyodide under Node on the same built files (no precompiled artifacts needed)."""
    node = shutil.which("node")
    if node is None or not (HERE.parent / "node_modules" / "pyodide").is_dir():
        return [], "node or node_modules/pyodide not found: no Pyodide/V8 columns (make setup installs them)"
    site_zip = work / "site.zip"
    with zipfile.ZipFile(site_zip, "w") as zf:
        for path in sorted((work / "site").rglob("*")):
            if path.is_file() and path.suffix != ".cwasm" and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(work / "site"))
    argv = [node, str(RUN_NODE), "--file", str(site_zip), str(HERE / "simd_workloads.py"), site_zip.name, str(repeat)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"Pyodide run failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["platform"] == "emscripten"
    version = next((line for line in proc.stderr.splitlines() if line.startswith("run_node: pyodide")), "")
    return result["records"], version.removeprefix("run_node: ").split(" loaded")[0]


def main() -> int:
    args = bench_args(__doc__)
    repeat = 2 if args.quick else 9
    # builds are kept in build/bench-simd (the stage cache makes a second run's builds instant)
    work = HERE.parent / "build" / "bench-simd"
    shutil.rmtree(work / "site", ignore_errors=True)
    shutil.rmtree(work / "neon", ignore_errors=True)
    shutil.rmtree(work / "no-neon", ignore_errors=True)
    started = time.perf_counter()
    notes = build_all(work)
    print(f"built in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    sys.path.insert(0, str(work / "site"))
    inputs = wl.Inputs()
    assert inputs.logs == bench_kernels.log_data()  # the example benchmark's workload, exactly
    native = natives(work, inputs)
    wasmtime_records = wl.run(repeat, inputs)
    print(f"wasmtime done at {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    v8_records, pyodide_version = pyodide_records(work, repeat)
    print(f"V8 done at {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    cases = list(dict.fromkeys(str(r["case"]) for r in wasmtime_records))
    ms: dict[tuple[str, str, str], float] = {}
    for engine, records in (("wasmtime", wasmtime_records), ("V8", v8_records)):
        for r in records:
            ms[(engine, str(r["case"]), str(r["variant"]))] = float(r["ms"])  # type: ignore[arg-type]
    results = {str(r["case"]): str(r["result"]) for r in wasmtime_records}
    native_ms: dict[str, float] = {}
    for case in cases:
        value = wl.digest(native[case]())
        if value != results[case]:
            raise AssertionError(f"{case}: native {value} != wasm {results[case]}")
        native_ms[case] = wl.best_ms(native[case], repeat)
    for r in v8_records:
        assert r["result"] == results[str(r["case"])], r

    engines = ["wasmtime"] + (["V8"] if v8_records else [])
    header = "| work | native | " + " | ".join(
        f"{e} simd=False | {e} simd=True | {e} True/False" for e in engines
    ) + " |"  # fmt: skip
    lines = [header, "|---|---:|" + "---:|---:|---:|" * len(engines)]
    records: list[Record] = []
    for case in cases:
        cells = [case, f"{native_ms[case]:.1f} ms"]
        records.append({"case": case, "impl": "native", "value": native_ms[case], "unit": "ms"})
        for engine in engines:
            off, on = ms[(engine, case, "off")], ms[(engine, case, "on")]
            cells += [
                f"{off:.1f} ms ({off / native_ms[case]:.2f}x)",
                f"{on:.1f} ms ({on / native_ms[case]:.2f}x)",
                f"**{on / off:.2f}x**",
            ]
            for variant, value in (("simd=False", off), ("simd=True", on)):
                records.append({"case": case, "impl": f"{engine} {variant}", "value": value, "unit": "ms"})
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    for note in notes:
        print(f"note: {note}")
    write_json(args.json, records)
    if args.write:
        method = (
            f"Best of {repeat}, the two builds interleaved; (Nx) is the time over native's; True/False below 1 means SIMD is faster. "
            f"V8: {pyodide_version or 'not run'} in Node {_node_version()}, the same .wasm files."
        )
        native_note = (
            "Native: the example's C with clang -O3 (zig cc, host target) through ctypes; the PyPI packages"
            " xxhash and brotli (their own builds) for the libraries."
        )
        xxh_note = (
            "xxHash does not compile with simd=True as it is (it includes <arm_neon.h>, and zig's clang's own"
            " refuses wasm): the simd=True build has an empty arm_neon.h and XXH_VECTOR=0 (its scalar code,"
            " auto-vectorised); the SIMDe row is its NEON code on wasm simd128 through SIMDe's arm_neon.h."
        )
        load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
        load_note = f"Load average at the end of the run (1/5/15 min): {load} on {os.cpu_count()} cores."
        after = " ".join([native_note, xxh_note, load_note, *notes])
        write_section("simd", "wasm SIMD: simd=False vs simd=True, both engines", "bench_simd.py", method, table, after)
    return 0


def _node_version() -> str:
    node = shutil.which("node")
    if node is None:
        return "(none)"
    return subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
