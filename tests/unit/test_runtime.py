"""The runtime a built package carries, on modules made from WebAssembly text (no C compiler).

Lazy loading; where a module is loaded from (precompiled artifact, per-user cache, the
portable ``.wasm``) and every reason an artifact is skipped; the cache's permissions and
checks; load errors; traps on both call paths and the fresh instance after one; buffer
staging, growth and freeing; ``WasmBuffer``; ``MemoryError``; threads; fork children; and
the stub/runtime version check.
"""

from __future__ import annotations

import array
import hashlib
import importlib.util
import json
import logging
import math
import operator
import os
import stat
import string
import struct
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
from support.wat import (
    IMPORTING_KERNELS,
    IMPORTING_WAT,
    INITIAL_PAGES,
    KERNELS,
    NO_MALLOC_KERNELS,
    NO_MALLOC_WAT,
    Package,
    bad_malloc_wat,
    import_on_call_path,
    kernel,
    make_package,
    scalar,
    unique_package,
)

from wasm_ext.runtime.buffer import WasmBuffer
from wasm_ext.runtime.instance import MAX_ALLOCATION, SCRATCH_BYTES
from wasm_ext.runtime.stubapi import RUNTIME_VERSION

MIB = 1 << 20


# numpy is optional: the free-threaded session (noxfile.py, tests-3.13t) has no wheel of it on purpose.
NEEDS_NUMPY = pytest.mark.skipif(
    importlib.util.find_spec("numpy") is None, reason="numpy is not installed (tests-3.13t leaves it out)"
)


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One package shared by the tests that only call it (fast calls)."""
    return make_package(tmp_path_factory.mktemp("shared"), unique_package("shared")).import_stub()


@pytest.fixture
def package(tmp_path: Path) -> Package:
    """A package of this test's own: its files may be changed before it is imported."""
    return make_package(tmp_path, unique_package())


@pytest.fixture(scope="module", params=["fast", "slow"])
def paths(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The stub on each call path: wasmtime's C API directly, or (WASM_EXT_SLOW_CALLS=1) the public API."""
    package = make_package(tmp_path_factory.mktemp(request.param), unique_package(request.param))
    return import_on_call_path(package, slow=request.param == "slow")


def load_again(stub: Any) -> str:
    """Where a new KernelModule over the stub's files loads from (what a new process would do)."""
    module = type(stub._module)(stub.__name__, stub.__file__)
    module.instance()
    loaded_from: str = module.loaded_from
    return loaded_from


def message(fn: Callable[[], object], kind: type[BaseException]) -> str:
    with pytest.raises(kind) as info:
        fn()
    return str(info.value)


# --- lazy import ------------------------------------------------------------------------------


def test_import_does_not_load_wasmtime_until_the_first_call(package: Package, fresh_python: Callable[..., Any]) -> None:
    proc = fresh_python(
        f"""
        import sys
        import {package.module_name} as k
        print('wasmtime' in sys.modules, 'ctypes' in sys.modules, k._module.loaded_from)
        print(k.add(40, 2), 'wasmtime' in sys.modules, k._module.loaded_from)
        """,
        cwd=package.site,
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.split() == ["False", "False", "None", "42", "True", "precompiled"]


# --- where the module is loaded from ------------------------------------------------------------


@pytest.fixture
def fresh_version() -> Iterator[Callable[[], str]]:
    """``wasmtime_engine.wasmtime_version``, asked anew (it is cached per process)."""
    from wasm_ext.runtime import wasmtime_engine

    wasmtime_engine.wasmtime_version.cache_clear()
    yield wasmtime_engine.wasmtime_version
    wasmtime_engine.wasmtime_version.cache_clear()


def test_wasmtime_version_is_the_installed_one(fresh_version: Callable[[], str]) -> None:
    from importlib.metadata import version

    assert fresh_version() == version("wasmtime")


class _OsListing:
    """``os`` whose ``listdir`` returns *entries*, for the module under test alone."""

    def __init__(self, entries: list[str]) -> None:
        self.entries = entries

    def __getattr__(self, name: str) -> object:
        return getattr(os, name)

    def listdir(self, path: str) -> list[str]:
        return self.entries


@pytest.mark.parametrize(
    "entries", [[], ["wasmtime-1.0.dist-info", "wasmtime-2.0.dist-info"], ["wasmtime-x.dist-info"]]
)
def test_wasmtime_version_without_one_dist_info_beside_it_asks_importlib_metadata(
    fresh_version: Callable[[], str], monkeypatch: pytest.MonkeyPatch, entries: list[str]
) -> None:
    from importlib.metadata import version

    from wasm_ext.runtime import wasmtime_engine

    fake = [*entries, "wasmtime", "wasmtime_other-3.0.dist-info"]
    # only the runtime's view of the directory lies: importlib.metadata (which lists it too) sees the real one
    monkeypatch.setattr(wasmtime_engine, "os", _OsListing(fake))
    assert fresh_version() == version("wasmtime")


def test_wasmtime_version_reads_the_dist_info_beside_the_package(
    fresh_version: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "listdir", lambda path: ["wasmtime", "wasmtime-50.1.2.dist-info", "wasmtimex-9.dist-info"])
    assert fresh_version() == "50.1.2"


def test_precompiled_artifact_is_used_and_the_wasm_is_not_needed(package: Package) -> None:
    package.files.wasm.unlink()
    stub = package.import_stub()
    assert stub.add(3, 5) == 8
    assert stub._module.loaded_from == "precompiled"
    assert load_again(stub) == "precompiled"


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _edit_artifact(**fields: str) -> Callable[[Package], None]:
    def edit(package: Package) -> None:
        manifest = package.manifest()
        for artifact in manifest["precompiled"]:
            artifact.update(fields)
        package.write_manifest(manifest)

    return edit


def _edit_manifest(**fields: object) -> Callable[[Package], None]:
    def edit(package: Package) -> None:
        package.write_manifest({**package.manifest(), **fields})

    return edit


def _undeserializable(package: Package) -> None:
    """Artifacts whose recorded hash matches, but that wasmtime refuses to load."""
    manifest = package.manifest()
    for artifact in manifest["precompiled"]:
        garbage = b"not a compiled module"
        package.files.named(artifact["file"]).write_bytes(garbage)
        artifact["sha256"] = hashlib.sha256(garbage).hexdigest()
    package.write_manifest(manifest)


def _outside_the_package(package: Package) -> None:
    """A manifest naming files elsewhere: only the file of that name beside the stub is read."""
    manifest = package.manifest()
    for artifact in manifest["precompiled"]:
        artifact["file"] = "/elsewhere/../../" + artifact["file"]
    package.write_manifest(manifest)


SKIPPED: dict[str, Callable[[Package], None]] = {
    "other-wasmtime-major": _edit_artifact(wasmtime="1.0.0"),
    "other-config-fingerprint": _edit_artifact(config="0" * 16),
    "other-target": _edit_artifact(target="riscv64-unknown-linux-gnu"),
    "other-sha256": _edit_artifact(sha256="0" * 64),
    "tampered-artifact": lambda p: _flip_a_byte(p.artifact()),
    "missing-artifact-file": lambda p: p.artifact().unlink(),
    "undeserializable-artifact": _undeserializable,
    "missing-manifest": lambda p: p.files.manifest.unlink(),
    "manifest-not-json": lambda p: p.files.manifest.write_text("{not json"),
    "manifest-of-another-format": _edit_manifest(format=2),
    "manifest-field-of-wrong-type": _edit_manifest(precompiled="kernels.cwasm"),
    "manifest-not-an-object": lambda p: p.files.manifest.write_text("[]"),
}


@pytest.mark.parametrize("change", list(SKIPPED), ids=list(SKIPPED))
def test_artifact_that_cannot_be_trusted_is_skipped(package: Package, change: str) -> None:
    SKIPPED[change](package)
    stub = package.import_stub()
    assert stub.add(3, 5) == 8
    assert stub._module.loaded_from == "wasm"
    assert load_again(stub) == "cache"  # compiled once, then reused


def _same_major_other_minor(package: Package) -> None:
    major = package.manifest()["precompiled"][0]["wasmtime"].split(".")[0]
    _edit_artifact(wasmtime=f"{major}.99.0")(package)


@pytest.mark.parametrize(
    "change", [_same_major_other_minor, _outside_the_package], ids=["same-wasmtime-major", "file-named-elsewhere"]
)
def test_artifact_that_fits_is_used(package: Package, change: Callable[[Package], None]) -> None:
    change(package)
    stub = package.import_stub()
    assert stub.add(3, 5) == 8
    assert stub._module.loaded_from == "precompiled"


def test_package_built_without_precompiling_compiles_then_caches(tmp_path: Path) -> None:
    package = make_package(tmp_path, unique_package(), precompile=False)
    assert package.manifest()["precompiled"] == []
    assert not list(package.directory.glob("*.cwasm"))
    stub = package.import_stub()
    assert stub.add(1, 2) == 3 and stub._module.loaded_from == "wasm"
    assert load_again(stub) == "cache"


# --- the per-user cache ----------------------------------------------------------------------


def test_cache_dir_is_private_and_holds_verified_entries(package: Package, _module_cache: Path) -> None:
    package.files.manifest.unlink()
    stub = package.import_stub()
    assert stub.add(1, 1) == 2 and stub._module.loaded_from == "wasm"
    assert stat.S_IMODE(_module_cache.stat().st_mode) == 0o700
    (entry,) = _module_cache.glob("*.cwasm")
    assert len(entry.stem) == 32 and set(entry.stem) <= set(string.hexdigits)
    record = json.loads(entry.with_suffix(".json").read_text())
    assert record == {"sha256": hashlib.sha256(entry.read_bytes()).hexdigest()}
    assert sorted(p.name for p in _module_cache.iterdir()) == [entry.name, entry.with_suffix(".json").name]


CORRUPT: dict[str, Callable[[Path], None]] = {
    "entry-bytes-changed": _flip_a_byte,
    "record-missing": lambda p: p.with_suffix(".json").unlink(),
    "record-not-json": lambda p: p.with_suffix(".json").write_text("{"),
    "record-not-an-object": lambda p: p.with_suffix(".json").write_text("[]"),
    "record-of-other-bytes": lambda p: p.with_suffix(".json").write_text('{"sha256": "' + "0" * 64 + '"}'),
    "entry-missing": lambda p: p.unlink(),
}


@pytest.mark.parametrize("corrupt", list(CORRUPT), ids=list(CORRUPT))
def test_cache_entry_that_does_not_verify_is_recompiled(package: Package, _module_cache: Path, corrupt: str) -> None:
    package.files.manifest.unlink()
    stub = package.import_stub()
    assert stub.add(1, 1) == 2 and stub._module.loaded_from == "wasm"
    (entry,) = _module_cache.glob("*.cwasm")
    CORRUPT[corrupt](entry)
    assert load_again(stub) == "wasm"
    assert load_again(stub) == "cache"  # rewritten


def _planted(package: Package, cache: Path) -> Any:
    """The stub, after a first load put an entry (with a matching hash record) into *cache*."""
    package.files.manifest.unlink()
    stub = package.import_stub()
    assert stub.add(1, 1) == 2 and load_again(stub) == "cache"
    return stub


def test_a_cache_others_can_write_is_not_used(
    package: Package, _module_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Anyone who can write the directory could plant native code with a matching hash record."""
    stub = _planted(package, _module_cache)
    _module_cache.chmod(0o777)
    with caplog.at_level(logging.WARNING, logger="wasm_ext.runtime"):
        assert load_again(stub) == "wasm" and load_again(stub) == "wasm"
    assert caplog.messages == [
        (
            f"not using the module cache: {_module_cache}: it is writable by others (mode 0777); "
            "only a directory that you own and nobody else can write is trusted"
        )
    ]  # once per process, and nothing is written there
    assert sorted(p.suffix for p in _module_cache.iterdir()) == [".cwasm", ".json"]


def test_a_cache_below_a_directory_others_can_write_is_not_used(
    tmp_path: Path, package: Package, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    monkeypatch.setenv("WASM_EXT_CACHE_DIR", str(shared / "cache"))
    stub = _planted(package, shared / "cache")
    shared.chmod(0o777)  # another user could rename ours away and put their own in its place
    assert load_again(stub) == "wasm"
    shared.chmod(0o755)
    assert load_again(stub) == "cache"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
@pytest.mark.parametrize("what", ["directory", "entry", "record"])
def test_a_cache_owned_by_another_user_is_not_used(package: Package, _module_cache: Path, what: str) -> None:
    stub = _planted(package, _module_cache)
    (entry,) = _module_cache.glob("*.cwasm")
    target = {"directory": _module_cache, "entry": entry, "record": entry.with_suffix(".json")}[what]
    os.chown(target, 65534, -1)
    assert load_again(stub) == "wasm"


@pytest.mark.parametrize("what", ["entry", "record"])
def test_a_cache_entry_others_can_write_is_not_used(package: Package, _module_cache: Path, what: str) -> None:
    stub = _planted(package, _module_cache)
    (entry,) = _module_cache.glob("*.cwasm")
    (entry if what == "entry" else entry.with_suffix(".json")).chmod(0o646)
    assert load_again(stub) == "wasm"


@pytest.fixture
def unwritable_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """WASM_EXT_CACHE_DIR where nothing can be written (a read-only directory; under root, below /dev/null)."""
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o500)
    cache = read_only / "cache"
    if os.access(read_only, os.W_OK):  # root ignores permissions: make writes fail another way
        cache = Path(os.devnull) / "cache"
    monkeypatch.setenv("WASM_EXT_CACHE_DIR", str(cache))
    yield cache
    read_only.chmod(0o700)


def test_unwritable_cache_still_gives_results(
    package: Package, unwritable_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    package.files.manifest.unlink()
    stub = package.import_stub()
    with caplog.at_level(logging.DEBUG, logger="wasm_ext.runtime"):
        assert stub.add(20, 22) == 42
    assert stub._module.loaded_from == "wasm"
    assert load_again(stub) == "wasm"  # nothing was cached: compiled again
    (record,) = [r for r in caplog.records if r.name == "wasm_ext.runtime"]
    assert record.getMessage().startswith(f"not caching the compiled module at {unwritable_cache}/")


# --- load errors -----------------------------------------------------------------------------


def test_missing_wasm_is_a_kernel_error_naming_the_file(package: Package) -> None:
    package.files.manifest.unlink()
    wasm = package.files.wasm
    wasm.unlink()
    stub = package.import_stub()
    expected = f"{package.module_name}: cannot load {wasm}: [Errno 2] No such file or directory: '{wasm}'"
    assert message(lambda: stub.add(1, 2), stub.KernelError) == expected
    assert message(lambda: stub.add(1, 2), stub.KernelError) == expected  # every call, not only the first
    assert isinstance(stub.KernelError(""), RuntimeError)


def test_invalid_wasm_is_a_kernel_error(package: Package) -> None:
    package.files.manifest.unlink()
    package.files.wasm.write_bytes(b"\0asm\x01\0\0\0\x01\x05garbage")
    stub = package.import_stub()
    text = message(lambda: stub.add(1, 2), stub.KernelError)
    assert text.startswith(f"{package.module_name}: cannot compile {package.files.wasm}: ")


# a module whose code uses a v128 instruction, as one built with simd=True does
SIMD_WAT = """
(module
  (memory (export "memory") 1)
  (func (export "add") (param i32 i32) (result i32)
    (i32x4.extract_lane 0 (i32x4.add (i32x4.splat (local.get 0)) (i32x4.splat (local.get 1))))))
"""
SIMD_KERNELS = [kernel("add", "i32", scalar("a", "i32"), scalar("b", "i32"))]


@pytest.mark.parametrize("precompiled", [True, False])
def test_module_needing_simd_on_an_engine_without_it_says_so_and_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, precompiled: bool
) -> None:
    package = make_package(tmp_path, unique_package(), SIMD_WAT, SIMD_KERNELS, precompile=precompiled)
    stub = package.import_stub()
    engines = package.runtime("wasmtime_engine")
    # an engine without wasm SIMD (relaxed SIMD must go too: SIMD off alone aborts the process in Engine())
    without_simd = engines.EngineConfig(
        "", (*engines.DEFAULT.settings, ("wasm_relaxed_simd", False), ("wasm_simd", False))
    )
    monkeypatch.setattr(engines, "DEFAULT_ENGINE", engines.WasmtimeEngine(without_simd))
    text = message(lambda: stub.add(1, 2), stub.KernelError)
    assert text.startswith(
        f"{package.module_name}: cannot compile {package.files.wasm}: the module needs WebAssembly SIMD (simd128), "
        "which this engine does not support (failed to compile"
    ), text
    assert "SIMD support is not enabled" in text and "Rebuild it with simd=False" in text
    monkeypatch.undo()  # the same files on an engine with SIMD (the default, as a new process has it): they load
    assert load_again(stub) in (("precompiled",) if precompiled else ("wasm", "cache"))


def test_other_compile_errors_do_not_mention_simd(package: Package) -> None:
    package.files.manifest.unlink()
    package.files.wasm.write_bytes(b"\0asm\x01\0\0\0\x01\x05garbage")
    stub = package.import_stub()
    assert "SIMD" not in message(lambda: stub.add(1, 2), stub.KernelError)


@pytest.mark.parametrize("where", ["module", "sandbox"])
def test_module_that_cannot_be_instantiated_is_a_kernel_error(tmp_path: Path, where: str) -> None:
    package = make_package(tmp_path, unique_package(), IMPORTING_WAT, IMPORTING_KERNELS)
    stub = package.import_stub()
    target = stub if where == "module" else stub.sandbox(max_memory="1MiB")
    text = message(lambda: target.add(1, 2), stub.KernelError)
    suffix = " in the sandbox" if where == "sandbox" else ""
    assert text == f"{package.module_name}: cannot instantiate the wasm module{suffix}: expected 1 imports, found 0"


def test_kernel_the_module_does_not_export_is_a_kernel_error(tmp_path: Path) -> None:
    package = make_package(tmp_path, unique_package(), functions=[*KERNELS, kernel("vanished", "i32")])
    stub = package.import_stub()
    assert stub.add(1, 2) == 3
    assert (
        message(stub.vanished, stub.KernelError) == f"{package.module_name}: the wasm module has no function 'vanished'"
    )


def test_buffer_argument_without_malloc_is_a_kernel_error(tmp_path: Path) -> None:
    package = make_package(tmp_path, unique_package(), NO_MALLOC_WAT, NO_MALLOC_KERNELS)
    stub = package.import_stub()
    expected = f"{package.module_name}: the wasm module exports no malloc (it has no buffer parameters)"
    assert message(lambda: stub.byte_sum(b"abc"), stub.KernelError) == expected
    assert message(lambda: stub.alloc(4), stub.KernelError) == expected


INITIALIZE_WAT = """
(module
  (memory (export "memory") 1)
  (global $ready (mut i32) (i32.const 0))
  (func (export "_initialize") (global.set $ready (i32.add (global.get $ready) (i32.const 42))))
  (func (export "ready") (result i32) (global.get $ready)))
"""


def test_reactor_initialize_runs_once_per_instance(tmp_path: Path) -> None:
    stub = make_package(tmp_path, unique_package(), INITIALIZE_WAT, [kernel("ready", "i32")]).import_stub()
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(stub.ready()))
    thread.start()
    thread.join()
    assert stub.ready() == 42 and seen == [42]  # each thread's instance initialised, once
    assert stub.sandbox(max_memory="1MiB").ready() == 42


def test_trapping_initialize_is_a_kernel_error(tmp_path: Path) -> None:
    trapping = INITIALIZE_WAT.replace("(global.set $ready (i32.add (global.get $ready) (i32.const 42)))", "unreachable")
    package = make_package(tmp_path, unique_package(), trapping, [kernel("ready", "i32")])
    stub = package.import_stub()
    text = message(stub.ready, stub.KernelError)
    assert text.startswith(f"{package.module_name}: cannot instantiate the wasm module: ")
    assert "unreachable" in text


# --- traps ----------------------------------------------------------------------------------

TRAPS = [
    ("divide", (1, 0), "integer_division_by_zero", "integer divide by zero"),
    ("divide", (-(2**31), -1), "integer_overflow", "integer overflow"),
    ("boom", (), "unreachable", "unreachable"),
    ("poke", (0xFFFF_FFF0,), "memory_out_of_bounds", "out of bounds memory access"),
    ("depth", (10_000_000,), "stack_overflow", "call stack exhausted"),
]


@pytest.mark.parametrize(("export", "args", "code", "text"), TRAPS, ids=[t[2] for t in TRAPS])
def test_trap_is_a_kernel_trap_and_the_next_call_gets_a_fresh_instance(
    paths: Any, export: str, args: tuple[int, ...], code: str, text: str
) -> None:
    live = paths.live()
    with paths.alloc(64):  # state of the instance: one more block allocated
        assert paths.live() == live + 1
        before = paths._module.instance()
        with pytest.raises(paths.KernelTrap) as info:
            getattr(paths, export)(*args)
    trap = info.value
    assert str(trap).startswith(f"{export}: wasm trap ({code}): ") and text in str(trap)
    assert (trap.function, trap.trap_code) == (export, code)
    assert isinstance(trap, RuntimeError) and not isinstance(trap, paths.KernelTimeout)
    assert paths._module.instance() is not before
    assert paths.live() == 0  # the new instance starts from scratch
    assert paths.divide(9, 3) == 3 and paths.depth(100) == 5050
    assert paths.byte_sum(b"\x01\x02\x03") == 6


TRAPPING_MALLOC_WAT = """
(module
  (memory (export "memory") 1)
  (func (export "malloc") (param i32) (result i32) unreachable)
  (func (export "free") (param i32))
  (func (export "byte_sum") (param i32 i32) (result i32) (i32.const 0)))
"""


def test_trap_in_malloc_staging_a_buffer_names_the_kernel(tmp_path: Path) -> None:
    package = make_package(tmp_path, unique_package(), TRAPPING_MALLOC_WAT, NO_MALLOC_KERNELS)
    stub = package.import_stub()
    with pytest.raises(stub.KernelTrap) as info:
        stub.byte_sum(b"abc")
    assert str(info.value).startswith("byte_sum: wasm trap (unreachable): ")
    with pytest.raises(stub.KernelTrap) as info:
        stub.alloc(8)
    assert str(info.value).startswith("alloc: wasm trap (unreachable): ")


def test_values_and_buffers_on_both_call_paths(paths: Any) -> None:
    assert paths.echo_u64(2**64 - 1) == 2**64 - 1 and paths.echo_i64(-(2**63)) == -(2**63)
    assert paths.echo_f32(-2.5) == -2.5 and paths.echo_f64(1e300) == 1e300
    assert paths.spin(1000) == 499_500 and paths.add(-5, 3) == -2
    values = array.array("i", range(100_000))
    paths.scale(values, -2)
    assert values[-1] == -2 * 99_999
    data = bytearray(10)
    paths.fill(data, 255, 1)
    assert data == b"\xff" * 10
    assert paths.length("héllo") == 6 and paths.byte_sum(bytes(range(256))) == sum(range(256))
    with paths.alloc(8) as buf:
        buf.write(b"\x01" * 8)
        assert paths.byte_sum(buf) == 8


# --- scalars and strings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("export", "value", "expected"),
    [
        ("echo_i64", -(2**63), -(2**63)),
        ("echo_i64", 2**63 - 1, 2**63 - 1),
        ("echo_u64", 2**64 - 1, 2**64 - 1),
        ("echo_u64", 2**63, 2**63),
        ("echo_f64", 1e300, 1e300),
        ("echo_f64", math.inf, math.inf),
        ("echo_f64", 3, 3.0),
        ("echo_f32", 0.1, struct.unpack("f", struct.pack("f", 0.1))[0]),
        ("echo_f32", -2.5, -2.5),
        ("spin", 10, 45),
    ],
)
def test_64_bit_and_float_values_round_trip(kernels: Any, export: str, value: Any, expected: Any) -> None:
    result = getattr(kernels, export)(value)
    assert result == expected and type(result) is type(expected)


class _Lying(int):
    """An int whose __int__ and __index__ say something else: its own value is what C gets, as with ctypes."""

    def __int__(self) -> int:
        return 99

    def __index__(self) -> int:
        return 98


def test_an_int_subclass_is_passed_by_its_own_value(kernels: Any) -> None:
    assert kernels.add(_Lying(5), 0) == 5 and kernels.echo_u64(_Lying(7)) == 7
    assert kernels.echo_f64(_Lying(3)) == 3.0


def _numpy_bool_is_an_index(np: Any) -> bool:
    """Whether this numpy lets ``operator.index`` take ``numpy.bool_`` (older ones do, with a DeprecationWarning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            operator.index(np.True_)
        except TypeError:
            return False
    return True


def test_numpy_scalars_follow_pythons_integer_rule(kernels: Any) -> None:
    np = pytest.importorskip("numpy")
    assert kernels.add(np.int8(-3), np.uint64(5)) == 2 and kernels.add(True, False) == 1
    if _numpy_bool_is_an_index(np):  # numpy's own choice, whichever it is
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            assert kernels.add(np.True_, 1) == 2
    else:
        text = message(lambda: kernels.add(np.True_, 1), TypeError)
        assert text == f"add(): a must be an int, not numpy.{type(np.True_).__qualname__}"
    assert kernels.echo_f64(np.float32(0.5)) == 0.5


def test_special_floats_and_wrapping_ints(kernels: Any) -> None:
    assert math.isnan(kernels.echo_f64(math.nan))
    assert math.copysign(1.0, kernels.echo_f64(-0.0)) == -1.0
    assert kernels.add(2**31 - 1, 1) == -(2**31)  # wraps, as C does
    assert kernels.add(True, 1) == 2
    assert kernels.length("héllo") == 6 and kernels.length(b"") == 0 and kernels.length(bytearray(b"ab")) == 2


ARGUMENT_ERRORS = [
    ("add", ("1", 2), TypeError, "add(): a must be an int, not str"),
    ("add", (2**31, 0), OverflowError, "add(): a=2147483648 is out of range for i32 [-2147483648, 2147483647]"),
    ("add", (0, -(2**31) - 1), OverflowError, "add(): b=-2147483649 is out of range for i32 [-2147483648, 2147483647]"),
    ("echo_u64", (-1,), OverflowError, "echo_u64(): x=-1 is out of range for u64 [0, 18446744073709551615]"),
    ("fill", (bytearray(4), 256, 0), OverflowError, "fill(): value=256 is out of range for u8 [0, 255]"),
    ("echo_f64", ("x",), TypeError, "echo_f64(): x must be a float, not str"),
    ("length", (5,), TypeError, "length(): text must be str or bytes, not int"),
    ("length", ("a\0b",), ValueError, "length(): text must not contain NUL characters"),
    (
        "length",
        ("a\udcffb",),
        ValueError,
        (
            "length(): text cannot be encoded as UTF-8: surrogates not allowed at index 1 ('\\udcff'); "
            "pass bytes, or encode it yourself (e.g. errors='surrogateescape')"
        ),
    ),
    (
        "byte_sum",
        (5,),
        TypeError,
        "byte_sum(): data must be a buffer (bytes, bytearray, memoryview, array, numpy array, ...), not int",
    ),
    ("scale", (b"abcd", 2), TypeError, "scale(): values is written by the kernel and must be writable, not bytes"),
    ("scale", (bytearray(8), 2), TypeError, "scale(): values must hold 4-byte items, got item size 1"),
    (
        "scale",
        (memoryview(array.array("i", range(8)))[::2], 2),
        ValueError,
        "scale(): values must be a C-contiguous buffer",
    ),
]


@pytest.mark.parametrize(
    ("export", "args", "kind", "text"),
    ARGUMENT_ERRORS,
    ids=[f"{a[0]}-{a[2].__name__}-{i}" for i, a in enumerate(ARGUMENT_ERRORS)],
)
def test_bad_arguments_name_the_kernel_and_parameter(
    kernels: Any, export: str, args: tuple[Any, ...], kind: type[Exception], text: str
) -> None:
    assert message(lambda: getattr(kernels, export)(*args), kind) == text
    assert kernels.add(1, 2) == 3


# --- buffers --------------------------------------------------------------------------------


def test_a_buffer_of_python_objects_is_refused(kernels: Any) -> None:
    """Before: a numpy object array passed as uint8 handed the kernel the PyObject pointers' bytes."""
    np = pytest.importorskip("numpy")
    objects = np.array([1, 2, 3], dtype=object)
    assert message(lambda: kernels.byte_sum(objects), TypeError) == (
        "byte_sum(): data must hold plain data (numbers or bytes), not items of format 'O' "
        "(Python objects or pointers mean nothing inside the kernel's memory)"
    )
    assert kernels.byte_sum(np.array([1, 2, 3], dtype=np.uint8)) == 6
    assert kernels.byte_sum(np.zeros(2, dtype=[("a", "u1"), ("b", "u1")])) == 0  # plain structured data is fine


@pytest.mark.parametrize("size", [0, 1, 16, SCRATCH_BYTES - 1, SCRATCH_BYTES, SCRATCH_BYTES + 1, 3 * MIB])
def test_buffer_in_scratch_area_or_its_own_malloc(kernels: Any, size: int) -> None:
    data = bytes((i * 7) & 0xFF for i in range(size)) if size < MIB else os.urandom(size)
    assert kernels.byte_sum(data) == sum(data)
    assert kernels.live() == 1  # only the scratch area: a buffer of its own was freed
    assert kernels.byte_sum(memoryview(data)[1:]) == sum(data[1:])


@pytest.mark.parametrize(
    "make",
    [
        bytearray,
        lambda data: memoryview(data),
        lambda data: array.array("B", data),
        pytest.param(
            lambda data: __import__("numpy").frombuffer(data, dtype="uint8").reshape(10, -1), marks=NEEDS_NUMPY
        ),
    ],
    ids=["bytearray", "memoryview", "array", "numpy-2d"],
)
def test_buffer_types(kernels: Any, make: Callable[[bytes], Any]) -> None:
    data = bytes(range(250)) * 4
    assert kernels.byte_sum(make(data)) == sum(data)


@pytest.mark.parametrize("count", [4, 100_000], ids=["scratch", "malloc"])
def test_written_buffer_is_copied_back(kernels: Any, count: int) -> None:
    values = array.array("i", range(count))
    kernels.scale(values, 3)
    assert values[:4].tolist() == [0, 3, 6, 9] and values[-1] == 3 * (count - 1)
    assert kernels.live() == 1


@NEEDS_NUMPY
@pytest.mark.parametrize("count", [4, 100_000], ids=["scratch", "malloc"])
def test_written_numpy_array_is_copied_back(kernels: Any, count: int) -> None:
    import numpy as np

    ints = np.arange(count, dtype=np.int32)
    kernels.scale(ints, -1)
    assert ints[-1] == -(count - 1)
    assert kernels.live() == 1


@pytest.mark.parametrize("size", [1000, 200_000], ids=["scratch", "malloc"])
def test_memory_growing_during_a_call_still_copies_results_back(tmp_path: Path, size: int) -> None:
    stub = make_package(tmp_path, unique_package()).import_stub()
    assert stub.pages() == INITIAL_PAGES
    data = bytearray(size)
    stub.fill(data, 7, 64)  # the kernel grows memory by 4 MiB before it writes
    assert data == b"\x07" * size
    grown = stub.pages()
    assert grown >= INITIAL_PAGES + 64
    assert stub.byte_sum(bytes(data)) == 7 * size


@pytest.mark.parametrize("size", [0, 16, 4000, SCRATCH_BYTES - 1, SCRATCH_BYTES + 1])
@pytest.mark.parametrize(
    "make",
    [bytes, bytearray, memoryview, lambda data: array.array("B", data)],
    ids=["bytes", "bytearray", "memoryview", "array"],
)
def test_a_call_gives_back_the_scratch_it_staged_into(kernels: Any, make: Callable[[bytes], Any], size: int) -> None:
    """Stubs stage small buffers inline, as a stack on the scratch area: every call leaves it as it found it."""
    data = make(bytes((i * 13) & 0xFF for i in range(size)))
    kernels.byte_sum(b"set up")  # the scratch area exists from here on
    instance = kernels._module.instance()
    assert instance.scratch_limit == SCRATCH_BYTES and instance.scratch_used == 0
    assert kernels.byte_sum(data) == sum(bytes(data))
    target = bytearray(size)
    assert kernels.copy(target, data) == size  # two buffers: both staged, one copied back
    assert target == bytes(data)
    assert kernels.copy(bytearray(3), data) == min(3, size)
    with pytest.raises(TypeError, match="factor must be an int"):
        kernels.scale(array.array("i", [1, 2]), "not an int")
    assert instance.scratch_used == 0 and kernels.live() == 1


def test_wasm_buffer_cannot_be_subclassed() -> None:
    with pytest.raises(TypeError, match=r"^WasmBuffer cannot be subclassed: get one from the module's alloc\(\)$"):
        type("Mine", (WasmBuffer,), {})


def test_two_buffers_in_one_call(kernels: Any) -> None:
    for dst_size, src_size in ((8, 100), (100_000, 16), (16, 200_000), (70_000, 80_000)):
        source = os.urandom(src_size)
        target = bytearray(dst_size)
        count = min(dst_size, src_size)
        assert kernels.copy(target, source) == count
        assert target[:count] == source[:count]
        assert kernels.live() == 1


def test_every_buffer_is_freed_memory_does_not_grow(kernels: Any) -> None:
    large, values = os.urandom(200_000), array.array("i", range(50_000))
    kernels.byte_sum(large)
    kernels.scale(values, 1)
    pages, expected = kernels.pages(), sum(large)
    for _ in range(100):  # 30 MB in total: a leak would have to grow memory past its 32 MiB maximum
        assert kernels.byte_sum(large) == expected
        kernels.scale(values, 1)
        assert kernels.copy(bytearray(70_000), large) == 70_000
        with pytest.raises(TypeError, match="factor must be an int"):
            kernels.scale(values, "not an int")
    assert kernels.pages() == pages and kernels.live() == 1


# --- WasmBuffer -----------------------------------------------------------------------------


def test_wasm_buffer_write_read_view_free(kernels: Any) -> None:
    buf = kernels.alloc(16)
    assert isinstance(buf, kernels.WasmBuffer) and len(buf) == 16
    assert repr(buf) == f"<WasmBuffer 16 bytes at {buf.address:#x}>"
    live = kernels.live()
    buf.write(bytes(16))  # malloc'ed memory is not zeroed
    buf.write(b"\x01\x02\x03\x04")
    buf.write(b"\xff", offset=15)
    assert buf.read() == b"\x01\x02\x03\x04" + bytes(11) + b"\xff"
    assert kernels.byte_sum(buf) == 1 + 2 + 3 + 4 + 255
    buf.view("i")[:] = array.array("i", [1, -2, 3, 4])
    kernels.scale(buf, 10)  # in place: no copy in or out
    assert list(buf.view("i")) == [10, -20, 30, 40]
    buf.view()[0] = 9
    assert buf.read()[0] == 9
    buf.free()
    assert kernels.live() == live - 1
    assert repr(buf) == "<WasmBuffer 16 bytes freed>" and buf.address == 0
    buf.free()  # idempotent
    assert kernels.live() == live - 1


def test_wasm_buffer_with_block_frees(kernels: Any) -> None:
    live = kernels.live()
    with kernels.alloc(3 * MIB) as buf:  # memory grows for it
        assert kernels.live() == live + 1
        buf.write(b"\x02" * (3 * MIB))
        assert kernels.byte_sum(buf) == 6 * MIB
    assert kernels.live() == live and buf.address == 0
    empty = kernels.alloc(0)
    assert empty.read() == b"" and kernels.byte_sum(empty) == 0
    empty.free()


@pytest.mark.parametrize(
    ("use", "text"),
    [
        (lambda k, b: b.read(), "WasmBuffer.read(): the WasmBuffer was freed"),
        (lambda k, b: b.view(), "WasmBuffer.view(): the WasmBuffer was freed"),
        (lambda k, b: b.write(b"x"), "WasmBuffer.write(): the WasmBuffer was freed"),
        (lambda k, b: k.byte_sum(b), "byte_sum(): the WasmBuffer was freed"),
    ],
    ids=["read", "view", "write", "kernel"],
)
def test_freed_wasm_buffer_is_refused(kernels: Any, use: Callable[[Any, Any], object], text: str) -> None:
    buf = kernels.alloc(8)
    buf.free()
    assert message(lambda: use(kernels, buf), ValueError) == text


@pytest.mark.parametrize(
    ("data", "offset", "text"),
    [
        (b"12345", 0, "WasmBuffer.write(): 5 bytes at offset 0 do not fit in 4"),
        (b"12", 3, "WasmBuffer.write(): 2 bytes at offset 3 do not fit in 4"),
        (b"1", -1, "WasmBuffer.write(): 1 bytes at offset -1 do not fit in 4"),
    ],
)
def test_wasm_buffer_write_out_of_range(kernels: Any, data: bytes, offset: int, text: str) -> None:
    with kernels.alloc(4) as buf:
        assert message(lambda: buf.write(data, offset), ValueError) == text


def test_wasm_buffer_belongs_to_its_thread(kernels: Any) -> None:
    buf = kernels.alloc(4)
    buf.write(b"\x05" * 4)
    errors: list[str] = []

    def other() -> None:
        for use in (lambda: kernels.byte_sum(buf), buf.read):
            try:
                use()
            except ValueError as exc:
                errors.append(str(exc))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert errors == [
        "byte_sum(): a WasmBuffer can only be used by the thread that allocated it",
        "WasmBuffer.read(): a WasmBuffer can only be used by the thread that allocated it",
    ]
    assert buf.address != 0 and kernels.byte_sum(buf) == 20
    buf.free()


def test_wasm_buffer_free_from_another_thread_leaves_it_to_its_owner(kernels: Any) -> None:
    live = kernels.live()
    buf = kernels.alloc(4)
    buf.write(b"\x05" * 4)

    def other() -> None:
        try:
            buf.free()
        except ValueError:
            pass  # refusing is as good as doing nothing

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert buf.address != 0 and kernels.byte_sum(buf) == 20  # still the owner's
    buf.free()
    assert kernels.live() == live


def test_wasm_buffer_of_another_module_is_refused(kernels: Any) -> None:
    sb = kernels.sandbox(max_memory="8MiB")
    with sb.alloc(4) as buf:
        buf.write(b"\x01\x02\x03\x04")
        assert (
            message(lambda: kernels.byte_sum(buf), ValueError) == "byte_sum(): the WasmBuffer belongs to another module"
        )
        assert sb.byte_sum(buf) == 10


def test_wasm_buffer_is_invalid_after_a_trap(kernels: Any) -> None:
    buf = kernels.alloc(4)
    with pytest.raises(kernels.KernelTrap):
        kernels.boom()
    reset = "the WasmBuffer's instance was reset after a trap; allocate a new one"
    assert message(lambda: kernels.byte_sum(buf), ValueError) == f"byte_sum(): {reset}"
    assert message(buf.read, ValueError) == f"WasmBuffer.read(): {reset}"
    live = kernels.live()
    buf.free()  # the instance is gone: nothing to give back, and no error
    assert kernels.live() == live and buf.address == 0


def test_alloc_size_must_be_a_non_negative_int(kernels: Any) -> None:
    assert message(lambda: kernels.alloc(-1), ValueError) == "alloc(): nbytes must be a non-negative int, got -1"
    assert message(lambda: kernels.alloc(1.5), TypeError) == "alloc(): nbytes must be an int, not float"
    assert message(lambda: kernels.alloc("8"), TypeError) == "alloc(): nbytes must be an int, not str"


def test_alloc_takes_integers_by_the_rule_of_integer_parameters(kernels: Any) -> None:
    np = pytest.importorskip("numpy")
    with kernels.alloc(np.int64(8)) as buf, kernels.alloc(True) as one:  # bool is an int, as in Python
        assert (buf.nbytes, type(buf.nbytes), one.nbytes) == (8, int, 1)
    if not _numpy_bool_is_an_index(np):
        assert message(lambda: kernels.alloc(np.True_), TypeError).startswith(
            "alloc(): nbytes must be an int, not numpy."
        )


def test_wasm_buffer_of_the_wrong_item_size(kernels: Any) -> None:
    with kernels.alloc(3) as buf:
        assert message(lambda: kernels.scale(buf, 2), ValueError) == (
            "scale(): values holds 3 bytes, not a whole number of 4-byte items"
        )


# --- MemoryError -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "text"),
    [
        (lambda k: k.alloc(64 * MIB), "alloc(): the wasm module could not allocate 67108864 bytes"),
        (
            lambda k: k.alloc(MAX_ALLOCATION + 1),
            f"alloc(): the wasm module could not allocate {MAX_ALLOCATION + 1} bytes (wasm32 limit)",
        ),
        (lambda k: k.byte_sum(bytes(40 * MIB)), "byte_sum(): the wasm module could not allocate 41943040 bytes"),
        pytest.param(
            lambda k: k.scale(__import__("numpy").zeros(10 * MIB, dtype="int32"), 1),
            "scale(): the wasm module could not allocate 41943040 bytes",
            marks=NEEDS_NUMPY,
        ),
    ],
    ids=["alloc", "alloc-over-wasm32", "buffer-argument", "written-buffer-argument"],
)
def test_memory_error_when_malloc_fails(kernels: Any, call: Callable[[Any], object], text: str) -> None:
    kernels.byte_sum(b"warm")
    before, live, pages = kernels._module.instance(), kernels.live(), kernels.pages()
    assert message(lambda: call(kernels), MemoryError) == text
    assert kernels._module.instance() is before  # module-level calls keep their instance
    assert (kernels.live(), kernels.pages()) == (live, pages)
    assert kernels.byte_sum(b"abc") == 294


def test_buffers_staged_before_a_failed_allocation_are_freed(kernels: Any) -> None:
    kernels.byte_sum(b"warm")
    live = kernels.live()
    target = bytearray(100_000)  # staged first, in a block of its own
    assert message(lambda: kernels.copy(target, bytes(40 * MIB)), MemoryError) == (
        "copy(): the wasm module could not allocate 41943040 bytes"
    )
    assert kernels.live() == live


@pytest.mark.parametrize(
    ("address", "call", "kind", "text"),
    [
        (
            0xFFFF_FF00,
            lambda k: k.alloc(4096),
            "MemoryError",
            "alloc(): malloc returned a block that cannot hold 4096 bytes",
        ),
        (
            0xFFFF_FF00,
            lambda k: k.byte_sum(b"abc"),
            "MemoryError",
            f"byte_sum(): malloc returned a block that cannot hold {SCRATCH_BYTES} bytes",
        ),
        (
            0x20000,
            lambda k: k.byte_sum(b"abcd"),
            "KernelTrap",
            "byte_sum: wasm trap (memory_out_of_bounds): buffer 131072+4 lies outside memory",
        ),
    ],
    ids=["block-past-4GiB", "scratch-past-4GiB", "block-outside-memory"],
)
def test_address_from_malloc_is_range_checked(
    tmp_path: Path, address: int, call: Callable[[Any], object], kind: str, text: str
) -> None:
    package = make_package(tmp_path, unique_package(), bad_malloc_wat(address), NO_MALLOC_KERNELS)
    stub = package.import_stub()
    error = {"MemoryError": MemoryError, "KernelTrap": stub.KernelTrap}[kind]
    assert message(lambda: call(stub), error) == text


# --- threads and processes ------------------------------------------------------------------


def test_threads_each_get_their_own_instance(kernels: Any) -> None:
    failures: list[BaseException] = []
    instances: list[object] = []
    payloads = [os.urandom(n) for n in (0, 1, 16, 1000, 70_000)]
    sums = [sum(p) for p in payloads]
    start = threading.Barrier(8)

    def work(seed: int) -> None:
        try:
            start.wait()
            values = array.array("i", [seed] * 100)
            for i in range(300):
                assert kernels.add(seed, i) == seed + i
                k = (seed + i) % len(payloads)
                assert kernels.byte_sum(payloads[k]) == sums[k]
                if i % 100 == 0:
                    with pytest.raises(kernels.KernelTrap):
                        kernels.divide(i, 0)
                    kernels.scale(values, 1)
            assert values.tolist() == [seed] * 100
            instances.append(kernels._module.instance())
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len({id(i) for i in [*instances, kernels._module.instance()]}) == 9


FORK = """
import os, warnings
import {module} as k
# Python 3.12+ warns about fork() in a process with threads (wasmtime's compiler threads): forking is the test
warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
print(k.add(2, 2), k._module.loaded_from, flush=True)
pid = os.fork()
if pid == 0:
    ok = k.add(20, 22) == 42 and k.byte_sum(bytes(range(200))) == sum(range(200))
    ok = ok and k.byte_sum(b"\\x01" * 100_000) == 100_000
    print("child", ok, k._module.loaded_from, flush=True)
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
print("parent", os.waitstatus_to_exitcode(status), k.add(1, 1), flush=True)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("precompiled", [True, False], ids=["precompiled", "jit"])
def test_fork_child_loads_afresh(package: Package, fresh_python: Callable[..., Any], precompiled: bool) -> None:
    env = {}
    if not precompiled:
        package.files.manifest.unlink()
        env["WASM_EXT_CACHE_DIR"] = str(Path(os.devnull) / "cache")  # nothing cached: the child compiles too
    proc = fresh_python(FORK.format(module=package.module_name), cwd=package.site, timeout=60, **env)
    assert (proc.returncode, proc.stderr) == (0, "")
    source = "precompiled" if precompiled else "wasm"
    assert proc.stdout.splitlines() == [f"4 {source}", f"child True {source}", "parent 0 2"]


# --- stub and runtime versions -------------------------------------------------------------


@pytest.mark.parametrize("version", ["3", "", f"{RUNTIME_VERSION}.1"])
def test_stub_of_another_runtime_version_fails_at_import(package: Package, version: str) -> None:
    stub = package.files.stub
    text = stub.read_text()
    assert f'_require("{RUNTIME_VERSION}", __name__)' in text
    stub.write_text(text.replace(f'_require("{RUNTIME_VERSION}", __name__)', f'_require("{version}", __name__)'))
    with pytest.raises(ImportError) as info:
        package.import_stub()
    assert str(info.value) == (
        f"{package.module_name} was generated for setuptools-wasm runtime {version}, but the runtime beside it "
        f"({package.name}._wasm_ext_runtime) is version {RUNTIME_VERSION}: a stub and its runtime must come from "
        "one build; rebuild the package"
    )
    package.runtime("stubapi").require(RUNTIME_VERSION, "any.stub")  # the matching version passes


def test_a_request_of_2_gib_or_more_says_why_it_failed(kernels: Any) -> None:
    assert message(lambda: kernels.alloc(1 << 31), MemoryError) == (
        f"alloc(): the wasm module could not allocate {1 << 31} bytes "
        "(2 GiB or more: wasi-libc's malloc, the default, never hands out one block that large)"
    )
    assert message(lambda: kernels.alloc((1 << 31) - 1), MemoryError) == (
        f"alloc(): the wasm module could not allocate {(1 << 31) - 1} bytes"  # this module's malloc: 32 MiB at most
    )
