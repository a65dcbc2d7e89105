"""Run every benchmark, one after the other, and publish what they measured.

Each benchmark runs in its own interpreter (so one's allocations and JIT state do not
colour the next) with ``--write --json``; their records are merged into
``benchmarks/results.json``, drawn as PNG charts in ``benchmarks/charts/`` and checked
against the guide's claims in the "claims" section of ``benchmarks/RESULTS.md``.

Run: ``make bench`` (``.venv/bin/python benchmarks/run_all.py``); ``--quick`` for a smoke run
(fewer repeats; it writes nothing unless ``--write`` is also given).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HERE, machine

BENCHMARKS = ("calls", "kernels", "perline", "startup", "import", "threads", "sandbox", "drift")
RESULTS_JSON = HERE / "results.json"
CHARTS = HERE / "charts"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats; numbers are rough")
    parser.add_argument("--write", action="store_true", help="with --quick: write results anyway")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these benchmarks")
    args = parser.parse_args()
    write = args.write or not args.quick
    chosen = args.only or BENCHMARKS

    merged: dict[str, object] = {}
    if RESULTS_JSON.exists() and args.only:  # keep the benchmarks not re-run this time
        merged = json.loads(RESULTS_JSON.read_text()).get("benchmarks", {})
    with tempfile.TemporaryDirectory(prefix="wasm-ext-bench-") as tmp:
        for name in chosen:
            out = Path(tmp) / f"{name}.json"
            argv = [sys.executable, str(HERE / f"bench_{name}.py"), "--json", str(out)]
            argv += ["--quick"] * args.quick + ["--write"] * write
            print(f"\n== {name}: {' '.join(argv[1:])}", flush=True)
            started = time.perf_counter()
            subprocess.run(argv, check=True)
            print(f"== {name}: {time.perf_counter() - started:.0f} s", flush=True)
            merged[name] = json.loads(out.read_text())["records"]

    results = {
        "machine": machine(),
        "command": "make bench" + (" (quick)" if args.quick else ""),
        "date": time.strftime("%Y-%m-%d"),
        "benchmarks": merged,
    }
    from charts import draw_all
    from claims import claims_section

    section = claims_section(results)
    print("\n" + section)
    if write:
        RESULTS_JSON.write_text(json.dumps(results, indent=1) + "\n")
        for path in draw_all(results, CHARTS):
            print(f"wrote {path.relative_to(HERE.parent)}")
        from _common import update_results

        update_results("claims", section)
        print(f"wrote {RESULTS_JSON.relative_to(HERE.parent)} and the claims section of RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
