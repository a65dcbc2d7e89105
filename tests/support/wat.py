"""Built packages without a C compiler: WebAssembly text for the module, the plugin's own code for the rest.

:func:`make_package` writes everything ``wasm_ext.builder.pipeline.build`` writes for one
module (stub ``.py``/``.pyi``, stripped ``.wasm``, manifest, precompiled artifacts for every
engine config, ``py.typed`` and the runtime copy) from a WAT text and the C-side models of
its kernels, so the unit layer can test the runtime on real modules with wasmtime alone.

:data:`KERNELS_WAT` / :data:`KERNELS` are a module of small kernels for those tests:
arithmetic, traps of every kind, an endless loop, buffers read and written in place, memory
growth, 64-bit and float echoes, and a ``malloc``/``free`` that really frees (a stack of
blocks, popped as the top ones are freed) and returns NULL when memory cannot grow.
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import wasmtime

from wasm_ext.builder import precompile as precompile_stage
from wasm_ext.builder import stubgen, wasm_binary
from wasm_ext.builder.model import Function
from wasm_ext.runtime import wasmtime_engine
from wasm_ext.runtime.layout import ModuleFiles
from wasm_ext.runtime.manifest import Artifact, Manifest, Toolchain, WasmFile

from .models import Params, buffer, function, scalar, string

__all__ = ["buffer", "kernel", "scalar", "string"]  # the model builders, for the tests

PAGE = 1 << 16
INITIAL_PAGES = 2  # KERNELS_WAT's initial memory: 128 KiB
MAX_PAGES = 512  # ... and the most it can grow to: 32 MiB (malloc returns NULL past it)
HEAP_BASE = 1024  # where malloc's first block header sits


def kernel(name: str, result: str, *params: Params, doc: str = "") -> Function:
    """The model of ``result name(params)``, exported under its own name."""
    return function(name, *params, result=result, doc=doc)


# -- the test module ---------------------------------------------------------------------------

ALLOCATOR_WAT = f"""
  ;; A stack of blocks, each after a 16-byte header [link to the block below, freed flag].
  ;; free() marks a block; freed blocks on top are popped, so memory is reused.
  (global $top (mut i32) (i32.const {HEAP_BASE}))
  (global $last (mut i32) (i32.const 0))
  (global $live (mut i32) (i32.const 0))
  (func $malloc (export "malloc") (param $n i32) (result i32)
    (local $hdr i32) (local $end i64) (local $have i64)
    (local.set $hdr (global.get $top))
    (local.set $end
      (i64.add (i64.extend_i32_u (local.get $hdr))
        (i64.add (i64.const 16)
          (i64.and (i64.add (i64.extend_i32_u (local.get $n)) (i64.const 15)) (i64.const -16)))))
    (if (i64.gt_u (local.get $end) (i64.const 0xFFFF0000)) (then (return (i32.const 0))))
    (local.set $have (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16)))
    (if (i64.gt_u (local.get $end) (local.get $have))
      (then
        (if (i32.eq
              (memory.grow (i32.wrap_i64
                (i64.shr_u (i64.add (i64.sub (local.get $end) (local.get $have)) (i64.const 0xFFFF)) (i64.const 16))))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (i32.store (local.get $hdr) (global.get $last))
    (i32.store offset=4 (local.get $hdr) (i32.const 0))
    (global.set $last (local.get $hdr))
    (global.set $top (i32.wrap_i64 (local.get $end)))
    (global.set $live (i32.add (global.get $live) (i32.const 1)))
    (i32.add (local.get $hdr) (i32.const 16)))
  (func $free (export "free") (param $p i32)
    (if (i32.eqz (local.get $p)) (then (return)))
    (i32.store offset=4 (i32.sub (local.get $p) (i32.const 16)) (i32.const 1))
    (global.set $live (i32.sub (global.get $live) (i32.const 1)))
    (block $done
      (loop $pop
        (br_if $done (i32.eqz (global.get $last)))
        (br_if $done (i32.eqz (i32.load offset=4 (global.get $last))))
        (global.set $top (global.get $last))
        (global.set $last (i32.load (global.get $last)))
        (br $pop))))
  ;; blocks allocated and not yet freed
  (func $live (export "live") (result i32) (global.get $live))
"""

KERNELS_WAT = f"""
(module
  (memory (export "memory") {INITIAL_PAGES} {MAX_PAGES})
{ALLOCATOR_WAT}
  (func $add (export "add") (param $a i32) (param $b i32) (result i32)
    (i32.add (local.get $a) (local.get $b)))
  ;; traps on b == 0 (integer_division_by_zero) and on INT32_MIN / -1 (integer_overflow)
  (func $divide (export "divide") (param $a i32) (param $b i32) (result i32)
    (i32.div_s (local.get $a) (local.get $b)))
  (func $boom (export "boom") unreachable)
  (func $forever (export "forever") (loop $again (br $again)))
  ;; 0 + 1 + ... + (n - 1)
  (func $spin (export "spin") (param $n i64) (result i64) (local $i i64) (local $sum i64)
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (local.set $sum (i64.add (local.get $sum) (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    (local.get $sum))
  ;; 0 + 1 + ... + n, recursively: a large n overflows the wasm stack
  (func $depth (export "depth") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (local.get $n) (call $depth (i32.sub (local.get $n) (i32.const 1)))))))
  ;; one byte written at any address (memory_out_of_bounds past the end)
  (func $poke (export "poke") (param $address i32) (i32.store8 (local.get $address) (i32.const 1)))
  (func $echo_i64 (export "echo_i64") (param i64) (result i64) (local.get 0))
  (func $echo_u64 (export "echo_u64") (param i64) (result i64) (local.get 0))
  (func $echo_f32 (export "echo_f32") (param f32) (result f32) (local.get 0))
  (func $echo_f64 (export "echo_f64") (param f64) (result f64) (local.get 0))
  (func $byte_sum (export "byte_sum") (param $p i32) (param $n i32) (result i32) (local $sum i32) (local $end i32)
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $sum (i32.add (local.get $sum) (i32.load8_u (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $sum))
  ;; values[i] *= factor, in place
  (func $scale (export "scale") (param $p i32) (param $n i32) (param $factor i32) (local $end i32)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (i32.store (local.get $p) (i32.mul (i32.load (local.get $p)) (local.get $factor)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $next))))
  ;; grow memory by `pages` (ignoring failure), then set every byte of data to value
  (func $fill (export "fill") (param $p i32) (param $n i32) (param $value i32) (param $pages i32)
    (drop (memory.grow (local.get $pages)))
    (memory.fill (local.get $p) (local.get $value) (local.get $n)))
  ;; copy min(n, m) bytes of src to dst; returns the count
  (func $copy (export "copy") (param $dst i32) (param $n i32) (param $src i32) (param $m i32) (result i32)
    (local $count i32)
    (local.set $count (select (local.get $n) (local.get $m) (i32.lt_u (local.get $n) (local.get $m))))
    (memory.copy (local.get $dst) (local.get $src) (local.get $count))
    (local.get $count))
  (func $length (export "length") (param $p i32) (result i32) (local $q i32)
    (local.set $q (local.get $p))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (local.get $q))))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (br $next)))
    (i32.sub (local.get $q) (local.get $p)))
  ;; the previous size in pages, or -1 when memory cannot grow
  (func $grow (export "grow") (param $pages i32) (result i32) (memory.grow (local.get $pages)))
  (func $pages (export "pages") (result i32) (memory.size))
)
"""

KERNELS = [
    kernel("add", "i32", scalar("a", "i32"), scalar("b", "i32"), doc="a + b, wrapping."),
    kernel("divide", "i32", scalar("a", "i32"), scalar("b", "i32")),
    kernel("boom", "void"),
    kernel("forever", "void"),
    kernel("spin", "u64", scalar("n", "u64")),
    kernel("depth", "i32", scalar("n", "i32")),
    kernel("poke", "void", scalar("address", "u32")),
    kernel("echo_i64", "i64", scalar("x", "i64")),
    kernel("echo_u64", "u64", scalar("x", "u64")),
    kernel("echo_f32", "f32", scalar("x", "f32")),
    kernel("echo_f64", "f64", scalar("x", "f64")),
    kernel("byte_sum", "u32", buffer("data", "u8")),
    kernel("scale", "void", buffer("values", "i32", writable=True), scalar("factor", "i32")),
    kernel("fill", "void", buffer("data", "u8", writable=True), scalar("value", "u8"), scalar("pages", "u32")),
    kernel("copy", "u32", buffer("dst", "u8", writable=True), buffer("src", "u8", length="m")),
    kernel("length", "u32", string("text")),
    kernel("grow", "i32", scalar("pages", "u32")),
    kernel("pages", "u32"),
    kernel("live", "u32"),
]

# byte_sum without the malloc a buffer argument needs
NO_MALLOC_WAT = """
(module
  (memory (export "memory") 1)
  (func (export "byte_sum") (param i32 i32) (result i32) (i32.const 0)))
"""
NO_MALLOC_KERNELS = [kernel("byte_sum", "u32", buffer("data", "u8"))]


def bad_malloc_wat(address: int) -> str:
    """A one-page module whose ``malloc`` always returns *address* (and ``free`` does nothing)."""
    return f"""
(module
  (memory (export "memory") 1)
  (func (export "malloc") (param i32) (result i32) (i32.const {address}))
  (func (export "free") (param i32))
  (func (export "byte_sum") (param i32 i32) (result i32) (i32.const 0)))
"""


# a module that needs a host function: instantiating it without one fails
IMPORTING_WAT = """
(module
  (import "env" "log" (func $log (param i32)))
  (memory (export "memory") 1)
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
"""
IMPORTING_KERNELS = [kernel("add", "i32", scalar("a", "i32"), scalar("b", "i32"))]

# a module built with wasi=True: what a sandbox grants it is what it sees
WASI_WAT = f"""
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (memory (export "memory") {INITIAL_PAGES} {MAX_PAGES})
{ALLOCATOR_WAT}
  ;; write text to stdout: the WASI errno (0: written, or dropped into wasmtime's default sink)
  (func $say (export "say") (param $p i32) (param $n i32) (result i32)
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (local.get $n))
    (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
  (func $argc (export "argc") (result i32)
    (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (i32.load (i32.const 16)))
  (func $envc (export "envc") (result i32)
    (drop (call $environ_sizes_get (i32.const 16) (i32.const 20)))
    (i32.load (i32.const 16)))
)
"""
WASI_KERNELS = [kernel("say", "i32", buffer("text", "u8")), kernel("argc", "u32"), kernel("envc", "u32")]


# -- packages ----------------------------------------------------------------------------------

_counter = itertools.count(1)


def unique_package(prefix: str = "watpkg") -> str:
    """A package name no other package of this process has (stubs stay imported)."""
    return f"{prefix}_{next(_counter)}"


@dataclass(frozen=True)
class Package:
    """A package made by :func:`make_package`: ``<site>/<name>/<stem>.*``."""

    site: Path
    name: str
    stem: str = "kernels"

    @property
    def module_name(self) -> str:
        return f"{self.name}.{self.stem}"

    @property
    def directory(self) -> Path:
        return self.site / self.name

    @property
    def files(self) -> ModuleFiles:
        return ModuleFiles.of(self.module_name, self.directory)

    def import_stub(self) -> Any:
        """The stub, imported in this process (the site directory goes on ``sys.path``)."""
        if str(self.site) not in sys.path:
            sys.path.insert(0, str(self.site))
        return importlib.import_module(self.module_name)

    def runtime(self, module: str) -> ModuleType:
        """A module of this package's runtime copy (``loader``, ``wasmtime_engine``, ...)."""
        return importlib.import_module(f"{self.name}._wasm_ext_runtime.{module}")

    def manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.files.manifest.read_text(encoding="utf-8"))
        return data

    def write_manifest(self, data: dict[str, Any]) -> None:
        self.files.manifest.write_text(json.dumps(data), encoding="utf-8")

    def artifact(self, tag: str = "") -> Path:
        """The precompiled artifact of the engine config named by *tag* (``""`` or ``".sandbox"``)."""
        target = wasmtime_engine.host_target()
        assert target is not None, "no known wasmtime target for this host"
        return self.files.artifact(target, tag)


def make_package(
    root: Path,
    package: str,
    wat_text: str = KERNELS_WAT,
    functions: list[Function] | None = None,
    *,
    precompile: bool = True,
    wasi: bool = False,
    max_size: int | None = None,
    features: tuple[str, ...] = (),
    stem: str = "kernels",
) -> Package:
    """Write ``<root>/site/<package>/`` as the build would, for the module of *wat_text*; see :class:`Package`.

    *functions* are the kernels' models (default :data:`KERNELS`); the shipped ``.wasm`` is
    stripped of custom sections and the manifest keeps the function names, as the build does.
    """
    functions = KERNELS if functions is None else functions
    site = root / "site"
    directory = site / package
    directory.mkdir(parents=True)
    (directory / "__init__.py").write_text("")
    module_name = f"{package}.{stem}"
    files = ModuleFiles.of(module_name, directory)

    named = bytes(wasmtime.wat2wasm(wat_text))
    parsed = wasm_binary.parse(named)
    wasm = wasm_binary.strip_custom_sections(named)
    files.wasm.write_bytes(wasm)

    artifacts: list[Artifact] = []
    target = wasmtime_engine.host_target()
    if precompile and target is not None:
        version = wasmtime_engine.wasmtime_version()
        for config in wasmtime_engine.CONFIGS:
            data = precompile_stage.serialize(wasm, config, target, module=module_name)
            path = files.artifact(target, config.tag)
            path.write_bytes(data)
            sha = hashlib.sha256(data).hexdigest()
            artifacts.append(Artifact(path.name, target, version, config.fingerprint(), sha, len(data)))

    manifest = Manifest(
        module=module_name,
        wasm=WasmFile(files.wasm.name, hashlib.sha256(wasm).hexdigest(), len(wasm), len(named)),
        precompiled=tuple(artifacts),
        max_size=max_size,
        function_names=wasm_binary.function_names(parsed),
        exports={e.name: (e.type.params, e.type.results) for e in parsed.exports if e.kind == "func" and e.type},
        features=features,
        wasi=wasi,
        toolchain=Toolchain("wasmtime.wat2wasm (tests)", None),
    )
    files.manifest.write_text(manifest.dumps(), encoding="utf-8")

    py, pyi = stubgen.render(module_name, functions, sources=[f"{stem}.wat"], wasi=wasi)
    files.stub.write_text(py, encoding="utf-8")
    files.stub_types.write_text(pyi, encoding="utf-8")
    if files.typed_marker is not None:
        files.typed_marker.write_text("")
    stubgen.copy_runtime(files)
    return Package(site, package, stem)


def import_on_call_path(package: Package, *, slow: bool) -> Any:
    """The stub, its runtime copy committed to one call path at the first call (it decides once).

    *slow*: the public wasmtime API (``WASM_EXT_SLOW_CALLS=1``), else the C API directly.
    """
    saved = os.environ.get("WASM_EXT_SLOW_CALLS")
    os.environ["WASM_EXT_SLOW_CALLS"] = "1" if slow else "0"
    try:
        stub = package.import_stub()
        stub.add(1, 1)
    finally:
        if saved is None:
            del os.environ["WASM_EXT_SLOW_CALLS"]
        else:
            os.environ["WASM_EXT_SLOW_CALLS"] = saved
    if package.runtime("wasmtime_engine").fast_calls() is slow:
        raise AssertionError(f"{package.module_name}: not on the {'slow' if slow else 'fast'} call path")
    return stub
