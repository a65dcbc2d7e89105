"""Argument checks generated stubs call when the inline fast path does not decide.

The fast path of a stub checks ``type(x) is int`` and the range inline; everything that
needs a message or a conversion comes here, so errors always name the kernel function
and the parameter.
"""

from __future__ import annotations

import operator
from typing import Any

from .buffer import WasmBuffer


def check_int(value: Any, function: str, name: str) -> int:
    """*value* as an int if it is one (``bool`` and other int subclasses included)."""
    if isinstance(value, int):
        return int(value)
    try:
        return operator.index(value)  # numpy integers and other __index__ types
    except TypeError:
        raise TypeError(f"{function}(): {name} must be an int, not {type(value).__name__}") from None


def check_float(value: Any, function: str, name: str) -> float:
    try:
        if isinstance(value, (int, float)):
            return float(value)
        return float(value.__float__())
    except OverflowError:
        raise OverflowError(f"{function}(): {name} is too large to convert to a float") from None
    except (AttributeError, TypeError, ValueError):
        raise TypeError(f"{function}(): {name} must be a float, not {type(value).__name__}") from None


def overflow(function: str, name: str, value: int, ctype: str, lo: int, hi: int) -> OverflowError:
    return OverflowError(f"{function}(): {name}={value} is out of range for {ctype} [{lo}, {hi}]")


def in_buffer(value: Any, itemsize: int, writable: bool, function: str, name: str) -> tuple[Any, int]:
    """(source, size in bytes) of a buffer argument, after checking its layout.

    The source is the object itself for ``bytes`` and :class:`WasmBuffer` (copied or
    passed without conversion), else a flat byte view of it.
    """
    if isinstance(value, WasmBuffer):
        if value.nbytes % itemsize:
            raise ValueError(
                f"{function}(): {name} holds {value.nbytes} bytes, not a whole number of {itemsize}-byte items"
            )
        return value, value.nbytes
    if type(value) is bytes and not writable and itemsize == 1:
        return value, len(value)
    try:
        view = memoryview(value)
    except TypeError:
        raise TypeError(
            f"{function}(): {name} must be a buffer (bytes, bytearray, memoryview, array, numpy array, ...), "
            f"not {type(value).__name__}"
        ) from None
    if writable and view.readonly:
        raise TypeError(
            f"{function}(): {name} is written by the kernel and must be writable, not {type(value).__name__}"
        )
    if not view.c_contiguous:
        raise ValueError(f"{function}(): {name} must be a C-contiguous buffer")
    if itemsize != 1 and view.itemsize != itemsize:
        raise TypeError(f"{function}(): {name} must hold {itemsize}-byte items, got item size {view.itemsize}")
    flat = view.cast("B") if view.format != "B" or view.ndim != 1 else view
    return flat, flat.nbytes


def in_string(value: Any, function: str, name: str) -> tuple[bytes, int]:
    """A ``str`` (UTF-8) or ``bytes`` argument for ``const char *``, NUL-terminated."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    elif not isinstance(value, (bytes, bytearray)):
        raise TypeError(f"{function}(): {name} must be str or bytes, not {type(value).__name__}")
    if b"\0" in value:
        raise ValueError(f"{function}(): {name} must not contain NUL characters")
    data = bytes(value) + b"\0"
    return data, len(data)
