"""Run the stages for one extension, in order, from declared options to files on disk.

signatures -> compile -> optimize -> gate -> precompile -> stub. The C declarations are
read first because they decide what the linker exports.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import INCLUDE_DIR
from ..errors import ConfigError
from ..extension import WasmExtension
from ..runtime.manifest import manifest_path, write_manifest
from . import compile as compile_stage
from . import gate, optimize, precompile, signatures, stubgen, toolchain, wasm_binary
from .process import log


@dataclass
class BuildResult:
    """What one extension's build wrote, and the sizes the closing log line reports."""

    outputs: list[Path] = field(default_factory=list)
    size_before_opt: int = 0
    size: int = 0
    seconds: float = 0.0


def build_extension(ext: WasmExtension, *, source_root: Path, package_dir: Path, temp_dir: Path) -> BuildResult:
    """Build *ext* from sources under *source_root* into *package_dir* (the stub's directory)."""
    started = time.monotonic()
    result = BuildResult()
    sources = [_resolve(source_root, s) for s in ext.sources]
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        raise ConfigError(f"{ext.name}: source file(s) not found: {', '.join(missing)}")
    for directory in ext.include_dirs:
        if not _resolve(source_root, directory).is_dir():
            raise ConfigError(f"{ext.name}: include directory not found: {directory}")

    compiler = toolchain.find_compiler()
    log.info("wasm-ext: building %s with %s", ext.name, compiler.describe())
    include_dirs = [INCLUDE_DIR] + [str(_resolve(source_root, d)) for d in ext.include_dirs]
    flags = compile_stage.compile_flags(
        include_dirs=include_dirs, define_macros=ext.define_macros, undef_macros=ext.undef_macros
    )

    info = signatures.read_sources(compiler, sources, [*flags, *ext.extra_compile_args], module=ext.name)
    names = signatures.select_exports(info, ext.exports, module=ext.name)
    functions = list(signatures.map_functions(info, names, module=ext.name))

    temp_dir.mkdir(parents=True, exist_ok=True)
    compiled = compile_stage.compile_module(
        compiler,
        module=ext.name,
        sources=sources,
        flags=flags,
        opt_level=ext.opt_level,
        extra_compile_args=ext.extra_compile_args,
        extra_link_args=ext.extra_link_args,
        functions=functions,
        wasi=ext.wasi,
        output=temp_dir / f"{ext.basename}.linked.wasm",
    )
    wasm = compiled.stripped
    result.size_before_opt = len(wasm)

    wasm_opt = None
    if ext.wasm_opt is not False:
        required = ext.wasm_opt is True or os.environ.get("WASM_EXT_REQUIRE_WASM_OPT", "") not in ("", "0")
        wasm_opt = toolchain.find_wasm_opt(required=required)
        if wasm_opt is None:
            log.warning(
                "wasm-ext: %s: wasm-opt not found, shipping the unoptimized module. %s",
                ext.name,
                toolchain.INSTALL_WASM_OPT_HINT,
            )
    named = compiled.named
    if wasm_opt is not None:
        named = optimize.optimize(named, wasm_opt, opt_level=ext.opt_level, features=compiled.features, module=ext.name)
    # The shipped module carries no names; the manifest keeps them for `wasm-ext size`.
    name_map = wasm_binary.function_names(wasm_binary.parse(named))
    wasm = wasm_binary.strip_custom_sections(named)
    result.size = len(wasm)
    log.info(
        "wasm-ext: %s: %d bytes before wasm-opt, %d bytes shipped (%+.1f%%)",
        ext.name,
        result.size_before_opt,
        result.size,
        100.0 * (result.size - result.size_before_opt) / max(result.size_before_opt, 1),
    )
    gate.check_size(ext.name, result.size, ext.max_size)

    package_dir.mkdir(parents=True, exist_ok=True)
    wasm_path = package_dir / f"{ext.basename}.wasm"
    stubgen.write_if_changed(wasm_path, wasm)
    result.outputs.append(wasm_path)

    artifacts = []
    if ext.precompile:
        entry = precompile.precompile(wasm, package_dir, ext.basename, module=ext.name)
        if entry is not None:
            artifacts.append(entry)
            result.outputs.append(package_dir / entry["file"])
    manifest = manifest_path(package_dir, ext.basename)
    write_manifest(
        manifest,
        {
            "module": ext.name,
            "wasm": {
                "file": wasm_path.name,
                "sha256": hashlib.sha256(wasm).hexdigest(),
                "size": len(wasm),
                "size_before_opt": result.size_before_opt,
            },
            "precompiled": artifacts,
            "max_size": ext.max_size,
            "function_names": {str(index): name for index, name in sorted(name_map.items())},
            "features": list(compiled.features),
            "wasi": ext.wasi,
            "toolchain": {"compiler": compiler.describe(), "wasm_opt": None if wasm_opt is None else wasm_opt.version},
        },
    )
    result.outputs.append(manifest)
    result.outputs += stubgen.generate_stub(
        ext.name, compiled.functions, package_dir, sources=list(ext.sources), wasi=ext.wasi
    )
    result.seconds = time.monotonic() - started
    return result


def _resolve(root: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else root / p
