"""Demo: call the example's wasm kernels from an installed wheel and print what shipped.

Run by `make demo` inside a fresh virtual environment that holds only the example wheel
and wasmtime (never the build plugin). Pass the wheel's path to list its contents.
"""

from __future__ import annotations

import json
import sys
import time
import zipfile
import zlib
from pathlib import Path


def main() -> int:
    started = time.perf_counter()
    from wasm_example import kernels

    imported = time.perf_counter()
    print(
        f"import wasm_example.kernels: {1000 * (imported - started):.1f} ms (wasmtime not loaded yet: {'wasmtime' not in sys.modules})"
    )
    print(
        f"fib(40)            = {kernels.fib(40)}  (first call, loads the module: {1000 * (time.perf_counter() - imported):.1f} ms)"
    )
    print(f"sieve(10_000_000)  = {kernels.sieve(10_000_000)}  primes")
    data = bytes(range(256)) * 4096
    checksum = kernels.adler32(data)
    print(f"adler32(1 MiB)     = {checksum:#010x}  (zlib.adler32 agrees: {checksum == zlib.adler32(data)})")
    print(f"loaded from        : {kernels._module.loaded_from}")

    from wasm_example.logs import parse_logs, parse_logs_python

    line = '{"ts":"2024-09-15T10:30:%02dZ","level":"%s","ip":"10.0.0.%d","msg":"request \\"%d\\" done"}'
    levels = ("INFO", "warning", "ERROR", "debug")
    log = "\n".join(line % (i % 60, levels[i % 4], i % 200, i) for i in range(100_000)).encode() + b"\nnot json\n"
    started = time.perf_counter()
    stats = parse_logs(log)
    wasm_ms = 1000 * (time.perf_counter() - started)
    started = time.perf_counter()
    reference = parse_logs_python(log)
    python_ms = 1000 * (time.perf_counter() - started)
    print(
        f"parse_logs(100k lines, {len(log) / 1e6:.1f} MB): {wasm_ms:.1f} ms in wasm, {python_ms:.0f} ms in pure Python; agree: {stats == reference}"
    )
    print(f"  {stats}")

    from wasm_example import _logparse

    with _logparse.sandbox(timeout=2.0, max_memory="64MiB") as sandbox:  # for untrusted input
        print(f"in a sandbox       : agrees: {parse_logs(log, sandbox=sandbox) == stats} (timeout 2 s, max 64 MiB)")
        try:
            parse_logs(log * 8, sandbox=sandbox)
        except MemoryError as exc:
            print(f"  {len(log) * 8 / 1e6:.0f} MB of logs   : MemoryError: {exc}")

    directory = Path(kernels.__file__).parent
    for manifest_file in sorted(directory.glob("*.wasm-manifest.json")):
        manifest = json.loads(manifest_file.read_text())
        wasm = manifest["wasm"]
        sizes = (
            f"{wasm['size']} bytes shipped, {wasm['size_before_opt']} before wasm-opt, max_size {manifest['max_size']}"
        )
        print(f"{wasm['file']:<19}: {sizes}")
        for artifact in manifest["precompiled"]:
            print(
                f"  precompiled      : {artifact['file']} ({artifact['size']} bytes, wasmtime {artifact['wasmtime']})"
            )
    for wheel in sys.argv[1:]:
        print(f"\n{wheel}:")
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                print(f"  {info.file_size:8d}  {info.filename}")
    ok = (
        kernels.fib(40) == 102334155
        and kernels.sieve(10_000_000) == 664579
        and checksum == zlib.adler32(data)
        and stats == reference
        and stats.malformed == 1
        and stats.distinct_ips == 200
    )
    print("\nall results correct" if ok else "\nWRONG RESULTS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
