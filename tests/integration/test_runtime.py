"""The runtime a built package carries: loading and caching, traps, threads, fork, buffers."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import zlib
from pathlib import Path
from typing import Any, Callable

import pytest
from support.building import Built

SOURCE = """
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <wasm_ext.h>
WASM_EXPORT int32_t mul(int32_t a, int32_t b) { return a * b; }
WASM_EXPORT int32_t divide(int32_t a, int32_t b) { return a / b; }
WASM_EXPORT void boom(void) { __builtin_trap(); }
WASM_EXPORT uint32_t first_byte(const uint8_t *data, size_t n) { return n ? data[0] : 0; }
WASM_EXPORT uint32_t checksum(const uint8_t *data, size_t n) {
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) { a = (a + data[i]) % 65521; b = (b + a) % 65521; }
    return (b << 16) | a;
}
/// Reverse values in place; allocate and touch `grow` bytes first (to move memory).
WASM_EXPORT void reverse(int32_t *values, size_t n, uint32_t grow) {
    if (grow) { volatile char *p = malloc(grow); if (p) { p[grow - 1] = 1; } }
    for (size_t i = 0; i < n / 2; i++) { int32_t t = values[i]; values[i] = values[n - 1 - i]; values[n - 1 - i] = t; }
}
"""


@pytest.fixture
def built(build_c: Callable[..., Built], tmp_path: Path) -> Built:
    """A private copy of the module (tests change its files), used from fresh processes."""
    return build_c(SOURCE).copy(tmp_path)


@pytest.fixture
def kernels(build_c: Callable[..., Built]) -> Any:
    """The shared build, imported here (tests that only call it)."""
    return build_c(SOURCE).import_stub()


def _run_fresh(built: Built, code: str, **env: str) -> str:
    """Run *code* in a new interpreter that sees only the built package (and wasmtime)."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=built.site,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_import_does_not_load_wasmtime(built: Built) -> None:
    out = _run_fresh(
        built,
        f"import sys, {built.package}.kernels as k; print('wasmtime' in sys.modules); "
        f"print(k.mul(6, 7)); print('wasmtime' in sys.modules); print(k._module.loaded_from)",
    )
    assert out.split() == ["False", "42", "True", "precompiled"]


# --- precompiled artifact, manifest, run-time cache ------------------------------------


def _manifest_file(built: Built) -> Path:
    return built.package_dir / "kernels.wasm-manifest.json"


def _edit_manifest(built: Built, **artifact: Any) -> None:
    manifest = json.loads(_manifest_file(built).read_text())
    manifest["precompiled"][0].update(artifact)
    _manifest_file(built).write_text(json.dumps(manifest))


def _artifact(built: Built) -> Path:
    return built.package_dir / json.loads(_manifest_file(built).read_text())["precompiled"][0]["file"]


def _loaded_from(built: Built) -> str:
    return _run_fresh(built, f"import {built.package}.kernels as k; print(k.mul(3, 5), k._module.loaded_from)")


def test_tampered_artifact_is_never_deserialized(built: Built) -> None:
    artifact = _artifact(built)
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    assert _loaded_from(built) == "15 wasm"
    assert _loaded_from(built) == "15 cache"  # compiled once, then reused


@pytest.mark.parametrize(
    "change",
    [{"wasmtime": "1.0.0"}, {"config": "0" * 16}, {"target": "riscv64-unknown-linux-gnu"}, {"sha256": "0" * 64}],
    ids=["other-wasmtime", "other-config", "other-target", "other-hash"],
)
def test_artifact_that_does_not_match_is_skipped(built: Built, change: dict[str, str]) -> None:
    _edit_manifest(built, **change)
    assert _loaded_from(built) == "15 wasm"
    assert _loaded_from(built) == "15 cache"


def test_missing_artifact_or_manifest(built: Built) -> None:
    _artifact(built).unlink()
    assert _loaded_from(built) == "15 wasm"
    _manifest_file(built).unlink()
    assert _loaded_from(built) == "15 cache"


def test_cache_dir_is_private_and_entries_are_verified(built: Built, _module_cache: Path) -> None:
    _artifact(built).unlink()
    assert _loaded_from(built) == "15 wasm"
    assert stat.S_IMODE(_module_cache.stat().st_mode) == 0o700
    (entry,) = _module_cache.glob("*.cwasm")
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF  # corrupt: its recorded hash no longer matches
    entry.write_bytes(bytes(data))
    assert _loaded_from(built) == "15 wasm"
    assert _loaded_from(built) == "15 cache"  # rewritten


def test_read_only_cache_dir_still_gives_results(built: Built, tmp_path: Path) -> None:
    _artifact(built).unlink()
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o500)
    try:
        env = {"WASM_EXT_CACHE_DIR": str(read_only / "cache")}
        if os.access(read_only, os.W_OK):  # root ignores permissions: make writes fail another way
            env["WASM_EXT_CACHE_DIR"] = str(Path(os.devnull) / "cache")
        code = f"import {built.package}.kernels as k; print(k.mul(3, 5), k._module.loaded_from)"
        assert _run_fresh(built, code, **env) == "15 wasm"
        assert _run_fresh(built, code, **env) == "15 wasm"
    finally:
        read_only.chmod(0o700)


def test_missing_wasm_is_a_clear_error(build_c: Callable[..., Built]) -> None:
    built = build_c(SOURCE, fresh=True)  # imported here after its files are gone: a package of its own
    _manifest_file(built).unlink()
    (built.package_dir / "kernels.wasm").unlink()
    kernels = built.import_stub()
    with pytest.raises(kernels.KernelError, match=r"\.kernels: cannot load .*kernels\.wasm"):
        kernels.mul(1, 2)


# --- traps and errors -----------------------------------------------------------------


@pytest.mark.parametrize("slow", [False, True], ids=["fast-calls", "public-api-calls"])
def test_trap_raises_kernel_trap_and_next_call_works(
    build_c: Callable[..., Built], monkeypatch: pytest.MonkeyPatch, slow: bool
) -> None:
    if slow:
        monkeypatch.setenv("WASM_EXT_SLOW_CALLS", "1")
    built = build_c(SOURCE, fresh=slow)  # a runtime copy of its own reads the variable afresh
    kernels = built.import_stub()
    from importlib import import_module

    engine = import_module(f"{built.package}._wasm_ext_runtime.wasmtime_engine")
    assert kernels.mul(2, 3) == 6
    assert engine.fast_calls() is not slow
    assert kernels.first_byte(b"\x07") == 7
    with pytest.raises(kernels.KernelTrap, match=r"^divide: wasm trap \(integer_division_by_zero\)") as info:
        kernels.divide(1, 0)
    assert info.value.function == "divide" and info.value.trap_code == "integer_division_by_zero"
    assert isinstance(info.value, RuntimeError)
    with pytest.raises(kernels.KernelTrap, match=r"^boom: wasm trap \(unreachable\)"):
        kernels.boom()
    assert kernels.divide(9, 3) == 3
    assert kernels.first_byte(b"\x09") == 9
    assert kernels.mul(-(2**31), -1) == -(2**31)  # wraps, as C does
    values = __import__("array").array("i", [1, 2, 3])
    kernels.reverse(values, 0)
    assert list(values) == [3, 2, 1]


def test_memory_error_when_malloc_fails(kernels: Any) -> None:
    with pytest.raises(MemoryError, match=r"alloc\(\): the wasm module could not allocate 4294967280 bytes"):
        kernels.alloc(0xFFFFFFF0)  # this malloc would wrap around and return a small block
    with pytest.raises(MemoryError, match=r"alloc\(\): the wasm module could not allocate 3221225472 bytes"):
        kernels.alloc(3 << 30)  # more than memory can grow to: malloc returns NULL
    assert kernels.checksum(b"abc") == zlib.adler32(b"abc")


def test_one_block_is_under_2_gib_with_wasi_libc(built: Built) -> None:
    """What the docs and the MemoryError say: wasi-libc's malloc hands out just under 2 GiB at most.

    In an instance of its own (a sandbox), so the 2 GiB of address space is given back after.
    """
    with built.import_stub().sandbox() as sandbox:
        with sandbox.alloc((1 << 31) - (64 << 20)) as big:  # virtual memory: nothing is touched
            assert big.nbytes == (1 << 31) - (64 << 20)
        with pytest.raises(MemoryError, match=r"2 GiB or more: wasi-libc's malloc, the default, never hands out"):
            sandbox.alloc(1 << 31)


# --- buffers --------------------------------------------------------------------------


def test_large_buffers_and_memory_growth_between_copies(kernels: Any) -> None:
    data = os.urandom(3 << 20)
    assert kernels.checksum(data) == zlib.adler32(data)
    values = __import__("array").array("i", range(100_000))
    kernels.reverse(values, 64 << 20)  # the kernel grows memory by 64 MiB before writing back
    assert values[0] == 99_999 and values[-1] == 0
    assert kernels.checksum(memoryview(data)[1:]) == zlib.adler32(data[1:])


def test_numpy_arrays_in_and_out(kernels: Any) -> None:
    import numpy as np

    data = np.arange(1000, dtype=np.uint8)
    assert kernels.checksum(data) == zlib.adler32(data.tobytes())
    assert kernels.checksum(np.arange(12, dtype=np.uint8).reshape(3, 4)) == zlib.adler32(bytes(range(12)))
    values = np.arange(10, dtype=np.int32)
    kernels.reverse(values, 0)
    assert values.tolist() == list(range(9, -1, -1))
    with pytest.raises(TypeError, match=r"reverse\(\): values must hold 4-byte items, got item size 8"):
        kernels.reverse(np.arange(4, dtype=np.int64), 0)
    with pytest.raises(ValueError, match=r"values must be a C-contiguous buffer"):
        kernels.reverse(np.arange(8, dtype=np.int32)[::2], 0)
    with pytest.raises(TypeError, match="must be writable"):
        frozen = np.arange(4, dtype=np.int32)
        frozen.flags.writeable = False
        kernels.reverse(frozen, 0)
    assert kernels.mul(np.int32(6), np.int64(7)) == 42  # numpy integers are ints (__index__)


def test_alloc_buffer_is_used_without_copying(kernels: Any) -> None:
    data = os.urandom(1 << 20)
    with kernels.alloc(len(data)) as buf:
        buf.write(data)
        assert kernels.checksum(buf) == zlib.adler32(data)
        assert len(buf) == len(data) and buf.read() == data
        ints = kernels.alloc(16)
        ints.view("i")[:] = __import__("array").array("i", [1, 2, 3, 4])
        kernels.reverse(ints, 0)
        assert list(ints.view("i")) == [4, 3, 2, 1]
        ints.free()
        with pytest.raises(ValueError, match="freed"):
            kernels.checksum(ints)
    with pytest.raises(ValueError, match="holds 3 bytes, not a whole number of 4-byte items"):
        kernels.reverse(kernels.alloc(3), 0)


def test_alloc_buffer_belongs_to_its_thread_and_instance(kernels: Any) -> None:
    buf = kernels.alloc(4)
    errors: list[str] = []
    thread = threading.Thread(target=lambda: errors.append(_error_of(lambda: kernels.checksum(buf))))
    thread.start()
    thread.join()
    assert "only be used by the thread that allocated it" in errors[0]
    with pytest.raises(kernels.KernelTrap):
        kernels.boom()
    with pytest.raises(ValueError, match="reset after a trap"):
        kernels.checksum(buf)


def _error_of(fn: Callable[[], object]) -> str:
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the message is the result
        return str(exc)
    return ""


# --- threads and processes --------------------------------------------------------------


def test_threads_each_get_their_own_instance(kernels: Any) -> None:
    failures: list[BaseException] = []
    payloads = [os.urandom(n) for n in (0, 1, 16, 1000, 70_000)]
    expected = [zlib.adler32(p) for p in payloads]

    def work(seed: int) -> None:
        try:
            for i in range(10_000):
                assert kernels.mul(seed, i) == seed * i
                k = (seed + i) % len(payloads)
                assert kernels.checksum(payloads[k]) == expected[k]
                if i % 1000 == 0:
                    with pytest.raises(kernels.KernelTrap):
                        kernels.divide(i, 0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


CHILD = """
import multiprocessing as mp, sys, zlib
import {package}.kernels as k

def work(n):
    return k.mul(n, 3), k.checksum(bytes(range(n))) == zlib.adler32(bytes(range(n)))

if __name__ == "__main__":
    print(k.mul(2, 2), k._module.loaded_from)  # the parent loads (and JIT-compiles) first
    for method in ("fork", "spawn"):
        with mp.get_context(method).Pool(2) as pool:
            print(method, pool.map(work, [1, 50, 200]))
"""


@pytest.mark.parametrize("precompiled", [True, False], ids=["precompiled", "jit"])
def test_fork_and_spawn_children(built: Built, precompiled: bool) -> None:
    if not precompiled:
        _artifact(built).unlink()
    script = built.site / "children.py"
    script.write_text(CHILD.format(package=built.package))
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=script.parent, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"4 {'precompiled' if precompiled else 'wasm'}"
    expected = "[(3, True), (150, True), (600, True)]"
    assert lines[1:] == [f"fork {expected}", f"spawn {expected}"]


def test_buffers_are_freed_after_every_call(kernels: Any) -> None:
    large = os.urandom(200_000)  # larger than the scratch area: a malloc per call
    kernels.checksum(large)
    inst = kernels._module.instance()
    size_before = inst.native.span()[1]
    for _ in range(300):  # 60 MB in total: a leak would have to grow memory
        assert kernels.checksum(large) == zlib.adler32(large)
        values = __import__("array").array("i", range(50_000))
        kernels.reverse(values, 0)
        with pytest.raises(TypeError, match="grow must be an int"):
            kernels.reverse(values, "not an int")
    assert inst.native.span()[1] == size_before
