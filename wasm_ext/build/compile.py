"""Compile C sources to a wasm32-wasi reactor module and check what came out.

The module is linked with debug info and names (the checks below need the name section),
then every custom section is stripped: zig alone leaves ~870 KB of DWARF otherwise.
"""

from __future__ import annotations

import keyword
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .. import INCLUDE_DIR
from ..errors import WasmCompileError
from . import wasm_binary
from .process import run
from .signatures import Function
from .toolchain import Compiler

RUNTIME_EXPORTS = ("malloc", "free")
# Linked into every module: SIMD memchr/memcmp/strlen replacing zig libc's byte-at-a-time
# loops (the linker drops them when unused). One the module's own sources define is left
# out (-DWASM_EXT_USER_<NAME>), so a user's definition wins without a duplicate symbol.
HELPER_SOURCES = (Path(INCLUDE_DIR) / "wasm_ext_string.c",)
HELPER_FUNCTIONS = ("memchr", "memcmp", "strlen")
WASI_MODULES = ("wasi_snapshot_preview1", "wasi_unstable")
# What zig's clang emits for wasm32 by default (its generic CPU, plus simd128 for the
# helpers above). Assumed when a module has no target_features section (zig leaves it
# out at -Os/-Oz), so that wasm-opt is told about every feature the code may use.
GENERIC_FEATURES = (
    "bulk-memory-opt",
    "call-indirect-overlong",
    "extended-const",
    "multivalue",
    "mutable-globals",
    "nontrapping-fptoint",
    "sign-ext",
    "simd128",
)


@dataclass(frozen=True)
class CompiledModule:
    """The linked module before optimisation."""

    stripped: bytes  # no custom sections: what the wheel gets when wasm-opt does not run
    named: bytes  # only the name section kept: what wasm-opt gets (it keeps names with -g)
    features: tuple[str, ...]  # from the target_features section, for wasm-opt
    functions: tuple[Function, ...]  # with their export names filled in
    imports: tuple[wasm_binary.Import, ...]


def compile_flags(
    *,
    include_dirs: Sequence[str],
    define_macros: Sequence[tuple[str, str | None]],
    undef_macros: Sequence[str],
) -> list[str]:
    """Preprocessor flags, shared by the compile and the AST dump so both see the same code."""
    flags = [f"-I{d}" for d in include_dirs]
    flags += [f"-D{name}" if value is None else f"-D{name}={value}" for name, value in define_macros]
    flags += [f"-U{name}" for name in undef_macros]
    return flags


def compile_module(
    compiler: Compiler,
    *,
    module: str,
    sources: Sequence[Path],
    flags: Sequence[str],
    opt_level: str,
    extra_compile_args: Sequence[str],
    extra_link_args: Sequence[str],
    functions: Sequence[Function],
    wasi: bool,
    output: Path,
    user_defined: Sequence[str] = (),
) -> CompiledModule:
    """Compile and link *sources* into *output*, then verify imports and exports."""
    needs_allocator = any(p.kind != "scalar" for f in functions for p in f.params)
    exports = [f.name for f in functions] + (list(RUNTIME_EXPORTS) if needs_allocator else [])
    argv = [
        *compiler.cc,
        f"-{opt_level}",
        "-mexec-model=reactor",
        *flags,
        *extra_compile_args,
        *(str(s) for s in sources),
        *(f"-DWASM_EXT_USER_{name.upper()}" for name in HELPER_FUNCTIONS if name in user_defined),
        *(str(s) for s in HELPER_SOURCES),
        *(f"-Wl,--export={name}" for name in exports),
        *extra_link_args,
        "-o",
        str(output),
    ]
    run(argv, error=WasmCompileError, what=f"{module}: compiling {', '.join(str(s) for s in sources)}")
    raw = output.read_bytes()
    try:
        parsed = wasm_binary.parse(raw)
    except wasm_binary.WasmFormatError as exc:
        raise WasmCompileError(f"{module}: the compiler wrote an unreadable module {output}: {exc}") from exc
    _check_imports(module, parsed, wasi)
    named = _attach_export_names(module, parsed, functions)
    for name in exports[len(functions) :]:
        if parsed.export(name) is None:
            raise WasmCompileError(f"{module}: the linked module does not export {name!r}")
    return CompiledModule(
        wasm_binary.strip_custom_sections(raw),
        wasm_binary.strip_custom_sections(raw, keep=("name",)),
        tuple(parsed.target_features) or GENERIC_FEATURES,
        tuple(named),
        tuple(parsed.imports),
    )


def _check_imports(module: str, parsed: wasm_binary.WasmModule, wasi: bool) -> None:
    wasi_imports = [i for i in parsed.imports if i.module in WASI_MODULES]
    other = [i for i in parsed.imports if i.module not in WASI_MODULES]
    if other:
        raise WasmCompileError(
            f"{module}: the module imports functions no runtime provides (undefined symbols?): "
            + ", ".join(f"{i.module}.{i.name}" for i in other)
        )
    if wasi_imports and not wasi:
        raise WasmCompileError(
            f"{module}: the module imports WASI functions but was declared with wasi=False: "
            + ", ".join(f"{i.module}.{i.name}" for i in wasi_imports)
            + ". These usually come from stdio (printf, fopen, ...): remove those calls, or "
            "pass wasi=True to give the module a WASI runtime that grants nothing by default."
        )


def _attach_export_names(module: str, parsed: wasm_binary.WasmModule, functions: Sequence[Function]) -> list[Function]:
    """Match each C function to its wasm export (``export_name`` may rename it) and check types."""
    names = wasm_binary.function_names(parsed)
    by_c_name: dict[str, wasm_binary.Export] = {}
    for export in parsed.exports:
        if export.kind == "func":
            c_name = names.get(export.index, export.name)
            by_c_name.setdefault(c_name, export)
            by_c_name.setdefault(export.name, export)
    result = []
    for fn in functions:
        found = by_c_name.get(fn.name)
        if found is None:
            raise WasmCompileError(f"{module}: {fn.name}() was not exported by the linker")
        export = found
        if not export.name.isidentifier() or keyword.iskeyword(export.name):
            raise WasmCompileError(
                f"{module}: export name {export.name!r} of {fn.name}() is not a valid Python identifier"
            )
        if export.type is not None and (export.type.params, export.type.results) != (fn.wasm_params, fn.wasm_results):
            raise WasmCompileError(
                f"{module}: {fn.name}() has wasm type {export.type} but its C prototype implies "
                f"({', '.join(fn.wasm_params)}) -> ({', '.join(fn.wasm_results)})"
            )
        result.append(replace(fn, export=export.name))
    return result
