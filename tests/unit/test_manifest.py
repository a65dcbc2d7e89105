"""The manifest, the contract between build and runtime: round trips, format checks, artifact choice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wasm_ext.runtime.manifest import FORMAT, Artifact, Manifest, ManifestError, Toolchain, WasmFile

ARTIFACT = Artifact("k.x86_64-unknown-linux-gnu.cwasm", "x86_64-unknown-linux-gnu", "50.0.1", "a" * 16, "b" * 64, 123)
SANDBOX = Artifact(
    "k.x86_64-unknown-linux-gnu.sandbox.cwasm", "x86_64-unknown-linux-gnu", "50.0.1", "c" * 16, "d" * 64, 456
)
FULL = Manifest(
    module="pkg.kernels",
    wasm=WasmFile("kernels.wasm", "e" * 64, 1365, 1579),
    precompiled=(ARTIFACT, SANDBOX),
    max_size=65536,
    function_names={0: "malloc", 3: "fib", 12: "adler32"},
    exports={"fib": (("i32",), ("i32",)), "adler32": (("i32", "i32"), ("i32",)), "free": (("i32",), ())},
    features=("bulk-memory-opt", "sign-ext"),
    wasi=True,
    toolchain=Toolchain("ziglang (zig 0.17.1)", 132, "wasm-opt"),
)
MINIMAL = Manifest(module="k", wasm=WasmFile("k.wasm", "0" * 64, 10, 10))


@pytest.mark.parametrize("manifest", [FULL, MINIMAL], ids=["full", "minimal"])
def test_round_trip_through_json(manifest: Manifest, tmp_path: Path) -> None:
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert Manifest.from_json(json.loads(json.dumps(manifest.to_json()))) == manifest
    path = tmp_path / "k.wasm-manifest.json"
    path.write_text(manifest.dumps())
    assert Manifest.read(path) == manifest


def test_json_layout_is_the_documented_one() -> None:
    data = FULL.to_json()
    assert data["format"] == FORMAT == 1
    assert data["wasm"] == {"file": "kernels.wasm", "sha256": "e" * 64, "size": 1365, "size_before_opt": 1579}
    assert data["precompiled"][0] == {
        "file": ARTIFACT.file,
        "target": ARTIFACT.target,
        "wasmtime": "50.0.1",
        "config": "a" * 16,
        "sha256": "b" * 64,
        "size": 123,
    }
    assert data["function_names"] == {"0": "malloc", "3": "fib", "12": "adler32"}
    assert data["exports"]["adler32"] == [["i32", "i32"], ["i32"]]
    assert data["toolchain"] == {"compiler": "ziglang (zig 0.17.1)", "wasm_opt": 132, "optimizer": "wasm-opt"}


def test_dumps_is_stable_sorted_json() -> None:
    text = FULL.dumps()
    assert text == FULL.dumps() and text.endswith("}\n")
    assert list(json.loads(text)) == sorted(json.loads(text))


def _data(**changes: Any) -> dict[str, Any]:
    data = FULL.to_json()
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_data(format=2), r"m: manifest format 2, this runtime reads format 1 \(rebuild the package"),
        (_data(format=None), r"m: manifest format None, this runtime reads format 1"),
        (_data(module=None), r"m: missing field 'module'"),
        (_data(module=5), r"m: field 'module' has the wrong type \(int\)"),
        (_data(wasm=[]), r"m: field 'wasm' has the wrong type \(list\)"),
        (_data(wasm={"file": "k.wasm", "sha256": "x", "size": "big", "size_before_opt": 1}), r"m: wasm: field 'size'"),
        (_data(max_size=True), r"m: field 'max_size' has the wrong type \(bool\)"),
        (_data(max_size="64KiB"), r"m: field 'max_size' has the wrong type \(str\)"),
        (_data(precompiled={}), r"m: field 'precompiled' has the wrong type \(dict\)"),
        (_data(precompiled=[{"file": "a.cwasm"}]), r"m: precompiled\[0\]: missing field 'target'"),
        (_data(precompiled=["a.cwasm"]), r"m: precompiled\[0\]: expected a JSON object, got str"),
        (_data(function_names={"x": "f"}), r"field 'function_names' must map function indices to names"),
        (_data(exports={"f": [["i32"]]}), r"m: exports\['f'\] must be \[params, results\]"),
        (_data(exports={"f": [["i32"], [1]]}), r"m: field 'exports.f' must be a list of strings"),
        (_data(features="simd128"), r"m: field 'features' has the wrong type \(str\)"),
        (_data(wasi="yes"), r"m: field 'wasi' has the wrong type \(str\)"),
        (_data(toolchain={"compiler": 1}), r"m: toolchain: field 'compiler' has the wrong type \(int\)"),
        ([], r"m: expected a JSON object, got list"),
    ],
)
def test_invalid_manifests_name_the_field(data: Any, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        Manifest.from_json(data, "m")


def test_optional_fields_default() -> None:
    data = {
        "format": 1,
        "module": "k",
        "wasm": {"file": "k.wasm", "sha256": "0" * 64, "size": 10, "size_before_opt": 10},
    }
    assert Manifest.from_json(data) == MINIMAL


def test_unreadable_files() -> None:
    with pytest.raises(ManifestError, match=r"where: not valid JSON"):
        Manifest.parse(b"{not json", "where")
    with pytest.raises(OSError):
        Manifest.read(Path("/nonexistent/k.wasm-manifest.json"))


@pytest.mark.parametrize(
    ("target", "version", "config", "fits"),
    [
        ("x86_64-unknown-linux-gnu", "50.0.1", "a" * 16, True),
        ("x86_64-unknown-linux-gnu", "50.9.0", "a" * 16, True),  # same major version
        ("x86_64-unknown-linux-gnu", "51.0.0", "a" * 16, False),
        ("x86_64-unknown-linux-gnu", "5.0.1", "a" * 16, False),
        ("aarch64-unknown-linux-gnu", "50.0.1", "a" * 16, False),
        (None, "50.0.1", "a" * 16, False),  # a host of no known target
        ("x86_64-unknown-linux-gnu", "50.0.1", "c" * 16, False),
    ],
)
def test_artifact_fits_only_its_target_config_and_major_version(
    target: str | None, version: str, config: str, fits: bool
) -> None:
    assert ARTIFACT.fits(target, version, config) is fits


def test_artifacts_for_picks_by_config() -> None:
    assert FULL.artifacts_for("x86_64-unknown-linux-gnu", "50.0.1", "a" * 16) == [ARTIFACT]
    assert FULL.artifacts_for("x86_64-unknown-linux-gnu", "50.0.1", "c" * 16) == [SANDBOX]
    assert FULL.artifacts_for("x86_64-unknown-linux-gnu", "49.0.0", "a" * 16) == []
    assert MINIMAL.artifacts_for("x86_64-unknown-linux-gnu", "50.0.1", "a" * 16) == []


def test_a_manifest_from_before_the_optimizer_field_still_reads() -> None:
    data = _data(toolchain={"compiler": "ziglang (zig 0.17.1)", "wasm_opt": 132})
    assert Manifest.from_json(data).toolchain == Toolchain("ziglang (zig 0.17.1)", 132, "")
    with pytest.raises(ManifestError, match=r"m: toolchain: field 'optimizer' has the wrong type \(int\)"):
        Manifest.from_json(_data(toolchain={"compiler": "c", "wasm_opt": None, "optimizer": 1}), "m")
