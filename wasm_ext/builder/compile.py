"""Compile C sources to a wasm32-wasi reactor module and check what came out.

The module is linked with debug info and names (the checks below need the name section),
then every custom section is stripped: zig alone leaves ~870 KB of DWARF otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .. import INCLUDE_DIR
from ..errors import WasmCompileError
from . import cxx, wasm_binary
from .c_ast import RawFunction
from .model import Function
from .outputs import write_if_changed
from .process import run

if TYPE_CHECKING:
    from .plan import BuildPlan

RUNTIME_EXPORTS = ("malloc", "free")
# Linked into every module: SIMD memchr/memcmp/strlen replacing zig libc's byte-at-a-time
# loops (the linker drops them when unused). One the module's own sources define is left
# out (-DWASM_EXT_USER_<NAME>), so a user's definition wins without a duplicate symbol.
# Also linked into every module: a malloc whose freed blocks merge (wasm_ext_malloc.c says
# why); left out whole (-DWASM_EXT_USER_MALLOC) when the sources define any of its functions.
HELPER_SOURCES = (Path(INCLUDE_DIR) / "wasm_ext_string.c", Path(INCLUDE_DIR) / "wasm_ext_malloc.c")
HELPER_FUNCTIONS = ("memchr", "memcmp", "strlen")
MALLOC_FUNCTIONS = (
    "malloc",
    "free",
    "calloc",
    "realloc",
    "reallocarray",
    "aligned_alloc",
    "posix_memalign",
    "memalign",
    "valloc",
    "malloc_usable_size",
)
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


def compile_module(
    plan: BuildPlan,
    functions: Sequence[Function],
    user_defined: Sequence[str] = (),
    static: Mapping[str, RawFunction] | None = None,
) -> CompiledModule:
    """Compile and link the sources of *plan*, exporting *functions*; then verify imports and exports.

    *user_defined*: the C functions the sources define themselves (their own ``memchr``
    replaces the helper's). *static*: the functions among *functions* that are ``static``
    in a header; each is exported by a wrapper (see :func:`wrapper_source`).
    """
    static = static or {}
    needs_allocator = any(f.uses_memory or f.result_string == "free" for f in functions)
    linked = [f.name for f in functions if f.name not in static]
    exports = linked + (list(RUNTIME_EXPORTS) if needs_allocator else [])
    sources = _sources_with_wrappers(plan, static)
    plan.temp_dir.mkdir(parents=True, exist_ok=True)
    output = plan.temp_dir / f"{plan.files.stem}.linked.wasm"
    user_helpers = [f"-DWASM_EXT_USER_{name.upper()}" for name in HELPER_FUNCTIONS if name in user_defined]
    if any(name in user_defined for name in MALLOC_FUNCTIONS):
        user_helpers.append("-DWASM_EXT_USER_MALLOC")
    if plan.has_cxx:
        _compile_and_link_cxx(plan, sources, exports, user_helpers, output)
    else:
        argv = [
            *plan.compiler.cc,
            f"-{plan.opt_level}",
            "-mexec-model=reactor",
            *plan.target_flags,
            *plan.preprocessor_flags,
            *plan.extra_compile_args,
            *sources,
            *user_helpers,
            *(str(s) for s in HELPER_SOURCES),
            *(f"-Wl,--export={name}" for name in exports),
            *plan.extra_link_args,
            "-o",
            str(output),
        ]
        run(
            argv,
            error=WasmCompileError,
            what=f"{plan.name}: compiling {', '.join(str(s) for s in plan.sources)}",
            env=plan.compiler.environment(),
        )
    module = plan.name
    raw = output.read_bytes()
    try:
        parsed = wasm_binary.parse(raw)
    except wasm_binary.WasmFormatError as exc:
        raise WasmCompileError(f"{module}: the compiler wrote an unreadable module {output}: {exc}") from exc
    _check_imports(module, parsed, plan.wasi)
    named = _attach_export_names(module, parsed, functions)
    for name in exports[len(linked) :]:
        if parsed.export(name) is None:
            raise WasmCompileError(f"{module}: the linked module does not export {name!r}")
    return CompiledModule(
        wasm_binary.strip_custom_sections(raw),
        wasm_binary.strip_custom_sections(raw, keep=("name",)),
        tuple(parsed.target_features) or GENERIC_FEATURES,
        tuple(named),
    )


def _compile_and_link_cxx(
    plan: BuildPlan, sources: Sequence[str], exports: Sequence[str], user_helpers: Sequence[str], output: Path
) -> None:
    """Build a module with C++ sources: each C source (and the helpers) to an object with the C
    driver, then the C++ sources compiled and everything linked by the C++ driver (libc++).

    One command cannot do both: the C++ driver compiles ``.c`` files as C++, and ``-std=c++NN``
    is an error for C. ``-x c++`` makes the plugin's idea of which files are C++ the compiler's.
    """
    assert plan.cxx_commands is not None
    objects_dir = plan.temp_dir / "objects"
    objects_dir.mkdir(parents=True, exist_ok=True)
    objects = []
    c_units: list[tuple[str, tuple[str, ...]]] = [(s, ()) for s in sources if not cxx.is_cxx(s)]
    c_units += [(str(s), tuple(user_helpers)) for s in HELPER_SOURCES]
    for index, (source, defines) in enumerate(c_units):
        obj = objects_dir / f"{index}-{Path(source).stem}.o"
        _run_compiler(
            plan,
            [
                *plan.compiler.cc,
                f"-{plan.opt_level}",
                *plan.target_flags,
                *plan.preprocessor_flags,
                *plan.extra_compile_args,
                *defines,
                "-c",
                source,
                "-o",
                str(obj),
            ],
            f"{plan.name}: compiling {source}",
        )
        objects.append(str(obj))
    cxx_sources = [s for s in sources if cxx.is_cxx(s)]
    if not plan.wasi:
        cxx_sources.append(str(cxx.QUIET_ABORT_SOURCE))
    argv = [
        *plan.cxx_commands.cxx,
        f"-{plan.opt_level}",
        "-mexec-model=reactor",
        *plan.cxx_flags,
        *plan.target_flags,
        *plan.preprocessor_flags,
        *plan.extra_compile_args,
        "-x",
        "c++",
        *cxx_sources,
        "-x",
        "none",
        *objects,
        *(f"-Wl,--export={name}" for name in exports),
        *plan.extra_link_args,
        "-o",
        str(output),
    ]
    what = ", ".join(s for s in sources if cxx.is_cxx(s))
    _run_compiler(plan, argv, f"{plan.name}: compiling {what} and linking with libc++")


def _run_compiler(plan: BuildPlan, argv: Sequence[str], what: str) -> None:
    try:
        run(argv, error=WasmCompileError, what=what, env=plan.compiler.environment())
    except WasmCompileError as exc:
        raise WasmCompileError(plan.explain(str(exc))) from None


WRAPPER_PREFIX = "__wasm_ext_export_"


def wrapper_source(unit: Path, functions: Sequence[RawFunction], *, cplusplus: bool = False) -> str:
    """A translation unit that is *unit* plus an exported wrapper of each static function in *functions*.

    A ``static`` (often ``static inline``) function a header defines has internal linkage:
    the linker cannot export it. Compiled in place of *unit*, this file defines what *unit*
    does and one non-static function per static one, calling it, exported under its name
    (with C linkage where *unit* is C++).
    """
    lines = [
        "/* Generated by setuptools-wasm: exports for static functions of this source. Do not edit. */",
        f"#include {json.dumps(str(unit))}",
    ]
    for fn in functions:
        params = ", ".join(
            f"{p.spelling}{'' if p.spelling.endswith('*') else ' '}a{i}" for i, p in enumerate(fn.params)
        )
        args = ", ".join(f"a{i}" for i in range(len(fn.params)))
        call = f"{fn.name}({args})"
        body = f"{call};" if fn.result.strip() == "void" else f"return {call};"
        lines.append(
            ('extern "C" ' if cplusplus else "")
            + f'__attribute__((export_name("{fn.name}"))) {fn.result} {WRAPPER_PREFIX}{fn.name}({params or "void"}) '
            f"{{ {body} }}"
        )
    return "\n".join(lines) + "\n"


def _sources_with_wrappers(plan: BuildPlan, static: Mapping[str, RawFunction]) -> list[str]:
    """The sources to compile: each one that holds static functions to export replaced by its wrapper unit."""
    by_unit: dict[str, list[RawFunction]] = {}
    for fn in static.values():
        by_unit.setdefault(fn.unit, []).append(fn)
    sources = []
    for index, source in enumerate(plan.sources):
        wrapped = by_unit.get(str(source))
        if not wrapped:
            sources.append(str(source))
            continue
        cplusplus = cxx.is_cxx(source)
        unit = plan.temp_dir / f"wrap-{index}-{source.stem}.{'cpp' if cplusplus else 'c'}"
        write_if_changed(unit, wrapper_source(source.resolve(), wrapped, cplusplus=cplusplus))
        sources.append(str(unit))
    return sources


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
