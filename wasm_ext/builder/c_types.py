"""The C type rules of wasm32 (ILP32, clang's layout): what a spelled type is, and its Python name.

:mod:`.mapping` (parameters and results) and :mod:`.structs` (struct fields) read C types
the same way through these: the canonical base type through typedefs, the pointer depth,
the scalar kind a base type has, and the width clang gives an enum.
"""

from __future__ import annotations

import keyword
import re
import unicodedata

from .c_ast import RawEnum
from .model import SCALARS, VOID

QUALIFIERS = {"const", "volatile", "restrict", "__restrict", "__restrict__", "static", "register"}


def canonical(spelling: str, typedefs: dict[str, str], depth: int = 0) -> tuple[str, int, bool]:
    """(canonical base type, pointer depth, pointee const); depth -1 for types we never map."""
    s = spelling.strip()
    if "(" in s or "[" in s or depth > 32:
        return s, -1, False
    pointers = s.count("*")
    head = s.split("*", 1)[0]
    const = bool(re.search(r"\bconst\b", head))
    base = " ".join(w for w in head.split() if w not in QUALIFIERS)
    if base in typedefs:
        inner_base, inner_pointers, inner_const = canonical(typedefs[base], typedefs, depth + 1)
        if inner_pointers < 0:
            return inner_base, -1, False
        return inner_base, inner_pointers + pointers, inner_const if inner_pointers else const
    return base, pointers, const


def scalar_kind(base: str) -> str | None:
    """``"unsigned long"`` -> ``"u32"`` (wasm32 is ILP32); ``None`` if not a scalar we map."""
    if base.startswith("enum "):
        return "i32"
    words = base.split()
    if words in (["_Bool"], ["bool"]):
        return "bool"
    if words == ["float"]:
        return "f32"
    if words == ["double"]:
        return "f64"
    if words == ["void"]:
        return VOID
    unsigned = "unsigned" in words
    rest = [w for w in words if w not in ("signed", "unsigned", "int")]
    size = {(): 4, ("char",): 1, ("short",): 2, ("long",): 4, ("long", "long"): 8}.get(tuple(rest))
    if size is None or not words or any(w not in ("signed", "unsigned", "int", "char", "short", "long") for w in words):
        return None
    return f"{'u' if unsigned else 'i'}{8 * size}"


def enum_kind(base: str, enums: dict[str, RawEnum] | None) -> str | None:
    """An enum's kind as clang lays it out for wasm32: int, unsigned int when a value needs it, else 64-bit."""
    found = (enums or {}).get(base)
    if found is None or not found.members:
        return None
    values = [v for _, v in found.members]
    for kind in ("i32", "u32", "i64", "u64"):
        if SCALARS[kind].lo <= min(values) and max(values) <= SCALARS[kind].hi:
            return kind
    return None


def is_integer(kind: str | None) -> bool:
    return kind is not None and kind not in (VOID, "bool", "f32", "f64")


def python_name(name: str, index: int) -> str:
    """The Python parameter name: an identifier as Python reads it (NFKC), never empty, a keyword,
    ``self`` (the Sandbox methods' first parameter) or starting with ``_`` (the stub's own names do)."""
    name = unicodedata.normalize("NFKC", name).lstrip("_")
    if not name.isidentifier():
        return f"arg{index}"
    return name + "_" if keyword.iskeyword(name) or name == "self" else name
