"""The manifest beside each module: what the build made, and how the runtime may trust it.

``<stem>.wasm-manifest.json`` is the contract between the build (which writes it) and the
runtime and ``wasm-ext`` (which read it). It records the sha256 of the portable
``.wasm``; per precompiled artifact the target triple, wasmtime version, engine-config
fingerprint and sha256 (the loader deserializes an artifact only when all of these match);
the wasm types of the exports (engines without type reflection need them); sizes and the
``max_size`` for the size gate. :class:`Manifest` is its one model: written with
:meth:`Manifest.to_json`, read with :meth:`Manifest.from_json`, which checks the format
version and every field's type and names what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

FORMAT = 1


class ManifestError(ValueError):
    """A manifest that is not valid JSON, of another format, or with a field of the wrong type."""


def _take(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
    if key not in data:
        if default is ...:
            raise ManifestError(f"{where}: missing field {key!r}")
        return default
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, (int, type(None)))):
        raise ManifestError(f"{where}: field {key!r} has the wrong type ({type(value).__name__})")
    return value


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ManifestError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def _strings(value: object, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError(f"{where}: field {key!r} must be a list of strings")
    return tuple(value)


class WasmFile(NamedTuple):
    """The portable module."""

    file: str
    sha256: str
    size: int
    size_before_opt: int

    @classmethod
    def from_json(cls, data: object, where: str) -> WasmFile:
        d = _mapping(data, where)
        return cls(
            _take(d, "file", str, where),
            _take(d, "sha256", str, where),
            _take(d, "size", int, where),
            _take(d, "size_before_opt", int, where),
        )


class Artifact(NamedTuple):
    """A module precompiled by wasmtime for one target and one engine configuration."""

    file: str
    target: str
    wasmtime: str  # the wasmtime version that compiled it
    config: str  # fingerprint of the engine configuration
    sha256: str
    size: int

    def fits(self, target: str | None, wasmtime_version: str, config: str) -> bool:
        """Whether an engine of *config* in wasmtime *wasmtime_version* on *target* can load it."""
        return self.target == target and self.config == config and _major(self.wasmtime) == _major(wasmtime_version)

    @classmethod
    def from_json(cls, data: object, where: str) -> Artifact:
        d = _mapping(data, where)
        return cls(*(_take(d, f, int if f == "size" else str, where) for f in cls._fields))


def _major(version: str) -> str:
    return version.split(".")[0]


class Toolchain(NamedTuple):
    """What built the module (for people reading the manifest)."""

    compiler: str = ""
    wasm_opt: int | None = None  # the Binaryen version, or None when wasm-opt did not run
    # which Binaryen ran: "wasm-opt" (the executable) or "libbinaryen (icpp-binaryen X)";
    # "" when none ran, and in manifests written before the field (those ran "wasm-opt" if any)
    optimizer: str = ""


class Manifest(NamedTuple):
    """Everything the build records about one module."""

    module: str
    wasm: WasmFile
    precompiled: tuple[Artifact, ...] = ()
    max_size: int | None = None
    function_names: Mapping[int, str] = MappingProxyType({})  # function index -> C name
    exports: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = MappingProxyType({})  # wasm types
    features: tuple[str, ...] = ()
    wasi: bool = False
    toolchain: Toolchain = Toolchain()

    def artifacts_for(self, target: str | None, wasmtime_version: str, config: str) -> list[Artifact]:
        """The precompiled artifacts an engine of *config* on this host may load, in build order."""
        return [a for a in self.precompiled if a.fits(target, wasmtime_version, config)]

    # -- JSON ------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "module": self.module,
            "wasm": _as_dict(self.wasm),
            "precompiled": [_as_dict(a) for a in self.precompiled],
            "max_size": self.max_size,
            "function_names": {str(index): name for index, name in sorted(self.function_names.items())},
            "exports": {name: [list(params), list(results)] for name, (params, results) in self.exports.items()},
            "features": list(self.features),
            "wasi": self.wasi,
            "toolchain": _as_dict(self.toolchain),
        }

    @classmethod
    def from_json(cls, data: object, where: str = "manifest") -> Manifest:
        """The manifest in *data* (parsed JSON); :class:`ManifestError` naming *where* and the field."""
        d = _mapping(data, where)
        if d.get("format") != FORMAT:
            raise ManifestError(
                f"{where}: manifest format {d.get('format')!r}, this runtime reads format {FORMAT} "
                "(rebuild the package with a matching setuptools-wasm)"
            )
        precompiled = _take(d, "precompiled", list, where, [])
        names = _mapping(_take(d, "function_names", dict, where, {}), where)
        exports = _mapping(_take(d, "exports", dict, where, {}), where)
        toolchain = _mapping(_take(d, "toolchain", dict, where, {}), where)
        try:
            function_names = {int(index): str(name) for index, name in names.items()}
        except ValueError:
            raise ManifestError(f"{where}: field 'function_names' must map function indices to names") from None
        signatures = {}
        for name, types in exports.items():
            if not (isinstance(types, list) and len(types) == 2):
                raise ManifestError(f"{where}: exports[{name!r}] must be [params, results]")
            signatures[name] = (
                _strings(types[0], where, f"exports.{name}"),
                _strings(types[1], where, f"exports.{name}"),
            )
        return cls(
            module=_take(d, "module", str, where),
            wasm=WasmFile.from_json(_take(d, "wasm", dict, where), f"{where}: wasm"),
            precompiled=tuple(Artifact.from_json(a, f"{where}: precompiled[{i}]") for i, a in enumerate(precompiled)),
            max_size=_take(d, "max_size", (int, type(None)), where, None),
            function_names=function_names,
            exports=signatures,
            features=_strings(_take(d, "features", list, where, []), where, "features"),
            wasi=_take(d, "wasi", bool, where, False),
            toolchain=Toolchain(
                _take(toolchain, "compiler", str, f"{where}: toolchain", ""),
                _take(toolchain, "wasm_opt", (int, type(None)), f"{where}: toolchain", None),
                _take(toolchain, "optimizer", str, f"{where}: toolchain", ""),
            ),
        )

    @classmethod
    def parse(cls, text: str | bytes, where: str) -> Manifest:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ManifestError(f"{where}: not valid JSON: {exc}") from None
        return cls.from_json(data, where)

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """The manifest at *path*; ``OSError`` if it cannot be read, :class:`ManifestError` if invalid."""
        return cls.parse(path.read_bytes(), str(path))

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"


def _as_dict(value: Any) -> dict[str, Any]:
    return dict(value._asdict())
