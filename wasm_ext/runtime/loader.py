"""Load a kernel module lazily; give each thread its own instance and fast bindings.

One Engine per process and one Module per stub (deserialized or compiled on the first
call), one Store + Instance per thread: a wasmtime Store must never be used by two
threads at once (ctypes releases the GIL during calls). After ``fork`` the child drops
everything it inherited and loads afresh.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import sys
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from . import cache
from .engine import ENGINE_SETTINGS, config_fingerprint, host_target, make_config, wasmtime_version
from .errors import KernelError, KernelTrap
from .fastcall import Binding, address_of, bind_fast, bind_slow, error_from, fast_available
from .manifest import manifest_path, read_manifest
from .memory import WasmBuffer
from .staging import Staging

if TYPE_CHECKING:
    import wasmtime

_engine: wasmtime.Engine | None = None
_engine_lock = threading.Lock()
_forked = False
_modules: weakref.WeakSet[KernelModule] = weakref.WeakSet()
# Under Pyodide there is no wasmtime: the JavaScript engine runs the module (jsengine.py).
IN_BROWSER_ENGINE = sys.platform == "emscripten"


def _get_engine() -> wasmtime.Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            import wasmtime

            config = make_config()
            if _forked:  # a parallel JIT in a forked child can hang: compile serially there
                config.parallel_compilation = False
            _engine = wasmtime.Engine(config)
        return _engine


def _after_fork_in_child() -> None:
    global _engine, _engine_lock, _forked
    _engine, _engine_lock, _forked = None, threading.Lock(), True
    for module in list(_modules):
        module._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _Instance(Staging):
    """One thread's wasmtime Store + Instance and its bindings (staging: see :class:`Staging`)."""

    def __init__(self, owner: KernelModule, module: wasmtime.Module) -> None:
        import wasmtime

        super().__init__(owner)
        engine = owner.engine()
        self.store = owner.new_store(engine)
        if owner.wasi:
            linker = wasmtime.Linker(engine)
            linker.define_wasi()
            self.store.set_wasi(owner.wasi_config())
            instance = linker.instantiate(self.store, module)
        else:
            instance = wasmtime.Instance(self.store, module, [])
        exports = instance.exports(self.store)
        self.exports: dict[str, Any] = {e.name: exports[e.name] for e in module.exports}
        self.types = {e.name: e.type for e in module.exports}
        self._bindings: dict[str, Binding] = {}
        memory = self.exports.get("memory")
        self.memory = memory if isinstance(memory, wasmtime.Memory) else None
        self.span = self._make_span()
        self._known_base, self._known_size = self.span()
        if "_initialize" in self.exports:
            self.exports["_initialize"](self.store)

    def binding(self, export: str) -> Binding:
        found = self._bindings.get(export)
        if found is None:
            import wasmtime

            func = self.exports.get(export)
            ftype = self.types.get(export)
            if not isinstance(func, wasmtime.Func) or not isinstance(ftype, wasmtime.FuncType):
                raise KernelError(f"{self.owner.name}: the wasm module has no function {export!r}")
            params = tuple(str(t) for t in ftype.params)
            results = tuple(str(t) for t in ftype.results)
            if fast_available():
                found = bind_fast(self, self.store, func, max(len(params), len(results)))
            else:
                found = bind_slow(self, self.store, func, params, results)
            self._bindings[export] = found
        return found

    def _make_span(self) -> Any:
        """A function returning (base address, size) of linear memory, read anew."""
        memory, store = self.memory, self.store
        if memory is None:
            return lambda: (0, 0)
        if fast_available():
            from wasmtime import _ffi as ffi

            context = ctypes.c_void_p(address_of(store._context()))
            handle = ctypes.c_void_p(ctypes.addressof(memory._memory))
            data = ctypes.CFUNCTYPE(ctypes.c_size_t)(address_of(ffi.dll.wasmtime_memory_data))
            size = ctypes.CFUNCTYPE(ctypes.c_size_t)(address_of(ffi.dll.wasmtime_memory_data_size))
            data_call = functools.partial(data, context, handle)
            size_call = functools.partial(size, context, handle)
            return lambda: (data_call(), size_call())
        return lambda: (ctypes.addressof(memory.data_ptr(store).contents), memory.data_len(store))

    def _base(self, end: int) -> tuple[int, int]:
        """(base, size) of linear memory, re-read only when *end* lies past the size we know.

        The engine never moves memory (``memory_may_move=False``), so only the size can be
        stale, and only ever too small.
        """
        if end > self._known_size:
            self._known_base, self._known_size = self.span()
        return self._known_base, self._known_size

    def memory_size(self, end: int) -> int:
        return self._base(end)[1]

    def copy_in(self, address: int, source: Any, nbytes: int) -> None:
        base = self._base(address + nbytes)[0]
        if type(source) is bytes:
            ctypes.memmove(base + address, source, nbytes)
        else:
            memoryview((ctypes.c_ubyte * nbytes).from_address(base + address)).cast("B")[:] = source

    def copy_out(self, target: Any, address: int, nbytes: int) -> None:
        target[:] = self.view(address, nbytes)

    def view(self, address: int, nbytes: int) -> memoryview:
        base = self._base(address + nbytes)[0]
        flat: memoryview = memoryview((ctypes.c_ubyte * nbytes).from_address(base + address)).cast("B")
        return flat

    def read(self, address: int, nbytes: int) -> bytes:
        return self.view(address, nbytes).tobytes()


class KernelModule:
    """The wasm module behind one generated stub; nothing is loaded until the first call.

    Generated stubs use :attr:`local` (this thread's bindings, by export name),
    :meth:`bind` (make one) and :meth:`fail` (turn a failed call into ``KernelTrap``).
    A sandbox (``runtime.sandbox``) is a subclass that overrides the engine, store and WASI hooks.
    """

    settings: dict[str, Any] = ENGINE_SETTINGS  # the engine config its artifacts must match

    def __init__(self, module_name: str, stub_file: str, *, wasi: bool = False) -> None:
        self.name = module_name
        self.directory = Path(os.path.dirname(os.path.abspath(stub_file)))
        self.stem = module_name.rpartition(".")[2]
        self.wasi = wasi
        self.local = threading.local()  # export name -> Binding, per thread
        self._instances = threading.local()
        self._module: Any = None  # wasmtime.Module, or a jsengine.JsModule under Pyodide
        self._lock = threading.Lock()
        self.loaded_from: str | None = None  # "precompiled", "cache" or "wasm"
        _modules.add(self)

    def _reset_after_fork(self) -> None:
        self._module = None
        self._lock = threading.Lock()
        self.local.__dict__.clear()
        self._instances.__dict__.clear()

    # -- loading -----------------------------------------------------------------------

    def engine(self) -> wasmtime.Engine:
        return _get_engine()

    def new_store(self, engine: wasmtime.Engine) -> wasmtime.Store:
        import wasmtime

        return wasmtime.Store(engine)

    def wasi_config(self) -> wasmtime.WasiConfig:
        """What a module built with ``wasi=True`` may use: here nothing at all."""
        import wasmtime

        return wasmtime.WasiConfig()

    def _get_module(self) -> Any:
        with self._lock:
            if self._module is None:
                self._module = self._load_js() if IN_BROWSER_ENGINE else self._load()
            return self._module

    def _load_js(self) -> Any:
        from .jsengine import JsModule

        wasm_file = self.directory / f"{self.stem}.wasm"
        try:
            wasm = wasm_file.read_bytes()
        except OSError as exc:
            raise KernelError(f"{self.name}: cannot load {wasm_file}: {exc}") from exc
        manifest = read_manifest(manifest_path(self.directory, self.stem))
        self.loaded_from = "wasm"
        return JsModule(self, wasm, manifest.get("exports", {}))

    def _load(self) -> wasmtime.Module:
        import wasmtime

        engine = self.engine()
        manifest = read_manifest(manifest_path(self.directory, self.stem))
        target, fingerprint, version = host_target(), config_fingerprint(self.settings), wasmtime_version()
        for artifact in manifest.get("precompiled", []):
            if not (
                isinstance(artifact, dict)
                and artifact.get("target") == target
                and artifact.get("config") == fingerprint
                and str(artifact.get("wasmtime", "")).split(".")[0] == version.split(".")[0]
                and isinstance(artifact.get("file"), str)
            ):
                continue
            try:
                data = (self.directory / os.path.basename(artifact["file"])).read_bytes()
            except OSError:
                continue
            # Only bytes whose hash the build recorded are ever deserialized.
            if hashlib.sha256(data).hexdigest() == artifact.get("sha256"):
                module = self._deserialize(data)
                if module is not None:
                    self.loaded_from = "precompiled"
                    return module

        wasm_file = self.directory / f"{self.stem}.wasm"
        try:
            wasm = wasm_file.read_bytes()
        except OSError as exc:
            raise KernelError(f"{self.name}: cannot load {wasm_file}: {exc}") from exc
        entry = cache.entry_path(hashlib.sha256(wasm).hexdigest(), target, version, fingerprint)
        cached = cache.load(entry)
        if cached is not None:
            module = self._deserialize(cached)
            if module is not None:
                self.loaded_from = "cache"
                return module
        try:
            module = wasmtime.Module(engine, wasm)
        except wasmtime.WasmtimeError as exc:
            raise KernelError(f"{self.name}: cannot compile {wasm_file}: {exc}") from exc
        cache.store(entry, bytes(module.serialize()))
        self.loaded_from = "wasm"
        return module

    def _deserialize(self, data: bytes) -> wasmtime.Module | None:
        import wasmtime

        try:
            return wasmtime.Module.deserialize(self.engine(), data)
        except wasmtime.WasmtimeError:
            return None

    # -- per-thread instances ------------------------------------------------------------

    def instance(self) -> Staging:
        inst: Staging | None = getattr(self._instances, "instance", None)
        if inst is None:
            inst = self._instances.instance = self._new_instance(self._get_module())
        return inst

    def _new_instance(self, module: Any) -> Staging:
        """A new instance for the calling thread (a sandbox makes its own kind)."""
        if IN_BROWSER_ENGINE:
            from .jsengine import JsInstance

            return JsInstance(self, module)
        try:
            return _Instance(self, module)
        except Exception as exc:  # wasmtime.WasmtimeError, wasmtime.Trap
            raise KernelError(f"{self.name}: cannot instantiate the wasm module: {exc}") from exc

    def bind(self, export: str) -> Binding:
        """This thread's binding for *export* (made on first use, then kept in :attr:`local`)."""
        binding = self.instance().binding(export)
        setattr(self.local, export, binding)
        return binding

    def discard_instance(self) -> None:
        inst: Staging | None = getattr(self._instances, "instance", None)
        if inst is not None:
            inst.dead = True
            inst._bindings.clear()  # break the instance <-> binding cycle: the Store is freed now, not at a GC
        self._instances.__dict__.clear()
        self.local.__dict__.clear()

    def fail(self, function: str, binding: Binding, error: int) -> NoReturn:
        """Raise :class:`KernelTrap` for a failed call and drop this thread's instance."""
        code, message = error_from(binding, error)
        self.discard_instance()
        raise KernelTrap(function, code, message)

    def alloc(self, nbytes: int) -> WasmBuffer:
        """A buffer of *nbytes* inside this thread's instance (see :class:`WasmBuffer`)."""
        if not isinstance(nbytes, int) or nbytes < 0:
            raise ValueError(f"alloc(): nbytes must be a non-negative int, got {nbytes!r}")
        inst = self.instance()
        return WasmBuffer(inst, inst.malloc(nbytes, "alloc"), nbytes)
