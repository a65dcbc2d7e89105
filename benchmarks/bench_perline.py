"""The guide's log-parser design (three wasm calls per line) against one call per buffer.

The guide's case study moves three hot functions (timestamp parsing, IP extraction, level
normalisation) to wasm and calls each once per line from a Python loop that splits the
lines and aggregates. Our example instead hands the whole buffer to one kernel. Both run
the same timestamp and level code (``kernels/perline.c`` includes the example's
``logparse.c``); every design's statistics are checked against the pure-Python reference.

Run: ``make bench-perline`` (``.venv/bin/python benchmarks/bench_perline.py --write``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HERE, Record, bench_args, build_stub, workdir, write_json, write_section
from bench_kernels import EXAMPLE, LOG_LINES, best_ms, build_wasm, log_data

RAW_LINES = 10_000  # raw wasmtime-py is ~50x slower per call: timed on a slice, scaled to 100k
LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "CRITICAL", "OTHER")
NO_TS = -(1 << 63)

Stats = tuple[int, int, tuple[int, ...], int, int, int, int]  # lines, malformed, levels, min, max, sum, ips


def aggregate_lines(
    data: bytes, ts_of: Callable[[bytes], int], level_of: Callable[[bytes], int], ip_at: Callable[[bytes], int]
) -> Stats:
    """The guide's loop: split, three kernel calls per line, aggregate in Python."""
    lines = malformed = 0
    levels = [0] * len(LEVELS)
    ts_min, ts_max, ts_sum = None, None, 0
    ips: set[bytes] = set()
    for raw in data.split(b"\n"):
        line = raw.strip(b" \t\r")
        if not line:
            continue
        lines += 1
        ts, level, at = ts_of(line), level_of(line), ip_at(line)
        if ts == NO_TS or level < 0:
            malformed += 1
            continue
        levels[level] += 1
        ts_min = ts if ts_min is None or ts < ts_min else ts_min
        ts_max = ts if ts_max is None or ts > ts_max else ts_max
        ts_sum += ts
        if at >= 0:
            ips.add(line[at : line.index(b'"', at)].lower())
    return lines, malformed, tuple(levels), ts_min or 0, ts_max or 0, ts_sum, len(ips)


def summary(stats: Any) -> Stats:
    """A ``wasm_example.logs.LogStats`` as the tuple :func:`aggregate_lines` returns."""
    levels = tuple(stats.levels[name] for name in LEVELS)
    return stats.lines, stats.malformed, levels, stats.ts_min or 0, stats.ts_max or 0, stats.ts_sum, stats.distinct_ips


def raw_wasmtime_calls(wasm: Path) -> tuple[Callable[[bytes], int], Callable[[bytes], int], Callable[[bytes], int]]:
    """The guide's literal code path: malloc, ``memory.write``, ``Func.__call__``, free, per call."""
    import wasmtime

    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    instance = wasmtime.Instance(store, wasmtime.Module.from_file(engine, str(wasm)), [])
    ex: Any = instance.exports(store)
    if "_initialize" in ex:
        ex["_initialize"](store)
    memory, malloc, free = ex["memory"], ex["malloc"], ex["free"]

    def call(name: str) -> Callable[[bytes], int]:
        func = ex[name]

        def run(line: bytes) -> int:
            ptr = malloc(store, len(line))
            memory.write(store, line, ptr)
            try:
                return int(func(store, ptr, len(line)))
            finally:
                free(store, ptr)

        return run

    return call("parse_timestamp"), call("normalize_level"), call("extract_ip")


def main() -> int:
    args = bench_args(__doc__)
    repeat = 1 if args.quick else 3
    work = workdir()
    mod: Any = build_stub(
        HERE / "kernels" / "perline.c", "bench_perline_pkg.perline", work, include_dirs=(str(EXAMPLE / "csrc"),)
    )
    import importlib

    build_wasm(work, "bench_perline_example", wasm_opt=True)
    logs: Any = importlib.import_module("bench_perline_example.logs")

    data = log_data()
    head = b"\n".join(data.split(b"\n")[:RAW_LINES])

    def batch(buffer: bytes) -> Stats:
        return summary(logs.parse_logs(buffer))

    def reference(buffer: bytes) -> Stats:
        return summary(logs.parse_logs_python(buffer))

    raw = raw_wasmtime_calls(work / "bench_perline_pkg" / "perline.wasm")
    designs: list[tuple[str, str, Callable[[bytes], Stats], bytes]] = [
        ("pure Python (json + datetime per line)", "0", reference, data),
        ("per line, raw wasmtime-py (the guide's code path)", "3", lambda d: aggregate_lines(d, *raw), head),
        (
            "per line, setuptools-wasm stub",
            "3",
            lambda d: aggregate_lines(d, mod.parse_timestamp, mod.normalize_level, mod.extract_ip),
            data,
        ),
        ("one call per buffer, setuptools-wasm stub", "1 per buffer", batch, data),
    ]
    for label, _, fn, buffer in designs:
        assert fn(buffer) == reference(buffer), label

    rows: list[tuple[str, str, float]] = []
    for label, calls, fn, buffer in designs:
        scale = LOG_LINES / RAW_LINES if buffer is head else 1.0
        times = 1 if label.startswith("pure") else repeat
        rows.append((label, calls, best_ms(lambda fn=fn, buffer=buffer: fn(buffer), times) * scale))
    python_ms = rows[0][2]
    records: list[Record] = []
    lines = [
        "| design | wasm calls per line | time for 100k lines | per line | speed-up vs pure Python |",
        "|---|---|---:|---:|---:|",
    ]
    for label, calls, ms in rows:
        lines.append(f"| {label} | {calls} | {ms:.1f} ms | {ms * 1000 / LOG_LINES:.2f} us | {python_ms / ms:.1f}x |")
        records.append({"case": "log parser, 100k lines", "impl": label, "value": ms, "unit": "ms"})
    table = "\n".join(lines)
    print(table)
    note = (
        f"Log buffer: {len(data) / 1e6:.1f} MB, {LOG_LINES:,} lines. The raw wasmtime-py row is timed on the first "
        f"{RAW_LINES:,} lines and scaled to 100k. All designs give the same statistics as the reference."
    )
    if args.write:
        write_section("perline", "Per-line calls vs one call per buffer", "bench_perline.py",
                      f"Best of {repeat} (pure Python: 1 run).", table, note)  # fmt: skip
    write_json(args.json, records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
