"""Calling wasm exports at close to native ctypes speed.

``Func.__call__`` in wasmtime-py re-reads the function type and boxes every value on each
call (13-25 us here). A :class:`Binding` precomputes everything once per thread and
export: a raw-value array with typed views over it, and a C function pointer to
``wasmtime_func_call_unchecked`` with its pointer arguments bound (no per-call argument
conversion). Generated stubs write arguments into the views, call ``binding.call()``,
check the returned error and the trap slot, and read the result from the same views.

The bound arguments rely on wasmtime-py internals (its ``_ffi`` module, ``Func._func``);
where those are missing, :func:`bind` falls back to a slower binding with the same
protocol built only on the public API, so a stub keeps working on any wasmtime.
"""

from __future__ import annotations

import ctypes
import functools
import os
from typing import TYPE_CHECKING, Any, Callable, Protocol, cast

if TYPE_CHECKING:
    import wasmtime


class IntView(Protocol):
    """A typed view over the raw-value array (a ctypes array of one integer type)."""

    def __getitem__(self, index: int, /) -> int: ...
    def __setitem__(self, index: int, value: int, /) -> None: ...


class FloatView(Protocol):
    def __getitem__(self, index: int, /) -> float: ...
    def __setitem__(self, index: int, value: float, /) -> None: ...


# The function-pointer type: arguments untyped (we pass ctypes objects, converted by
# reference at C speed), result the error pointer as an integer (0: no error).
_RAW_CALL = ctypes.CFUNCTYPE(ctypes.c_size_t)
_VALUE_SLOT = 16  # sizeof(wasmtime_val_raw_t)


class EngineTrap(Exception):
    """A failed call in an engine other than wasmtime, as (trap code, message); see :func:`error_from`."""

    def __init__(self, trap_code: str | None, message: str) -> None:
        super().__init__(message)
        self.trap_code = trap_code
        self.message = message


class Binding:
    """Everything one thread needs to call one export: views, bound call, trap slot."""

    __slots__ = ("call", "f32", "f64", "i32", "i64", "instance", "pending", "raw", "trap", "u32", "u64")

    def __init__(self, instance: Any, slots: int, call: Callable[[], int]) -> None:
        raw = (ctypes.c_byte * (_VALUE_SLOT * max(slots, 1)))()
        n = len(raw)
        self.raw = raw
        self.i32 = cast(IntView, (ctypes.c_int32 * (n // 4)).from_buffer(raw))
        self.u32 = cast(IntView, (ctypes.c_uint32 * (n // 4)).from_buffer(raw))
        self.f32 = cast(FloatView, (ctypes.c_float * (n // 4)).from_buffer(raw))
        self.i64 = cast(IntView, (ctypes.c_int64 * (n // 8)).from_buffer(raw))
        self.u64 = cast(IntView, (ctypes.c_uint64 * (n // 8)).from_buffer(raw))
        self.f64 = cast(FloatView, (ctypes.c_double * (n // 8)).from_buffer(raw))
        self.trap: Any = (ctypes.c_void_p * 1)()
        self.instance = instance
        self.call: Callable[[], int] = call
        self.pending: BaseException | None = None  # the slow binding's exception


def address_of(pointer: Any) -> int:
    """The address held by a ctypes pointer or function pointer (never NULL here)."""
    value = ctypes.cast(pointer, ctypes.c_void_p).value
    if value is None:
        raise ValueError("NULL pointer")
    return value


@functools.cache
def fast_available() -> bool:
    """Whether this wasmtime exposes what :func:`bind_fast` needs (checked once, lazily)."""
    if os.environ.get("WASM_EXT_SLOW_CALLS", "") not in ("", "0"):
        return False
    try:
        from wasmtime import _ffi as ffi

        return hasattr(ffi, "dll") and hasattr(ffi.dll, "wasmtime_func_call_unchecked")
    except ImportError:  # pragma: no cover - depends on the installed wasmtime
        return False


def bind_fast(instance: Any, store: wasmtime.Store, func: wasmtime.Func, slots: int) -> Binding:
    """A binding that calls ``wasmtime_func_call_unchecked`` directly."""
    from wasmtime import _ffi as ffi

    raw_call = _RAW_CALL(address_of(ffi.dll.wasmtime_func_call_unchecked))
    binding = Binding(instance, slots, lambda: 0)
    context = ctypes.c_void_p(address_of(store._context()))
    binding.call = functools.partial(  # the bound arguments keep their ctypes objects alive
        raw_call,
        context,
        ctypes.c_void_p(ctypes.addressof(func._func)),
        ctypes.c_void_p(ctypes.addressof(binding.raw)),
        ctypes.c_size_t(slots),
        ctypes.c_void_p(ctypes.addressof(binding.trap)),
    )
    return binding


def bind_slow(
    instance: Any, store: wasmtime.Store, func: wasmtime.Func, params: tuple[str, ...], results: tuple[str, ...]
) -> Binding:
    """The same protocol through ``Func.__call__`` (public API only)."""
    binding = Binding(instance, max(len(params), len(results)), lambda: 0)
    readers: dict[str, Any] = {"i32": binding.i32, "i64": binding.i64, "f32": binding.f32, "f64": binding.f64}
    stride = {"i32": 4, "f32": 4, "i64": 2, "f64": 2}

    def call() -> int:
        args = [readers[t][i * stride[t]] for i, t in enumerate(params)]
        try:
            out = func(store, *args)
        except Exception as exc:  # noqa: BLE001 - wasmtime.Trap, wasmtime.WasmtimeError, re-raised by fail()
            binding.pending = exc
            return 1
        if results:
            readers[results[0]][0] = out
        return 0

    binding.call = call
    return binding


def error_from(binding: Binding, error: int) -> tuple[str | None, str]:
    """(trap code, message) of a failed call; clears the trap slot."""
    if isinstance(binding.pending, EngineTrap):
        failed, binding.pending = binding.pending, None
        return failed.trap_code, failed.message
    import wasmtime

    if binding.pending is not None:
        exc, binding.pending = binding.pending, None
        if isinstance(exc, wasmtime.Trap):
            return (exc.trap_code.name.lower() if exc.trap_code is not None else None), exc.message
        return None, str(exc)
    from wasmtime import _ffi as ffi

    if binding.trap[0]:
        pointer = ctypes.cast(binding.trap[0], ctypes.POINTER(ffi.wasm_trap_t))
        binding.trap[0] = None
        trap = wasmtime.Trap._from_ptr(pointer)
        return (trap.trap_code.name.lower() if trap.trap_code is not None else None), trap.message
    pointer_e = ctypes.cast(ctypes.c_void_p(error), ctypes.POINTER(ffi.wasmtime_error_t))
    return None, str(wasmtime.WasmtimeError._from_ptr(pointer_e))
