"""This checkout's stubs against another commit's, side by side in one process.

The same C (benchmarks/kernels/calls.c and the example's kernels.c and logparse.c) is
built twice: by the plugin of this checkout and by the plugin at ``--against REF``
(exported from git into a temporary directory). Each build carries its own runtime copy,
so both stubs load in one interpreter, and every case is timed alternately (old, new,
old, new, ...), best of the repeats each. A restructure must leave these ratios at 1.00
within noise; a speed-up or a regression shows as a ratio away from 1.

Timings on a shared machine move by several per cent between runs, so the per-call cases
are also counted in instructions where valgrind is installed (``callgrind``: the same count
whatever else the machine does): each stub runs N and 2N calls, and the difference over N is
its cost per call.

Run: ``make bench-versions AGAINST=<commit>`` (``.venv/bin/python benchmarks/bench_versions.py
--against <commit> [--write]``). Not part of ``make bench``: it compares code, not designs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from array import array
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HERE, per_call_us, update_results

REPO = HERE.parent
EXAMPLE = REPO / "example_project" / "csrc"
# (package, stub module name, source); each is built by both plugins
MODULES = (("calls", "kernels", HERE / "kernels" / "calls.c"), ("example", "kernels", EXAMPLE / "kernels.c"))
LOGS = ("logs", "_logparse", EXAMPLE / "logparse.c")

BUILD = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import wasm_ext
assert Path(wasm_ext.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve()), wasm_ext.__file__
try:
    from wasm_ext.builder.pipeline import build_extension
except ImportError:  # before the build side was renamed
    from wasm_ext.build.pipeline import build_extension
from wasm_ext import WasmExtension
name, source, site = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
package = site / name.rpartition(".")[0]
package.mkdir(parents=True, exist_ok=True)
(package / "__init__.py").write_text("")
ext = WasmExtension(name, sources=[source.name], include_dirs=[str(source.parent)])
build_extension(ext, source_root=source.parent, package_dir=package, temp_dir=site / "tmp" / name)
"""


def _export(ref: str, into: Path) -> Path:
    """The plugin's source at *ref* (``git archive``), in *into*."""
    archive = into / "src.tar"
    subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", "-o", str(archive), ref], check=True)
    with tarfile.open(archive) as tf:
        if hasattr(tarfile, "data_filter"):
            tf.extractall(into / "src", filter="data")
        else:  # pragma: no cover - Python < 3.12 without the backported filter
            tf.extractall(into / "src")
    # installed, templates/ is the package wasm_ext.templates: put it where the import finds it
    shutil.copytree(into / "src" / "templates", into / "src" / "wasm_ext" / "templates")
    return into / "src"


def _build(plugin: Path, tag: str, site: Path) -> None:
    for package, stem, source in (*MODULES, LOGS):
        name = f"{tag}_{package}.{stem}"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        subprocess.run([sys.executable, "-c", BUILD, str(plugin), name, str(source), str(site)], check=True, env=env)


def _cases(tag: str) -> dict[str, Callable[[], object]]:
    calls = importlib.import_module(f"{tag}_calls.kernels")
    example = importlib.import_module(f"{tag}_example.kernels")
    logs = importlib.import_module(f"{tag}_logs._logparse")
    small, small_rw, mib = b"x" * 16, bytearray(16), bytes(range(256)) * 4096
    line = b'{"ts":"2024-09-15T10:30:00Z","level":"ERROR","ip":"10.0.0.42","msg":"disk full"}\n'
    log_data = line * 20_000
    out = array("q", bytes(8 * 12))
    return {
        "scalar call add(1, 2) (us)": lambda: calls.add(1, 2),
        "16-byte buffer checksum (us)": lambda: calls.checksum(small),
        "16-byte in/out buffer xor (us)": lambda: calls.xor_bytes(small_rw, 7),
        "1 MiB buffer checksum (us)": lambda: calls.checksum(mib),
        "fib(30) (us)": lambda: example.fib(30),
        "sieve(1,000,000) (us)": lambda: example.sieve(1_000_000),
        "parse_logs(20k lines, 1.7 MB) (us)": lambda: logs.parse_logs(log_data, out),
    }


COUNTED = {  # per-call cases counted in instructions: (stub module, call)
    "scalar call add(1, 2)": ("calls", "k.add(1, 2)"),
    "16-byte buffer checksum": ("calls", "k.checksum(b'x' * 16)"),
    "16-byte in/out buffer xor": ("calls", "k.xor_bytes(data, 7)"),
}
COUNT = """
import importlib, sys
sys.path.insert(0, sys.argv[1])
k = importlib.import_module(sys.argv[2])
data = bytearray(16)
call = compile(sys.argv[3], "call", "eval")
eval(call)
for _ in range(int(sys.argv[4])):
    eval(call)
"""


def _instructions(site: Path, module: str, call: str, calls: int = 20_000) -> float | None:
    """Instructions per call of *call* under callgrind (N and 2N calls, the difference over N)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    totals = []
    for n in (calls, 2 * calls):
        proc = subprocess.run(
            [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", COUNT]
            + [str(site), module, call, str(n)],
            capture_output=True,
            text=True,
            check=True,
        )
        totals.append(int(proc.stderr.split("Collected :")[1].split()[0]))
    return (totals[1] - totals[0]) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", required=True, metavar="REF", help="the commit to compare with")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per case (default 5)")
    parser.add_argument("--write", action="store_true", help="update the 'versions' section of RESULTS.md")
    args = parser.parse_args()
    ref = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", args.against], check=True, capture_output=True, text=True
    ).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="wasm-ext-versions-"))
    site = work / "site"
    _build(_export(ref, work), "old", site)
    _build(REPO, "new", site)
    sys.path.insert(0, str(site))
    old, new = _cases("old"), _cases("new")
    for case in old:  # both give the same answer before anything is timed
        assert old[case]() == new[case](), case
    rows = []
    for case in old:
        best = {"old": float("inf"), "new": float("inf")}
        for _ in range(args.rounds):
            for tag, fn in (("old", old[case]), ("new", new[case])):
                best[tag] = min(best[tag], per_call_us(fn, budget=0.2))
        rows.append((case, best["old"], best["new"]))
    head = _head()
    table = [f"| case | {ref} | {head} | ratio |", "|---|---:|---:|---:|"]
    table += [f"| {case} | {a:,.2f} | {b:,.2f} | {b / a:.2f}x |" for case, a, b in rows]
    for case, (package, call) in COUNTED.items():
        counts = [_instructions(site, f"{tag}_{package}.kernels", call) for tag in ("old", "new")]
        if counts[0] is not None and counts[1] is not None:
            a, b = counts
            table.append(f"| {case} (instructions, callgrind) | {a:,.0f} | {b:,.0f} | {b / a:.3f}x |")
    print("\n".join(table))
    same = _same_modules(site)
    print(f"wasm modules and precompiled artifacts byte-identical between the two builds: {same}")
    if args.write:
        from _common import machine

        update_results(
            "versions",
            "## This checkout against an earlier commit (`benchmarks/bench_versions.py`)\n\n"
            f"Machine: {machine()}.\n\nCommand: `make bench-versions AGAINST={ref}`. The same C built by both "
            "plugins, both stubs in one process, timed alternately; best of "
            f"{args.rounds} rounds each; instructions counted under callgrind. Ratio: this checkout / {ref}. "
            f"The .wasm and .cwasm files of the two builds are {'byte-identical' if same else 'different'}, "
            "so kernel times can differ only by noise or by what the stub does around the call.\n\n"
            + "\n".join(table)
            + "\n",
        )
    return 0


def _same_modules(site: Path) -> bool:
    """Whether both plugins built byte-identical .wasm and .cwasm files."""
    for package, _, _ in (*MODULES, LOGS):
        old, new = site / f"old_{package}", site / f"new_{package}"
        names = sorted(p.name for p in old.iterdir() if p.suffix in (".wasm", ".cwasm"))
        if names != sorted(p.name for p in new.iterdir() if p.suffix in (".wasm", ".cwasm")):
            return False
        if any((old / n).read_bytes() != (new / n).read_bytes() for n in names):
            return False
    return True


def _head() -> str:
    """This checkout's commit, with ``+`` when tracked files have changes."""
    git = ["git", "-C", str(REPO)]
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=True
    )
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return head + ("+" if dirty.stdout.strip() else "")


if __name__ == "__main__":
    sys.exit(main())
