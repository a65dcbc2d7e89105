"""The module behind one generated stub: it picks the engine and keeps one instance per thread.

Nothing is loaded at import. The first call picks the engine (wasmtime on CPython, the
JavaScript engine under Pyodide, see engine.py), which loads the module once per process
and engine, and gives each thread its own instance (a wasmtime Store must never be used
by two threads at once). A sandbox is another ``KernelModule`` over the same files with
:class:`~.sandbox.Limits`; it shares the stub's loaded module when its engine is the
same. After ``fork`` the child drops everything it inherited and loads afresh.

Importing a stub costs next to nothing: this module needs only what a fresh interpreter
has already loaded (``_thread`` stands in for ``threading``), and everything the first call
needs (the engine, instances, the files' names, sandboxes' limits) is imported by it.
"""

from __future__ import annotations

import os
import sys
from _thread import _local as thread_local  # threading.local, without importing threading
from _thread import allocate_lock  # threading.Lock

from .arguments import check_int
from .buffer import WasmBuffer
from .exceptions import KernelError, KernelTimeout, KernelTrap, not_picklable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    import weakref
    from collections.abc import Mapping
    from typing import Any, Callable, NoReturn

    from .binding import Binding
    from .engine import Engine, Loaded
    from .instance import Instance
    from .layout import ModuleFiles
    from .sandbox import Limits, WasiGrants
    from .units import SizeSpec

# the modules that have loaded something, for the fork handler (made by the first load)
_modules: weakref.WeakSet[KernelModule] | None = None
_modules_lock = allocate_lock()


def _in_browser() -> bool:
    """Under Pyodide there is no wasmtime: the JavaScript engine runs the module (js_engine.py)."""
    return sys.platform == "emscripten"


def _choose_engine(limits: Limits | None) -> Engine:
    if _in_browser():
        from .js_engine import ENGINE

        return ENGINE
    from .wasmtime_engine import engine_for

    return engine_for(limits)


class KernelModule:
    """The wasm module behind one generated stub (or one sandbox of it).

    Generated stubs use :attr:`local` (this thread's bindings, by export name),
    :meth:`bind` (make one) and :meth:`fail` (turn a failed call into ``KernelTrap``).
    """

    def __init__(self, module_name: str, stub_file: str, *, wasi: bool = False, limits: Limits | None = None) -> None:
        self.name = module_name
        self.stub_file = stub_file
        self._files: ModuleFiles | None = None
        self.wasi = wasi
        self.limits = limits
        self.closed = False
        self.local = thread_local()  # export name -> Binding, per thread
        self._instances = thread_local()
        self._engine: Engine | None = None
        self._loads: dict[Engine, Loaded] = {}  # by engine: what this stub's sandboxes share
        self._root = self
        self._lock = allocate_lock()
        self.loaded_from: str | None = None  # "precompiled", "cache" or "wasm"
        self._stop_limits: Callable[[], None] | None = None
        # a sandbox's instances in all threads (close() ends them all); made with the first
        self._every_instance: weakref.WeakSet[Instance] | None = None

    @property
    def files(self) -> ModuleFiles:
        """The module's files beside the stub (named on first use: the import needs none of them)."""
        if self._files is None:
            from .layout import ModuleFiles

            self._files = ModuleFiles.beside_stub(self.name, self.stub_file)
        return self._files

    def __reduce__(self) -> tuple[object, ...]:
        what = f"a sandbox of {self.name}" if self.limits is not None else f"the kernel module of {self.name}"
        raise not_picklable(what)

    def _reset_after_fork(self) -> None:
        self._loads.clear()
        self._every_instance = None
        self._lock = allocate_lock()
        self.local.__dict__.clear()
        self._instances.__dict__.clear()

    # -- sandboxes -------------------------------------------------------------------------

    def sandbox(
        self,
        *,
        timeout: float | None = None,
        max_memory: SizeSpec = None,
        wasi: WasiGrants | Mapping[str, Any] | None = None,
    ) -> KernelModule:
        """A module of its own instances over the same files, with limits (see ``sandbox.py``).

        It loads the module at once, so a bad limit is an error from here.
        """
        if _in_browser():
            raise KernelError(f"{self.name}: sandbox() needs wasmtime; under Pyodide kernels run unsandboxed")
        from .sandbox import Limits

        limits = Limits.checked(self.name, wasi_module=self.wasi, timeout=timeout, max_memory=max_memory, wasi=wasi)
        child = KernelModule(self.name, self.stub_file, wasi=self.wasi, limits=limits)
        child._root = self._root
        engine = child.engine()
        loaded = child._load()
        if limits.max_memory is not None and limits.max_memory < loaded.initial_memory:
            initial = loaded.initial_memory
            raise ValueError(
                f"sandbox(): max_memory={limits.max_memory} bytes is below the initial memory of "
                f"{self.name} ({initial} bytes = {initial / (1 << 20):g} MiB)"
            )
        child._stop_limits = engine.enforce(limits, child)
        return child

    def close(self) -> None:
        """End every thread's instance and stop what the limits needed; later calls raise, in any thread."""
        self.closed = True
        for inst in list(self._every_instance or ()):
            inst.close(refusal=f"{self.name}: the sandbox was closed")
        self.discard_instance()
        if self._stop_limits is not None:
            self._stop_limits()

    # -- loading ---------------------------------------------------------------------------

    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = _choose_engine(self.limits)
        return self._engine

    def _load(self) -> Loaded:
        _start_loading(self.name)
        try:
            _remember(self, self._root)  # the root keeps what its sandboxes load
            engine, root = self.engine(), self._root
            with root._lock:
                loaded = root._loads.get(engine)
                if loaded is None:
                    loaded = root._loads[engine] = engine.load(self.files, self.name)
        finally:
            _this_thread.loading = False
        self.loaded_from = loaded.loaded_from
        return loaded

    # -- per-thread instances --------------------------------------------------------------

    def instance(self) -> Instance:
        if self.closed:
            raise KernelError(f"{self.name}: the sandbox was closed")
        inst: Instance | None = getattr(self._instances, "instance", None)
        if inst is None:
            loaded = self._load()
            _start_loading(self.name)
            try:
                made: Instance | None = getattr(self._instances, "instance", None)
                if made is not None:  # a call that interrupted this one before the guard (a signal handler) made it
                    return made
                native = self.engine().instantiate(loaded, self, wasi=self.wasi, limits=self.limits)
                from .instance import Instance

                inst = self._instances.instance = Instance(self, native)
                if self.limits is not None:
                    if self._every_instance is None:
                        import weakref

                        self._every_instance = weakref.WeakSet()
                    self._every_instance.add(inst)
            finally:
                _this_thread.loading = False
        return inst

    def bind(self, export: str, nested: bool) -> Binding:
        """This thread's binding for *export* (made on first use, then kept in :attr:`local`).

        *nested*: the thread's binding is busy with a call that this one interrupted (see
        ``Binding.busy``): a binding of its own, used once.
        """
        binding = self.instance().binding(export, nested)
        if not nested:
            setattr(self.local, export, binding)
        return binding

    def discard_instance(self) -> None:
        inst: Instance | None = getattr(self._instances, "instance", None)
        if inst is not None:
            inst.close()
        self._instances.__dict__.clear()
        self.local.__dict__.clear()

    def fail(self, function: str, binding: Binding, error: int) -> NoReturn:
        """Raise :class:`KernelTrap` for a failed call and drop this thread's instance."""
        code, message = binding.explain(binding, error)
        self.discard_instance()
        if code == "interrupt" and self.limits is not None and self.limits.timeout is not None:
            raise KernelTimeout(function, self.limits.timeout)
        raise KernelTrap(function, code, message)

    def allocation_failed(self) -> None:
        """A sandbox replaces its instance after a failed allocation; module-level calls keep theirs."""
        if self.limits is not None:
            self.discard_instance()

    def alloc(self, nbytes: int) -> WasmBuffer:
        """A buffer of *nbytes* inside this thread's instance (see :class:`WasmBuffer`)."""
        nbytes = check_int(nbytes, "alloc", "nbytes")  # the rule of integer parameters
        if nbytes < 0:
            raise ValueError(f"alloc(): nbytes must be a non-negative int, got {nbytes!r}")
        inst = self.instance()
        return WasmBuffer(inst, inst.malloc(nbytes, "alloc"), nbytes)


_this_thread = thread_local()  # .loading: this thread is loading or instantiating a module


def _start_loading(name: str) -> None:
    """Refuse a kernel call that interrupts this thread's loading of a module, instead of deadlocking.

    A signal handler, ``__del__`` or weakref callback can run between any two bytecodes,
    also while the first call imports wasmtime, makes the engine or deserializes under the
    locks: a call from there would wait for a lock its own thread holds, or see a
    half-imported wasmtime. Raised in the interrupting code; the outer load goes on.
    The caller resets ``_this_thread.loading`` in a ``finally``.
    """
    if getattr(_this_thread, "loading", False):
        raise KernelError(
            f"{name}: called while this thread was loading a wasm module (from a signal handler, __del__ or "
            "a weakref callback that interrupted it); make a first call before such code can run"
        )
    _this_thread.loading = True


def _remember(*modules: KernelModule) -> None:
    """Keep *modules* (weakly) for the fork handler: from their first load on they have state to drop."""
    global _modules
    with _modules_lock:
        if _modules is None:
            import weakref

            _modules = weakref.WeakSet()
        _modules.update(modules)


def _after_fork_in_child() -> None:
    global _modules_lock
    _modules_lock = allocate_lock()  # another thread may have held it at the fork
    for module in list(_modules or ()):
        module._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
