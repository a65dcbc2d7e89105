"""Run the stages for one extension, in order, from declared options to files on disk.

plan -> C declarations + compile -> wasm-opt -> size gate -> precompile -> manifest ->
stub. The C declarations are read first because they decide what the linker exports.
Compile, wasm-opt and precompile go through one :class:`~.stage_cache.StageCache`: each
is skipped when its inputs are unchanged since the last build in this directory.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import reraise_explained
from ..extension import WasmExtension
from ..log import get_logger
from ..runtime import wasmtime_engine
from ..runtime.manifest import Artifact, Manifest, Toolchain, WasmFile
from . import c_ast, gate, mapping, optimize, precompile, stubgen, wasm_binary
from . import compile as compile_stage
from .model import MODEL_FORMAT, Function
from .outputs import write_if_changed
from .plan import BuildPlan, make_plan
from .stage_cache import StageCache, digest, files_digest

log = get_logger(__name__)


@dataclass
class BuildResult:
    """What one extension's build wrote, and the sizes the closing log line reports."""

    outputs: list[Path] = field(default_factory=list)
    size_before_opt: int = 0
    size: int = 0
    seconds: float = 0.0


def build_extension(ext: WasmExtension, *, source_root: Path, package_dir: Path, temp_dir: Path) -> BuildResult:
    """Build *ext* from sources under *source_root* into *package_dir* (the stub's directory)."""
    try:
        return build(make_plan(ext, source_root=source_root, package_dir=package_dir, temp_dir=temp_dir))
    except OSError as exc:  # a full disk or TMPDIR, a read-only tree: say which, and what to do
        reraise_explained(exc, ext.name)


def build(plan: BuildPlan) -> BuildResult:
    """Run every stage of *plan*."""
    started = time.monotonic()
    result = BuildResult()
    stages = StageCache(plan.temp_dir / "cache")
    compiled = _compiled(plan, stages)
    result.size_before_opt = len(compiled.stripped)
    named = compiled.named if plan.wasm_opt is None else _optimized(plan, stages, compiled)
    # The shipped module carries no names; the manifest keeps them for `wasm-ext size`.
    parsed = wasm_binary.parse(named)
    wasm = wasm_binary.strip_custom_sections(named)
    result.size = len(wasm)
    log.info(
        "%s: %d bytes before wasm-opt, %d bytes shipped (%+.1f%%)",
        plan.name,
        result.size_before_opt,
        result.size,
        100.0 * (result.size - result.size_before_opt) / max(result.size_before_opt, 1),
    )
    gate.check_size(plan.name, result.size, plan.max_size)

    files = plan.files
    write_if_changed(files.wasm, wasm)
    artifacts = _artifacts(plan, stages, wasm) if plan.precompile else ()
    manifest = Manifest(
        module=plan.name,
        wasm=WasmFile(files.wasm.name, hashlib.sha256(wasm).hexdigest(), len(wasm), result.size_before_opt),
        precompiled=artifacts,
        max_size=plan.max_size,
        function_names=wasm_binary.function_names(parsed),
        exports={
            e.name: (e.type.params, e.type.results) for e in parsed.exports if e.kind == "func" and e.type is not None
        },
        features=compiled.features,
        wasi=plan.wasi,
        toolchain=Toolchain(
            plan.compiler.describe(),
            None if plan.wasm_opt is None else plan.wasm_opt.version,
            "" if plan.wasm_opt is None else plan.wasm_opt.kind,
        ),
    )
    write_if_changed(files.manifest, manifest.dumps())
    result.outputs += [files.wasm, *(files.named(a.file) for a in artifacts), files.manifest]
    result.outputs += stubgen.generate_stub(plan, compiled.functions)
    result.seconds = time.monotonic() - started
    return result


def _compiled(plan: BuildPlan, stages: StageCache) -> compile_stage.CompiledModule:
    """C declarations + compile, from the cache while no input changed (headers included).

    The key covers the declared options, the flags, the compiler's version and the
    helpers linked into every module; the entry records every file the preprocessor read
    (from depfiles), so a changed header, even one holding only macros, means a rebuild.
    """
    key = digest(__version__, MODEL_FORMAT, plan.declared(), files_digest(compile_stage.HELPER_SOURCES))
    hit = stages.get("compile", key)
    if hit is not None:
        for warning in hit.meta.get("warnings", []):  # said again: the build would say it
            log.warning("%s", warning)
        return compile_stage.CompiledModule(
            wasm_binary.strip_custom_sections(hit.data),
            hit.data,
            tuple(hit.meta["features"]),
            tuple(Function.from_json(f) for f in hit.meta["functions"]),
        )
    info = c_ast.read_sources(plan)
    names = mapping.select_exports(info, plan.exports, module=plan.name)
    warnings: list[str] = []
    functions = mapping.map_functions(
        info,
        names,
        module=plan.name,
        declared=plan.functions,
        origin=plan.declared_in,
        warnings=warnings,
        handles=plan.handles,
    )
    for warning in warnings:
        log.warning("%s", warning)
    static = {name: info.functions[name] for name in names if mapping.wrappable(info.functions[name])}
    compiled = compile_stage.compile_module(plan, functions, info.defined, static)
    meta = {
        "features": list(compiled.features),
        "functions": [f.to_json() for f in compiled.functions],
        "warnings": warnings,
    }
    stages.put("compile", key, compiled.named, meta, files=info.files)
    return compiled


def _optimized(plan: BuildPlan, stages: StageCache, compiled: compile_stage.CompiledModule) -> bytes:
    """The module after wasm-opt (names kept), from the cache when its inputs are unchanged."""
    wasm_opt = plan.wasm_opt
    assert wasm_opt is not None
    key = digest(
        hashlib.sha256(compiled.named).hexdigest(),
        wasm_opt.kind,  # the executable and the library of one version need not agree byte for byte
        wasm_opt.version,
        sorted(wasm_opt.features),
        plan.opt_level,
        compiled.features,
    )
    hit = stages.get("wasm-opt", key)
    if hit is not None:
        return hit.data
    named = optimize.optimize(plan, wasm_opt, compiled)
    stages.put("wasm-opt", key, named)
    return named


def _artifacts(plan: BuildPlan, stages: StageCache, wasm: bytes) -> tuple[Artifact, ...]:
    """One precompiled artifact per engine config, for this host; none where it has no known target."""
    target = wasmtime_engine.host_target()
    if target is None:
        log.warning("%s: no known wasmtime target for this host; not precompiling", plan.name)
        return ()
    version = wasmtime_engine.wasmtime_version()
    artifacts = []
    for config in wasmtime_engine.CONFIGS:
        fingerprint = config.fingerprint()
        key = digest(hashlib.sha256(wasm).hexdigest(), version, target, fingerprint)
        stage = f"precompile{config.tag}"  # one cache slot per config
        hit = stages.get(stage, key)
        if hit is not None:
            data = hit.data
        else:
            data = precompile.serialize(wasm, config, target, module=plan.name)
            stages.put(stage, key, data)
        path = plan.files.artifact(target, config.tag)
        write_if_changed(path, data)
        log.info(
            "%s: precompiled for %s with wasmtime %s: %s (%d bytes)", plan.name, target, version, path.name, len(data)
        )
        artifacts.append(Artifact(path.name, target, version, fingerprint, hashlib.sha256(data).hexdigest(), len(data)))
    return tuple(artifacts)
