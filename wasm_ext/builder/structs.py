"""Plain-data structs: their fields and clang's wasm32 layout, from the definitions the AST holds.

A struct the stub passes by value (a frozen dataclass on the Python side) must be plain
data: numbers, enums, fixed arrays of them and nested such structs, with C's default
layout (each field at its natural alignment, the size rounded up to the largest). Anything
else (pointers, bit-fields, unions, packed or aligned attributes, flexible arrays) is
refused with the reason, so a layout the stub would get wrong never reaches a call.
wasm32's C ABI passes and returns a struct of one scalar as that scalar
(``StructType.direct``); every other struct travels by pointer.
"""

from __future__ import annotations

import re

from .c_ast import SourceInfo
from .c_types import canonical, enum_kind, python_name, scalar_kind
from .model import SCALARS, VOID, StructField, StructType

_ARRAY = re.compile(r"^(.*?)\s*\[(\d*)\]$")
MAX_NESTED_ELEMENTS = 256  # an array of structs is unrolled in the stub: keep it small


class StructError(ValueError):
    """Why a struct cannot be passed by value (the message completes "struct point ...")."""


class StructLayouts:
    """The layouts of the structs the sources define, computed on first use (by C type: "struct point")."""

    def __init__(self, info: SourceInfo) -> None:
        self._info = info
        self._done: dict[str, StructType] = {}
        self._names: dict[str, str] = {}
        for alias, target in info.typedefs.items():  # a struct's class is named by its typedef, if any
            self._names.setdefault(canonical(target, info.typedefs)[0], alias)

    def defines(self, base: str) -> bool:
        return base in self._info.structs

    def get(self, base: str) -> StructType:
        """The layout of the struct *base*; :class:`StructError` if it is no plain data."""
        if base not in self._done:
            self._done[base] = self._layout(base, ())
        return self._done[base]

    def closure(self, name: str) -> list[StructType]:
        """The struct *name* (a class name) and every struct nested in it, nested ones first."""
        by_name = {t.name: t for t in self._done.values()}
        found: list[StructType] = []

        def visit(struct: StructType) -> None:
            for f in struct.fields:
                if f.struct:
                    visit(by_name[f.struct])
            if struct not in found:
                found.append(struct)

        visit(by_name[name])
        return found

    def _layout(self, base: str, outer: tuple[str, ...]) -> StructType:
        record = self._info.structs.get(base)
        if record is None:
            raise StructError("is not defined in the sources (only declared)")
        if record.union:
            raise StructError("is a union: only structs can be passed by value")
        if record.attributes:
            raise StructError(f"has a layout attribute ({', '.join(record.attributes)}): only C's default layout")
        if not record.fields:
            raise StructError("has no fields")
        fields: list[StructField] = []
        offset = align = 0
        used: set[str] = set()
        for index, raw in enumerate(record.fields):
            where = f"field {raw.name or index} ({raw.spelling})"
            if raw.bitfield:
                raise StructError(f"has a bit-field, {where}")
            if raw.attributes:
                raise StructError(f"has a layout attribute on {where}")
            element, count = raw.spelling, 0
            match = _ARRAY.match(raw.spelling)
            if match:
                if not match.group(2) or int(match.group(2)) == 0:
                    raise StructError(f"has a flexible array, {where}")
                element, count = match.group(1), int(match.group(2))
            elem_base, pointers, _ = canonical(element, self._info.typedefs)
            kind, nested, size, field_align, enum = self._element(elem_base, pointers, where, (*outer, base))
            if count and kind in ("i8", "u8"):
                kind = "bytes"
            elif count and nested and count > MAX_NESTED_ELEMENTS:
                raise StructError(f"has an array of more than {MAX_NESTED_ELEMENTS} structs, {where}")
            offset += -offset % field_align
            name = python_name(raw.name, index)
            while name in used:
                name += "_"
            used.add(name)
            fields.append(StructField(name, raw.name, kind, offset, raw.spelling, count, nested, enum))
            offset += size * max(count, 1)
            align = max(align, field_align)
        size = offset + -offset % align
        only = fields[0] if len(fields) == 1 else None
        direct = ""
        if only is not None and only.count <= 1 and only.kind in SCALARS:
            direct = only.kind  # one scalar (an array of one counts): wasm32 passes it as the scalar
        elif only is not None and only.kind == "struct" and only.count <= 1:
            direct = self._by_name(only.struct).direct
        return StructType(
            self._names.get(base, base.split()[-1]), base, size, align, tuple(fields), record.location, direct
        )

    def _element(self, base: str, pointers: int, where: str, outer: tuple[str, ...]) -> tuple[str, str, int, int, str]:
        """(kind, nested struct class, size, alignment, enum class) of a field's element type."""
        if pointers > 0:
            raise StructError(
                f"holds a pointer, {where}: a struct with pointers is no plain data; if the library hands "
                "it out as an object, declare it a handle"
            )
        if pointers < 0:
            raise StructError(f"has {where}, a type that cannot be mapped (a function pointer or an unnamed type)")
        if base.split()[0] in ("struct", "union"):
            if base in outer:
                raise StructError(f"contains itself, {where}")
            try:
                nested = self._done[base] if base in self._done else self._layout(base, outer)
            except StructError as exc:
                raise StructError(f"has {where}, and {base} {exc}") from None
            self._done[base] = nested
            return "struct", nested.name, nested.size, nested.align, ""
        enum = enum_kind(base, self._info.enums)
        kind = enum or scalar_kind(base)
        if kind is None or kind == VOID:
            raise StructError(f"has {where}, which has no Python mapping")
        enum_name = self._info.enums[base].name if enum else ""
        size = SCALARS[kind].size
        return kind, "", size, size, enum_name

    def _by_name(self, name: str) -> StructType:
        return next(t for t in self._done.values() if t.name == name)
