"""Threads with and without the GIL: 1 vs 2 threads calling the example's kernels, on CPython
3.13 with the GIL and on free-threaded 3.13t, side by side in one run.

Short calls (``fib(10)``) are mostly Python-side work per call, so under the GIL a second
thread only adds contention; without the GIL both threads run at once. Long calls
(``sieve(5_000_000)``) spend their time in wasm, where ctypes releases the GIL, so they scale
on both. Each thread has its own wasmtime Store (the runtime's rule), one Engine is shared.

The GIL interpreter is pyenv's (or PATH's) ``python3.13``, else this one; the free-threaded one
is what ``make python-freethreaded`` built (``tests/support/build_python_ft.sh``); a missing one
is a row saying so. Both import the same built package and the venv's wasmtime-py (pure Python
plus a shared library it loads with ctypes, so its files serve any CPython 3.9+).

Run: ``make bench-threads`` (``.venv/bin/python benchmarks/bench_threads.py --write``).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import textwrap
from importlib.metadata import distribution
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HERE, Record, bench_args, build_stub, workdir, write_json, write_section

EXAMPLE = HERE.parent / "example_project"
BUILD_FT = HERE.parent / "tests" / "support" / "build_python_ft.sh"
CASES = (("short calls", "fib", 10), ("long calls", "sieve", 5_000_000))

# Run in each interpreter: calls per second of each case on 1 and on 2 threads (best of N).
WORKER = textwrap.dedent(
    """
    import json, sys, threading, time
    import threads_pkg.kernels as k

    def rate(fn, arg, calls, threads):
        ready = threading.Barrier(threads + 1)
        def work():
            fn(arg)  # this thread's instance is made before the clock starts
            ready.wait()
            for _ in range(calls):
                fn(arg)
        workers = [threading.Thread(target=work) for _ in range(threads)]
        for w in workers:
            w.start()
        ready.wait()
        started = time.perf_counter()
        for w in workers:
            w.join()
        return threads * calls / (time.perf_counter() - started)

    cases, repeats = json.loads(sys.argv[1]), int(sys.argv[2])
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    out = {"version": sys.version.split()[0], "gil": gil, "rates": {}}
    for label, name, arg, calls in cases:
        fn = getattr(k, name)
        out["rates"][label] = {n: max(rate(fn, arg, calls, n) for _ in range(repeats)) for n in (1, 2)}
    print(json.dumps(out))
    """
)


def gil_python() -> str:
    """CPython 3.13 with the GIL (pyenv's, else PATH's), else this interpreter."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = sorted(glob.glob(f"{root}/versions/3.13.*/bin/python3.13"))
    return found[-1] if found else shutil.which("python3.13") or sys.executable


def free_threaded_python() -> str | None:
    out = subprocess.run(["bash", str(BUILD_FT), "--path"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or None


def wasmtime_dir(work: Path) -> Path:
    """A directory holding (links to) this venv's wasmtime-py and its metadata, for PYTHONPATH."""
    dist = distribution("wasmtime")
    site = Path(str(dist.locate_file("")))
    target = work / "wasmtime-site"
    target.mkdir()
    for name in ("wasmtime", f"wasmtime-{dist.version}.dist-info"):
        (target / name).symlink_to(site / name)
    return target


def measure(python: str, work: Path, site: Path, repeats: int, scale: float) -> dict[str, object]:
    cases = [(label, name, arg, max(1, int(calls * scale))) for (label, name, arg), calls in zip(CASES, (200_000, 40))]
    env = {**os.environ, "PYTHONPATH": f"{work}{os.pathsep}{site}", "WASM_EXT_CACHE_DIR": str(work / "cache")}
    env.pop("PYTHON_GIL", None)  # the build's default: off on 3.13t, on elsewhere
    out = subprocess.run(
        [python, "-c", WORKER, json.dumps(cases), str(repeats)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout)
    result["stderr"] = out.stderr.strip()
    return result


def main() -> int:
    args = bench_args(__doc__)
    repeats, scale = (2, 0.25) if args.quick else (5, 1.0)
    work = workdir()
    build_stub(EXAMPLE / "csrc" / "kernels.c", "threads_pkg.kernels", work)
    site = wasmtime_dir(work)

    interpreters = [("GIL", gil_python()), ("free-threaded", free_threaded_python())]
    lines = [
        "| calls | interpreter | 1 thread | 2 threads | 2 threads / 1 |",
        "|---|---|---:|---:|---:|",
    ]
    records: list[Record] = []
    for kind, python in interpreters:
        if python is None:
            lines.append(f"| all | {kind}: not built (`make python-freethreaded`) | - | - | - |")
            continue
        result = measure(python, work, site, repeats, scale)
        if result["stderr"]:
            print(f"{python} wrote to stderr:\n{result['stderr']}", file=sys.stderr)
        name = f"CPython {result['version']} ({'GIL' if result['gil'] else 'free-threaded'})"
        rates: dict[str, dict[str, float]] = result["rates"]  # type: ignore[assignment]
        for label, fn, arg in CASES:
            one, two = rates[label]["1"], rates[label]["2"]
            lines.append(f"| {label}: `{fn}({arg:_})` | {name} | {one:,.0f}/s | {two:,.0f}/s | {two / one:.2f}x |")
            for n, value in (("1 thread", one), ("2 threads", two)):
                records.append(
                    {"case": f"threads, {fn}({arg})", "impl": f"{name}, {n}", "value": value, "unit": "calls/s"}
                )
    table = "\n".join(lines)
    print(table)
    write_json(args.json, records)
    if args.write:
        method = (
            f"Calls per second over all threads, best of {repeats}; each thread makes its first call (its own "
            "instance) before the clock starts. Both interpreters in one run, on the same built package."
        )
        write_section("threads", "Threads: GIL vs free-threaded CPython", "bench_threads.py", method, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
