"""Generated stubs without wasm: render a stub for Function models, import it, call it over fake bindings.

:func:`function`, :func:`scalar`, :func:`buffer` and :func:`string` build the model
(:mod:`wasm_ext.builder.model`) the way :mod:`wasm_ext.builder.mapping` would.
:func:`write_stub` renders a stub with the real generator into a uniquely named package
(or top-level module) and copies the runtime beside it, so it imports like a built one.
:class:`FakeKernels` gets the stub's kernel functions from its ``_functions(_tls, _bind,
_fail)`` factory, the same code the module-level functions run, over :class:`Binding`
objects of the stub's own runtime copy whose ``call`` is a Python function: it records the
raw slot values the stub wrote (:class:`FakeCall`) and writes a programmed result, error or
trap; their ``instance`` is a :class:`FakeInstance` that records staging and copies
buffers in and (for written buffers) back out. Nothing here needs a C compiler or wasmtime.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import os
import struct
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, Callable, NoReturn

from wasm_ext.builder.model import SCALARS, Function
from wasm_ext.builder.stubgen import copy_runtime, render
from wasm_ext.runtime.layout import ModuleFiles, runtime_package

from .models import C_TYPES, buffer, function, scalar, string

__all__ = ["C_TYPES", "buffer", "function", "scalar", "string"]  # the model builders, for the tests

SLOT_BYTES = 16  # wasmtime_val_raw_t: every argument and the result sit 16 bytes apart
# struct formats of the binding views (native byte order, standard sizes)
VIEW_FORMATS = {"i32": "=i", "u32": "=I", "f32": "=f", "i64": "=q", "u64": "=Q", "f64": "=d"}

_counter = itertools.count(1)


# -- rendering and importing ------------------------------------------------------------------


@dataclass
class GeneratedStub:
    """A stub rendered by the real generator, on disk with its runtime copy."""

    module_name: str
    functions: tuple[Function, ...]
    site: Path  # the directory that goes on sys.path
    files: ModuleFiles
    py: str
    pyi: str

    @property
    def runtime_name(self) -> str:
        """The dotted name of the stub's runtime copy."""
        return runtime_package(self.module_name)[1]

    @property
    def top_package(self) -> str:
        return self.module_name.partition(".")[0]

    def import_module(self) -> ModuleType:
        if str(self.site) not in sys.path:
            sys.path.insert(0, str(self.site))
        return importlib.import_module(self.module_name)

    def runtime(self, name: str) -> ModuleType:
        """A module of the stub's runtime copy (``binding``, ``buffer``, ...), imported."""
        self.import_module()
        return importlib.import_module(f"{self.runtime_name}.{name}")

    def forget(self) -> None:
        """Drop the stub, its package and its runtime copy from this process."""
        prefixes = {self.top_package, self.runtime_name.partition(".")[0]}
        for name in [m for m in sys.modules if m.partition(".")[0] in prefixes]:
            del sys.modules[name]
        if str(self.site) in sys.path:
            sys.path.remove(str(self.site))


def unique_name(prefix: str = "fakestub") -> str:
    """A package name no other stub of this process (or of a concurrent test process) has."""
    return f"{prefix}{os.getpid()}_{next(_counter)}"


def write_stub(
    functions: Sequence[Function],
    directory: Path,
    *,
    package: bool = True,
    name: str | None = None,
    wasi: bool = False,
    sources: Sequence[str] = ("kernels.c",),
) -> GeneratedStub:
    """Render *functions* as ``<unique package>.kernels`` (or the top-level module *name*) in *directory*."""
    name = name or unique_name()
    site = directory / name
    if package:
        module_name = f"{name}.kernels"
        package_dir = site / name
        package_dir.mkdir(parents=True)
        (package_dir / "__init__.py").write_text("")
    else:
        module_name = name
        package_dir = site
        package_dir.mkdir(parents=True)
    files = ModuleFiles.of(module_name, package_dir)
    py, pyi = render(module_name, functions, sources=sources, wasi=wasi)
    files.stub.write_text(py)
    files.stub_types.write_text(pyi)
    copy_runtime(files)
    return GeneratedStub(module_name, tuple(functions), site, files, py, pyi)


@contextlib.contextmanager
def imported_stub(functions: Sequence[Function], directory: Path) -> Iterator[GeneratedStub]:
    """A stub of *functions* written under *directory* and imported, forgotten again on leaving."""
    generated = write_stub(functions, directory)
    generated.import_module()
    try:
        yield generated
    finally:
        generated.forget()


# -- the fake engine --------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeCall:
    """One ``binding.call()``: the raw slots as the stub left them, and linear memory at that moment."""

    export: str
    raw: bytes
    memory: dict[int, bytes]

    def value(self, view: str, position: int) -> int | float:
        """The value of slot *position* read as *view* (from the raw bytes, not through ``slot_index``)."""
        return struct.unpack_from(VIEW_FORMATS[view], self.raw, SLOT_BYTES * position)[0]  # type: ignore[no-any-return]


class FakeInstance:
    """Stands in for ``Instance``: hands out addresses, keeps a copy of each staged buffer, logs everything.

    ``events`` holds ``("stage", address, nbytes, function)``, ``("call", export)``,
    ``("unstage", address, nbytes, function)`` and ``("release", address)`` in order.
    Set ``fail_stage`` to *n* to make the *n*-th stage (from 0) raise ``MemoryError``.
    """

    dead = False
    # no scratch area: every buffer goes through stage() and release(), where it is logged
    scratch = scratch_used = scratch_limit = 0
    scratch_view = None

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.memory: dict[int, bytearray] = {}
        self.staged: list[Any] = []  # the source objects, in order
        self.fail_stage: int | None = None
        self.deferred: list[tuple[str, int]] = []
        self._next = 0x1_0000

    def stage(self, source: Any, nbytes: int, function: str) -> int:
        if self.fail_stage == len(self.staged):
            raise MemoryError(f"{function}(): fake allocation failure")
        self.staged.append(source)
        if hasattr(source, "address"):  # a WasmBuffer: already in linear memory
            address = int(source.address)
        else:
            address = self._next
            self._next += (nbytes + 15) // 16 * 16 + 16
            self.memory[address] = bytearray(memoryview(source).cast("B")[:nbytes])
        self.events.append(("stage", address, nbytes, function))
        return address

    def reserve(self, nbytes: int, function: str) -> int:
        """As ``Instance.reserve``: room for an output buffer, nothing copied in (not logged: no copy)."""
        address = self._next
        self._next += (nbytes + 15) // 16 * 16 + 16
        self.memory[address] = bytearray(nbytes)
        return address

    def unstage(self, target: Any, address: int, nbytes: int, function: str) -> None:
        self.events.append(("unstage", address, nbytes, function))
        if not hasattr(target, "address"):
            memoryview(target).cast("B")[:nbytes] = self.memory[address][:nbytes]

    def release(self, source: Any, address: int) -> None:
        self.events.append(("release", address))

    def call_u32(self, export: str, value: int, function: str) -> int:
        """As ``Instance.call_u32`` (a handle's destroy function): logged, not run."""
        self.events.append(("call_u32", export, value))
        return 0

    def defer(self, export: str, address: int) -> None:
        self.deferred.append((export, address))

    def run_deferred(self) -> None:
        while self.deferred:
            self.call_u32(*self.deferred.pop(), "deferred")

    def read(self, address: int, nbytes: int) -> bytes:
        self.events.append(("read", address, nbytes))
        block, offset = self.block(address)
        return bytes(block[offset : offset + nbytes])

    def block(self, address: int) -> tuple[bytearray, int]:
        """The staged block *address* lies in, and its offset there (a call's values share one block)."""
        start = max(a for a in self.memory if a <= address)
        return self.memory[start], address - start

    def poke(self, address: int, data: bytes) -> None:
        """Write *data* at *address*, inside a staged block (as the kernel would)."""
        block, offset = self.block(address)
        block[offset : offset + len(data)] = data


@dataclass
class Program:
    """What the fake call of one export does: its result, error code, trap, side effect."""

    result: int | float | None = None  # written into slot 0 through *view* (default: the result's view)
    view: str | None = None
    error: int = 0
    trap: bool = False
    effect: Callable[[FakeCall, FakeInstance], None] | None = None


class KernelFailed(Exception):
    """What the fake ``_fail`` raises: the export and error code it was given."""

    def __init__(self, export: str, error: int) -> None:
        super().__init__(f"{export} failed (error {error})")
        self.export = export
        self.error = error


@dataclass
class Failure:
    export: str
    binding: Any
    error: int


@dataclass(repr=False)
class FakeKernels:
    """A generated stub's kernel functions over fake bindings (see the module docstring)."""

    stub: GeneratedStub
    instance: FakeInstance = field(default_factory=FakeInstance)
    tls: SimpleNamespace = field(default_factory=SimpleNamespace)
    binds: list[str] = field(default_factory=list)
    calls: list[FakeCall] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    programs: dict[str, Program] = field(default_factory=dict)
    closed: int = 0
    allocations: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.module = self.stub.import_module()
        self.binding_type: Any = self.stub.runtime("binding").Binding
        self.models = {f.export: f for f in self.stub.functions}
        self.functions: tuple[Callable[..., Any], ...] = self.module._functions(self.tls, self.bind, self.fail)

    def __repr__(self) -> str:
        return f"<FakeKernels of {self.stub.module_name}: {len(self.calls)} calls>"

    def __getitem__(self, export: str) -> Callable[..., Any]:
        (found,) = [f for f in self.functions if f.__name__ == export]
        return found

    def program(self, export: str, **settings: Any) -> Program:
        """Set what calls of *export* do (see :class:`Program`)."""
        program = self.programs[export] = Program(**settings)
        return program

    def wasm_buffer(self, nbytes: int, address: int = 0x8000_0000) -> Any:
        """A ``WasmBuffer`` of the stub's runtime copy, "inside" the fake instance."""
        return self.stub.runtime("buffer").WasmBuffer(self.instance, address, nbytes)

    # what the stub's factory is given

    def bind(self, export: str, nested: bool) -> Any:
        """As ``KernelModule.bind``: a *nested* binding is the call's own, not kept."""
        self.binds.append(f"{export} (nested)" if nested else export)
        model = self.models[export]
        binding = self.binding_type(self.instance, max(len(model.wasm_params), len(model.wasm_results), 1))
        binding.call = lambda: self._call(export, binding)
        if not nested:
            setattr(self.tls, export, binding)
        return binding

    def fail(self, export: str, binding: Any, error: int) -> NoReturn:
        self.failures.append(Failure(export, binding, error))
        raise KernelFailed(export, error)

    def _call(self, export: str, binding: Any) -> int:
        record = FakeCall(export, bytes(binding.raw), {a: bytes(m) for a, m in self.instance.memory.items()})
        self.calls.append(record)
        self.instance.events.append(("call", export))
        program = self.programs.get(export, Program())
        if program.effect is not None:
            program.effect(record, self.instance)
        if program.result is not None:
            view = program.view or SCALARS[self.models[export].result].view
            getattr(binding, view)[0] = program.result
        if program.trap:
            binding.trap[0] = 1
        return program.error

    # a stand-in KernelModule, for the stub's Sandbox class

    def as_module(self) -> SimpleNamespace:
        def alloc(nbytes: int) -> Any:
            self.allocations.append(nbytes)
            return self.wasm_buffer(nbytes)

        def close() -> None:
            self.closed += 1

        return SimpleNamespace(local=self.tls, bind=self.bind, fail=self.fail, alloc=alloc, close=close)
