"""Argument checks generated stubs call when the inline fast path does not decide.

The fast path of a stub checks ``type(x) is int`` and the range inline; everything that
needs a message or a conversion comes here, so errors always name the kernel function
and the parameter.

Integers follow one rule, Python's own (``operator.index``), as ctypes does: an integer
parameter (and ``alloc``'s size) takes ``int``, its subclasses by their own value
(``bool`` included: ``True`` is 1; an overridden ``__int__`` is not consulted), and
objects with ``__index__`` (numpy integers). It refuses what Python does not count as an
integer: floats, and ``numpy.bool_`` where numpy gives it no ``__index__`` (recent
versions; older ones accept it with a DeprecationWarning). A C ``bool`` parameter takes
any object's truth value, as ``if x:`` does.
"""

from __future__ import annotations

from .buffer import WasmBuffer
from .exceptions import KernelError

try:  # operator.index itself, without importing operator.py (a stub's import stays lean)
    from _operator import index as _index
except ImportError:  # pragma: no cover - an interpreter without the C module
    from operator import index as _index

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any


def _type(value: Any) -> str:
    """The type's name, qualified outside the builtins (``numpy.bool``, not a bare ``bool``)."""
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def check_int(value: Any, function: str, name: str) -> int:
    """*value* as an exact int, by the rule in the module docstring."""
    if isinstance(value, int):
        return int.__index__(value)  # the int's own value, whatever the subclass overrides
    try:
        return _index(value)  # numpy integers and other __index__ types
    except TypeError:
        raise TypeError(f"{function}(): {name} must be an int, not {_type(value)}") from None


def check_float(value: Any, function: str, name: str) -> float:
    try:
        if isinstance(value, (int, float)):
            return float(value)
        return float(value.__float__())
    except OverflowError:
        raise OverflowError(f"{function}(): {name} is too large to convert to a float") from None
    except (AttributeError, TypeError, ValueError):
        raise TypeError(f"{function}(): {name} must be a float, not {_type(value)}") from None


def overflow(function: str, name: str, value: int, ctype: str, lo: int, hi: int) -> OverflowError:
    return OverflowError(f"{function}(): {name}={value} is out of range for {ctype} [{lo}, {hi}]")


def length_mismatch(function: str, buffers: str, length: str, first: int, other: int) -> ValueError:
    return ValueError(
        f"{function}(): {buffers} share the length {length} and must be as long: {first} != {other} items"
    )


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
            f"not {_type(value)}"
        ) from None
    if writable and view.readonly:
        raise TypeError(f"{function}(): {name} is written by the kernel and must be writable, not {_type(value)}")
    fmt = view.format
    if fmt in _NOT_DATA or (len(fmt) > 1 and not plain_data(fmt)):  # one-letter formats: a set lookup
        raise TypeError(
            f"{function}(): {name} must hold plain data (numbers or bytes), not items of format {view.format!r} "
            "(Python objects or pointers mean nothing inside the kernel's memory)"
        )
    if not view.c_contiguous:
        raise ValueError(f"{function}(): {name} must be a C-contiguous buffer")
    if itemsize != 1 and view.itemsize != itemsize:
        raise TypeError(f"{function}(): {name} must hold {itemsize}-byte items, got item size {view.itemsize}")
    flat = view.cast("B") if fmt != "B" or view.ndim != 1 else view
    return flat, flat.nbytes


_NOT_DATA = frozenset("OP&")


def plain_data(fmt: str) -> bool:
    """False for struct formats holding Python objects (``O``) or pointers (``P``, ``&``)."""
    return not any(code in fmt for code in "OP&")


def in_string(value: Any, function: str, name: str) -> tuple[bytes, int]:
    """A ``str`` (UTF-8) or ``bytes`` argument for ``const char *``, NUL-terminated."""
    if isinstance(value, str):
        try:
            value = value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"{function}(): {name} cannot be encoded as UTF-8: {exc.reason} at index {exc.start} "
                f"({value[exc.start : exc.end]!r}); pass bytes, or encode it yourself (e.g. errors='surrogateescape')"
            ) from None
    elif not isinstance(value, (bytes, bytearray)):
        raise TypeError(f"{function}(): {name} must be str or bytes, not {_type(value)}")
    if b"\0" in value:
        raise ValueError(f"{function}(): {name} must not contain NUL characters")
    data = bytes(value) + b"\0"
    return data, len(data)


def bad_capacity(function: str, name: str, capacity: object, limit: int) -> ValueError:
    return ValueError(f"{function}(): the capacity of {name} is {capacity!r}, not an int from 0 to {limit}")


def bad_length(function: str, name: str, produced: int, capacity: int) -> KernelError:
    """The library said it wrote more than the buffer holds (or a negative length): refuse its result."""
    return KernelError(f"{function}(): the library reported {produced} items written to {name}, which holds {capacity}")


def read_string(instance: Any, address: int, function: str, free: bool = False) -> str | None:
    """The NUL-terminated string a kernel returned (``None`` for NULL), UTF-8 with ``surrogateescape``
    (no byte is lost: ``s.encode("utf-8", "surrogateescape")`` gives them back); *free*: then ``free()`` it."""
    if not address:
        return None
    try:
        return instance.read_string(address, function).decode("utf-8", "surrogateescape")  # type: ignore[no-any-return]
    finally:
        if free:
            instance.free(address)
