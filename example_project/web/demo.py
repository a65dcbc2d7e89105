"""Python side of the demo page, run by Pyodide: the wheel's log parser on the textarea."""

from __future__ import annotations

import json
import sys
import time

from wasm_example import kernels
from wasm_example.logs import LEVELS, parse_logs, parse_logs_python


def run(text: str) -> str:
    """Statistics of *text* (JSON log lines) as table rows, with the kernel's time."""
    data = text.encode("utf-8")
    started = time.perf_counter()
    stats = parse_logs(data)
    kernel_ms = round(1000 * (time.perf_counter() - started), 3)
    rows = [["lines", stats.lines], ["malformed", stats.malformed]]
    rows += [[f"level {name}", stats.levels[name]] for name in LEVELS]
    rows += [["ts_min", stats.ts_min], ["ts_max", stats.ts_max], ["distinct_ips", stats.distinct_ips]]
    return json.dumps(
        {
            "rows": rows,
            "kernel_ms": kernel_ms,
            "agrees_with_reference": stats == parse_logs_python(data),
            "platform": sys.platform,
        }
    )


def bench(calls: int = 20_000) -> str:
    """Per-call cost in microseconds of two example kernels through the generated stub."""
    timings = {}
    for name, call in (("fib(1)", lambda: kernels.fib(1)), ("adler32(16 B)", lambda: kernels.adler32(b"0" * 16))):
        call()
        started = time.perf_counter()
        for _ in range(calls):
            call()
        timings[name] = round((time.perf_counter() - started) / calls * 1e6, 2)
    return json.dumps(timings)
