"""One extension's build, resolved and frozen: what every stage of the pipeline is given.

:func:`make_plan` turns a declared :class:`~wasm_ext.WasmExtension` into a
:class:`BuildPlan`: source and include paths resolved and checked, the tools found, the
preprocessor flags formed, the output files named. Stages take the plan and nothing
else from the declaration, so each stage can be run (and tested) on a plan of its own.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import INCLUDE_DIR, declarations
from ..declarations import FunctionDecl, HandleDecl
from ..errors import ConfigError
from ..extension import WasmExtension
from ..log import get_logger
from ..runtime.layout import ModuleFiles
from . import toolchain
from .stage_cache import INCLUDE_ALIAS

log = get_logger(__name__)


@dataclass(frozen=True)
class BuildPlan:
    """Everything the stages need to build one module."""

    name: str  # the stub's dotted module name
    files: ModuleFiles  # what the build writes, in the stub's directory
    temp_dir: Path  # intermediate files and the stage cache
    sources: tuple[Path, ...]  # resolved, existing
    project_dirs: tuple[Path, ...]  # the project's own files live here (source root, include_dirs)
    source_names: tuple[str, ...]  # as declared (for the stub's header)
    preprocessor_flags: tuple[str, ...]  # -I/-D/-U: the same for the compile and the AST dump
    extra_compile_args: tuple[str, ...]
    extra_link_args: tuple[str, ...]
    exports: tuple[str, ...] | None  # None: every marked function
    opt_level: str
    compiler: toolchain.Compiler
    wasm_opt: toolchain.WasmOpt | None  # None: not run
    precompile: bool
    max_size: int | None
    wasi: bool
    functions: tuple[FunctionDecl, ...] = ()  # what C cannot say (wasm_ext.declarations)
    handles: tuple[HandleDecl, ...] = ()
    declared_in: str = ""  # where those were declared, for messages

    def declared(self) -> dict[str, Any]:
        """The inputs that decide the compiled module, for the compile stage's cache key."""
        return {
            "name": self.name,
            "sources": [str(s) for s in self.sources],
            # the plugin's include directory moves with every isolated build: not part of the key
            "preprocessor_flags": [f.replace(INCLUDE_DIR, INCLUDE_ALIAS) for f in self.preprocessor_flags],
            "extra_compile_args": list(self.extra_compile_args),
            "extra_link_args": list(self.extra_link_args),
            "exports": None if self.exports is None else list(self.exports),
            "opt_level": self.opt_level,
            "wasi": self.wasi,
            "functions": declarations.to_json(self.functions),
            "handles": declarations.handles_to_json(self.handles),
            "compiler": self.compiler.describe(),
        }


def make_plan(ext: WasmExtension, *, source_root: Path, package_dir: Path, temp_dir: Path) -> BuildPlan:
    """The plan for *ext*, with sources under *source_root*, writing into *package_dir*."""
    sources = tuple(_resolve(source_root, s) for s in ext.sources)
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        raise ConfigError(f"{ext.name}: source file(s) not found: {', '.join(missing)}")
    include_dirs = [Path(INCLUDE_DIR)]
    for directory in ext.include_dirs:
        path = _resolve(source_root, directory)
        if not path.is_dir():
            raise ConfigError(f"{ext.name}: include directory not found: {directory}")
        include_dirs.append(path)
    compiler = toolchain.find_compiler()
    log.info("building %s with %s", ext.name, compiler.describe())
    return BuildPlan(
        name=ext.name,
        files=ModuleFiles.of(ext.name, package_dir),
        temp_dir=temp_dir,
        sources=sources,
        project_dirs=(source_root.resolve(), *(d.resolve() for d in include_dirs[1:])),
        source_names=tuple(ext.sources),
        preprocessor_flags=tuple(
            preprocessor_flags(
                include_dirs=[str(d) for d in include_dirs],
                define_macros=ext.define_macros,
                undef_macros=ext.undef_macros,
            )
        ),
        extra_compile_args=tuple(ext.extra_compile_args),
        extra_link_args=tuple(ext.extra_link_args),
        exports=None if ext.exports is None else tuple(ext.exports),
        opt_level=ext.opt_level,
        compiler=compiler,
        wasm_opt=_find_wasm_opt(ext),
        precompile=ext.precompile,
        max_size=ext.max_size,
        wasi=ext.wasi,
        functions=ext.functions,
        handles=ext.handles,
        declared_in=ext.declared_in,
    )


def preprocessor_flags(
    *,
    include_dirs: Sequence[str],
    define_macros: Sequence[tuple[str, str | None]],
    undef_macros: Sequence[str],
) -> list[str]:
    """``-I``/``-D``/``-U`` flags, shared by the compile and the AST dump so both see the same code."""
    flags = [f"-I{d}" for d in include_dirs]
    flags += [f"-D{name}" if value is None else f"-D{name}={value}" for name, value in define_macros]
    flags += [f"-U{name}" for name in undef_macros]
    return flags


def _find_wasm_opt(ext: WasmExtension) -> toolchain.WasmOpt | None:
    if ext.wasm_opt is False:
        return None
    required = ext.wasm_opt is True or os.environ.get("WASM_EXT_REQUIRE_WASM_OPT", "") not in ("", "0")
    wasm_opt = toolchain.find_wasm_opt(required=required)
    if wasm_opt is None:
        log.warning(
            "%s: wasm-opt not found, shipping the unoptimized module. %s", ext.name, toolchain.INSTALL_WASM_OPT_HINT
        )
    return wasm_opt


def _resolve(root: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else root / p
