"""Compile C sources to a wasm32-wasi reactor module and check what came out.

The module is linked with debug info and names (the checks below need the name section),
then every custom section is stripped: zig alone leaves ~870 KB of DWARF otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .. import INCLUDE_DIR
from ..errors import WasmCompileError
from . import wasm_binary
from .model import Function
from .process import run

if TYPE_CHECKING:
    from .plan import BuildPlan

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


def compile_module(plan: BuildPlan, functions: Sequence[Function], user_defined: Sequence[str] = ()) -> CompiledModule:
    """Compile and link the sources of *plan*, exporting *functions*; then verify imports and exports.

    *user_defined*: the C functions the sources define themselves (their own ``memchr``
    replaces the helper's).
    """
    needs_allocator = any(f.uses_memory or f.result_string == "free" for f in functions)
    exports = [f.name for f in functions] + (list(RUNTIME_EXPORTS) if needs_allocator else [])
    plan.temp_dir.mkdir(parents=True, exist_ok=True)
    output = plan.temp_dir / f"{plan.files.stem}.linked.wasm"
    argv = [
        *plan.compiler.cc,
        f"-{plan.opt_level}",
        "-mexec-model=reactor",
        *plan.preprocessor_flags,
        *plan.extra_compile_args,
        *(str(s) for s in plan.sources),
        *(f"-DWASM_EXT_USER_{name.upper()}" for name in HELPER_FUNCTIONS if name in user_defined),
        *(str(s) for s in HELPER_SOURCES),
        *(f"-Wl,--export={name}" for name in exports),
        *plan.extra_link_args,
        "-o",
        str(output),
    ]
    module = plan.name
    run(
        argv,
        error=WasmCompileError,
        what=f"{module}: compiling {', '.join(str(s) for s in plan.sources)}",
        env=plan.compiler.environment(),
    )
    raw = output.read_bytes()
    try:
        parsed = wasm_binary.parse(raw)
    except wasm_binary.WasmFormatError as exc:
        raise WasmCompileError(f"{module}: the compiler wrote an unreadable module {output}: {exc}") from exc
    _check_imports(module, parsed, plan.wasi)
    named = _attach_export_names(module, parsed, functions)
    for name in exports[len(functions) :]:
        if parsed.export(name) is None:
            raise WasmCompileError(f"{module}: the linked module does not export {name!r}")
    return CompiledModule(
        wasm_binary.strip_custom_sections(raw),
        wasm_binary.strip_custom_sections(raw, keep=("name",)),
        tuple(parsed.target_features) or GENERIC_FEATURES,
        tuple(named),
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
    """Match each C function to its wasm export (``export_name`` may rename it) and check types.

    The name section says which C function each export is; an export's own name is used
    only for a function the name section does not name (so two functions exported under
    each other's names stay apart).
    """
    names = wasm_binary.function_names(parsed)
    by_c_name: dict[str, wasm_binary.Export] = {}
    by_export_name: dict[str, wasm_binary.Export] = {}
    for export in parsed.exports:
        if export.kind == "func":
            if export.index in names:
                by_c_name.setdefault(names[export.index], export)
            by_export_name.setdefault(export.name, export)
    result = []
    for fn in functions:
        found = by_c_name.get(fn.name) or by_export_name.get(fn.name)
        if found is None:
            raise WasmCompileError(f"{module}: {fn.name}() was not exported by the linker")
        export = found
        if export.type is not None and (export.type.params, export.type.results) != (fn.wasm_params, fn.wasm_results):
            raise WasmCompileError(
                f"{module}: {fn.name}() has wasm type {export.type} but its C prototype implies "
                f"({', '.join(fn.wasm_params)}) -> ({', '.join(fn.wasm_results)})"
            )
        result.append(replace(fn, export=export.name))
    return result
