"""The naming model: every file a build writes is named in one place, and setuptools is told the same names."""

from __future__ import annotations

from pathlib import Path

import pytest
from setuptools import Distribution

from wasm_ext import WasmExtension
from wasm_ext.runtime import wasmtime_engine
from wasm_ext.runtime.layout import ModuleFiles, manifest_beside, runtime_package, runtime_sources, stem_of
from wasm_ext.setuptools_ext import finalize_distribution_options


def test_files_of_a_module_in_a_package(tmp_path: Path) -> None:
    files = ModuleFiles.of("mypkg.kernels", tmp_path)
    assert (files.stub, files.stub_types, files.wasm, files.manifest) == (
        tmp_path / "kernels.py",
        tmp_path / "kernels.pyi",
        tmp_path / "kernels.wasm",
        tmp_path / "kernels.wasm-manifest.json",
    )
    assert files.artifact("x86_64-unknown-linux-gnu", "") == tmp_path / "kernels.x86_64-unknown-linux-gnu.cwasm"
    assert files.artifact("aarch64-apple-darwin", ".sandbox") == tmp_path / "kernels.aarch64-apple-darwin.sandbox.cwasm"
    assert files.runtime_dir == tmp_path / "_wasm_ext_runtime"
    assert files.typed_marker == tmp_path / "py.typed"


def test_files_of_a_top_level_module(tmp_path: Path) -> None:
    files = ModuleFiles.of("kernels", tmp_path)
    assert files.runtime_dir == tmp_path / "_kernels_wasm_ext_runtime"
    assert files.typed_marker is None  # PEP 561 markers belong to packages


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("mypkg.kernels", (".", "_wasm_ext_runtime", "mypkg._wasm_ext_runtime")),
        ("a.b.c", (".", "_wasm_ext_runtime", "a.b._wasm_ext_runtime")),
        ("kernels", ("", "_kernels_wasm_ext_runtime", "_kernels_wasm_ext_runtime")),
    ],
)
def test_runtime_package(module: str, expected: tuple[str, str, str]) -> None:
    dot, name, dotted = expected
    assert runtime_package(module) == (dot + name, dotted)


def test_stem_and_manifest_names() -> None:
    assert stem_of("a.b.kernels") == stem_of("kernels") == "kernels"
    assert manifest_beside("pkg/kernels.wasm") == "pkg/kernels.wasm-manifest.json"
    assert manifest_beside("/x/y.z.wasm") == "/x/y.z.wasm-manifest.json"
    with pytest.raises(ValueError, match="not a .wasm file"):
        manifest_beside("kernels.cwasm")


@pytest.mark.parametrize("name", ["k.cwasm", "../k.cwasm", "/etc/passwd", "sub/dir/k.cwasm"])
def test_files_named_by_a_manifest_stay_in_the_directory(tmp_path: Path, name: str) -> None:
    named = ModuleFiles.of("pkg.k", tmp_path).named(name)
    assert named.parent == tmp_path and named.name == Path(name).name


def test_beside_stub_uses_the_stub_directory(tmp_path: Path) -> None:
    files = ModuleFiles.beside_stub("pkg.kernels", str(tmp_path / "kernels.py"))
    assert files.directory == tmp_path and files.module_name == "pkg.kernels"


def test_outputs_list_every_file(tmp_path: Path) -> None:
    files = ModuleFiles.of("pkg.k", tmp_path)
    outputs = files.outputs([("t", ""), ("t", ".sandbox")], ["__init__.py", "loader.py"])
    assert [p.relative_to(tmp_path).as_posix() for p in outputs] == [
        "k.py",
        "k.pyi",
        "k.wasm",
        "k.wasm-manifest.json",
        "k.t.cwasm",
        "k.t.sandbox.cwasm",
        "py.typed",
        "_wasm_ext_runtime/__init__.py",
        "_wasm_ext_runtime/loader.py",
    ]


def test_runtime_sources_are_the_runtime_package() -> None:
    names = [p.name for p in runtime_sources()]
    assert "__init__.py" in names and "stubapi.py" in names and "wasmtime_engine.py" in names
    assert all(p.suffix == ".py" for p in runtime_sources())


@pytest.mark.parametrize("precompile", [True, False])
def test_setuptools_is_told_the_names_the_layout_gives(tmp_path: Path, precompile: bool) -> None:
    """build_ext.get_outputs() (asked before anything is built) lists exactly the layout's outputs."""
    ext = WasmExtension("mypkg.kernels", sources=["k.c"], precompile=precompile)
    dist = Distribution({"name": "mypkg", "version": "1", "packages": [], "ext_modules": [ext]})
    dist.src_root = str(tmp_path)
    finalize_distribution_options(dist)
    command = dist.get_command_obj("build_ext")
    command.build_lib = str(tmp_path / "lib")
    command.ensure_finalized()
    target = wasmtime_engine.host_target()
    artifacts = [(target, c.tag) for c in wasmtime_engine.CONFIGS] if precompile and target else []
    expected = ModuleFiles.of("mypkg.kernels", tmp_path / "lib" / "mypkg").outputs(
        artifacts, [p.name for p in runtime_sources()]
    )
    assert command.get_outputs() == sorted(str(p) for p in expected)
    assert not any(o.endswith(".so") for o in command.get_outputs())  # no native extension is predicted
