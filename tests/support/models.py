"""The C-side model (:mod:`wasm_ext.builder.model`) of test kernels, built the way the mapping would."""

from __future__ import annotations

from dataclasses import replace
from typing import Union

from wasm_ext.builder.model import VOID, Function, Param

# C spellings, as clang prints the types <stdint.h> and <stdbool.h> define
C_TYPES = {
    "i8": "int8_t",
    "u8": "uint8_t",
    "i16": "int16_t",
    "u16": "uint16_t",
    "i32": "int32_t",
    "u32": "uint32_t",
    "i64": "int64_t",
    "u64": "uint64_t",
    "f32": "float",
    "f64": "double",
    "bool": "bool",
    VOID: "void",
}


def scalar(name: str, kind: str, spelling: str | None = None) -> Param:
    return Param(name, "scalar", kind, spelling or C_TYPES[kind])


Params = Union[Param, tuple[Param, Param]]


def buffer(
    name: str,
    kind: str = "u8",
    *,
    writable: bool = False,
    length: str = "n",
    length_kind: str = "u32",
    length_spelling: str | None = None,
) -> tuple[Param, Param]:
    """``const T *name, <length type> length`` (``T *`` when *writable*): the buffer and its length.

    :func:`function` places them, the length right after the buffer.
    """
    spelling = f"{'' if writable else 'const '}{C_TYPES[kind]} *"
    default_length = "size_t" if length_kind == "u32" else C_TYPES[length_kind]
    return Param(name, "buffer", kind, spelling, writable), Param(
        length, "length", length_kind, length_spelling or default_length
    )


def place(*params: Params) -> tuple[Param, ...]:
    """The C parameter list of *params*: each (buffer, length) pair as two, the buffer pointing at its length."""
    placed: list[Param] = []
    for item in params:
        if isinstance(item, tuple):
            pointer, length = item
            placed += [replace(pointer, length=len(placed) + 1), length]
        else:
            placed.append(item)
    return tuple(placed)


def string(name: str) -> Param:
    return Param(name, "string", "i8", "const char *")


def function(name: str, *params: Params, result: str = VOID, doc: str = "", export: str | None = None) -> Function:
    """A C function ``name`` (exported as *export*, default *name*) as the mapping makes it."""
    return Function(
        name, place(*params), result, C_TYPES[result], doc, "kernels.c:1", name if export is None else export
    )
