"""The guide's performance claims, each set against what the benchmarks measured here.

Verdicts are computed from ``results.json`` (never typed in), so re-running the
benchmarks on another machine re-judges every claim.
"""

from __future__ import annotations

from typing import Any

KERNELS = ("fib loop 20M", "sieve(10,000,000)", "log parser, 100k lines")
SHORT = {"fib loop 20M": "fib", "sieve(10,000,000)": "sieve", "log parser, 100k lines": "log parser"}
WASM = "wasm (stub, wasm-opt)"
WASM_NOOPT = "wasm (stub, no wasm-opt)"
CLANG = "native clang -O3"


def value(results: dict[str, Any], bench: str, case: str, impl: str) -> float:
    for record in results["benchmarks"].get(bench, []):
        if record["case"] == case and record["impl"] == impl:
            return float(record["value"])
    raise KeyError(f"{bench}: no record for {case!r} / {impl!r}")


def python_impl(results: dict[str, Any], case: str) -> str:
    return next(
        r["impl"] for r in results["benchmarks"]["kernels"] if r["case"] == case and r["impl"].startswith("pure")
    )


def _verdict(all_hold: bool, any_hold: bool) -> str:
    return "held" if all_hold else "partly" if any_hold else "did not hold"


def claims(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(claim, what we measured, verdict) for each of the guide's claims."""
    rows = []
    k = "kernels"

    ratios = {c: value(results, k, c, WASM) / value(results, k, c, CLANG) for c in KERNELS}
    ok = [r <= 1.15 for r in ratios.values()]
    rows.append(
        (
            "Wasm is ~12% slower than native",
            "wasm / native clang -O3: " + ", ".join(f"{SHORT[c]} {r:.2f}x" for c, r in ratios.items()),
            _verdict(all(ok), any(ok)),
        )
    )

    speedups = {c: value(results, k, c, python_impl(results, c)) / value(results, k, c, WASM) for c in KERNELS}
    ok = [1.5 <= s <= 3 for s in speedups.values()]
    rows.append(
        (
            "Wasm is 1.5-3x faster than pure Python",
            "pure Python / wasm: " + ", ".join(f"{SHORT[c]} {s:.1f}x" for c, s in speedups.items()),
            _verdict(all(ok), any(ok)) + " (the range depends entirely on the kernel)",
        )
    )

    sizes = [r for r in results["benchmarks"][k] if r["case"] == "module size"]
    shrink = {r["impl"]: 100 * (r["before"] - r["value"]) / r["before"] for r in sizes}
    ok = [20 <= s <= 35 for s in shrink.values()]
    rows.append(
        (
            "wasm-opt -O3 cuts size by 20-35%",
            "size change from wasm-opt: " + ", ".join(f"{m} -{s:.1f}%" for m, s in shrink.items()),
            _verdict(all(ok), any(ok)) + " (zig's -O2 output is already lean)",
        )
    )

    gains = {c: 100 * (value(results, k, c, WASM_NOOPT) / value(results, k, c, WASM) - 1) for c in KERNELS}
    ok = [8 <= g <= 15 for g in gains.values()]
    rows.append(
        (
            "wasm-opt makes code 8-15% faster",
            "speed change from wasm-opt: " + ", ".join(f"{SHORT[c]} {g:+.0f}%" for c, g in gains.items()),
            _verdict(all(ok), any(ok)),
        )
    )

    starts = [r for r in results["benchmarks"]["startup"] if r["case"].startswith("cold start")]
    saved = {}
    for r in starts:
        if r["impl"] == "precompiled":
            jit = value(results, "startup", r["case"], "JIT from .wasm")
            saved[f"{r['case'].removeprefix('cold start, ')} ({r['wasm_bytes'] // 1024} KiB)"] = jit - r["value"]
    ok = [s > 10 for s in saved.values()]
    rows.append(
        (
            "precompiling removes >10 ms of first-call cost",
            "import + first call, JIT minus precompiled: " + ", ".join(f"{m} {s:.1f} ms" for m, s in saved.items()),
            _verdict(all(ok), any(ok)) + " (only large modules gain)",
        )
    )

    p = "perline"
    case = "log parser, 100k lines"
    python = value(results, p, case, "pure Python (json + datetime per line)")
    per_line = value(results, p, case, "per line, setuptools-wasm stub")
    raw = value(results, p, case, "per line, raw wasmtime-py (the guide's code path)")
    batch = value(results, p, case, "one call per buffer, setuptools-wasm stub")
    rows.append(
        (
            "13x faster log parsing from moving 3 hot functions to wasm (3 calls per line)",
            (
                f"speed-up vs pure Python: per line via raw wasmtime-py {python / raw:.2f}x, per line via our stub "
                f"{python / per_line:.1f}x, one call per buffer {python / batch:.1f}x"
            ),
            ("held" if python / per_line >= 13 else "did not hold for the guide's design")
            + f"; one call per buffer gives {python / batch:.0f}x",
        )
    )
    return rows


def claims_section(results: dict[str, Any]) -> str:
    lines = [
        "## The guide's claims, measured (`benchmarks/run_all.py`)",
        "",
        f"Machine: {results['machine']}.",
        "",
        (
            f"Command: `{results['command']}` (= `.venv/bin/python benchmarks/run_all.py`), {results['date']}. "
            "Every number below comes from the tables further down (same run); "
            "`benchmarks/results.json` has them all and `benchmarks/charts/` draws them."
        ),
        "",
        "| the guide claims | we measured | verdict |",
        "|---|---|---|",
    ]
    lines += [f"| {claim} | {measured} | {verdict} |" for claim, measured, verdict in claims(results)]
    return "\n".join(lines)
