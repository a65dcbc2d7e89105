"""Kernels under Pyodide (``sys.platform == "emscripten"``): the JavaScript engine runs them.

There is no wasmtime there, but the browser (or Node) has ``WebAssembly``. The same
wheel works: the loader picks this engine at the first call, the stub is unchanged
(it speaks the :class:`~.binding.Binding` protocol; here each binding's ``call``
converts the raw slots to JS values), and traps become the same ``KernelTrap``.

What differs from wasmtime, each handled here:

- JS has no reflection of function types, so the manifest carries each export's wasm
  types (written at build time).
- i64 parameters must be BigInt and i64 results come back as BigInt; u32 results come
  back signed (the stub reads them through an unsigned view of the same slot, which masks).
- ``memory.buffer`` is replaced when memory grows: every copy makes a fresh
  ``Uint8Array`` view; bulk copies use ``assign``/``assign_to`` (no per-byte conversion).
- Chrome refuses to compile modules over 8 MB synchronously on the main thread: the
  error says to run Python in a worker.
- Linear memory is a JS ArrayBuffer, so :meth:`WasmBuffer.view` is unavailable (``read``
  and ``write`` work).
- A WASI module gets imports that grant nothing (no arguments, environment or
  directories; descriptor calls fail with ENOTCAPABLE; ``proc_exit`` traps), like
  wasmtime's empty ``WasiConfig``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable

import js  # type: ignore[import-not-found]  # Pyodide only: the loader imports this module there alone
from pyodide.ffi import JsException, to_js  # type: ignore[import-not-found]

from .binding import Binding
from .engine import Loaded
from .exceptions import KernelError
from .manifest import Manifest, ManifestError

if TYPE_CHECKING:
    from .instance import Instance, Owner
    from .layout import ModuleFiles
    from .sandbox import Limits

SYNC_COMPILE_LIMIT = 8 * 1024 * 1024  # Chrome's limit for WebAssembly.Module on the main thread

# Engine messages of WebAssembly.RuntimeError -> wasmtime's trap codes (lower case).
# V8 (Chrome, Node), SpiderMonkey and JavaScriptCore texts; first match wins.
_TRAP_MESSAGES = (
    ("unreachable", "unreachable"),
    ("memory access out of bounds", "memory_out_of_bounds"),
    ("out of bounds memory access", "memory_out_of_bounds"),
    ("index out of bounds", "memory_out_of_bounds"),
    ("divide by zero", "integer_division_by_zero"),
    ("remainder by zero", "integer_division_by_zero"),
    ("division by zero", "integer_division_by_zero"),
    ("divide result unrepresentable", "integer_overflow"),
    ("integer overflow", "integer_overflow"),
    ("float unrepresentable in integer range", "bad_conversion_to_integer"),
    ("invalid conversion to integer", "bad_conversion_to_integer"),
    ("table index is out of bounds", "table_out_of_bounds"),
    ("null function", "indirect_call_to_null"),
    ("signature mismatch", "bad_signature"),
)
_STACK_MESSAGES = ("maximum call stack size exceeded", "too much recursion")


def trap_of(exc: BaseException) -> tuple[str | None, str]:
    """(trap code, message) of a JS exception raised by a wasm call."""
    message = str(getattr(exc, "message", "") or exc)
    lowered = message.lower()
    if any(s in lowered for s in _STACK_MESSAGES):
        return "stack_overflow", message
    for needle, code in _TRAP_MESSAGES:
        if needle in lowered:
            return code, message
    return None, message


class JsModule:
    """A compiled ``WebAssembly.Module`` and the wasm types of its exported functions."""

    def __init__(
        self, name: str, wasm: bytes, signatures: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]
    ) -> None:
        try:
            self.module = js.WebAssembly.Module.new(to_js(memoryview(wasm)))
        except JsException as exc:
            if len(wasm) > SYNC_COMPILE_LIMIT:
                raise KernelError(
                    f"{name}: the browser refused to compile the {len(wasm)}-byte wasm module "
                    f"synchronously ({exc}); browsers allow that only up to 8 MB on the main thread: "
                    "run Pyodide in a web worker"
                ) from exc
            from .exceptions import compile_error  # the error path only: says when the engine lacks SIMD

            raise compile_error(name, "the wasm module", str(exc)) from exc
        if not signatures:
            raise KernelError(
                f"{name}: the manifest records no export types (built by an older setuptools-wasm?); "
                "rebuild the package to run it under Pyodide"
            )
        self.signatures = dict(signatures)

    def imports(self, wasi: bool) -> tuple[Any, Any]:
        """(import object, WASI state whose ``memory`` the instance sets), for this module."""
        wanted = [(str(i.module), str(i.name)) for i in js.WebAssembly.Module.imports(self.module)]
        if not wanted:
            return js.Object.new(), None
        if not wasi:
            raise KernelError(f"the wasm module needs imports it was not built for: {wanted}")
        made = _WASI_NOTHING(to_js([f"{module}.{name}" for module, name in wanted]))
        return made.imports, made.state


# WASI preview 1 that grants nothing, as wasmtime's empty WasiConfig: no arguments, no
# environment, no preopened directories (fd_prestat_get answers EBADF, which is how
# wasi-libc's start-up learns there are none), every other descriptor call refused
# (ENOTCAPABLE); clocks and random work; proc_exit traps. Built from the module's imports.
_WASI_NOTHING = js.Function.new(
    "wanted",
    """
    const state = { memory: null };
    const view = () => new DataView(state.memory.buffer);
    const zeroPair = (a, b) => { const v = view(); v.setUint32(a, 0, true); v.setUint32(b, 0, true); return 0; };
    const known = {
      args_sizes_get: zeroPair, environ_sizes_get: zeroPair,
      args_get: () => 0, environ_get: () => 0,
      fd_prestat_get: () => 8, fd_prestat_dir_name: () => 8,
      proc_exit: (code) => { throw new WebAssembly.RuntimeError("unreachable: proc_exit(" + code + ")"); },
      clock_time_get: (id, precision, out) => {
        const ms = id === 0 ? Date.now() : performance.now();
        view().setBigUint64(out, BigInt(Math.round(ms * 1e6)), true);
        return 0;
      },
      random_get: (buf, len) => {
        for (let at = 0; at < len; at += 65536)
          crypto.getRandomValues(new Uint8Array(state.memory.buffer, buf + at, Math.min(65536, len - at)));
        return 0;
      },
    };
    const imports = {};
    for (const full of wanted) {
      const [module, name] = full.split(".");
      (imports[module] ??= {})[name] = known[name] ?? (() => 76);
    }
    return { state, imports };
    """,
)


class JsEngine:
    """The JavaScript engine's ``WebAssembly``, behind the loader's engine protocol (engine.py)."""

    def load(self, files: ModuleFiles, name: str) -> Loaded:
        try:
            wasm = files.wasm.read_bytes()
        except OSError as exc:
            raise KernelError(f"{name}: cannot load {files.wasm}: {exc}") from exc
        try:
            manifest = Manifest.read(files.manifest)
        except (OSError, ManifestError) as exc:
            raise KernelError(
                f"{name}: cannot read the manifest (it records the export types Pyodide needs): {exc}"
            ) from exc
        return Loaded(JsModule(name, wasm, manifest.exports), "wasm", 0)

    def instantiate(self, loaded: Loaded, owner: Owner, *, wasi: bool, limits: Limits | None) -> JsInstance:
        if limits is not None:
            raise KernelError(f"{owner.name}: sandbox() needs wasmtime; under Pyodide kernels run unsandboxed")
        return JsInstance(loaded.module, owner, wasi)

    def enforce(self, limits: Limits, owner: object) -> Callable[[], None]:
        raise KernelError("sandbox() needs wasmtime; under Pyodide kernels run unsandboxed")


ENGINE = JsEngine()


class JsInstance:
    """One instance in the JS engine, with bindings that convert the stub's raw slots."""

    def __init__(self, compiled: JsModule, owner: Owner, wasi: bool) -> None:
        self._compiled = compiled
        try:
            imports, wasi_state = compiled.imports(wasi)
            instance = js.WebAssembly.Instance.new(compiled.module, imports)
        except JsException as exc:
            raise KernelError(f"{owner.name}: cannot instantiate the wasm module: {exc}") from exc
        self._js_exports = instance.exports
        self.exports = set(compiled.signatures)
        self._memory: Any = getattr(self._js_exports, "memory", None)
        if wasi_state is not None:
            wasi_state.memory = self._memory
        self._u8 = js.Uint8Array.new
        if "_initialize" in self.exports:
            binding = self.bind("_initialize", None)
            if binding.call():
                owner.fail("_initialize", binding, 1)

    def bind(self, export: str, instance: Instance | None) -> Binding:
        func = getattr(self._js_exports, export, None)
        if func is None:
            raise KernelError(f"the wasm module has no function {export!r}")
        params, results = self._compiled.signatures[export]
        return _bind(instance, func, params, results)

    def memory_size(self, end: int) -> int:
        return int(self._memory.buffer.byteLength) if self._memory is not None else 0

    def copy_in(self, address: int, source: Any, nbytes: int) -> None:
        self._u8(self._memory.buffer, address, nbytes).assign(source)

    def copy_out(self, target: Any, address: int, nbytes: int) -> None:
        self._u8(self._memory.buffer, address, nbytes).assign_to(memoryview(target).cast("B"))

    def read(self, address: int, nbytes: int) -> bytes:
        return bytes(self._u8(self._memory.buffer, address, nbytes).to_bytes()) if nbytes else b""

    def window(self, address: int, nbytes: int) -> None:
        return None  # no view of a JavaScript ArrayBuffer: stubs stage through copy_in()

    def view(self, address: int, nbytes: int) -> memoryview:
        raise KernelError(
            "WasmBuffer.view() is not available under Pyodide (linear memory is a JavaScript "
            "ArrayBuffer); use WasmBuffer.read() and WasmBuffer.write()"
        )


def _bind(instance: Instance | None, func: Any, params: tuple[str, ...], results: tuple[str, ...]) -> Binding:
    """A binding whose ``call`` reads the raw slots, converts, calls the JS function, stores the result."""
    binding = Binding(instance, max(len(params), len(results), 1))
    readers: list[Callable[[], Any]] = []
    for i, kind in enumerate(params):
        if kind not in ("i32", "i64", "f32", "f64"):
            raise KernelError(f"a parameter of wasm type {kind} cannot be passed")
        view, index = binding.slot(kind, i)
        readers.append(_reader(view, index, js.BigInt if kind == "i64" else None))
    result = results[0] if results else None
    out_view = binding.slot(result, 0)[0] if result in ("i32", "i64", "f32", "f64") else None
    convert: Callable[[Any], Any] = float if result in ("f32", "f64") else int

    def call() -> int:
        try:
            value = func(*[read() for read in readers])
        except JsException as exc:
            binding.pending = trap_of(exc)
            return 1
        if out_view is not None:
            out_view[0] = convert(value)
        return 0

    binding.call = call
    binding.explain = _explain
    return binding


def _explain(binding: Binding, error: int) -> tuple[str | None, str]:
    failed, binding.pending = binding.pending, None
    if isinstance(failed, tuple):
        return failed[0], failed[1]
    return None, f"call failed (error {error})"


def _reader(view: Any, index: int, wrap: Callable[[Any], Any] | None) -> Callable[[], Any]:
    """Read one argument slot (wrapped in BigInt for i64)."""
    if wrap is None:
        return lambda: view[index]
    return lambda: wrap(view[index])
