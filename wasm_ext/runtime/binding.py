"""The protocol between a generated stub and an engine: one raw-value array per export and thread.

A stub function writes each argument into a typed view of its slot, calls
``binding.call()``, checks the returned error and the trap slot, and reads the result
from slot 0 through the same views. The array has the layout of wasmtime's
``wasmtime_val_raw_t[]`` (16 bytes a slot), so the wasmtime engine hands it to the C API
as it is; other engines read and write the same slots. :func:`slot_index` is the one
place that says where a value sits: the code generator and every engine use it.
"""

from __future__ import annotations

import ctypes
from typing import Any, Callable, Protocol, cast

SLOT_BYTES = 16  # sizeof(wasmtime_val_raw_t)
# view name -> ctypes element type; u32/u64 read the same bits as i32/i64, unsigned
VIEW_TYPES: dict[str, Any] = {
    "i32": ctypes.c_int32,
    "u32": ctypes.c_uint32,
    "f32": ctypes.c_float,
    "i64": ctypes.c_int64,
    "u64": ctypes.c_uint64,
    "f64": ctypes.c_double,
}
_ITEM_BYTES = {"i32": 4, "u32": 4, "f32": 4, "i64": 8, "u64": 8, "f64": 8}
# the view that carries each wasm value type when an engine converts values itself
WASM_VIEWS = {"i32": "i32", "i64": "i64", "f32": "f32", "f64": "f64"}


def slot_index(view: str, position: int) -> int:
    """The index into view *view* of the value in slot *position* (argument or result)."""
    return position * SLOT_BYTES // _ITEM_BYTES[view]


class IntView(Protocol):
    """A typed view over the raw-value array (a ctypes array of one integer type)."""

    def __getitem__(self, index: int, /) -> int: ...
    def __setitem__(self, index: int, value: int, /) -> None: ...


class FloatView(Protocol):
    def __getitem__(self, index: int, /) -> float: ...
    def __setitem__(self, index: int, value: float, /) -> None: ...


# (trap code, message) of a failed call, from the binding's engine
Explain = Callable[["Binding", int], "tuple[str | None, str]"]


def _no_failure(binding: Binding, error: int) -> tuple[str | None, str]:
    return None, f"call failed (error {error})"


class Binding:
    """Everything one thread needs to call one export: views, bound call, trap slot.

    ``call()`` returns 0 on success; on failure it returns non-zero or sets ``trap[0]``, and
    ``explain(binding, error)`` turns that into (trap code, message), clearing it.
    ``pending`` is where engines that catch exceptions keep the failure until then.
    ``instance`` is the :class:`~.instance.Instance` the binding belongs to (stubs stage
    buffer arguments through it).

    ``busy`` is true from the first slot written to the last one read. Python code can run
    inside a call on the same thread (a signal handler, a ``__del__`` the garbage collector
    runs, a weakref callback), and a kernel called there must not overwrite the outer
    call's slots: it finds the binding busy and asks for one of its own.
    """

    __slots__ = (
        "busy",
        "call",
        "explain",
        "f32",
        "f64",
        "i32",
        "i64",
        "instance",
        "pending",
        "raw",
        "trap",
        "u32",
        "u64",
    )

    def __init__(self, instance: Any, slots: int) -> None:
        raw = (ctypes.c_byte * (SLOT_BYTES * max(slots, 1)))()
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
        self.call: Callable[[], int] = _never_bound
        self.explain: Explain = _no_failure
        self.pending: object = None
        self.busy = False

    def slot(self, wasm_type: str, position: int) -> tuple[Any, int]:
        """(view, index) of slot *position* holding a value of *wasm_type* (for engines that convert)."""
        view = WASM_VIEWS[wasm_type]
        return getattr(self, view), slot_index(view, position)


def _never_bound() -> int:  # pragma: no cover - every engine sets call before handing a binding out
    raise RuntimeError("binding used before its engine bound it")
