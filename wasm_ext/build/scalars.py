"""The C scalar kinds a kernel signature may use, and how each crosses the wasm boundary.

The signature reader maps C types onto these kinds; the code generator takes ranges,
wasm value types and item sizes from here and writes them into each stub function.
"""

from __future__ import annotations

from typing import NamedTuple


class Scalar(NamedTuple):
    wasm: str  # the wasm value type that carries it: i32, i64, f32 or f64
    size: int  # sizeof in wasm32 (the item size of a buffer of this type)
    signed: bool
    python: str  # the Python annotation
    lo: int = 0  # integer range (ints only)
    hi: int = 0


def _int(size: int, signed: bool) -> Scalar:
    bits = 8 * size
    if signed:
        return Scalar("i64" if size == 8 else "i32", size, True, "int", -(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    return Scalar("i64" if size == 8 else "i32", size, False, "int", 0, (1 << bits) - 1)


SCALARS: dict[str, Scalar] = {
    "i8": _int(1, True),
    "u8": _int(1, False),
    "i16": _int(2, True),
    "u16": _int(2, False),
    "i32": _int(4, True),
    "u32": _int(4, False),
    "i64": _int(8, True),
    "u64": _int(8, False),
    "f32": Scalar("f32", 4, True, "float"),
    "f64": Scalar("f64", 8, True, "float"),
    "bool": Scalar("i32", 1, False, "bool", 0, 1),
}
VOID = "void"
