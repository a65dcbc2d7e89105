"""PNG charts of ``results.json`` (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any


def _grouped_bars(path: Path, title: str, unit: str, records: Iterable[dict[str, Any]], log: bool = True) -> Path:
    """One group of horizontal bars per case, one bar per implementation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # one colour for "pure Python" whatever the variant (the tables name the variant)
    records = [{**r, "impl": "pure Python" if r["impl"].startswith("pure Python") else r["impl"]} for r in records]
    cases = list(dict.fromkeys(r["case"] for r in records))
    impls = list(dict.fromkeys(r["impl"] for r in records))
    colours = plt.get_cmap("tab10")
    height = 0.8 / len(impls)
    fig, ax = plt.subplots(figsize=(12, 1.2 + 0.32 * len(records)))
    for i, impl in enumerate(impls):
        ys, xs = [], []
        for j, case in enumerate(cases):
            for r in records:
                if r["case"] == case and r["impl"] == impl:
                    ys.append(j + i * height)
                    xs.append(r["value"])
        bars = ax.barh(ys, xs, height=height, label=impl, color=colours(i % 10))
        ax.bar_label(bars, labels=[f"{x:.3g}" for x in xs], padding=2, fontsize=7)
    ax.set_yticks([j + (len(impls) - 1) * height / 2 for j in range(len(cases))], cases)
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(unit + (" (log scale)" if log else ""))
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw_all(results: dict[str, Any], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    b = results["benchmarks"]
    drawn = []
    if "calls" in b:
        drawn.append(_grouped_bars(directory / "calls.png", "Per-call cost", "microseconds per call", b["calls"]))
    if "kernels" in b:
        timed = [r for r in b["kernels"] if r["unit"] == "ms"]
        drawn.append(_grouped_bars(directory / "kernels.png", "Kernel time (lower is better)", "milliseconds", timed))
    if "perline" in b:
        drawn.append(
            _grouped_bars(
                directory / "perline.png", "Log parser: per-line calls vs one call per buffer", "milliseconds",
                b["perline"],
            )
        )  # fmt: skip
    if "startup" in b:
        cold = [r for r in b["startup"] if r["case"].startswith("cold start")]
        drawn.append(
            _grouped_bars(
                directory / "startup.png", "Import + first call in a new process", "milliseconds", cold, False
            )
        )
    if "sandbox" in b:
        per_call = [r for r in b["sandbox"] if r["unit"] == "us"]
        drawn.append(
            _grouped_bars(directory / "sandbox-calls.png", "Sandbox: per-call cost", "microseconds", per_call, False)
        )
        kernels = [r for r in b["sandbox"] if r["unit"] == "ms"]
        drawn.append(_grouped_bars(directory / "sandbox-kernels.png", "Sandbox: kernel time", "milliseconds", kernels))
    return drawn
