"""Shared benchmark plumbing: build the wasm stub and the native library, time, report."""

from __future__ import annotations

import argparse
import ctypes
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"


Record = dict[str, object]  # one measurement: case, impl, value, unit (and extras)


def bench_args(doc: str | None) -> argparse.Namespace:
    """The options every benchmark takes."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--write", action="store_true", help="update this benchmark's section of RESULTS.md")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run; numbers are rough)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the measurements to FILE as JSON")
    return parser.parse_args()


def write_json(path: Path | None, records: list[Record]) -> None:
    """The measurements as JSON (``benchmarks/run_all.py`` merges them and draws the charts)."""
    if path is not None:
        path.write_text(json.dumps({"machine": machine(), "records": records}, indent=1) + "\n")


def build_stub(
    source: Path, module: str, workdir: Path, include_dirs: tuple[str, ...] = (), **options: Any
) -> ModuleType:
    """Build *source* with the real pipeline into *workdir* and import the stub (*options*: of WasmExtension)."""
    from wasm_ext import WasmExtension
    from wasm_ext.builder.pipeline import build_extension

    package, _, _ = module.rpartition(".")
    package_dir = workdir / package
    package_dir.mkdir(parents=True, exist_ok=True)
    (package_dir / "__init__.py").write_text("")
    ext = WasmExtension(module, sources=[str(source)], include_dirs=list(include_dirs), **options)
    build_extension(ext, source_root=source.parent, package_dir=package_dir, temp_dir=workdir / "tmp")
    sys.path.insert(0, str(workdir))
    return importlib.import_module(module)


def build_native(source: Path, workdir: Path, compiler: str = "cc") -> ctypes.CDLL:
    """The same C as a native shared library (``-O3``), for ctypes."""
    out = workdir / f"lib{source.stem}-{Path(compiler).name}.so"
    include = Path(importlib.import_module("wasm_ext").INCLUDE_DIR)
    subprocess.run([compiler, "-O3", "-shared", "-fPIC", f"-I{include}", str(source), "-o", str(out)], check=True)
    return ctypes.CDLL(str(out))


def per_call_us_side_by_side(
    fns: dict[str, Callable[[], object]], budget: float = 0.4, rounds: int = 7
) -> dict[str, float]:
    """Best per-call time in microseconds of each of *fns*, measured in turns.

    Each round times every function once (~*budget*/*rounds* seconds each), so a slow spell of
    a shared machine falls on all of them alike instead of on whichever ran then; the best
    round of each is kept.
    """
    timers = {name: timeit.Timer(fn) for name, fn in fns.items()}
    numbers = {}
    for name, timer in timers.items():
        number, elapsed = timer.autorange()
        numbers[name] = max(1, int(number * (budget / rounds) / max(elapsed, 1e-9)))
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, timer in timers.items():
            best[name] = min(best[name], timer.timeit(numbers[name]) / numbers[name] * 1e6)
    return best


def per_call_us(fn: Callable[[], object], budget: float = 0.4) -> float:
    """Best per-call time in microseconds (min over repeats, each ~*budget*/5 seconds)."""
    timer = timeit.Timer(fn)
    number, elapsed = timer.autorange()
    number = max(1, int(number * (budget / 5) / max(elapsed, 1e-9)))
    return min(timer.repeat(repeat=5, number=number)) / number * 1e6


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib.metadata import version

    wasm_opt = shutil.which("wasm-opt")
    binaryen = (
        subprocess.run([wasm_opt, "--version"], capture_output=True, text=True, check=False).stdout.strip()
        if wasm_opt
        else "none"
    )
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, wasmtime {version('wasmtime')}, ziglang {version('ziglang')}, {binaryen}"
    )


def write_section(section: str, title: str, script: str, method: str, table: str, after: str = "") -> None:
    """Write one benchmark's section of RESULTS.md: title, machine, command, method, table."""
    body = (
        f"## {title} (`benchmarks/{script}`)\n\n"
        f"Machine: {machine()}.\n\n"
        f"Command: `make bench-{section}` (= `.venv/bin/python benchmarks/{script} --write`). {method}\n\n"
        f"{table}\n" + (f"\n{after}\n" if after else "")
    )
    update_results(section, body)
    print(f"\nwrote {RESULTS}")


def update_results(section: str, body: str) -> None:
    """Replace (or append) the block between this section's markers in RESULTS.md."""
    start, end = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="wasm-ext-bench-"))
