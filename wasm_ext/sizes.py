"""Find built modules in wheels, directories and ``.wasm`` files, and measure them.

What ``wasm-ext size`` and ``wasm-ext check`` report on: each module's shipped size, gzip
size, the size before wasm-opt and the ``max_size`` recorded by the build (from the
manifest beside the module), its precompiled artifacts per target with their sizes, whether
wasm-opt ran, and its largest functions by code size (names from the manifest's name map,
since the shipped module is stripped).
"""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .builder import wasm_binary
from .runtime.layout import manifest_beside
from .runtime.manifest import Manifest, ManifestError


class InputError(Exception):
    """A path that is not a wheel, directory or module, or one that cannot be read."""


@dataclass
class ModuleReport:
    module: str
    location: str
    size: int
    gzip_size: int
    size_before_opt: int | None
    max_size: int | None
    largest_functions: list[tuple[str, int]] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    exports: list[tuple[str, str]] = field(default_factory=list)
    features: list[str] | None = None
    artifacts: list[ArtifactReport] = field(default_factory=list)
    optimized: bool | None = None  # whether wasm-opt ran (None: no manifest says)
    optimizer: str = ""  # e.g. "wasm-opt (Binaryen 123)"

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["largest_functions"] = [{"name": n, "size": s} for n, s in self.largest_functions]
        data["exports"] = [{"name": n, "type": t} for n, t in self.exports]
        return data


@dataclass
class ArtifactReport:
    """One precompiled artifact: for which target, by which wasmtime, and its size (``None``: file missing)."""

    target: str
    file: str
    wasmtime: str
    size: int | None


def collect(paths: list[str], top: int = 5) -> list[ModuleReport]:
    """Reports for every module under *paths* (wheels, directories, ``.wasm`` files)."""
    reports: list[ModuleReport] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{raw}: no such file or directory")
        if path.is_dir():
            found = sorted(path.rglob("*.wasm"))
            reports += [_from_file(p, top) for p in found]
        elif path.suffix == ".whl":
            reports += list(_from_wheel(path, top))
        elif path.suffix == ".wasm":
            reports.append(_from_file(path, top))
        else:
            raise InputError(f"{raw}: not a wheel (.whl), a directory or a WebAssembly module (.wasm)")
    return reports


def _from_file(path: Path, top: int) -> ModuleReport:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    manifest_file = Path(manifest_beside(str(path)))
    manifest = _read_manifest(manifest_file.read_bytes(), str(manifest_file)) if manifest_file.is_file() else None

    def size_of(file: str) -> int | None:
        beside = path.parent / Path(file).name
        return beside.stat().st_size if beside.is_file() else None

    return _report(data, manifest, str(path), path.stem, top, size_of)


def _from_wheel(path: Path, top: int) -> Iterator[ModuleReport]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            sizes = {i.filename: i.file_size for i in zf.infolist()}
            for member in sorted(n for n in names if n.endswith(".wasm")):
                manifest_name = manifest_beside(member)
                manifest = (
                    _read_manifest(zf.read(manifest_name), f"{path}!{manifest_name}")
                    if manifest_name in names
                    else None
                )
                directory, _, base = member.rpartition("/")
                size_of = _member_size(sizes, f"{directory}/" if directory else "")
                yield _report(zf.read(member), manifest, f"{path}!{member}", base[: -len(".wasm")], top, size_of)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path}: not a readable wheel: {exc}") from exc


def _member_size(sizes: dict[str, int], prefix: str) -> Callable[[str], int | None]:
    """The size of a file the manifest names, as a member beside the module (``None``: not in the wheel)."""
    return lambda file: sizes.get(prefix + file.rpartition("/")[2])


def _read_manifest(data: bytes, where: str) -> Manifest:
    try:
        return Manifest.parse(data, where)
    except ManifestError as exc:
        raise InputError(str(exc)) from None


def _report(
    data: bytes,
    manifest: Manifest | None,
    location: str,
    stem: str,
    top: int,
    size_of: Callable[[str], int | None],
) -> ModuleReport:
    try:
        parsed = wasm_binary.parse(data)
        sizes = wasm_binary.function_sizes(data)
    except wasm_binary.WasmFormatError as exc:
        raise InputError(f"{location}: not a valid WebAssembly module: {exc}") from exc
    names = dict(manifest.function_names) if manifest is not None else {}
    names.update(wasm_binary.function_names(parsed))  # a module that kept its name section
    exported = {e.index: e.name for e in parsed.exports if e.kind == "func"}
    largest = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:top]
    features = list(manifest.features) if manifest is not None else None
    if features is None and "target_features" in parsed.custom_sections:
        features = parsed.target_features
    return ModuleReport(
        module=manifest.module if manifest is not None else stem,
        location=location,
        size=len(data),
        gzip_size=len(gzip.compress(data, compresslevel=9, mtime=0)),
        size_before_opt=manifest.wasm.size_before_opt if manifest is not None else None,
        max_size=manifest.max_size if manifest is not None else None,
        largest_functions=[(names.get(i) or exported.get(i) or f"func[{i}]", size) for i, size in largest],
        imports=[
            f"{i.module}.{i.name} ({i.kind}{'' if i.type is None else ' ' + str(i.type)})" for i in parsed.imports
        ],
        exports=[(e.name, e.kind if e.type is None else f"{e.kind} {e.type}") for e in parsed.exports],
        features=features,
        artifacts=[]
        if manifest is None
        else [ArtifactReport(a.target, a.file, a.wasmtime, size_of(a.file)) for a in manifest.precompiled],
        optimized=None if manifest is None else manifest.toolchain.wasm_opt is not None,
        optimizer=_optimizer(manifest),
    )


def _optimizer(manifest: Manifest | None) -> str:
    """What optimized the module: ``"wasm-opt (Binaryen 132)"``, ``"libbinaryen (icpp-binaryen 116.0.1)"``."""
    if manifest is None or manifest.toolchain.wasm_opt is None:
        return ""
    kind = manifest.toolchain.optimizer or "wasm-opt"  # manifests before the field: the executable
    return kind if "(" in kind else f"{kind} (Binaryen {manifest.toolchain.wasm_opt})"
