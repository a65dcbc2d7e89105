"""Sandboxes for untrusted input: timeouts, memory caps, WASI capabilities, and hostile inputs.

Every hostile input must end in a clean Python exception or a correct result, with the
process alive and the next call correct. Real zig, wasm-opt and wasmtime throughout.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.building import Builder, import_example

HOSTILE = """
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <wasm_ext.h>
/// A CPU-bound loop of n steps (the volatile keeps the optimizer from folding it).
WASM_EXPORT uint64_t spin(uint64_t n) { volatile uint64_t x = 0; for (uint64_t i = 0; i < n; i++) x += i; return x; }
/// Never returns.
WASM_EXPORT void forever(void) { volatile uint32_t x = 0; for (;;) x++; }
/// Recurse n deep with a 64-byte frame each: large n exhausts the wasm call stack.
WASM_EXPORT int32_t depth(int32_t n) { volatile char frame[64]; frame[0] = (char)n; return n ? depth(n - 1) + frame[0] : 0; }
/// Write one byte at a wasm address computed by the caller (pointer arithmetic gone wrong).
WASM_EXPORT void poke(uint32_t address) { *(volatile uint8_t *)(uintptr_t)address = 1; }
WASM_EXPORT int32_t divide(int32_t a, int32_t b) { return a / b; }
/// malloc n bytes and touch both ends; 0 when malloc returns NULL, else 1.
WASM_EXPORT uint32_t grab(uint32_t n) {
    volatile char *p = malloc(n);
    if (!p) return 0;
    p[0] = 1; p[n - 1] = 1;
    free((void *)p);
    return 1;
}
WASM_EXPORT uint32_t checksum(const uint8_t *data, size_t n) {
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) { a = (a + data[i]) % 65521; b = (b + a) % 65521; }
    return (b << 16) | a;
}
"""

FILES = """
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <wasm_ext.h>
/// Write text to path; 0 on success, -1 when fopen fails, -2 when writing fails.
WASM_EXPORT int32_t write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int ok = fputs(text, f) >= 0;
    return (fclose(f) == 0 && ok) ? 0 : -2;
}
/// Read up to n bytes of path into out; the count read, or -1 when fopen fails.
WASM_EXPORT int32_t read_file(const char *path, uint8_t *out, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t got = fread(out, 1, n, f);
    fclose(f);
    return (int32_t)got;
}
WASM_EXPORT int32_t say(const char *text) { int r = printf("%s\\n", text); fflush(stdout); return r; }
"""

INT32_MIN = -(2**31)
MIB = 1 << 20


@pytest.fixture(scope="module")
def kernels(builder: Builder) -> ModuleType:
    module: ModuleType = builder.build(HOSTILE).import_stub()
    return module


@pytest.fixture(scope="module")
def files(builder: Builder) -> ModuleType:
    module: ModuleType = builder.build(FILES, wasi=True).import_stub()
    return module


def _run_fresh(site: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=site,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        check=False,
    )


# --- timeout ----------------------------------------------------------------------------


def test_timeout_interrupts_a_runaway_call_and_the_next_call_works(kernels: ModuleType) -> None:
    sb = kernels.sandbox(timeout=0.5)
    assert sb.spin(10) == 45
    assert sb._module.loaded_from == "precompiled"  # the .sandbox.cwasm the build made
    first = sb._module.instance()
    started = time.monotonic()
    with pytest.raises(kernels.KernelTimeout, match=r"^forever: interrupted after the 0.5 s timeout$") as info:
        sb.forever()
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 0.8, elapsed
    assert isinstance(info.value, kernels.KernelTrap) and info.value.trap_code == "interrupt"
    assert info.value.function == "forever" and info.value.timeout == 0.5
    assert sb.spin(100) == 4950 and sb._module.instance() is not first  # a fresh instance
    assert sb.checksum(b"abc") == zlib.adler32(b"abc")
    assert kernels.spin(100) == 4950  # module-level functions: unlimited, untouched


def test_closed_sandbox_refuses_calls(kernels: ModuleType) -> None:
    with kernels.sandbox(timeout=1.0) as sb:
        assert sb.spin(3) == 3
    with pytest.raises(kernels.KernelError, match="the sandbox was closed"):
        sb.spin(3)


def test_bad_arguments_are_clear_errors(kernels: ModuleType, files: ModuleType) -> None:
    with pytest.raises(ValueError, match=r"timeout must be a positive number of seconds, got 0"):
        kernels.sandbox(timeout=0)
    with pytest.raises(TypeError, match=r"timeout must be a number of seconds, not str"):
        kernels.sandbox(timeout="1")
    with pytest.raises(ValueError, match=r"max_memory must be a positive byte count or a string like"):
        kernels.sandbox(max_memory="lots")
    with pytest.raises(ValueError, match=r"built without wasi=True: it imports no WASI to grant"):
        kernels.sandbox(wasi={"stdout": True})
    with pytest.raises(ValueError, match=r"unknown WASI grant\(s\) \['network'\]"):
        files.sandbox(wasi={"network": True})
    with pytest.raises(ValueError, match=r"is not a directory"):
        files.sandbox(wasi={"preopens": {"/data": "/no/such/dir"}})


def test_pyodide_has_no_sandbox(kernels: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "emscripten")
    with pytest.raises(kernels.KernelError, match=r"sandbox\(\) needs wasmtime; under Pyodide kernels run unsandboxed"):
        kernels.sandbox(timeout=1.0)


# --- hostile kernels ----------------------------------------------------------------------

TRAPS = [
    ("deep recursion", "depth", (10_000_000,), "stack_overflow"),
    ("out-of-bounds write", "poke", (0xFFFF_FFF0,), "memory_out_of_bounds"),
    ("division by zero", "divide", (1, 0), "integer_division_by_zero"),
    ("INT_MIN / -1", "divide", (INT32_MIN, -1), "integer_overflow"),
]


@pytest.mark.parametrize(("case", "export", "args", "code"), TRAPS, ids=[t[0] for t in TRAPS])
@pytest.mark.parametrize("where", ["sandbox", "module"])
def test_traps_are_clean_exceptions(
    kernels: ModuleType, where: str, case: str, export: str, args: tuple[int, ...], code: str
) -> None:
    target: Any = kernels.sandbox(timeout=5.0, max_memory="32MiB") if where == "sandbox" else kernels
    target.checksum(b"warm")
    before = target._module.instance()
    with pytest.raises(kernels.KernelTrap) as info:
        getattr(target, export)(*args)
    assert info.value.trap_code == code and not isinstance(info.value, kernels.KernelTimeout)
    assert info.value.function == export
    assert target._module.instance() is not before  # replaced
    assert target.checksum(b"after") == zlib.adler32(b"after")
    assert target.depth(100) == sum(range(101)) and target.divide(9, 3) == 3


def test_memory_cap_makes_malloc_return_null(kernels: ModuleType) -> None:
    sb = kernels.sandbox(max_memory="32MiB")
    assert sb._module.loaded_from == "precompiled"  # no timeout: the default engine and artifact
    assert sb.grab(64 * MIB) == 0  # NULL inside the kernel: the kernel's own answer
    assert sb.grab(1 * MIB) == 1
    assert kernels.grab(64 * MIB) == 1  # module level: no cap
    before = sb._module.instance()
    with pytest.raises(MemoryError, match=r"alloc\(\): the wasm module could not allocate 67108864 bytes"):
        sb.alloc(64 * MIB)
    assert sb._module.instance() is not before  # replaced after the failed allocation
    with sb.alloc(MIB) as buf:
        buf.write(b"\x01" * MIB)
        assert sb.checksum(buf) == zlib.adler32(b"\x01" * MIB)


def test_100_mb_input(kernels: ModuleType) -> None:
    data = os.urandom(100 * MIB)
    expected = zlib.adler32(data)
    capped = kernels.sandbox(timeout=30.0, max_memory="64MiB")
    with pytest.raises(MemoryError, match=r"checksum\(\): the wasm module could not allocate 104857600 bytes"):
        capped.checksum(data)
    assert capped.checksum(data[:MIB]) == zlib.adler32(data[:MIB])
    assert kernels.sandbox(timeout=30.0).checksum(data) == expected  # no cap: correct
    assert kernels.checksum(data) == expected


def test_memory_cap_below_initial_memory_is_a_value_error(kernels: ModuleType) -> None:
    with pytest.raises(ValueError, match=r"max_memory=1048576 bytes is below the initial memory of .*kernels"):
        kernels.sandbox(max_memory="1MiB")
    with pytest.raises(ValueError, match=r"max_memory=1000 bytes is below"):
        kernels.sandbox(max_memory=1000, timeout=1)


# --- the example's log parser -----------------------------------------------------------


@pytest.fixture(scope="module")
def logs(example_site: Path) -> ModuleType:
    return import_example(example_site)


GOOD = b'{"ts":"2024-09-15T10:30:00Z","level":"ERROR","ip":"10.0.0.42","msg":"disk full"}\n'


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2000))
def test_log_parser_random_bytes_in_a_sandbox(logs: ModuleType, data: bytes) -> None:
    sb = _log_sandbox(logs)
    assert logs.parse_logs(data, sandbox=sb) == logs.parse_logs_python(data)


_sandboxes: dict[int, Any] = {}


def _log_sandbox(logs: ModuleType) -> Any:
    """One sandbox per logs module for the hypothesis examples (creating one costs ~0.1 ms, but why)."""
    if id(logs) not in _sandboxes:
        _sandboxes[id(logs)] = logs._logparse.sandbox(timeout=2.0, max_memory="32MiB")
    return _sandboxes[id(logs)]


def test_log_parser_hostile_inputs(logs: ModuleType) -> None:
    kernel = logs._logparse
    sb = kernel.sandbox(timeout=5.0, max_memory="64MiB")
    # deep nesting, a huge line, NULs, invalid UTF-8: correct results
    for data in (b"[" * MIB, b"{" + b'"a":' * 200_000, b"\0" * MIB, b"\xff\xfe" * 100_000, GOOD * 3 + b"x" * MIB):
        assert logs.parse_logs(data, sandbox=sb) == logs.parse_logs_python(data)
    # 100 MB of valid lines: more than the cap, a clean MemoryError; uncapped, the right answer
    big = GOOD * (100 * MIB // len(GOOD))
    with pytest.raises(MemoryError, match=r"parse_logs\(\): the wasm module could not allocate"):
        logs.parse_logs(big, sandbox=sb)
    expected = logs.parse_logs(big)
    assert expected.lines == 100 * MIB // len(GOOD)
    assert logs.parse_logs(big, sandbox=kernel.sandbox(timeout=60.0)) == expected
    # ... and far too slow for a 10 ms budget: a timeout, then the next call works
    quick = kernel.sandbox(timeout=0.01)
    started = time.monotonic()
    with pytest.raises(kernel.KernelTimeout, match=r"^parse_logs: interrupted after the 0.01 s timeout"):
        logs.parse_logs(big, sandbox=quick)
    assert time.monotonic() - started < 0.31 + 1.0  # + copying 100 MB in
    assert logs.parse_logs(GOOD, sandbox=quick).lines == 1
    assert logs.parse_logs(GOOD, sandbox=sb).lines == 1


def test_log_parser_kernel_out_of_memory_for_its_ip_set(logs: ModuleType) -> None:
    # 17 MB of lines with 300k distinct IPs: the kernel's hash set needs 40 MB (80-byte slots);
    # under the cap its calloc returns NULL and the kernel reports it (status -2)
    data = b"".join(b'{"ts":"2024-09-15T10:30:00Z","level":"I","ip":"%x"}\n' % i for i in range(300_000))
    sb = logs._logparse.sandbox(max_memory="40MiB")
    with pytest.raises(MemoryError, match="ran out of memory for the set of IPs"):
        logs.parse_logs(data, sandbox=sb)
    assert logs.parse_logs(data).distinct_ips == 300_000
    assert logs.parse_logs(GOOD, sandbox=sb).distinct_ips == 1


# --- WASI capabilities -----------------------------------------------------------------


def test_wasi_default_grants_nothing(files: ModuleType, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("original")
    out = bytearray(64)
    for target in (files, files.sandbox(), files.sandbox(timeout=1.0, max_memory="32MiB")):
        assert target.write_file(str(victim), "pwned") == -1
        assert target.read_file(str(victim), out) == -1
        assert target.write_file("victim.txt", "pwned") == -1  # relative: no current directory either
    assert victim.read_text() == "original"
    assert bytes(out) == bytes(64)


def test_wasi_preopens_grant_one_directory(files: ModuleType, tmp_path: Path) -> None:
    shared, private = tmp_path / "in", tmp_path / "secret.txt"
    shared.mkdir()
    private.write_text("secret")
    (shared / "input.txt").write_text("hello from the host")
    sb = files.sandbox(wasi={"preopens": {"/data": shared}})
    out = bytearray(64)
    assert sb.read_file("/data/input.txt", out) == 19 and out[:19] == b"hello from the host"
    assert sb.write_file("/data/out.txt", "written inside") == 0
    assert (shared / "out.txt").read_text() == "written inside"
    assert sb.read_file("/data/../secret.txt", out) == -1  # no way out of the preopen
    assert sb.read_file(str(private), out) == -1
    read_only = files.sandbox(wasi={"preopens": {"/data": str(shared)}, "read_only": True})
    assert read_only.read_file("/data/input.txt", out) == 19
    assert read_only.write_file("/data/other.txt", "x") == -1
    assert not (shared / "other.txt").exists()
    assert files.read_file("/data/input.txt", out) == -1  # module level: still nothing


def test_wasi_stdout_only_when_granted(files: ModuleType, capfd: pytest.CaptureFixture[str]) -> None:
    files.sandbox().say("quiet")  # printf "succeeds" into nothing: wasmtime's default stdout is a sink
    files.say("quiet too")
    files.sandbox(wasi={"stderr": True}).say("still quiet")  # stderr only
    assert capfd.readouterr() == ("", "")
    assert files.sandbox(wasi={"stdout": True}).say("hello") == 6
    assert capfd.readouterr().out == "hello\n"


# --- processes: artifacts, fork, shutdown ----------------------------------------------------


def test_fresh_process_without_sandbox_artifact_compiles_and_caches(kernels: ModuleType, tmp_path: Path) -> None:
    site = Path(kernels.__file__).parent.parent
    package = kernels.__name__.rpartition(".")[0]
    code = f"""
        import {package}.kernels as k
        sb = k.sandbox(timeout=0.2)
        print(sb.spin(10), sb._module.loaded_from, k.spin(10), k._module.loaded_from)
        try:
            sb.forever()
        except k.KernelTimeout as exc:
            print(type(exc).__name__)
        """
    proc = _run_fresh(site, code)
    assert (proc.returncode, proc.stdout.split(), proc.stderr) == (
        0,
        ["45", "precompiled", "45", "precompiled", "KernelTimeout"],
        "",
    )
    artifact = next(site.glob(f"{package}/kernels.*.sandbox.cwasm"))
    saved = artifact.read_bytes()
    artifact.unlink()
    try:
        env_code = f"import os; os.environ['WASM_EXT_CACHE_DIR'] = {str(tmp_path / 'cache')!r}\n" + textwrap.dedent(
            code
        )
        for expected in ("wasm", "cache"):
            proc = _run_fresh(site, env_code)
            assert proc.returncode == 0 and proc.stdout.split()[1] == expected, proc.stderr
            assert proc.stdout.split()[3] == "precompiled" and proc.stdout.split()[4] == "KernelTimeout"
    finally:
        artifact.write_bytes(saved)


def test_limits_on_the_public_api_call_path(kernels: ModuleType) -> None:
    """Without wasmtime-py's internals (WASM_EXT_SLOW_CALLS) the limits hold all the same."""
    code = f"""
        import {kernels.__name__} as k
        from {kernels.__name__.rpartition(".")[0]}._wasm_ext_runtime import wasmtime_engine
        sb = k.sandbox(timeout=0.2, max_memory="32MiB")
        try:
            sb.forever()
        except k.KernelTimeout as exc:
            print(type(exc).__name__)
        try:
            sb.depth(10_000_000)
        except k.KernelTrap as exc:
            print(exc.trap_code)
        print(wasmtime_engine.fast_calls(), sb.grab(64 << 20), sb.grab(1 << 20), sb.spin(10))
        """
    proc = _run_fresh(Path(kernels.__file__).parent.parent, code, WASM_EXT_SLOW_CALLS="1")
    assert proc.stdout.split() == ["KernelTimeout", "stack_overflow", "False", "0", "1", "45"], proc.stderr


# --- soak: no leaks ---------------------------------------------------------------------------

SOAK_SECONDS = float(os.environ.get("WASM_EXT_SOAK_SECONDS", "30"))


def _usage() -> tuple[int, int, int]:
    """(RSS bytes, open fds, memory mappings) of this process."""
    gc.collect()
    rss = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return rss, len(os.listdir("/proc/self/fd")), len(Path("/proc/self/maps").read_text().splitlines())


@pytest.mark.soak
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="measures through /proc")
def test_soak_mixed_good_and_hostile_calls_do_not_leak(kernels: ModuleType, files: ModuleType, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("original")
    payloads = [os.urandom(n) for n in (0, 16, 5000, 200_000)]
    sums = [zlib.adler32(p) for p in payloads]
    failures: list[BaseException] = []
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def hostile(sb: Any, i: int) -> str:
        kind = i % 7
        try:
            if kind == 0:
                sb.forever()
            elif kind == 1:
                sb.depth(10_000_000)
            elif kind == 2:
                sb.poke(0xFFFF_FFF0)
            elif kind == 3:
                sb.divide(i, 0)
            elif kind == 4:
                sb.alloc(64 * MIB)
            elif kind == 5:
                assert sb.grab(64 * MIB) == 0
                return "null-malloc"
            else:
                assert files.sandbox().write_file(str(victim), "pwned") == -1
                return "wasi-denied"
        except kernels.KernelTimeout:
            return "timeout"
        except kernels.KernelTrap as exc:
            return str(exc.trap_code)
        except MemoryError:
            return "memory-error"
        raise AssertionError(f"hostile call {kind} returned")

    def work(seed: int, seconds: float) -> None:
        try:
            deadline = time.monotonic() + seconds
            i = seed
            sb = kernels.sandbox(timeout=0.05, max_memory="32MiB")
            while time.monotonic() < deadline:
                i += 1
                if i % 50 == 0:  # sandboxes come and go too
                    sb.close()
                    sb = kernels.sandbox(timeout=0.05, max_memory="32MiB")
                k = i % len(payloads)
                assert sb.checksum(payloads[k]) == sums[k]
                assert sb.spin(1000) == 499_500 and kernels.divide(i, 7) == i // 7
                if i % 3 == 0:
                    outcome = hostile(sb, i // 3)
                    with lock:
                        counts[outcome] = counts.get(outcome, 0) + 1
            sb.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    def run(seconds: float) -> None:
        threads = [threading.Thread(target=work, args=(n * 1000, seconds)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    run(min(5.0, SOAK_SECONDS / 4))  # warm up: engines, artifacts, allocator pools
    before = _usage()
    counts.clear()
    run(SOAK_SECONDS)
    after = _usage()
    print(f"\nsoak {SOAK_SECONDS:g} s, 4 threads: {counts}")
    print(
        f"RSS {before[0] / MIB:.1f} -> {after[0] / MIB:.1f} MiB, fds {before[1]} -> {after[1]}, maps {before[2]} -> {after[2]}"
    )
    assert failures == []
    assert victim.read_text() == "original"
    expected = {
        "timeout",
        "stack_overflow",
        "memory_out_of_bounds",
        "integer_division_by_zero",
        "memory-error",
        "null-malloc",
        "wasi-denied",
    }
    assert set(counts) == expected and min(counts.values()) >= 3, counts
    assert after[1] <= before[1], "file descriptors leaked"
    assert after[2] <= before[2] + 20, "memory mappings leaked"  # each leaked Store adds 2
    assert after[0] <= before[0] + 16 * MIB, "RSS grew"
