"""The two optimizers side by side: npm's ``wasm-opt`` executable and icpp-binaryen's library.

Builds the example's two modules and xxHash (a real library, from its sdist) three ways with
the real pipeline: with ``wasm-opt`` from ``WASM_OPT`` (default: node_modules/.bin), with
the library (no ``wasm-opt`` on PATH), and without optimizing; checks every build gives the
same results, then compares shipped sizes and kernel speed under wasmtime.

Run: ``make bench-optimizer`` (``.venv/bin/python benchmarks/bench_optimizer.py --write``);
needs both optimizers (``pip install icpp-binaryen`` into the venv).
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from _common import Record, bench_args, workdir, write_json, write_section
from bench_kernels import EXAMPLE, FIB_N, SIEVE_N, best_ms, log_data, py_fib, py_sieve
from support import libraries

DATA_MB = 10


@contextmanager
def optimizer(kind: str) -> Iterator[None]:
    """Environment in which the pipeline picks *kind* ("cli", "library" or "none")."""
    saved = dict(os.environ)
    cli = (
        os.environ.get("WASM_OPT")
        or shutil.which("wasm-opt")
        or str(HERE.parent / "node_modules" / ".bin" / "wasm-opt")
    )
    os.environ.pop("WASM_OPT", None)
    if kind == "cli":
        os.environ["WASM_OPT"] = cli
    elif kind == "library":  # no wasm-opt on PATH: the pipeline falls back to the library
        path = os.environ.get("PATH", "").split(os.pathsep)
        os.environ["PATH"] = os.pathsep.join(d for d in path if not (Path(d) / "wasm-opt").exists())
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def build(work: Path, kind: str) -> dict[str, Any]:
    """The example's kernels and log parser and xxHash, built with optimizer *kind*."""
    from wasm_ext import WasmExtension
    from wasm_ext.builder.pipeline import build_extension

    package = f"opt_{kind}"
    package_dir = work / package
    package_dir.mkdir(parents=True)
    (package_dir / "__init__.py").write_text("")
    xxhash_root = libraries.sdist("xxhash", libraries.XXHASH_VERSION)
    opt = kind != "none"
    builds = [
        (WasmExtension(f"{package}.kernels", sources=["csrc/kernels.c"], wasm_opt=opt), EXAMPLE),
        (WasmExtension(f"{package}._logparse", sources=["csrc/logparse.c"], wasm_opt=opt), EXAMPLE),
        (WasmExtension(f"{package}.xxh", ["deps/xxhash/xxhash.c"], wasm_opt=opt, **libraries.XXH3), xxhash_root),
    ]
    with optimizer(kind):
        for ext, root in builds:
            stem = ext.name.rpartition(".")[2]
            build_extension(ext, source_root=root, package_dir=package_dir, temp_dir=work / "tmp" / kind / stem)
    sys.path.insert(0, str(work))
    modules = {stem: importlib.import_module(f"{package}.{stem}") for stem in ("kernels", "_logparse", "xxh")}
    modules["dir"] = package_dir
    return modules


def workloads(mods: dict[str, Any], logs: bytes, text: bytes) -> dict[str, Callable[[], object]]:
    from array import array

    k, lp, x = mods["kernels"], mods["_logparse"], mods["xxh"]

    def parse() -> list[int]:
        out = array("q", bytes(8 * 16))
        assert lp.parse_logs(logs, out) == 0
        return list(out[:12])

    return {
        "fib loop 20M": lambda: k.fib(FIB_N),
        "sieve(10,000,000)": lambda: k.sieve(SIEVE_N),
        "log parser, 100k lines": parse,
        f"XXH3-64 of {DATA_MB} MB": lambda: x.XXH3_64bits(text),
        f"XXH32 of {DATA_MB} MB": lambda: x.XXH32(text, 0),
    }


def main() -> int:
    args = bench_args(__doc__)
    repeat = 1 if args.quick else 5
    work = workdir()
    from wasm_ext.builder import toolchain

    with optimizer("cli"):
        cli = toolchain.find_wasm_opt(required=True)
    with optimizer("library"):
        lib = toolchain.find_wasm_opt(required=True)
    assert cli is not None and lib is not None and lib.kind != "wasm-opt", "needs wasm-opt and icpp-binaryen"
    labels = {
        "cli": f"wasm-opt executable (Binaryen {cli.version})",
        "library": f"{lib.kind.removeprefix('libbinaryen (').rstrip(')')} library (Binaryen {lib.version})",
        "none": "not optimized",
    }
    built = {kind: build(work, kind) for kind in labels}

    logs = log_data()
    text = b"".join(b"%d: the quick brown fox %x jumps\n" % (i, i * 7919) for i in range(DATA_MB * 30_000))[
        : DATA_MB * 1_000_000
    ]
    runs = {kind: workloads(mods, logs, text) for kind, mods in built.items()}
    assert built["none"]["kernels"].fib(1000) == py_fib(1000) and built["none"]["kernels"].sieve(10**5) == py_sieve(
        10**5
    )
    for case in runs["none"]:  # every optimizer's module computes what the unoptimized one does
        if "20M" in case or "10,000,000" in case:
            continue
        expected = runs["none"][case]()
        for kind in ("cli", "library"):
            assert runs[kind][case]() == expected, (kind, case)
    for kind in ("cli", "library"):
        assert built[kind]["kernels"].fib(1000) == py_fib(1000), kind
        assert built[kind]["kernels"].sieve(10**5) == py_sieve(10**5), kind

    records: list[Record] = []
    lines = [
        "| module | " + " | ".join(labels.values()) + " |",
        "|---|" + "---:|" * len(labels),
    ]
    for stem in ("kernels", "_logparse", "xxh"):
        sizes = {kind: (mods["dir"] / f"{stem}.wasm").stat().st_size for kind, mods in built.items()}
        base = sizes["none"]
        cells = [f"{sizes[k]:,} B ({100 * (sizes[k] - base) / base:+.1f}%)" for k in labels]
        lines.append(f"| {stem}.wasm | " + " | ".join(cells) + " |")
        records += [{"case": f"size {stem}.wasm", "impl": labels[k], "value": sizes[k], "unit": "B"} for k in labels]
    lines += ["", "| workload | " + " | ".join(labels.values()) + " |", "|---|" + "---:|" * len(labels)]
    for case in runs["none"]:
        times = {kind: best_ms(runs[kind][case], repeat) for kind in labels}
        lines.append(f"| {case} | " + " | ".join(f"{times[k]:.1f} ms" for k in labels) + " |")
        records += [{"case": case, "impl": labels[k], "value": times[k], "unit": "ms"} for k in labels]
    shutil.rmtree(work, ignore_errors=True)
    table = "\n".join(lines)
    print(table)
    write_json(args.json, records)
    if args.write:
        method = (
            "Sizes are the shipped `.wasm` (names stripped), against the unoptimized module; "
            "times are best of 5 under wasmtime through the generated stub. Every module's results are checked "
            "against the unoptimized build's first."
        )
        write_section(
            "optimizer", "Optimizers: wasm-opt executable vs icpp-binaryen", "bench_optimizer.py", method, table
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
