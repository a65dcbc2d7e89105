"""From C declarations to the typed model: which functions to export, and how each maps.

The rules: which C types are scalars (wasm32 is ILP32), when a pointer and the length
after it pair into one buffer parameter, when ``const char *`` is a string, what the
Python names are. Input is :class:`~.c_ast.SourceInfo`; output is
:class:`~.model.Function`. A function that cannot be mapped is a
:class:`~wasm_ext.errors.SignatureError` naming the function, the parameter and the fix.
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from collections.abc import Iterable, Sequence

from ..errors import SignatureError, WasmCompileError
from .c_ast import RawFunction, SourceInfo
from .model import VOID, Function, Param

LENGTH_NAMES = ("n", "len", "length", "size", "count")
LENGTH_SUFFIXES = ("_len", "_length", "_size", "_count", "_n")
_QUALIFIERS = {"const", "volatile", "restrict", "__restrict", "__restrict__", "static", "register"}
_UNMAPPABLE_HINT = (
    "wrap it in a small C function that takes scalars or (pointer, length) pairs, or leave it out of `exports`"
)


def _canonical(spelling: str, typedefs: dict[str, str], depth: int = 0) -> tuple[str, int, bool]:
    """(canonical base type, pointer depth, pointee const); depth -1 for types we never map."""
    s = spelling.strip()
    if "(" in s or "[" in s or depth > 32:
        return s, -1, False
    pointers = s.count("*")
    head = s.split("*", 1)[0]
    const = bool(re.search(r"\bconst\b", head))
    base = " ".join(w for w in head.split() if w not in _QUALIFIERS)
    if base in typedefs:
        inner_base, inner_pointers, inner_const = _canonical(typedefs[base], typedefs, depth + 1)
        if inner_pointers < 0:
            return inner_base, -1, False
        return inner_base, inner_pointers + pointers, inner_const if inner_pointers else const
    return base, pointers, const


def _scalar_kind(base: str) -> str | None:
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


def _lone_pointer_hint(name: str) -> str:
    """Why a pointer with no length after it cannot be mapped, and what would make it mappable."""
    if _is_length_name("", name) or any(name.endswith(s) for s in LENGTH_SUFFIXES) or name.startswith(("out", "p_")):
        return (
            "is a pointer to a single value the function probably writes (an out-parameter): out-parameters "
            f"cannot be bound yet; {_UNMAPPABLE_HINT}"
        )
    length = f"{name}_len" if name else "len"
    return (
        "is a pointer with no length parameter after it: if it is a buffer, put its length right after it, "
        f"named n, len, length, size, count or {length}; {_UNMAPPABLE_HINT}"
    )


def _is_length_name(pointer: str, candidate: str) -> bool:
    return candidate in LENGTH_NAMES or any(candidate == pointer + suffix for suffix in LENGTH_SUFFIXES)


def _python_name(name: str, index: int) -> str:
    """The Python parameter name: an identifier as Python reads it (NFKC), never empty, a keyword,
    ``self`` (the Sandbox methods' first parameter) or starting with ``_`` (the stub's own names do)."""
    name = unicodedata.normalize("NFKC", name).lstrip("_")
    if not name.isidentifier():
        return f"arg{index}"
    return name + "_" if keyword.iskeyword(name) or name == "self" else name


def map_function(raw: RawFunction, typedefs: dict[str, str], *, module: str) -> Function:
    """Turn a C prototype into the stub's model, or raise :class:`SignatureError` saying why."""
    where = f"{module}: function {raw.name}() at {raw.location}"
    if raw.variadic:
        raise SignatureError(f"{where}: variadic functions (...) cannot be called from Python; {_UNMAPPABLE_HINT}")
    result_base, result_ptr, _ = _canonical(raw.result, typedefs)
    result = _scalar_kind(result_base) if result_ptr == 0 else None
    if result is None:
        raise SignatureError(f"{where}: return type {raw.result!r} has no Python mapping; {_UNMAPPABLE_HINT}")
    params: list[Param] = []
    raws = raw.params
    used: set[str] = set()
    i = 0
    while i < len(raws):
        p = raws[i]
        pname = _python_name(p.name, i)
        while pname in used:
            pname += "_"
        used.add(pname)
        base, pointers, const = _canonical(p.spelling, typedefs)
        kind = _scalar_kind(base) if pointers >= 0 else None
        if pointers == 0 and kind is not None and kind != VOID:
            params.append(Param(pname, "scalar", kind, p.spelling))
            i += 1
            continue
        if pointers == 1 and kind is not None:
            element = "u8" if kind == VOID else kind
            nxt = raws[i + 1] if i + 1 < len(raws) else None
            if nxt is not None and _is_length_name(p.name, nxt.name):
                nbase, nptr, _ = _canonical(nxt.spelling, typedefs)
                length_kind = _scalar_kind(nbase) if nptr == 0 else None
                if length_kind is not None and length_kind not in (VOID, "bool", "f32", "f64"):
                    if element == "bool":
                        element = "u8"
                    params.append(
                        Param(pname, "buffer", element, p.spelling, not const, nxt.name, length_kind, nxt.spelling)
                    )
                    i += 2
                    continue
            if kind == "i8" and const and base.split()[-1] == "char" and "signed" not in base:
                params.append(Param(pname, "string", "i8", p.spelling))
                i += 1
                continue
            raise SignatureError(f"{where}: parameter {p.name or i!s} ({p.spelling}) {_lone_pointer_hint(p.name)}")
        raise SignatureError(
            f"{where}: parameter {p.name or i!s} has type {p.spelling!r}, which has no Python "
            f"mapping; {_UNMAPPABLE_HINT}"
        )
    return Function(raw.name, tuple(params), result, raw.result, raw.doc, raw.location)


def select_exports(info: SourceInfo, requested: Sequence[str] | None, *, module: str) -> list[str]:
    """The C functions to export: *requested* (checked to exist) or every marked one."""
    if requested is None:
        names = info.marked
        if not names:
            raise WasmCompileError(
                f"{module}: no function is marked for export. Mark kernels with WASM_EXPORT "
                f'(#include <wasm_ext.h>) or __attribute__((export_name("..."))), or list '
                f"them in `exports`. Functions defined: {', '.join(info.defined) or 'none'}"
            )
        return names
    missing = [name for name in requested if name not in info.defined]
    if missing:
        raise WasmCompileError(
            f"{module}: unknown export(s) {', '.join(missing)}: no such function is defined in "
            f"the sources or the project's headers. Functions defined: {', '.join(info.defined) or 'none'}"
        )
    internal = [name for name in requested if info.functions[name].static]
    if internal:
        raise WasmCompileError(
            f"{module}: {', '.join(f'{n}() ({info.functions[n].location})' for n in internal)} "
            f"{'is' if len(internal) == 1 else 'are'} static: the linker cannot export a function with "
            "internal linkage; export a non-static function that calls it"
        )
    return list(dict.fromkeys(requested))


def map_functions(info: SourceInfo, names: Iterable[str], *, module: str) -> list[Function]:
    """The model of every function in *names*; one :class:`SignatureError` listing every one that cannot be mapped.

    All are tried, so a big library's unmappable functions come out in one build, not one a build.
    """
    functions: list[Function] = []
    problems: list[str] = []
    for name in names:
        try:
            functions.append(map_function(info.functions[name], info.typedefs, module=module))
        except SignatureError as exc:
            problems.append(str(exc))
    if len(problems) == 1:
        raise SignatureError(problems[0])
    if problems:
        listed = "\n".join(f"  {p.removeprefix(module + ': ')}" for p in problems)
        raise SignatureError(f"{module}: {len(problems)} functions cannot be mapped:\n{listed}")
    return functions
