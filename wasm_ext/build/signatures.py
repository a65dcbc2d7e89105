"""Read C prototypes and doc comments (clang's JSON AST) into a typed model of each export.

Parse -> model -> (later) generator, as three separate steps: this module knows C and
clang's JSON; :mod:`.stubgen` knows only the model it produces.
"""

from __future__ import annotations

import json
import keyword
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SignatureError, WasmCompileError
from .cache import read_depfile
from .process import run
from .scalars import SCALARS, VOID
from .toolchain import Compiler

LENGTH_NAMES = ("n", "len", "length", "size", "count")
LENGTH_SUFFIXES = ("_len", "_length", "_size", "_count", "_n")
_QUALIFIERS = {"const", "volatile", "restrict", "__restrict", "__restrict__", "static", "register"}
_UNMAPPABLE_HINT = (
    "wrap it in a small C function that takes scalars or (pointer, length) pairs, or leave it out of `exports`"
)


@dataclass(frozen=True)
class Param:
    """One Python-level parameter: a scalar, a (pointer, length) buffer, or a C string."""

    name: str  # the Python name
    kind: str  # "scalar", "buffer" or "string"
    ctype: str  # scalar kind (see scalars.SCALARS); the element kind for buffers
    spelling: str  # the C type as written
    writable: bool = False  # buffers: T* (in/out) rather than const T* (in)
    length: str | None = None  # buffers: the C length parameter folded into this one
    length_ctype: str | None = None
    length_spelling: str | None = None


@dataclass(frozen=True)
class Function:
    """A C function exported from the module, as the stub generator needs it."""

    name: str  # C name
    params: tuple[Param, ...]
    result: str  # scalar kind or "void"
    result_spelling: str
    doc: str
    location: str  # file:line of the definition
    export: str = ""  # the wasm export name (filled in after linking)

    @property
    def wasm_params(self) -> tuple[str, ...]:
        types: list[str] = []
        for p in self.params:
            if p.kind == "scalar":
                types.append(SCALARS[p.ctype].wasm)
            elif p.kind == "buffer":
                types += ["i32", SCALARS[p.length_ctype or "u32"].wasm]
            else:
                types.append("i32")
        return tuple(types)

    @property
    def wasm_results(self) -> tuple[str, ...]:
        return () if self.result == VOID else (SCALARS[self.result].wasm,)


@dataclass
class _RawParam:
    name: str
    spelling: str


@dataclass
class _RawFunction:
    name: str
    params: list[_RawParam]
    result: str
    variadic: bool
    location: str
    doc: str = ""
    defined: bool = False
    marked: bool = False  # WASM_EXPORT or export_name(...)


@dataclass
class SourceInfo:
    """What the AST of a module's sources says: C functions, export markers, typedefs."""

    functions: dict[str, _RawFunction] = field(default_factory=dict)
    typedefs: dict[str, str] = field(default_factory=dict)
    files: set[str] = field(default_factory=set)  # every file read, sources and headers

    @property
    def defined(self) -> list[str]:
        return sorted(name for name, f in self.functions.items() if f.defined)

    @property
    def marked(self) -> list[str]:
        return sorted(name for name, f in self.functions.items() if f.defined and f.marked)


def read_sources(
    compiler: Compiler, sources: Sequence[Path], flags: Sequence[str], *, module: str, depfile_dir: Path
) -> SourceInfo:
    """Run clang's AST dump over every source and collect functions, markers and typedefs.

    The same run writes a depfile per source; :attr:`SourceInfo.files` lists every file
    the preprocessor read (headers with only macros included), for the build cache.
    """
    info = SourceInfo()
    depfile_dir.mkdir(parents=True, exist_ok=True)
    for index, source in enumerate(sources):
        depfile = depfile_dir / f"{index}-{source.stem}.d"
        proc = run(
            [
                *compiler.ast,
                *flags,
                "-MD",
                "-MF",
                str(depfile),
                "-Xclang",
                "-ast-dump=json",
                "-fsyntax-only",
                str(source),
            ],
            error=WasmCompileError,
            what=f"{module}: reading C declarations of {source}",
        )
        info.files.update(str(Path(d).resolve()) for d in read_depfile(depfile))
        info.files.add(str(source.resolve()))
        try:
            tree = json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            raise WasmCompileError(f"{module}: clang printed an unreadable AST for {source}: {exc}") from exc
        _collect(tree, str(source), info)
    return info


def _collect(tree: dict[str, Any], main_file: str, info: SourceInfo) -> None:
    # clang's JSON names a node's file only when it differs from the previous node's, so
    # the current file is tracked while walking the top-level declarations in order.
    current = ""
    for node in tree.get("inner", []):
        loc = node.get("loc", {})
        for candidate in (loc, loc.get("spellingLoc", {}), loc.get("expansionLoc", {})):
            if "file" in candidate:
                current = candidate["file"]
                break
        kind = node.get("kind")
        if kind == "TypedefDecl" and "name" in node:
            info.typedefs[node["name"]] = node.get("type", {}).get("qualType", "")
        elif kind == "FunctionDecl" and "name" in node:
            _add_function(node, current, current == main_file, info)


def _add_function(node: dict[str, Any], file: str, in_main_file: bool, info: SourceInfo) -> None:
    inner = node.get("inner", [])
    name = node["name"]
    qual = node.get("type", {}).get("qualType", "")
    result = qual.split("(", 1)[0].strip() if "(" in qual else qual
    params = [
        _RawParam(child.get("name", ""), child.get("type", {}).get("qualType", ""))
        for child in inner
        if child.get("kind") == "ParmVarDecl"
    ]
    line = node.get("loc", {}).get("line") or node.get("loc", {}).get("expansionLoc", {}).get("line", "?")
    kinds = {child.get("kind") for child in inner}
    visibility_default = any(c.get("kind") == "VisibilityAttr" and c.get("visibility") == "default" for c in inner)
    marked = "WebAssemblyExportNameAttr" in kinds or ("AnnotateAttr" in kinds and visibility_default)
    doc = next((_render_comment(c) for c in inner if c.get("kind") == "FullComment"), "")
    fn = info.functions.get(name)
    if fn is None:
        fn = info.functions[name] = _RawFunction(name, params, result, bool(node.get("variadic")), f"{file}:{line}")
    defined = "CompoundStmt" in kinds and in_main_file
    if defined:
        fn.params, fn.result, fn.variadic = params, result, bool(node.get("variadic"))
        fn.location = f"{file}:{line}"
        fn.defined = True
    fn.marked = fn.marked or marked
    fn.doc = fn.doc or doc


def _render_comment(node: dict[str, Any]) -> str:
    """Plain text of a ``/** */`` or ``///`` comment: paragraphs, then ``@param``/``@return``."""
    paragraphs: list[str] = []
    params: list[str] = []
    returns: list[str] = []
    for child in node.get("inner", []):
        kind = child.get("kind")
        text = _comment_text(child)
        if kind == "ParagraphComment":
            if text:
                paragraphs.append(text)
        elif kind == "ParamCommandComment":
            params.append(f"    {child.get('param', '?')}: {text}")
        elif kind == "BlockCommandComment" and child.get("name") in ("return", "returns", "result"):
            returns.append(f"    {text}")
        elif text:
            paragraphs.append(text)
    out = "\n\n".join(paragraphs)
    if params:
        out += "\n\nArgs:\n" + "\n".join(params)
    if returns:
        out += "\n\nReturns:\n" + "\n".join(returns)
    return out.strip()


def _comment_text(node: dict[str, Any]) -> str:
    """Text of a comment node: pieces on one source line are joined as they stand (clang
    splits a line at ``<``, taking it for HTML), pieces on new lines with a space."""
    lines: list[str] = []
    current: list[Any] = [None]

    def walk(n: dict[str, Any]) -> None:
        line = n.get("loc", {}).get("line", current[0])
        if n.get("kind") == "TextComment":
            if line != current[0] or not lines:
                lines.append("")
            lines[-1] += n.get("text", "")
        current[0] = line
        for c in n.get("inner", []):
            walk(c)

    walk(node)
    return " ".join(text.strip() for text in lines if text.strip())


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


def _is_length_name(pointer: str, candidate: str) -> bool:
    return candidate in LENGTH_NAMES or any(candidate == pointer + suffix for suffix in LENGTH_SUFFIXES)


def _python_name(name: str, index: int) -> str:
    """The Python parameter name: never empty, a keyword, or starting with ``_`` (the stub's own names do)."""
    name = name.lstrip("_")
    if not name:
        return f"arg{index}"
    return name + "_" if keyword.iskeyword(name) else name


def map_function(raw: _RawFunction, typedefs: dict[str, str], *, module: str) -> Function:
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
            raise SignatureError(
                f"{where}: parameter {p.name or i!s} ({p.spelling}) is a pointer with no length "
                f"parameter after it (name it n, len, length, size, count or {p.name}_len); "
                f"{_UNMAPPABLE_HINT}"
            )
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
            f"the sources. Functions defined: {', '.join(info.defined) or 'none'}"
        )
    return list(dict.fromkeys(requested))


def map_functions(info: SourceInfo, names: Iterable[str], *, module: str) -> Iterator[Function]:
    for name in names:
        yield map_function(info.functions[name], info.typedefs, module=module)


def function_from_json(data: dict[str, Any]) -> Function:
    """The inverse of ``dataclasses.asdict`` for a :class:`Function` (build cache records)."""
    return Function(**{**data, "params": tuple(Param(**p) for p in data["params"])})
