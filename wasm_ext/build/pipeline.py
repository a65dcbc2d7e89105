"""Run the stages for one extension, in order, from declared options to files on disk.

signatures -> compile -> optimize -> gate -> precompile -> stub. The C declarations are
read first because they decide what the linker exports.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import INCLUDE_DIR, __version__
from ..errors import ConfigError
from ..extension import WasmExtension
from ..runtime.manifest import manifest_path, write_manifest
from . import compile as compile_stage
from . import gate, optimize, precompile, signatures, stubgen, toolchain, wasm_binary
from .cache import StageCache, digest, files_digest, write_if_changed
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
    stages = StageCache(temp_dir / "cache")
    compiled = _compile_cached(ext, stages, compiler, sources, flags, temp_dir)
    wasm = compiled.stripped
    result.size_before_opt = len(wasm)

    wasm_opt = _find_wasm_opt(ext)
    named = compiled.named if wasm_opt is None else _optimize_cached(ext, stages, wasm_opt, compiled)
    # The shipped module carries no names; the manifest keeps them for `wasm-ext size`.
    parsed = wasm_binary.parse(named)
    name_map = wasm_binary.function_names(parsed)
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
    write_if_changed(wasm_path, wasm)
    result.outputs.append(wasm_path)

    artifacts = []
    if ext.precompile:
        artifacts = precompile.precompile(wasm, package_dir, ext.basename, module=ext.name, cache=stages)
        result.outputs += [package_dir / entry["file"] for entry in artifacts]
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
            # wasm types of the exported functions: engines without type reflection (the
            # browser's WebAssembly API in Pyodide) need them to convert arguments.
            "exports": {
                e.name: [list(e.type.params), list(e.type.results)]
                for e in parsed.exports
                if e.kind == "func" and e.type is not None
            },
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


def _find_wasm_opt(ext: WasmExtension) -> toolchain.WasmOpt | None:
    if ext.wasm_opt is False:
        return None
    required = ext.wasm_opt is True or os.environ.get("WASM_EXT_REQUIRE_WASM_OPT", "") not in ("", "0")
    wasm_opt = toolchain.find_wasm_opt(required=required)
    if wasm_opt is None:
        log.warning(
            "wasm-ext: %s: wasm-opt not found, shipping the unoptimized module. %s",
            ext.name,
            toolchain.INSTALL_WASM_OPT_HINT,
        )
    return wasm_opt


def _optimize_cached(
    ext: WasmExtension, stages: StageCache, wasm_opt: toolchain.WasmOpt, compiled: compile_stage.CompiledModule
) -> bytes:
    """The module after wasm-opt (names kept), from the cache when its inputs are unchanged."""
    key = digest(
        hashlib.sha256(compiled.named).hexdigest(),
        wasm_opt.version,
        sorted(wasm_opt.features),
        ext.opt_level,
        compiled.features,
    )
    hit = stages.get("wasm-opt", key)
    if hit is not None:
        return hit[0]
    named = optimize.optimize(
        compiled.named, wasm_opt, opt_level=ext.opt_level, features=compiled.features, module=ext.name
    )
    stages.put("wasm-opt", key, named)
    return named


def _resolve(root: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else root / p


def _compile_cached(
    ext: WasmExtension,
    stages: StageCache,
    compiler: toolchain.Compiler,
    sources: list[Path],
    flags: list[str],
    temp_dir: Path,
) -> compile_stage.CompiledModule:
    """Signatures + compile, skipped when no input changed since the last build here.

    The key covers the declared options, the flags, the compiler's version and the
    contents of every file the preprocessor read last time (from depfiles): a changed
    header, even one holding only macros, means a rebuild.
    """
    base = digest(
        __version__,
        compiler.describe(),
        _declared(ext),
        flags,
        [str(s.resolve()) for s in sources],
        files_digest(compile_stage.HELPER_SOURCES),
    )
    record = stages.record("compile").get("data", {})
    if record.get("base") == base:
        deps_digest = files_digest(record.get("files", []))
        hit = stages.get("compile", digest(base, deps_digest)) if deps_digest else None
        if hit is not None:
            named, meta = hit
            return compile_stage.CompiledModule(
                wasm_binary.strip_custom_sections(named),
                named,
                tuple(meta["features"]),
                tuple(signatures.function_from_json(f) for f in meta["functions"]),
                (),
            )

    info = signatures.read_sources(
        compiler, sources, [*flags, *ext.extra_compile_args], module=ext.name, depfile_dir=temp_dir / "deps"
    )
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
        user_defined=info.defined,
    )
    files = sorted(info.files)
    deps_digest = files_digest(files)
    if deps_digest is not None:
        meta = {
            "base": base,
            "files": files,
            "features": list(compiled.features),
            "functions": [dataclasses.asdict(f) for f in compiled.functions],
        }
        stages.put("compile", digest(base, deps_digest), compiled.named, meta)
    return compiled


def _declared(ext: WasmExtension) -> dict[str, object]:
    """The options of *ext* that decide the compiled module."""
    return {
        "name": ext.name,
        "sources": list(ext.sources),
        "include_dirs": list(ext.include_dirs),
        "define_macros": [list(m) for m in ext.define_macros],
        "undef_macros": list(ext.undef_macros),
        "extra_compile_args": list(ext.extra_compile_args),
        "extra_link_args": list(ext.extra_link_args),
        "exports": ext.exports,
        "opt_level": ext.opt_level,
        "wasi": ext.wasi,
    }
