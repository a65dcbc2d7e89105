"""In-place outputs stay out of sdists; an author's files of the same names stay in; old setuptools get one message."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import setuptools
from setuptools import Distribution

from wasm_ext.errors import UnsupportedSetuptoolsError
from wasm_ext.extension import WasmExtension
from wasm_ext.runtime.layout import TYPED_MARKER_TEXT, ModuleFiles, runtime_sources
from wasm_ext.setuptools_ext import finalize_distribution_options
from wasm_ext.source_tree import GENERATED_HEADER, generated_files


def _fill_as_a_build_does(files: ModuleFiles) -> list[Path]:
    """What an in-place build leaves in *files*' directory (contents as the build writes them)."""
    files.directory.mkdir(parents=True, exist_ok=True)
    files.stub.write_text(f"{GENERATED_HEADER} 0.1.0 from k.c.\n# Do not edit.\n")
    files.stub_types.write_text(f"{GENERATED_HEADER} 0.1.0 from k.c.\n")
    files.wasm.write_bytes(b"\0asm\1\0\0\0")
    artifact = files.artifact("x86_64-unknown-linux-gnu", "")
    artifact.write_bytes(b"ELF")
    entries = {"wasm": {"file": files.wasm.name}, "precompiled": [{"file": artifact.name}]}
    files.manifest.write_text(json.dumps({"format": 1, "module": files.module_name, **entries}))
    assert files.typed_marker is not None
    files.typed_marker.write_text(TYPED_MARKER_TEXT)
    files.runtime_dir.mkdir(exist_ok=True)
    runtime = [files.runtime_dir / s.name for s in runtime_sources()]
    for path in runtime:
        path.write_text("# a copy of the runtime\n")
    return [files.stub, files.stub_types, files.wasm, artifact, files.manifest, files.typed_marker, *runtime]


def test_every_file_an_in_place_build_writes_is_recognised(tmp_path: Path) -> None:
    files = ModuleFiles.of("mypkg.kernels", tmp_path / "mypkg")
    written = _fill_as_a_build_does(files)
    assert generated_files(files) == set(written)


def test_an_authors_files_of_the_same_names_are_never_taken_for_outputs(tmp_path: Path) -> None:
    files = ModuleFiles.of("mypkg.kernels", tmp_path / "mypkg")
    files.directory.mkdir()
    files.stub.write_text('"""My own kernels wrapper."""\n')  # no generated header
    files.stub_types.write_text("def fib(n: int) -> int: ...\n")
    files.manifest.write_text(json.dumps({"format": 1, "module": "otherpkg.kernels", "wasm": {"file": "kernels.wasm"}}))
    files.wasm.write_bytes(b"\0asm")  # named by a manifest that is not this module's
    assert files.typed_marker is not None
    files.typed_marker.write_text("")  # an author's (empty) marker
    files.runtime_dir.mkdir()
    (files.runtime_dir / "__init__.py").write_text("")  # beside a hand-written stub: the author's
    assert generated_files(files) == set()


def test_a_manifest_that_is_no_json_is_the_authors(tmp_path: Path) -> None:
    files = ModuleFiles.of("mypkg.kernels", tmp_path / "mypkg")
    files.directory.mkdir()
    files.manifest.write_text("not json")
    assert generated_files(files) == set()


def _project(tmp_path: Path) -> Path:
    package = tmp_path / "src" / "mypkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text("")
    (tmp_path / "k.c").write_text("int f(void) { return 1; }\n")
    return package


def _egg_info_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    """(the file list egg_info computed, the SOURCES.txt it wrote) for the project in *tmp_path*."""
    monkeypatch.chdir(tmp_path)
    runtime = tmp_path / "src" / "mypkg" / "_wasm_ext_runtime"  # found as a package, as packages.find would
    ext = WasmExtension("mypkg.kernels", sources=["k.c"])
    dist = Distribution(
        {
            "name": "mypkg",
            "version": "1",
            "packages": ["mypkg"] + (["mypkg._wasm_ext_runtime"] if (runtime / "__init__.py").is_file() else []),
            "package_dir": {"": "src"},
            "include_package_data": True,
            "ext_modules": [ext],
        }
    )
    dist.script_name = "setup.py"
    finalize_distribution_options(dist)
    command = dist.get_command_obj("egg_info")
    command.egg_base = str(tmp_path)
    command.ensure_finalized()
    command.run()
    sources = Path(command.egg_info, "SOURCES.txt").read_text().splitlines()
    return sorted(command.filelist.files), sources


def test_egg_info_leaves_the_outputs_out_of_the_file_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = _project(tmp_path)
    (tmp_path / "MANIFEST.in").write_text("recursive-include src *.pyi *.wasm *.json *.cwasm py.typed\n")
    written = _fill_as_a_build_does(ModuleFiles.of("mypkg.kernels", package))
    listed, sources = _egg_info_files(tmp_path, monkeypatch)
    outputs = {str(p.relative_to(tmp_path)) for p in written}
    assert not outputs & set(listed), sorted(outputs & set(listed))
    assert not outputs & set(sources)
    for kept in ("src/mypkg/__init__.py", "src/mypkg/helpers.py", "k.c"):
        assert kept in listed and kept in sources


def test_egg_info_keeps_an_authors_py_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = _project(tmp_path)
    (tmp_path / "MANIFEST.in").write_text("include src/mypkg/py.typed\n")
    (package / "py.typed").write_text("")
    listed, sources = _egg_info_files(tmp_path, monkeypatch)
    assert "src/mypkg/py.typed" in listed and "src/mypkg/py.typed" in sources


def _dist_with_wasm(tmp_path: Path) -> Distribution:
    dist = Distribution({"name": "mypkg", "version": "1", "ext_modules": [WasmExtension("mypkg.k", sources=["k.c"])]})
    dist.src_root = str(tmp_path)
    return dist


def _no_bdist_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import setuptools.command.bdist_wheel`` fail, as on setuptools < 70.1."""
    import setuptools.command

    monkeypatch.setitem(sys.modules, "setuptools.command.bdist_wheel", None)
    monkeypatch.delattr(setuptools.command, "bdist_wheel", raising=False)


@pytest.mark.parametrize("version", ["65.5.0", "70.0.0", "69.5.1.post1"])
def test_wasm_modules_on_an_old_setuptools_get_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    monkeypatch.setattr(setuptools, "__version__", version)
    _no_bdist_wheel(monkeypatch)
    with pytest.raises(UnsupportedSetuptoolsError) as info:
        finalize_distribution_options(_dist_with_wasm(tmp_path))
    message = str(info.value)
    assert f"setuptools {version} is installed" in message
    assert "needs setuptools>=70.1" in message and "[build-system] requires" in message
    assert os.path.dirname(setuptools.__file__) in message


def test_a_new_version_number_without_the_module_is_refused_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(setuptools, "__version__", "99.0.0")
    _no_bdist_wheel(monkeypatch)
    with pytest.raises(UnsupportedSetuptoolsError, match="setuptools 99.0.0 is installed"):
        finalize_distribution_options(_dist_with_wasm(tmp_path))


def test_a_project_without_wasm_modules_builds_on_any_setuptools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(setuptools, "__version__", "60.0.0")
    _no_bdist_wheel(monkeypatch)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "plain"\nversion = "1"\n')
    dist = Distribution({"name": "plain", "version": "1", "py_modules": ["m"]})
    dist.src_root = str(tmp_path)
    before = dict(dist.cmdclass)
    finalize_distribution_options(dist)
    assert dist.cmdclass == before and not dist.ext_modules


def test_the_supported_setuptools_passes(tmp_path: Path) -> None:
    dist = _dist_with_wasm(tmp_path)
    finalize_distribution_options(dist)
    assert {"build_ext", "bdist_wheel", "install", "egg_info"} <= set(dist.cmdclass)
