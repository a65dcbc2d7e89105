"""What importing a built stub costs a program that never calls it: ``import mypkg.kernels``
against ``python -c pass``, in new interpreters, side by side.

The interpreters run in a virtual environment of their own with nothing installed (the
project's own environment imports pathlib, re and more at start-up, through the ``.pth``
files of editable installs, which would hide what a stub imports); a ``.pth`` file puts
the built packages and wasmtime on its path. Each case is timed alternately with
``python -c pass``, 20 times (median); "+ first call" is the import and one call.

Stubs with enums or structs pay for ``enum`` or ``dataclasses`` at import, by design (their
classes are made then); the table says what each costs.

Run: ``make bench-import`` (``.venv/bin/python benchmarks/bench_import.py --write``).
"""

from __future__ import annotations

import compileall
import shutil
import statistics
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HERE, Record, bench_args, workdir, write_json, write_section

EXAMPLE = HERE.parent / "example_project"
ENUM_C = """#include <stdint.h>
#include <wasm_ext.h>
typedef enum { RED = 1, GREEN = 2, BLUE = 4 } color_t;
WASM_EXPORT int32_t brightness(color_t c) { return (int32_t)c * 10; }
"""
STRUCT_C = """#include <wasm_ext.h>
typedef struct point { float x, y; } point;
WASM_EXPORT float manhattan(point p) { return (p.x < 0 ? -p.x : p.x) + (p.y < 0 ? -p.y : p.y); }
"""
# (label, package, C source or None for the example's kernels.c, a call)
CASES = (
    ("example kernels (ints, a buffer)", "plain_pkg", None, "fib(10)"),
    ("a stub with a C enum", "enum_pkg", ENUM_C, "brightness(1)"),
    ("a stub with a C struct", "struct_pkg", STRUCT_C, "manhattan(m.point(1.0, -2.0))"),
)
MODULES = """
import sys
before = set(sys.modules)
import {module}
print(len(set(sys.modules) - before))
"""


def build(work: Path, package: str, source: Path, root: Path) -> None:
    from wasm_ext import WasmExtension
    from wasm_ext.builder.pipeline import build_extension

    package_dir = work / "site" / package
    package_dir.mkdir(parents=True)
    (package_dir / "__init__.py").write_text("")
    ext = WasmExtension(f"{package}.kernels", sources=[str(source.relative_to(root))])
    build_extension(ext, source_root=root, package_dir=package_dir, temp_dir=work / "tmp" / package)
    compileall.compile_dir(str(package_dir), quiet=1)  # as pip does when it installs a wheel


def clean_python(work: Path) -> str:
    """The python of a new virtual environment with nothing installed but a path to *work*/site and wasmtime."""
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    spec = find_spec("wasmtime")
    assert spec is not None and spec.submodule_search_locations
    wasmtime_site = Path(next(iter(spec.submodule_search_locations))).parent
    (Path(site) / "bench-paths.pth").write_text(f"{work / 'site'}\n{wasmtime_site}\n")
    return str(python)


def run_ms(python: str, code: str, cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run([python, "-c", code], cwd=cwd, check=True)
    return 1000 * (time.perf_counter() - started)


def main() -> int:
    args = bench_args(__doc__)
    runs = 5 if args.quick else 20

    work = workdir()
    (work / "src").mkdir()
    built = []
    for label, package, source, call in CASES:
        if source is None:
            path, root = EXAMPLE / "csrc" / "kernels.c", EXAMPLE
        else:
            path, root = work / "src" / f"{package}.c", work
            path.write_text(source)
        build(work, package, path, root)
        built.append((label, f"{package}.kernels", call))
    python = clean_python(work)

    rows = []
    for label, module, call in built:
        times: dict[str, list[float]] = {"pass": [], "import": [], "call": []}
        for _ in range(runs):  # alternately, so a busy moment of the machine hits all three alike
            times["pass"].append(run_ms(python, "pass", work))
            times["import"].append(run_ms(python, f"import {module}", work))
            times["call"].append(run_ms(python, f"import {module} as m; m.{call}", work))
        count = subprocess.run(
            [python, "-c", MODULES.format(module=module)], cwd=work, capture_output=True, text=True, check=True
        ).stdout.strip()
        medians = {k: statistics.median(v) for k, v in times.items()}
        rows.append((label, module, medians, int(count)))
    shutil.rmtree(work, ignore_errors=True)

    lines = [
        "| stub | `python -c pass` | `import` | import over pass | modules the import loads | import + first call |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, module, m, count in rows:
        lines.append(
            f"| {label}: `{module}` | {m['pass']:.1f} ms | {m['import']:.1f} ms | "
            f"{m['import'] - m['pass']:.1f} ms | {count} | {m['call']:.1f} ms |"
        )
    table = "\n".join(lines)
    print(table)
    records: list[Record] = []
    for label, _, m, count in rows:
        for impl, key in (("python -c pass", "pass"), ("import", "import"), ("import + first call", "call")):
            records.append({"case": f"import, {label}", "impl": impl, "value": m[key], "unit": "ms"})
        records.append({"case": f"import, {label}", "impl": "modules loaded", "value": count, "unit": "modules"})
    write_json(args.json, records)
    if args.write:
        method = (
            f"Median of {runs} new interpreters each, run alternately, in a virtual environment with "
            "nothing installed (a `.pth` file adds the built packages and wasmtime); the stubs are "
            "byte-compiled as pip installs them; the first call loads the shipped precompiled artifact."
        )
        write_section("import", "Import cost of a stub", "bench_import.py", method, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
