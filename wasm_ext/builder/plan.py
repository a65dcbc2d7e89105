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
from . import cxx, terminal, toolchain
from .stage_cache import INCLUDE_ALIAS, files_digest

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
    cxx_std: int = 17  # for C++ sources (see wasm_ext.builder.cxx)
    cxx_exceptions: bool = False
    cxx_rtti: bool = False
    cxx_commands: toolchain.CxxCommands | None = None  # the C++ driver: set when any source is C++
    simd: bool = False  # every source compiled with wasm simd128

    @property
    def has_cxx(self) -> bool:
        return cxx.any_cxx(self.sources)

    @property
    def cxx_flags(self) -> tuple[str, ...]:
        """``-std=c++NN`` and the exceptions and RTTI switches, for C++ sources only."""
        return cxx.flags(self.cxx_std, self.cxx_exceptions, self.cxx_rtti)

    @property
    def target_flags(self) -> tuple[str, ...]:
        """Code-generation flags for every source, C and C++, and for the AST dump (``__wasm_simd128__``
        changes what headers declare)."""
        return ("-msimd128",) if self.simd else ()

    def explain(self, message: str) -> str:
        """A compiler's failure *message*, with hints where the C++ options explain it."""
        if not self.has_cxx:
            return message
        return cxx.explain(message, exceptions=self.cxx_exceptions, rtti=self.cxx_rtti, toolchain=self.compiler.kind)

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
            "simd": self.simd,
            "wasi": self.wasi,
            "functions": declarations.to_json(self.functions),
            "handles": declarations.handles_to_json(self.handles),
            "compiler": self.compiler.describe(),
            "languages": [cxx.language(s) for s in self.sources],
            "cxx": {
                "std": self.cxx_std,
                "exceptions": self.cxx_exceptions,
                "rtti": self.cxx_rtti,
                "helper": files_digest([cxx.QUIET_ABORT_SOURCE]),
            }
            if self.has_cxx
            else None,
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
    cxx_commands = None
    if cxx.any_cxx(sources):
        if ext.cxx_exceptions and compiler.kind == "ziglang":
            option = (
                f"cxx-exceptions = true ({ext.declared_in})"
                if ext.declared_in.endswith("[[tool.wasm-ext.modules]]")
                else "cxx_exceptions=True"
            )
            raise ConfigError(
                f"{ext.name}: {option} cannot be built with zig ({compiler.version}): "
                f"{cxx.EXCEPTIONS_UNSUPPORTED}. Leave cxx_exceptions off and report errors through return values "
                "(functions.NAME.return declares how the stub raises them), or build with a toolchain whose "
                "wasm32-wasi libc++abi supports exceptions (WASI_SDK_PATH, or WASM_EXT_CC and WASM_EXT_CXX)"
            )
        cxx_commands = toolchain.cxx_commands(compiler)
        log.info(
            "%s: C++ sources, -std=c++%d, exceptions %s, RTTI %s",
            ext.name,
            ext.cxx_std,
            "on" if ext.cxx_exceptions else "off",
            "on" if ext.cxx_rtti else "off",
        )
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
        cxx_std=ext.cxx_std,
        cxx_exceptions=ext.cxx_exceptions,
        cxx_rtti=ext.cxx_rtti,
        cxx_commands=cxx_commands,
        simd=ext.simd,
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
        message = f"{ext.name}: wasm-opt not found, shipping the unoptimized module. {toolchain.INSTALL_WASM_OPT_HINT}"
        log.warning("%s", message)
        terminal.warn(message)  # pip hides the log line unless -v
    return wasm_opt


def _resolve(root: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else root / p
