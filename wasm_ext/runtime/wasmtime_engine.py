"""Everything that touches wasmtime: engine configs, engines, loading, instances, fast calls.

- **Configs.** Two engine configurations, :data:`DEFAULT` for module-level calls and
  :data:`EPOCH` (epoch interruption) for sandboxes with a timeout. A precompiled artifact
  loads only into an engine of the config it was compiled for, so the build precompiles
  one per config and the manifest records each config's :meth:`EngineConfig.fingerprint`.
- **Engines.** One :class:`WasmtimeEngine` per config and process, its ``wasmtime.Engine``
  made on first use; after ``fork`` the child drops what it inherited and compiles
  serially (a parallel JIT after fork can hang).
- **Loading.** A precompiled artifact whose target, wasmtime major version, config
  fingerprint and sha256 match the manifest; else the per-user cache (``module_cache``);
  else the portable ``.wasm``, compiled and cached. Only bytes whose hash was recorded are
  ever deserialized.
- **Instances.** One Store + Instance per thread (a Store must never be used by two
  threads at once: ctypes releases the GIL during calls). A sandbox's limits become store
  limits, a per-call epoch deadline and a ``WasiConfig`` of only what was granted.
- **Fast calls.** ``Func.__call__`` re-reads the function type and boxes every value
  (13-25 us a call). A fast binding calls ``wasmtime_func_call_unchecked`` through a C
  function pointer with its arguments bound once (~0.5 us). That needs wasmtime-py
  internals; :func:`private_api` checks every one of them at once, and without them (or
  with ``WASM_EXT_SLOW_CALLS=1``) bindings use the public API, slower but the same.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import platform
import sys
import time
from _thread import allocate_lock  # threading.Lock: threading itself only for a sandbox's timer
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from . import exit_guard
from .binding import Binding
from .digest import sha256_hex
from .engine import Loaded
from .exceptions import KernelError
from .manifest import Artifact, Manifest, ManifestError

if TYPE_CHECKING:
    import threading
    from collections.abc import Mapping

    import wasmtime

    from .instance import Instance, Owner
    from .layout import ModuleFiles
    from .sandbox import Limits

TICK = 0.01  # seconds per epoch tick: a timeout fires within about one tick of its deadline
WASM_PAGE = 1 << 16


# -- configurations -----------------------------------------------------------------------


class EngineConfig(NamedTuple):
    """Non-default ``wasmtime.Config`` settings; artifacts compiled with one load only into it."""

    tag: str  # in artifact file names: "" (default) or ".sandbox"
    settings: tuple[tuple[str, Any], ...]

    def fingerprint(self) -> str:
        """A short hash of the settings: equal fingerprints mean compatible configs."""
        blob = json.dumps(dict(self.settings), sort_keys=True).encode()
        return sha256_hex(blob)[:16]


# memory_may_move=False: linear memory never moves, so an instance keeps its base address
# instead of asking wasmtime before every copy. Change a setting and the fingerprint
# changes, so old artifacts are ignored rather than misloaded.
DEFAULT = EngineConfig("", (("memory_may_move", False),))
# For sandbox(timeout=...): code checks an epoch counter at loop heads and calls, which
# a timer thread advances.
EPOCH = EngineConfig(".sandbox", (("epoch_interruption", True), ("memory_may_move", False)))
CONFIGS = (DEFAULT, EPOCH)

_ARCHES = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "aarch64",
    "arm64": "aarch64",
    "riscv64": "riscv64",
    "s390x": "s390x",
}


def host_target() -> str | None:
    """The wasmtime target triple of this host, or ``None`` where we do not know it."""
    arch = _ARCHES.get(platform.machine().lower())
    if arch is None:
        return None
    if sys.platform.startswith("linux"):
        libc = platform.libc_ver()[0]
        return f"{arch}-unknown-linux-{'gnu' if libc == 'glibc' else 'musl'}"
    if sys.platform == "darwin":
        return f"{arch}-apple-darwin"
    if sys.platform == "win32":
        return f"{arch}-pc-windows-msvc"
    return None


@functools.cache
def wasmtime_version() -> str:
    """The version of the wasmtime-py that is imported: from the one ``wasmtime-*.dist-info`` beside it.

    ``importlib.metadata`` costs more to import (~50 ms) than wasmtime itself, on every
    first call; it answers only where the directory does not (a zip, an egg, two copies).
    """
    import wasmtime

    site = os.path.dirname(os.path.dirname(os.path.abspath(wasmtime.__file__)))
    try:
        found = [e for e in os.listdir(site) if e.startswith("wasmtime-") and e.endswith(".dist-info")]
    except OSError:
        found = []
    if len(found) == 1 and found[0][len("wasmtime-")].isdigit():
        return found[0][len("wasmtime-") : -len(".dist-info")]
    from importlib.metadata import version

    return version("wasmtime")


def make_config(config: EngineConfig, target: str | None = None) -> wasmtime.Config:
    """A ``wasmtime.Config`` of *config*; *target* only for precompiling.

    Setting the target to the host triple makes the artifact record no host-specific CPU
    features, so it loads on any CPU of that arch and OS. Never another triple: some
    cross targets abort the process in ``Engine()``.
    """
    import wasmtime

    made = wasmtime.Config()
    for key, value in config.settings:
        setattr(made, key, value)
    if target is not None:
        made.target = target
    return made


# -- wasmtime-py internals ------------------------------------------------------------------

# The function-pointer type: arguments untyped (we pass ctypes objects, converted by
# reference at C speed), result the error pointer as an integer (0: no error).
_RAW_CALL = ctypes.CFUNCTYPE(ctypes.c_size_t)
_SIZE_CALL = ctypes.CFUNCTYPE(ctypes.c_size_t)
_VOID_CALL = ctypes.CFUNCTYPE(None)


class PrivateApi(NamedTuple):
    """The wasmtime-py internals fast calls use; :func:`private_api` checks them all at once."""

    call_unchecked: Any  # wasmtime_func_call_unchecked, as a bare C function pointer
    memory_data: Any
    memory_data_size: Any
    set_epoch_deadline: Any
    trap_type: Any  # ffi.wasm_trap_t
    error_type: Any  # ffi.wasmtime_error_t
    trap_from_ptr: Callable[[Any], Any]
    error_from_ptr: Callable[[Any], Any]


def address_of(pointer: Any) -> int:
    """The address held by a ctypes pointer or function pointer (never NULL here)."""
    value = ctypes.cast(pointer, ctypes.c_void_p).value
    if value is None:
        raise ValueError("NULL pointer")
    return value


@functools.cache
def private_api() -> PrivateApi | None:
    """wasmtime-py's internals if every one this module uses is there, else ``None``.

    Used: ``_ffi.dll`` symbols, ``_ffi`` pointer types, ``Store._context()``,
    ``Func._func``, ``Memory._memory``, ``Trap._from_ptr`` and ``WasmtimeError._from_ptr``.
    """
    if os.environ.get("WASM_EXT_SLOW_CALLS", "") not in ("", "0"):
        return None
    try:
        import wasmtime
        from wasmtime import _ffi as ffi

        dll = ffi.dll
        api = PrivateApi(
            call_unchecked=_RAW_CALL(address_of(dll.wasmtime_func_call_unchecked)),
            memory_data=_SIZE_CALL(address_of(dll.wasmtime_memory_data)),
            memory_data_size=_SIZE_CALL(address_of(dll.wasmtime_memory_data_size)),
            set_epoch_deadline=_VOID_CALL(address_of(dll.wasmtime_context_set_epoch_deadline)),
            trap_type=ffi.wasm_trap_t,
            error_type=ffi.wasmtime_error_t,
            trap_from_ptr=wasmtime.Trap._from_ptr,
            error_from_ptr=wasmtime.WasmtimeError._from_ptr,
        )
        members = (
            callable(getattr(wasmtime.Store, "_context", None)),
            "_func" in getattr(wasmtime.Func, "__annotations__", {}),
            "_memory" in getattr(wasmtime.Memory, "__annotations__", {}),
        )
    except (ImportError, AttributeError, ValueError):  # pragma: no cover - depends on the installed wasmtime
        return None
    return api if all(members) else None


def fast_calls() -> bool:
    """Whether bindings call wasmtime's C API directly (see :func:`private_api`)."""
    return private_api() is not None


# -- engines ------------------------------------------------------------------------------


class WasmtimeEngine:
    """One ``wasmtime.Engine`` of one :class:`EngineConfig`, made on first use."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._engine: wasmtime.Engine | None = None
        self._lock = allocate_lock()
        self.timer = _EpochTimer(self) if dict(config.settings).get("epoch_interruption") else None

    def get(self) -> wasmtime.Engine:
        with self._lock:
            if self._engine is None:
                import wasmtime

                made = make_config(self.config)
                if _forked:  # a parallel JIT in a forked child can hang: compile serially there
                    made.parallel_compilation = False
                self._engine = wasmtime.Engine(made)
                exit_guard.keep(self._engine)
            return self._engine

    def _after_fork_in_child(self) -> None:
        self._engine, self._lock = None, allocate_lock()
        if self.timer is not None:
            self.timer.after_fork_in_child()

    # -- the engine protocol (engine.py) -----------------------------------------------

    def load(self, files: ModuleFiles, name: str) -> Loaded:
        import wasmtime

        engine = self.get()
        target, version, fingerprint = host_target(), wasmtime_version(), self.config.fingerprint()
        for artifact in _artifacts(files, target, version, fingerprint):
            try:
                data = files.named(artifact.file).read_bytes()
            except OSError:
                continue
            # Only bytes whose hash the build recorded are ever deserialized.
            if sha256_hex(data) == artifact.sha256:
                module = _deserialize(engine, data)
                if module is not None:
                    return _loaded(module, "precompiled")
        try:
            wasm = files.wasm.read_bytes()
        except OSError as exc:
            raise KernelError(f"{name}: cannot load {files.wasm}: {exc}") from exc
        from . import module_cache  # only when no shipped artifact fits

        entry = module_cache.entry_path(sha256_hex(wasm), target, version, fingerprint)
        cached = module_cache.load(entry)
        if cached is not None:
            module = _deserialize(engine, cached)
            if module is not None:
                return _loaded(module, "cache")
        try:
            module = wasmtime.Module(engine, wasm)
        except wasmtime.WasmtimeError as exc:
            from .exceptions import compile_error  # the error path only: says when the engine lacks SIMD

            raise compile_error(name, str(files.wasm), str(exc)) from exc
        module_cache.store(entry, bytes(module.serialize()))
        return _loaded(module, "wasm")

    def instantiate(self, loaded: Loaded, owner: Owner, *, wasi: bool, limits: Limits | None) -> WasmtimeInstance:
        try:
            return WasmtimeInstance(self, loaded.module, owner, wasi=wasi, limits=limits)
        except Exception as exc:  # wasmtime.WasmtimeError, wasmtime.Trap
            exit_guard.keep(exc)  # chained below: a kept KernelError keeps it
            where = " in the sandbox" if limits is not None else ""
            raise KernelError(f"{owner.name}: cannot instantiate the wasm module{where}: {exc}") from exc

    def enforce(self, limits: Limits, owner: object) -> Callable[[], None]:
        if limits.timeout is None or self.timer is None:
            return _nothing
        self.timer.acquire()
        import weakref

        return weakref.finalize(owner, self.timer.release)  # calling it releases, once


def _nothing() -> None:
    pass


def _artifacts(files: ModuleFiles, target: str | None, version: str, fingerprint: str) -> list[Artifact]:
    """The manifest's artifacts for this engine and host; none when it is missing or unreadable
    (the portable ``.wasm`` still loads)."""
    try:
        return Manifest.read(files.manifest).artifacts_for(target, version, fingerprint)
    except (OSError, ManifestError):
        return []


def _deserialize(engine: wasmtime.Engine, data: bytes) -> wasmtime.Module | None:
    import wasmtime

    try:
        return wasmtime.Module.deserialize(engine, data)
    except wasmtime.WasmtimeError:
        return None


def _loaded(module: wasmtime.Module, loaded_from: str) -> Loaded:
    import wasmtime

    exit_guard.keep(module)
    initial = 0
    for export in module.exports:
        if isinstance(export.type, wasmtime.MemoryType):
            initial = max(initial, export.type.limits.min * WASM_PAGE)
    return Loaded(module, loaded_from, initial)


class _EpochTimer:
    """Advances an engine's epoch every :data:`TICK` while it has users.

    Users are the live sandboxes with a timeout; the thread exits when the last one is
    closed or collected, so a process without timed sandboxes has no timer at all.
    """

    def __init__(self, engine: WasmtimeEngine) -> None:
        self._engine = engine
        self._lock = allocate_lock()
        self.users = 0
        self._stop: threading.Event | None = None

    def acquire(self) -> None:
        with self._lock:
            self.users += 1
            if self._stop is None:
                self._start()

    def release(self) -> None:
        with self._lock:
            self.users -= 1
            if self.users == 0 and self._stop is not None:
                self._stop.set()
                self._stop = None

    def _start(self) -> None:
        import threading

        stop = self._stop = threading.Event()
        engine = self._engine.get()

        def run() -> None:
            # time.sleep, not stop.wait(TICK): on free-threaded CPython a timed lock wait first
            # spins 40 sched_yield()s, and with the other cores busy each yield gives a whole
            # time slice away (measured: 68 ms per 10 ms tick, a 0.5 s timeout firing after 3 s).
            # One tick per wake-up, never more: a late wake-up makes a timeout late, while
            # catching up with the clock would make a call that began just before it time out
            # early (one did, by 1.5 ms, in CI), and a call must get all the time it was given.
            while not stop.is_set():
                time.sleep(TICK)
                engine.increment_epoch()

        threading.Thread(target=run, name="wasm-ext-epoch", daemon=True).start()

    def after_fork_in_child(self) -> None:
        """The child has no timer thread: start one if it inherited timed sandboxes."""
        self._lock = allocate_lock()
        self._stop = None
        if self.users:
            self._start()


DEFAULT_ENGINE = WasmtimeEngine(DEFAULT)
EPOCH_ENGINE = WasmtimeEngine(EPOCH)
_forked = False


def engine_for(limits: Limits | None) -> WasmtimeEngine:
    """The engine whose config enforces *limits* (a timeout needs epoch interruption)."""
    return EPOCH_ENGINE if limits is not None and limits.timeout is not None else DEFAULT_ENGINE


def _after_fork_in_child() -> None:
    global _forked
    _forked = True
    for engine in (DEFAULT_ENGINE, EPOCH_ENGINE):
        engine._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# -- instances ----------------------------------------------------------------------------


class WasmtimeInstance:
    """One thread's Store + Instance: bindings and raw access to linear memory."""

    def __init__(
        self, engine: WasmtimeEngine, module: wasmtime.Module, owner: Owner, *, wasi: bool, limits: Limits | None
    ) -> None:
        import wasmtime

        self._owner = owner
        self._api = private_api()
        store = self.store = wasmtime.Store(engine.get())
        exit_guard.keep(store)  # a kept traceback (a KernelTimeout) can keep a replaced instance's Store
        self._ticks = 0
        if limits is not None:
            if limits.max_memory is not None:
                store.set_limits(memory_size=limits.max_memory)
            if limits.timeout is not None:
                import math

                self._ticks = math.ceil(limits.timeout / TICK) + 1  # +1: the next tick may come at once
                store.set_epoch_deadline(self._ticks)  # instantiation runs wasm (_initialize) too
        if wasi:
            linker = wasmtime.Linker(engine.get())
            exit_guard.keep(linker)
            linker.define_wasi()
            store.set_wasi(_wasi_config(limits.wasi if limits is not None else {}))
            instance = linker.instantiate(store, module)
        else:
            instance = wasmtime.Instance(store, module, [])
        # By the instance's own exports: the module's list makes a type object per export (500
        # exports: ~40 ms); a function's type is read when it is bound, for the ones called.
        exports = instance.exports(store)
        self._funcs: dict[str, Any] = {name: e for name, e in exports.items() if isinstance(e, wasmtime.Func)}
        memory = exports.get("memory")
        self.exports = self._funcs.keys()
        self.memory = memory if isinstance(memory, wasmtime.Memory) else None
        self._context = ctypes.c_void_p(address_of(store._context())) if self._api is not None else None
        self.span = self._make_span()
        self._known_base, self._known_size = self.span()
        self._flat = _flat_view(self._known_base, self._known_size)
        if "_initialize" in self._funcs:
            self._funcs["_initialize"](store)

    def bind(self, export: str, instance: Instance) -> Binding:
        func = self._funcs[export]
        ftype = func.type(self.store)
        params = tuple(str(t) for t in ftype.params)
        results = tuple(str(t) for t in ftype.results)
        binding = Binding(instance, max(len(params), len(results)))
        if self._api is not None:
            self._bind_fast(binding, func, max(len(params), len(results)))
        else:
            self._bind_slow(binding, func, params, results)
        if self._ticks:
            binding.call = self._with_deadline(binding.call)
        return binding

    def _bind_fast(self, binding: Binding, func: wasmtime.Func, slots: int) -> None:
        assert self._api is not None
        binding.call = functools.partial(  # the bound arguments keep their ctypes objects alive
            self._api.call_unchecked,
            self._context,
            ctypes.c_void_p(ctypes.addressof(func._func)),
            ctypes.c_void_p(ctypes.addressof(binding.raw)),
            ctypes.c_size_t(slots),
            ctypes.c_void_p(ctypes.addressof(binding.trap)),
        )
        binding.explain = _explain_fast

    def _bind_slow(
        self, binding: Binding, func: wasmtime.Func, params: tuple[str, ...], results: tuple[str, ...]
    ) -> None:
        """The same protocol through ``Func.__call__`` (public API only)."""
        store = self.store
        readers = [binding.slot(t, i) for i, t in enumerate(params)]
        out = binding.slot(results[0], 0) if results else None

        def call() -> int:
            args = [view[index] for view, index in readers]
            try:
                value = func(store, *args)
            except Exception as exc:  # noqa: BLE001 - wasmtime.Trap, wasmtime.WasmtimeError, explained by fail()
                binding.pending = exc
                return 1
            if out is not None:
                out[0][out[1]] = value
            return 0

        binding.call = call
        binding.explain = _explain_pending

    def _with_deadline(self, call: Callable[[], int]) -> Callable[[], int]:
        """*call* that first sets this Store's epoch deadline, and refuses to run once the sandbox is closed."""
        owner, ticks = self._owner, self._ticks
        if self._api is not None:
            set_deadline: Any = functools.partial(self._api.set_epoch_deadline, self._context, ctypes.c_uint64(ticks))
        else:
            set_deadline = functools.partial(self.store.set_epoch_deadline, ticks)

        def call_with_deadline() -> int:
            if owner.closed:  # the timer may be gone: never run a timed call without it
                raise KernelError(f"{owner.name}: the sandbox was closed")
            set_deadline()
            return call()

        return call_with_deadline

    # -- linear memory -------------------------------------------------------------------

    def _make_span(self) -> Callable[[], tuple[int, int]]:
        """A function returning (base address, size) of linear memory, read anew."""
        memory, store, api = self.memory, self.store, self._api
        if memory is None:
            return lambda: (0, 0)
        if api is not None:
            handle = ctypes.c_void_p(ctypes.addressof(memory._memory))
            data_call = functools.partial(api.memory_data, self._context, handle)
            size_call = functools.partial(api.memory_data_size, self._context, handle)
            return lambda: (data_call(), size_call())
        return lambda: (ctypes.addressof(memory.data_ptr(store).contents), memory.data_len(store))

    def _base(self, end: int) -> tuple[int, int]:
        """(base, size) of linear memory, re-read only when *end* lies past the size we know.

        The engine never moves memory (``memory_may_move=False``), so only the size can be
        stale, and only ever too small.
        """
        if end > self._known_size:
            self._known_base, self._known_size = self.span()
            self._flat = _flat_view(self._known_base, self._known_size)
        return self._known_base, self._known_size

    def memory_size(self, end: int) -> int:
        return self._base(end)[1]

    # Memory is read and written through one flat view of all of it, made again only when it
    # grows (it never moves): a slice of it costs far less than a ctypes array made per call.

    def copy_in(self, address: int, source: Any, nbytes: int) -> None:
        end = address + nbytes
        if end > self._known_size:
            self._base(end)
        self._flat[address:end] = source

    def copy_out(self, target: Any, address: int, nbytes: int) -> None:
        target[:] = self.view(address, nbytes)

    def view(self, address: int, nbytes: int) -> memoryview:
        end = address + nbytes
        if end > self._known_size:
            self._base(end)
        return self._flat[address:end]

    def read(self, address: int, nbytes: int) -> bytes:
        return self.view(address, nbytes).tobytes()

    def window(self, address: int, nbytes: int) -> memoryview:
        return self.view(address, nbytes)  # valid while the Store lives: memory never moves


def _flat_view(base: int, size: int) -> memoryview:
    """All of linear memory as one writable byte view (empty for a module without memory)."""
    if not size:
        return memoryview(bytearray())
    return memoryview((ctypes.c_ubyte * size).from_address(base)).cast("B")


def _wasi_config(grants: Mapping[str, Any]) -> wasmtime.WasiConfig:
    """A ``WasiConfig`` granting exactly *grants* (see ``sandbox.WasiGrants``); empty: nothing at all."""
    import wasmtime

    config = wasmtime.WasiConfig()
    if grants.get("stdin"):
        config.inherit_stdin()
    if grants.get("stdout"):
        config.inherit_stdout()
    if grants.get("stderr"):
        config.inherit_stderr()
    if grants.get("argv"):
        config.argv = list(grants["argv"])  # properties (write-only) in wasmtime-py, not methods
    if grants.get("env"):
        config.env = list(grants["env"].items())
    for guest, host in grants.get("preopens", {}).items():
        config.preopen_dir(host, guest, fs_mutable=not grants.get("read_only", False))
    return config


# -- failed calls -------------------------------------------------------------------------


def _trap_code(trap: Any) -> str | None:
    return trap.trap_code.name.lower() if trap.trap_code is not None else None


def _explain_fast(binding: Binding, error: int) -> tuple[str | None, str]:
    """(trap code, message) of a failed fast call: from the trap slot or the error pointer."""
    api = private_api()
    assert api is not None
    if binding.trap[0]:
        pointer = ctypes.cast(binding.trap[0], ctypes.POINTER(api.trap_type))
        binding.trap[0] = None
        trap = api.trap_from_ptr(pointer)
        return _trap_code(trap), str(trap.message)
    pointer_e = ctypes.cast(ctypes.c_void_p(error), ctypes.POINTER(api.error_type))
    return None, str(api.error_from_ptr(pointer_e))


def _explain_pending(binding: Binding, error: int) -> tuple[str | None, str]:
    """(trap code, message) of a failed public-API call: the exception it raised."""
    import wasmtime

    exc, binding.pending = binding.pending, None
    if isinstance(exc, wasmtime.Trap):
        return _trap_code(exc), exc.message
    return None, str(exc)
