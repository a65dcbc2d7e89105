"""Load a kernel module lazily and call its exports with checked, marshalled arguments.

One Engine and Module per process (compiled or deserialized on the first call), one Store
and Instance per thread: a wasmtime Store must never be used by two threads at once.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .engine import config_fingerprint, host_target, make_config, wasmtime_version
from .errors import KernelError, KernelTrap
from .manifest import manifest_path, read_manifest
from .types import SCALARS, VOID

if TYPE_CHECKING:
    import wasmtime

# (python name, kind, ctype, writable): kind is "scalar", "buffer" or "string"
ParamSpec = tuple[str, str, str, bool]

_engine: wasmtime.Engine | None = None
_engine_lock = threading.Lock()


def _get_engine() -> wasmtime.Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            import wasmtime

            _engine = wasmtime.Engine(make_config())
        return _engine


class _Instance:
    """One thread's Store + Instance and the exports a call needs."""

    def __init__(self, module: wasmtime.Module, wasi: bool) -> None:
        import wasmtime

        engine = _get_engine()
        self.store = wasmtime.Store(engine)
        if wasi:
            linker = wasmtime.Linker(engine)
            linker.define_wasi()
            self.store.set_wasi(wasmtime.WasiConfig())  # grants nothing
            self.instance = linker.instantiate(self.store, module)
        else:
            self.instance = wasmtime.Instance(self.store, module, [])
        exports = self.instance.exports(self.store)
        self.exports: dict[str, Any] = {name: exports[name] for name in (e.name for e in module.exports)}
        memory = self.exports.get("memory")
        self.memory = memory if isinstance(memory, wasmtime.Memory) else None
        init = self.exports.get("_initialize")
        if init is not None:
            init(self.store)

    def base(self) -> tuple[int, int]:
        """Address and length of linear memory now (both change when memory grows)."""
        assert self.memory is not None
        pointer = self.memory.data_ptr(self.store)
        return ctypes.addressof(pointer.contents), self.memory.data_len(self.store)

    def malloc(self, size: int, function: str) -> int:
        address = int(self.exports["malloc"](self.store, max(size, 1)))
        if address == 0:
            raise MemoryError(f"{function}: the wasm module could not allocate {size} bytes")
        return address & 0xFFFFFFFF


class KernelModule:
    """The wasm module behind one generated stub; nothing is loaded until the first call."""

    def __init__(self, module_name: str, stub_file: str, *, wasi: bool = False) -> None:
        self.name = module_name
        self.directory = Path(os.path.dirname(os.path.abspath(stub_file)))
        self.stem = module_name.rpartition(".")[2]
        self.wasi = wasi
        self._module: wasmtime.Module | None = None
        self._lock = threading.Lock()
        self._local = threading.local()
        self.loaded_from: str | None = None  # "precompiled" or "wasm", for tests and debugging

    def _get_module(self) -> wasmtime.Module:
        with self._lock:
            if self._module is None:
                self._module = self._load()
            return self._module

    def _load(self) -> wasmtime.Module:
        import wasmtime

        engine = _get_engine()
        manifest = read_manifest(manifest_path(self.directory, self.stem))
        target, fingerprint = host_target(), config_fingerprint()
        major = wasmtime_version().split(".")[0]
        for artifact in manifest.get("precompiled", []):
            if not (
                isinstance(artifact, dict)
                and artifact.get("target") == target
                and artifact.get("config") == fingerprint
                and str(artifact.get("wasmtime", "")).split(".")[0] == major
                and isinstance(artifact.get("file"), str)
            ):
                continue
            try:
                data = (self.directory / os.path.basename(artifact["file"])).read_bytes()
            except OSError:
                continue
            # Only bytes whose hash the build recorded are ever deserialized.
            if hashlib.sha256(data).hexdigest() != artifact.get("sha256"):
                continue
            try:
                module = wasmtime.Module.deserialize(engine, data)
            except wasmtime.WasmtimeError:
                continue
            self.loaded_from = "precompiled"
            return module
        wasm_file = self.directory / f"{self.stem}.wasm"
        try:
            module = wasmtime.Module(engine, wasm_file.read_bytes())
        except (OSError, wasmtime.WasmtimeError) as exc:
            raise KernelError(f"{self.name}: cannot load {wasm_file}: {exc}") from exc
        self.loaded_from = "wasm"
        return module

    def instance(self) -> _Instance:
        inst: _Instance | None = getattr(self._local, "instance", None)
        if inst is None:
            module = self._get_module()
            try:
                inst = _Instance(module, self.wasi)
            except Exception as exc:  # wasmtime.WasmtimeError, wasmtime.Trap
                raise KernelError(f"{self.name}: cannot instantiate the wasm module: {exc}") from exc
            self._local.instance = inst
        return inst

    def discard_instance(self) -> None:
        self._local.instance = None

    def function(self, export: str, params: tuple[ParamSpec, ...], result: str) -> Callable[..., Any]:
        """A callable for *export* that checks and marshals *params* and converts *result*."""
        return _KernelFunction(self, export, params, result)


class _KernelFunction:
    def __init__(self, module: KernelModule, export: str, params: tuple[ParamSpec, ...], result: str) -> None:
        self.module = module
        self.export = export
        self.params = params
        self.result = result
        self.needs_memory = any(kind != "scalar" for _, kind, _, _ in params)

    def __call__(self, *args: Any) -> Any:
        if len(args) != len(self.params):
            raise TypeError(f"{self.export}() takes {len(self.params)} arguments ({len(args)} given)")
        inst = self.module.instance()
        wasm_args: list[Any] = []
        staged: list[tuple[memoryview, int]] = []  # (source view, wasm address)
        copy_back: list[tuple[memoryview, int]] = []
        allocations: list[int] = []
        try:
            for (name, kind, ctype, writable), value in zip(self.params, args):
                if kind == "scalar":
                    wasm_args.append(self._scalar(name, ctype, value))
                    continue
                view = self._buffer(name, kind, ctype, writable, value)
                address = inst.malloc(view.nbytes, self.export)
                allocations.append(address)
                staged.append((view, address))
                if writable:
                    copy_back.append((view, address))
                wasm_args.append(address)
                if kind == "buffer":
                    wasm_args.append(view.nbytes // SCALARS[ctype].size)
            if staged:
                base, length = inst.base()  # after every malloc: memory may have grown
                for view, address in staged:
                    _check_bounds(self.export, address, view.nbytes, length)
                    _wasm_view(base + address, view.nbytes)[:] = view
            raw = inst.exports[self.export](inst.store, *wasm_args)
            if copy_back:
                base, length = inst.base()
                for view, address in copy_back:
                    _check_bounds(self.export, address, view.nbytes, length)
                    view[:] = _wasm_view(base + address, view.nbytes)
        except Exception as exc:
            trap = _as_trap(self.export, exc)
            if trap is None:
                raise
            self.module.discard_instance()
            allocations.clear()
            raise trap from None
        finally:
            if allocations:
                free = inst.exports["free"]
                for address in allocations:
                    free(inst.store, address)
        return self._convert_result(raw)

    def _scalar(self, name: str, ctype: str, value: Any) -> Any:
        info = SCALARS[ctype]
        if info.python == "float":
            if not isinstance(value, (int, float)):
                raise TypeError(f"{self.export}(): {name} must be a float, not {type(value).__name__}")
            return float(value)
        if ctype == "bool":
            return 1 if value else 0
        if not isinstance(value, int):
            raise TypeError(f"{self.export}(): {name} must be an int, not {type(value).__name__}")
        if not info.lo <= value <= info.hi:
            raise OverflowError(f"{self.export}(): {name}={value} is out of range for {ctype} [{info.lo}, {info.hi}]")
        bits = 64 if info.wasm == "i64" else 32
        if value >= 1 << (bits - 1):  # unsigned values travel in the signed wasm type
            value -= 1 << bits
        return value

    def _buffer(self, name: str, kind: str, ctype: str, writable: bool, value: Any) -> memoryview:
        if kind == "string":
            if isinstance(value, str):
                value = value.encode("utf-8")
            if not isinstance(value, (bytes, bytearray)):
                raise TypeError(f"{self.export}(): {name} must be str or bytes, not {type(value).__name__}")
            if b"\0" in value:
                raise ValueError(f"{self.export}(): {name} must not contain NUL characters")
            return memoryview(bytes(value) + b"\0")
        try:
            view = memoryview(value)
        except TypeError:
            raise TypeError(
                f"{self.export}(): {name} must be a buffer (bytes, bytearray, memoryview, array, ...), "
                f"not {type(value).__name__}"
            ) from None
        if not view.c_contiguous:
            raise ValueError(f"{self.export}(): {name} must be a C-contiguous buffer")
        if writable and view.readonly:
            raise TypeError(
                f"{self.export}(): {name} is written by the kernel and must be writable, not {type(value).__name__}"
            )
        size = SCALARS[ctype].size
        if size != 1 and view.itemsize != size:
            raise TypeError(
                f"{self.export}(): {name} must hold {size}-byte items ({ctype}), got item size {view.itemsize}"
            )
        return view.cast("B")

    def _convert_result(self, raw: Any) -> Any:
        if self.result == VOID:
            return None
        info = SCALARS[self.result]
        if self.result == "bool":
            return bool(raw)
        if info.python == "int" and not info.signed:
            return int(raw) & info.hi
        return raw


def _wasm_view(address: int, size: int) -> memoryview:
    return memoryview((ctypes.c_ubyte * size).from_address(address)).cast("B")


def _check_bounds(function: str, address: int, size: int, length: int) -> None:
    if address + size > length:
        raise KernelTrap(
            function, "out_of_bounds", f"buffer at {address}+{size} is outside linear memory ({length} bytes)"
        )


def _as_trap(function: str, exc: BaseException) -> KernelTrap | None:
    import wasmtime

    if isinstance(exc, KernelTrap):
        return exc
    if isinstance(exc, wasmtime.Trap):
        code = exc.trap_code
        return KernelTrap(function, code.name.lower() if code is not None else None, exc.message)
    if isinstance(exc, wasmtime.WasmtimeError):
        return KernelTrap(function, None, str(exc))
    return None
