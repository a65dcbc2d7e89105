"""``CStruct``: the base of the frozen dataclasses a stub makes of the C structs its kernels pass by value.

A struct's fields are checked when one is made, against their C types, so a value that
C could not hold (an int out of range, an array of the wrong length, a name longer than
its ``char[16]``) raises there, naming the struct and the field, and never at a call or
silently truncated. Values are normalized as C stores them: a bool field holds a bool,
a float field a float, an array a tuple, a byte array its full length padded with NULs
(what the C side reads back), an enum field a member of its class.
"""

from __future__ import annotations

import operator
import struct
import sys
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:  # type checkers only: the runtime depends on nothing beyond wasmtime
    if sys.version_info >= (3, 11):
        from typing import dataclass_transform
    else:  # type checkers bundle typing_extensions' stubs: nothing needs installing
        from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_: Any) -> Any:
        return lambda decorator: decorator


# a field's spec: (name, kind, count, class, C type); kind is a scalar kind ("i32", "u8",
# "f64", "bool"...), "bytes" (an array of 1-byte integers) or "struct"; count is an array's
# length (0 for one value); class is a nested struct's, or an enum field's (or None)
FieldSpec = tuple[str, str, int, Any, str]

_F32 = struct.Struct("<f")
C = TypeVar("C", bound="CStruct")


class CStruct:
    """A C struct as a frozen dataclass: its fields checked and normalized when one is made."""

    __slots__ = ()
    _c_fields_: ClassVar[tuple[FieldSpec, ...]] = ()

    def __post_init__(self) -> None:
        for name, kind, count, cls, ctype in self._c_fields_:
            value = getattr(self, name)
            where = f"{type(self).__name__}.{name}"
            if kind == "bytes":
                new: Any = _bytes(value, count, where, ctype)
            elif count:
                if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
                    raise TypeError(f"{where} ({ctype}) must be a sequence of {count} items, not {_type(value)}")
                if len(value) != count:
                    raise ValueError(f"{where} ({ctype}) must have {count} items, not {len(value)}")
                new = tuple(_value(v, kind, cls, f"{where}[{i}]", ctype) for i, v in enumerate(value))
            else:
                new = _value(value, kind, cls, where, ctype)
            if new is not value:
                object.__setattr__(self, name, new)


def _type(value: Any) -> str:
    return type(value).__qualname__


def _value(value: Any, kind: str, cls: Any, where: str, ctype: str) -> Any:
    if kind == "struct":
        if not isinstance(value, cls):
            raise TypeError(f"{where} must be a {cls.__name__}, not {_type(value)}")
        return value
    if kind == "bool":
        return value if value is True or value is False else bool(value)
    if kind in ("f32", "f64"):
        if value.__class__ is float:
            number = value
        else:
            try:
                number = float(value) if isinstance(value, (int, float)) else float(value.__float__())
            except (AttributeError, TypeError, ValueError, OverflowError):
                raise TypeError(f"{where} ({ctype}) must be a float, not {_type(value)}") from None
        if kind == "f32":
            try:
                _F32.pack(number)
            except OverflowError:
                raise OverflowError(f"{where}={number!r} is too large for {ctype} (a 32-bit float)") from None
        return number
    if value.__class__ is not int and (cls is None or value.__class__ is not cls):
        try:
            value = operator.index(value)
        except TypeError:
            raise TypeError(f"{where} ({ctype}) must be an int, not {_type(value)}") from None
    bits = int(kind[1:])
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if kind[0] == "i" else (0, (1 << bits) - 1)
    if not lo <= value <= hi:
        raise OverflowError(f"{where}={value} is out of range for {ctype} [{lo}, {hi}]")
    return value if cls is None or value.__class__ is cls else cls(value)


def _bytes(value: Any, count: int, where: str, ctype: str) -> bytes:
    if isinstance(value, str) or not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{where} ({ctype}) must be bytes, not {_type(value)}")
    data = bytes(value)
    if len(data) > count:
        raise ValueError(f"{where} ({ctype}) holds at most {count} bytes, not {len(data)}")
    return data if len(data) == count else data + bytes(count - len(data))


@dataclass_transform(frozen_default=True)
def c_struct(cls: type[C]) -> type[C]:
    """``dataclass(frozen=True)`` of a stub's struct class, its methods compiled against this module.

    dataclasses compiles ``__eq__``, ``__hash__`` and ``__setattr__`` with the class's module
    as their globals, where they look up ``hash``, ``type`` and ``NotImplemented``; in a stub
    those can be kernels (a C library may well have a ``hash()``). The class's module is this
    one while the dataclass is made, then the stub's again (pickle and type hints use it).
    """
    import dataclasses  # only stubs with structs pay for it

    module = cls.__module__
    cls.__module__ = __name__
    try:
        made = dataclasses.dataclass(frozen=True)(cls)
    finally:
        cls.__module__ = module
    return made


def c_new(cls: type[C], /, **fields: Any) -> C:
    """A struct made of values read from linear memory: as C holds them, so not checked again
    (the stub converts enum fields); the fast path of every struct a kernel returns."""
    made = object.__new__(cls)
    made.__dict__.update(fields)
    return made


def check_struct(value: Any, cls: type, function: str, name: str) -> Any:
    """*value* if it is a *cls*; else a ``TypeError`` naming the kernel function and the parameter."""
    if isinstance(value, cls):
        return value
    raise TypeError(f"{function}(): {name} must be a {cls.__name__}, not {_type(value)}")
