"""Isolated kernel instances with limits, for untrusted input: timeout, memory cap, WASI grants.

A :class:`SandboxModule` is a :class:`~.KernelModule` of its own (own Stores, so
its own linear memory, one instance per thread) over the same ``.wasm``, and the stub
builds the same typed functions over it. Its limits:

- ``timeout``: the module runs on a second engine with epoch interruption (shared by all
  sandboxes of the process; its artifact is the ``.sandbox.cwasm`` the build precompiled,
  else compiled and cached like any module). A daemon thread advances the epoch every
  :data:`TICK` seconds while any sandbox with a timeout exists; every call first sets the
  Store's deadline to ``timeout`` worth of ticks, so a runaway call traps with
  ``interrupt`` (raised as :class:`~.errors.KernelTimeout`). ctypes releases the GIL during
  the call, so the timer thread runs. Sandboxes without a timeout keep the default
  engine and the module already loaded, and their calls cost what module-level calls cost.
- ``max_memory``: ``Store.set_limits(memory_size=...)``: ``memory.grow`` past it fails, so
  ``malloc`` returns NULL inside the kernel; a NULL allocation for a buffer argument
  raises ``MemoryError``.
- ``wasi``: a module built with ``wasi=True`` gets only what is granted here (stdio,
  argv, env, preopened directories); by default nothing, as module-level calls.

After a trap, a timeout or a failed allocation the calling thread's instance is
replaced, so a kernel never continues from the state a hostile input left behind.
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
import sys
import threading
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypedDict

from .engine import SANDBOX_SETTINGS, make_config
from .errors import KernelError, KernelTimeout, KernelTrap
from .fastcall import Binding, address_of, error_from, fast_available

# Names, not the module: a reference to the loader module from here changes the order in
# which interpreter shutdown clears modules, and wasmtime's Engine.__del__ then finds its
# FFI already gone ("Exception ignored in Managed.__del__").
from .loader import KernelModule, _Instance
from .loader import _get_engine as _default_engine
from .staging import Staging
from .units import SizeSpec, parse_size

if TYPE_CHECKING:
    import wasmtime

TICK = 0.01  # seconds per epoch tick: a timeout fires within about one tick of its deadline
WASM_PAGE = 1 << 16
WASI_GRANTS = frozenset({"stdin", "stdout", "stderr", "argv", "env", "preopens", "read_only"})


class WasiGrants(TypedDict, total=False):
    """What a sandbox grants a module built with ``wasi=True``; every key is optional.

    ``stdin``/``stdout``/``stderr``: share the process's stream (else closed); ``argv``,
    ``env``: what the module sees; ``preopens``: ``{guest path: host directory}``, the only
    files it can reach; ``read_only``: preopened directories cannot be written.
    """

    stdin: bool
    stdout: bool
    stderr: bool
    argv: list[str]
    env: dict[str, str]
    preopens: dict[str, str | os.PathLike[str]]
    read_only: bool


_engine: wasmtime.Engine | None = None
_engine_lock = threading.Lock()
_forked = False
# The epoch-engine Module of each stub's KernelModule, shared by all its timed sandboxes.
_epoch_modules: weakref.WeakKeyDictionary[KernelModule, tuple[wasmtime.Module, str | None]] = (
    weakref.WeakKeyDictionary()
)


def _get_engine() -> wasmtime.Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            import wasmtime

            config = make_config(settings=SANDBOX_SETTINGS)
            if _forked:  # as for the default engine: no parallel JIT in a forked child
                config.parallel_compilation = False
            _engine = wasmtime.Engine(config)
        return _engine


class _EpochTimer:
    """Advances the sandbox engine's epoch every :data:`TICK` while it has users.

    Users are the live sandboxes with a timeout; the thread exits when the last one is
    closed or collected, so a process without timed sandboxes has no timer at all.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
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
        stop = self._stop = threading.Event()
        engine = _get_engine()

        def run() -> None:
            while not stop.wait(TICK):
                engine.increment_epoch()

        threading.Thread(target=run, name="wasm-ext-epoch", daemon=True).start()

    def after_fork_in_child(self) -> None:
        """The child has no timer thread: start one if it inherited timed sandboxes."""
        self._lock = threading.Lock()
        self._stop = None
        if self.users:
            self._start()


_timer = _EpochTimer()


def _after_fork_in_child() -> None:
    global _engine, _engine_lock, _forked
    _engine, _engine_lock, _forked = None, threading.Lock(), True
    _epoch_modules.clear()
    _timer.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _check_timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"sandbox(): timeout must be a number of seconds, not {type(timeout).__name__}")
    if not (timeout > 0 and math.isfinite(timeout)):
        raise ValueError(f"sandbox(): timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


def _check_wasi(module: KernelModule, wasi: WasiGrants | Mapping[str, Any] | None) -> dict[str, Any]:
    if wasi is None:
        return {}
    if not isinstance(wasi, Mapping):
        raise TypeError(f"sandbox(): wasi must be a dict of grants, not {type(wasi).__name__}")
    if not module.wasi:
        raise ValueError(f"sandbox(): {module.name} was built without wasi=True: it imports no WASI to grant")
    unknown = sorted(set(wasi) - WASI_GRANTS)
    if unknown:
        raise ValueError(f"sandbox(): unknown WASI grant(s) {unknown}; known: {sorted(WASI_GRANTS)}")
    grants = dict(wasi)
    for key in ("stdin", "stdout", "stderr", "read_only"):
        if not isinstance(grants.get(key, False), bool):
            raise TypeError(f"sandbox(): wasi[{key!r}] must be True or False")
    argv = grants.get("argv", [])
    if not isinstance(argv, (list, tuple)) or not all(isinstance(a, str) for a in argv):
        raise TypeError("sandbox(): wasi['argv'] must be a list of str")
    env = grants.get("env", {})
    if not isinstance(env, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise TypeError("sandbox(): wasi['env'] must be a dict of str to str")
    preopens = grants.get("preopens", {})
    if not isinstance(preopens, Mapping):
        raise TypeError("sandbox(): wasi['preopens'] must be a dict {guest path: host directory}")
    resolved = {}
    for guest, host in preopens.items():
        if not isinstance(guest, str) or not isinstance(host, (str, os.PathLike)):
            raise TypeError("sandbox(): wasi['preopens'] must map str guest paths to host directories")
        host_dir = Path(host).resolve()
        if not host_dir.is_dir():
            raise ValueError(f"sandbox(): wasi['preopens'][{guest!r}]: {host_dir} is not a directory")
        resolved[guest] = str(host_dir)
    grants["preopens"] = resolved
    return grants


class SandboxModule(KernelModule):
    """One sandbox: the stub's module with its own instances and the limits it was given."""

    def __init__(
        self,
        parent: KernelModule,
        *,
        timeout: float | None = None,
        max_memory: SizeSpec = None,
        wasi: WasiGrants | Mapping[str, Any] | None = None,
    ) -> None:
        if sys.platform == "emscripten":
            raise KernelError(f"{parent.name}: sandbox() needs wasmtime; under Pyodide kernels run unsandboxed")
        self.timeout = _check_timeout(timeout)
        try:
            self.max_memory = parse_size(max_memory, what="sandbox(): max_memory")
        except TypeError:
            raise TypeError(f"sandbox(): max_memory must be a byte count or a string like '64MiB', not {max_memory!r}")
        self.grants = _check_wasi(parent, wasi)
        super().__init__(parent.name, str(parent.directory / f"{parent.stem}.py"), wasi=parent.wasi)
        self.parent = parent
        self.closed = False
        if self.timeout is not None:
            self.settings = SANDBOX_SETTINGS
            self.ticks = math.ceil(self.timeout / TICK) + 1  # +1: the next tick may come at once
            _timer.acquire()
            self._release = weakref.finalize(self, _timer.release)
        self._check_memory(self._get_module())  # also loads it now: errors belong to sandbox()

    def _check_memory(self, module: wasmtime.Module) -> None:
        import wasmtime

        if self.max_memory is None:
            return
        for export in module.exports:
            if isinstance(export.type, wasmtime.MemoryType):
                initial = export.type.limits.min * WASM_PAGE
                if self.max_memory < initial:
                    raise ValueError(
                        f"sandbox(): max_memory={self.max_memory} bytes is below the initial memory of "
                        f"{self.name} ({initial} bytes = {initial / (1 << 20):g} MiB)"
                    )

    # -- the hooks KernelModule and its instances call ----------------------------------

    def engine(self) -> wasmtime.Engine:
        return _default_engine() if self.timeout is None else _get_engine()

    def _get_module(self) -> Any:
        if self.timeout is None:  # same engine as the module-level functions: share their Module
            module = self.parent._get_module()
            self.loaded_from = self.parent.loaded_from
            return module
        with _engine_lock:
            found = _epoch_modules.get(self.parent)
        if found is None:
            found = (self._load(), self.loaded_from)
            with _engine_lock:
                found = _epoch_modules.setdefault(self.parent, found)
        self.loaded_from = found[1]
        return found[0]

    def new_store(self, engine: wasmtime.Engine) -> wasmtime.Store:
        store = super().new_store(engine)
        if self.max_memory is not None:
            store.set_limits(memory_size=self.max_memory)
        if self.timeout is not None:
            store.set_epoch_deadline(self.ticks)  # instantiation runs wasm (_initialize) too
        return store

    def wasi_config(self) -> wasmtime.WasiConfig:
        config = super().wasi_config()
        grants = self.grants
        if grants.get("stdin"):
            config.inherit_stdin()
        if grants.get("stdout"):
            config.inherit_stdout()
        if grants.get("stderr"):
            config.inherit_stderr()
        if grants.get("argv"):
            config.argv(list(grants["argv"]))
        if grants.get("env"):
            config.env(list(grants["env"].items()))
        for guest, host in grants.get("preopens", {}).items():
            config.preopen_dir(host, guest, fs_mutable=not grants.get("read_only", False))
        return config

    def instance(self) -> Staging:
        if self.closed:
            raise KernelError(f"{self.name}: the sandbox was closed")
        return super().instance()

    def _new_instance(self, module: Any) -> Staging:
        try:
            return _SandboxInstance(self, module)
        except Exception as exc:  # wasmtime.WasmtimeError, wasmtime.Trap
            raise KernelError(f"{self.name}: cannot instantiate the wasm module in the sandbox: {exc}") from exc

    def fail(self, function: str, binding: Binding, error: int) -> NoReturn:
        code, message = error_from(binding, error)
        self.discard_instance()
        if code == "interrupt" and self.timeout is not None:
            raise KernelTimeout(function, self.timeout)
        raise KernelTrap(function, code, message)

    def close(self) -> None:
        """Drop this thread's instance and stop counting towards the timer; later calls raise."""
        self.closed = True
        self.discard_instance()
        if self.timeout is not None:
            self._release()


class _SandboxInstance(_Instance):
    """An instance whose calls first set the epoch deadline and whose failed mallocs replace it."""

    owner: SandboxModule

    def binding(self, export: str) -> Binding:
        new = export not in self._bindings
        found = super().binding(export)
        if new and self.owner.timeout is not None:
            found.call = self._with_deadline(found.call)
        return found

    def _with_deadline(self, call: Any) -> Any:
        owner, ticks = self.owner, self.owner.ticks
        if fast_available():
            from wasmtime import _ffi as ffi

            setter = ctypes.CFUNCTYPE(None)(address_of(ffi.dll.wasmtime_context_set_epoch_deadline))
            context = ctypes.c_void_p(address_of(self.store._context()))
            set_deadline: Any = functools.partial(setter, context, ctypes.c_uint64(ticks))
        else:
            set_deadline = functools.partial(self.store.set_epoch_deadline, ticks)

        def call_with_deadline() -> int:
            if owner.closed:  # the timer may be gone: never run a timed call without it
                raise KernelError(f"{owner.name}: the sandbox was closed")
            set_deadline()
            result: int = call()
            return result

        return call_with_deadline

    def malloc(self, nbytes: int, function: str) -> int:
        try:
            return super().malloc(nbytes, function)
        except MemoryError:
            self.owner.discard_instance()
            raise
