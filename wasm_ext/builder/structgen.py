"""What the stub's struct classes are made of: fields, checks, and how a value crosses memory.

Each struct the kernels pass by value becomes a frozen dataclass over the runtime's
``CStruct`` (which checks fields when one is made) and three module-level helpers a kernel
uses: ``_flat_S(s, function, param)`` (the struct's values in memory order, for the
call's one ``struct.Struct`` of values by pointer), ``_make_S(values, i)`` (a struct from
the unpacked values, from item *i*) and ``_zero_S`` (values of an out-struct before the
call). :func:`struct_format` gives the struct's part of that ``struct.Struct`` format:
its fields at their offsets, explicit padding included.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from .model import SCALARS, Function, StructField, StructType

# struct format codes of the scalar kinds, as wasm32 memory holds them (little-endian, natural alignment)
STRUCT_CODES = {"i8": "b", "u8": "B", "i16": "h", "u16": "H", "i32": "i", "u32": "I", "i64": "q", "u64": "Q"}
STRUCT_CODES.update({"f32": "f", "f64": "d", "bool": "?"})


def flat_name(name: str) -> str:
    return f"_flat_{name}"


def make_name(name: str) -> str:
    return f"_make_{name}"


def zero_name(name: str) -> str:
    return f"_zero_{name}"


def struct_format(t: StructType, by_name: dict[str, StructType]) -> tuple[str, int]:
    """(format without byte order, number of items) of struct *t* as it lies in memory."""
    fmt, items, position = "", 0, 0
    for f in t.fields:
        if f.offset > position:
            fmt += f"{f.offset - position}x"
        position = f.offset
        repeat = max(f.count, 1)
        if f.kind == "bytes":
            fmt, items, position = fmt + f"{f.count}s", items + 1, position + f.count
        elif f.kind == "struct":
            nested = by_name[f.struct]
            inner, n = struct_format(nested, by_name)
            fmt, items, position = fmt + inner * repeat, items + n * repeat, position + nested.size * repeat
        else:
            code = STRUCT_CODES[f.kind]
            fmt += f"{f.count}{code}" if f.count else code
            items, position = items + repeat, position + SCALARS[f.kind].size * repeat
    if t.size > position:
        fmt += f"{t.size - position}x"
    return fmt, items


def _items(f: StructField, by_name: dict[str, StructType]) -> int:
    if f.kind == "bytes":
        return 1
    if f.kind == "struct":
        return struct_format(by_name[f.struct], by_name)[1] * max(f.count, 1)
    return max(f.count, 1)


@dataclass(frozen=True)
class StubStruct:
    """A frozen dataclass of the stub, made of a C struct, with its memory helpers."""

    name: str
    doc: str
    fields: tuple[tuple[str, str], ...]  # (name, annotation)
    spec: str  # the class's _c_fields_, as Python
    flat: str  # _flat_S's result: the values in memory order, as Python over _s
    make: str  # _make_S's result, as Python over _v and _i (unchecked: the values are as C holds them)
    zeros: str  # _zero_S, as Python


def _annotation(f: StructField) -> str:
    one = f.struct or f.enum or ("bytes" if f.kind == "bytes" else SCALARS[f.kind].python)
    return f"tuple[{one}, ...]" if f.count and f.kind != "bytes" else one


def _tuple(items: Sequence[str]) -> str:
    """A tuple display on one line, as ruff writes it: ``(x,)`` for one item."""
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


def _exploded(items: Sequence[str], indent: str, head: str = "") -> str:
    """A call (*head*) or tuple display of *items* as ruff keeps it: one item per line with a
    trailing comma (which ruff then keeps), or on one line for a single item."""
    if len(items) == 1:
        return f"{head}({items[0]})" if head else _tuple(items)
    lines = "".join(f"{indent}    {item},\n" for item in items)
    return f"{head}(\n{lines}{indent})"


def _at(k: int) -> str:
    return f"_i + {k}" if k else "_i"


def stub_struct(t: StructType, by_name: dict[str, StructType], enum_alias: dict[str, str]) -> StubStruct:
    flat: list[str] = []
    make: list[str] = []
    zeros: list[str] = []
    k = 0
    for f in t.fields:
        attr = f"_s.{f.name}"
        n = _items(f, by_name)
        if f.kind == "struct":
            each = n // max(f.count, 1)
            elements = [f"{attr}[{j}]" for j in range(f.count)] if f.count else [attr]
            flat += [f"*{flat_name(f.struct)}({e}, _f, _p)" for e in elements]
            made = [f"{make_name(f.struct)}(_v, {_at(k + j * each)})" for j in range(len(elements))]
            make.append(f"{f.name}={_tuple(made) if f.count else made[0]}")
            zeros.append(f"*{zero_name(f.struct)}" + f" * {f.count}" * bool(f.count > 1))
        elif f.count and f.kind != "bytes":
            flat.append(f"*{attr}")
            items = f"_v[{_at(k)} : {_at(k + n)}]"
            make.append(f"{f.name}=tuple(map({enum_alias[f.enum]}, {items}))" if f.enum else f"{f.name}={items}")
            zeros.append(f"*({'0.0' if f.kind in ('f32', 'f64') else '0'},) * {n}")
        else:
            flat.append(attr)
            item = f"_v[{_at(k)}]"
            make.append(f"{f.name}={enum_alias[f.enum]}({item})" if f.enum else f"{f.name}={item}")
            zeros.append('b""' if f.kind == "bytes" else "0.0" if f.kind in ("f32", "f64") else "0")
        k += n
    spec = _exploded(
        [
            f"({json.dumps(f.name)}, {json.dumps(f.kind)}, {f.count}, "
            f"{f.struct or enum_alias.get(f.enum, 'None')}, {json.dumps(f.spelling)})"
            for f in t.fields
        ],
        "",
    )
    doc = (
        f"The C {t.spelling} ({t.location}), {t.size} bytes, as a frozen dataclass.\n\n"
        "Its fields are checked against their C types when one is made."
    )
    return StubStruct(
        t.name,
        doc,
        tuple((f.name, _annotation(f)) for f in t.fields),
        spec,
        _exploded(flat, "    "),
        _exploded([t.name, *make], "    ", "_c_new"),
        _exploded(zeros, ""),
    )


def stub_structs(functions: Sequence[Function], enum_alias: dict[str, str]) -> list[StubStruct]:
    """The struct classes *functions* use, each once, nested ones before the structs that hold them."""
    by_name = {t.name: t for fn in functions for t in fn.structs}
    return [stub_struct(t, by_name, enum_alias) for t in by_name.values()]
