"""Precompiled artifacts for several hosts in one wheel: ``wasm-ext precompile`` and ``merge``.

wasmtime compiles only for the host it runs on, so a wheel built on one machine carries
artifacts for that machine alone. :func:`precompile` adds the running host's artifacts
to a built wheel (any machine with wasmtime, no compiler); :func:`merge` joins wheels of
one build that were precompiled on different hosts. Both touch nothing but artifacts,
the manifests listing them, and RECORD, and refuse a wheel whose portable ``.wasm`` or
artifacts do not match what its manifest recorded: the runtime trusts those hashes.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from .log import get_logger
from .runtime.layout import artifact_name, manifest_beside
from .runtime.manifest import Artifact, Manifest, ManifestError
from .wheel_file import Wheel, WheelError

log = get_logger(__name__)


@dataclass
class WheelModule:
    """One module in a wheel: its ``.wasm`` member, its manifest member and the manifest."""

    wasm: str
    manifest_name: str
    manifest: Manifest

    @property
    def directory(self) -> str:
        return self.wasm.rpartition("/")[0]

    def member(self, file: str) -> str:
        """The archive name of a file the manifest names (always beside the module)."""
        base = file.rpartition("/")[2]
        return f"{self.directory}/{base}" if self.directory else base


def modules(wheel: Wheel) -> list[WheelModule]:
    """Every setuptools-wasm module in *wheel*, checked against its manifest; an error if there is none."""
    found = []
    for name in wheel.names():
        if not name.endswith(".wasm") or ".dist-info/" in name:
            continue
        manifest_name = manifest_beside(name)
        if not wheel.has(manifest_name):
            continue  # a .wasm file of the package's own, not one we built
        try:
            manifest = Manifest.parse(wheel.get(manifest_name), f"{wheel.path}!{manifest_name}")
        except ManifestError as exc:
            raise WheelError(str(exc)) from None
        module = WheelModule(name, manifest_name, manifest)
        _check_hashes(wheel, module)
        found.append(module)
    if not found:
        raise WheelError(
            f"{wheel.path}: holds no setuptools-wasm module (no .wasm with a {manifest_beside('x.wasm')[1:]})"
        )
    return found


def _check_hashes(wheel: Wheel, module: WheelModule) -> None:
    where = f"{wheel.path}!{module.wasm}"
    if hashlib.sha256(wheel.get(module.wasm)).hexdigest() != module.manifest.wasm.sha256:
        raise WheelError(
            f"{where}: does not match the sha256 its manifest recorded; the module was changed after the build "
            "(build the wheel again)"
        )
    for artifact in module.manifest.precompiled:
        name = module.member(artifact.file)
        if not wheel.has(name) or hashlib.sha256(wheel.get(name)).hexdigest() != artifact.sha256:
            state = "is missing" if not wheel.has(name) else "does not match the sha256 its manifest recorded"
            raise WheelError(f"{wheel.path}!{name}: {state} (build the wheel again, then precompile it)")


def _set_artifacts(wheel: Wheel, module: WheelModule, artifacts: list[tuple[Artifact, bytes]]) -> WheelModule:
    """Put *artifacts* (replacing any of the same file) into *wheel* and its manifest."""
    listed = {a.file: a for a in module.manifest.precompiled}
    anchor = module.member(module.manifest.precompiled[-1].file) if module.manifest.precompiled else module.wasm
    for artifact, data in artifacts:
        name = module.member(artifact.file)
        wheel.put(name, data, after=anchor)
        anchor = name if artifact.file not in listed else anchor
        listed[artifact.file] = artifact
    manifest = module.manifest._replace(precompiled=tuple(listed.values()))
    if manifest != module.manifest:
        wheel.put(module.manifest_name, manifest.dumps().encode("utf-8"), after=module.manifest_name)
    return WheelModule(module.wasm, module.manifest_name, manifest)


def _write(wheel: Wheel, out_dir: Path | None) -> Path:
    """Write *wheel* into *out_dir* (default: replace the input) and say where; copied as is when unchanged."""
    target = wheel.path if out_dir is None else out_dir / wheel.path.name
    if wheel.changed:
        wheel.write(target)
    elif target.resolve() != wheel.path.resolve():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wheel.path, target)
    return target


# -- precompile ----------------------------------------------------------------------------


@dataclass
class Added:
    module: str
    target: str
    file: str
    size: int
    kept: bool  # already there, from this wasmtime: nothing to do


def precompile(path: Path, out_dir: Path | None = None) -> tuple[Path, list[Added]]:
    """Add this host's artifacts for every module of the wheel at *path*; the written wheel and what was done."""
    from .builder import precompile as serializer
    from .errors import ToolchainError
    from .runtime import wasmtime_engine

    wheel = Wheel.read(path)
    found = modules(wheel)
    target = wasmtime_engine.host_target()
    if target is None:
        import platform
        import sys

        raise WheelError(
            f"no known wasmtime target for this host ({platform.machine()}, {sys.platform}); nothing to precompile"
        )
    try:
        version = wasmtime_engine.wasmtime_version()
    except ImportError:
        raise WheelError("precompiling needs the 'wasmtime' package (pip install wasmtime)") from None
    done: list[Added] = []
    for module in found:
        stem = module.wasm.rpartition("/")[2][: -len(".wasm")]
        existing = {a.file: a for a in module.manifest.precompiled}
        new: list[tuple[Artifact, bytes]] = []
        for config in wasmtime_engine.CONFIGS:
            file = artifact_name(stem, target, config.tag)
            fingerprint = config.fingerprint()
            old = existing.get(file)
            if old is not None and (old.target, old.wasmtime, old.config) == (target, version, fingerprint):
                done.append(Added(module.manifest.module, target, file, old.size, kept=True))
                continue
            try:
                data = serializer.serialize(wheel.get(module.wasm), config, target, module=module.manifest.module)
            except ToolchainError as exc:
                raise WheelError(str(exc)) from None
            artifact = Artifact(file, target, version, fingerprint, hashlib.sha256(data).hexdigest(), len(data))
            new.append((artifact, data))
            done.append(Added(module.manifest.module, target, file, len(data), kept=False))
            log.info(
                "%s: precompiled for %s with wasmtime %s: %s (%d bytes)",
                module.manifest.module,
                target,
                version,
                file,
                len(data),
            )
        _set_artifacts(wheel, module, new)
    return _write(wheel, out_dir), done


# -- merge ---------------------------------------------------------------------------------


def merge(paths: list[Path], out_dir: Path) -> tuple[Path, list[Artifact]]:
    """One wheel with every artifact of the wheels at *paths* (one build, precompiled on different hosts)."""
    if len(paths) < 2:
        raise WheelError("merge takes two or more wheels")
    wheels = [Wheel.read(p) for p in paths]
    base = wheels[0]
    for other in wheels[1:]:
        if other.path.name != base.path.name:
            raise WheelError(
                f"{other.path}: its name differs from {base.path} ({other.path.name} vs {base.path.name}); "
                "merge takes wheels of one build"
            )
    found = [{m.manifest_name: m for m in modules(w)} for w in wheels]
    artifacts = {m.member(a.file) for each in found for m in each.values() for a in m.manifest.precompiled}
    for other, other_modules in zip(wheels[1:], found[1:]):
        _check_same_build(base, other, found[0], other_modules, artifacts)
    merged: list[Artifact] = []
    for module in found[0].values():
        seen = {a.file: a for a in module.manifest.precompiled}
        new: list[tuple[Artifact, bytes]] = []
        for other, other_modules in zip(wheels[1:], found[1:]):
            theirs = other_modules[module.manifest_name]
            for artifact in theirs.manifest.precompiled:
                mine = seen.get(artifact.file)
                if mine is not None and mine != artifact:
                    raise WheelError(
                        f"{other.path}!{theirs.member(artifact.file)}: differs from the one in {base.path} "
                        f"(wasmtime {artifact.wasmtime} vs {mine.wasmtime}, sha256 {artifact.sha256[:12]} vs "
                        f"{mine.sha256[:12]}); precompile each host's artifacts once, with one wasmtime"
                    )
                if mine is None:
                    seen[artifact.file] = artifact
                    new.append((artifact, other.get(theirs.member(artifact.file))))
        merged += _set_artifacts(base, module, new).manifest.precompiled
    return _write(base, out_dir), merged


def _check_same_build(
    base: Wheel,
    other: Wheel,
    base_modules: dict[str, WheelModule],
    other_modules: dict[str, WheelModule],
    artifacts: set[str],
) -> None:
    """Refuse, naming the member, when *other* differs from *base* in anything but artifacts and their entries."""
    record = base.record_name
    mine = {n for n in base.names() if n not in artifacts and n != record}
    theirs = {n for n in other.names() if n not in artifacts and n != other.record_name}
    for name in sorted(mine ^ theirs):
        only = base.path if name in mine else other.path
        raise WheelError(f"{only}!{name}: only in this wheel; merge takes wheels of one build")
    for name in sorted(mine):
        if name in base_modules:
            a = base_modules[name].manifest._replace(precompiled=())
            b = other_modules[name].manifest._replace(precompiled=())
            same = a == b
        else:
            same = base.get(name) == other.get(name)
        if not same:
            raise WheelError(
                f"{other.path}!{name}: differs from {base.path}; merge takes wheels of one build precompiled on "
                "different hosts (build once, then run 'wasm-ext precompile' on each host)"
            )
