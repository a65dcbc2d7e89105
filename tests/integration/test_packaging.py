"""What the plugin's own distributions and a user's sdists contain: the licence, and no build outputs."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from support.building import REPO, copy_example

from wasm_ext.runtime.layout import ModuleFiles


def _build(project: Path, out: Path, *kinds: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", *kinds, "-o", str(out), str(project)],
        check=True,
        capture_output=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO)},  # this checkout's plugin is the one that runs
    )


def _sdist_files(out: Path) -> set[str]:
    (sdist,) = out.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        return {m.name.partition("/")[2] for m in tar.getmembers() if m.isfile() and ".egg-info/" not in m.name}


def test_the_plugin_ships_its_licence_in_wheel_and_sdist(tmp_path: Path) -> None:
    _build(REPO, tmp_path, "--wheel", "--sdist")
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        licence = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert licence, names
        assert zf.read(licence[0]) == (REPO / "LICENSE").read_bytes()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata and "License-File: LICENSE" in metadata
    assert "LICENSE" in _sdist_files(tmp_path)
    assert b"Apache License\n                           Version 2.0, January 2004" in (REPO / "LICENSE").read_bytes()


def test_an_sdist_of_a_tree_built_in_place_has_every_source_and_no_output(tmp_path: Path) -> None:
    """``build_ext --inplace`` (what ``pip install -e`` does) fills the tree; the sdist stays as if it had not."""
    project = copy_example(tmp_path / "src")
    marker = project / "src" / "wasm_example" / "py.typed"
    assert marker.is_file()  # the author's own marker: it must stay, unchanged
    marker.write_text("")
    _build(project, tmp_path / "clean", "--sdist")
    expected = _sdist_files(tmp_path / "clean")

    subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "build_ext", "--inplace"],
        cwd=project,
        check=True,
        capture_output=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    package = project / "src" / "wasm_example"
    outputs = [
        p for name in ("kernels", "_logparse") for p in _written(ModuleFiles.of(f"wasm_example.{name}", package))
    ]
    assert len(outputs) > 10 and all(p.is_file() for p in outputs)  # the tree now holds the build's outputs
    assert marker.read_text() == ""  # ... but not in place of the author's py.typed

    _build(project, tmp_path / "dirty", "--sdist")
    got = _sdist_files(tmp_path / "dirty")
    assert got == expected
    assert "src/wasm_example/py.typed" in got and "csrc/kernels.c" in got and "src/wasm_example/logs.py" in got
    shipped_outputs = {str(p.relative_to(project)) for p in outputs} & got
    assert not shipped_outputs


def _written(files: ModuleFiles) -> list[Path]:
    """The outputs that exist on disk (artifacts named after any target), without the author's py.typed."""
    from wasm_ext.runtime.layout import runtime_sources

    found = [p for p in files.outputs([], [s.name for s in runtime_sources()]) if p != files.typed_marker]
    return found + sorted(files.directory.glob(f"{files.stem}.*.cwasm"))


@pytest.fixture(autouse=True)
def _wasm_opt_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    node_bin = REPO / "node_modules" / ".bin"
    if node_bin.is_dir():
        monkeypatch.setenv("PATH", f"{node_bin}{os.pathsep}{os.environ['PATH']}")


def test_a_real_old_setuptools_gets_the_version_message_and_plain_projects_still_build(
    tmp_path: Path, plugin_wheel: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--quiet"]
    # the plugin's own dependency that its hook needs (no ziglang: nothing is compiled here)
    # an old setuptools that runs on this Python (65 imports pkgutil.ImpImporter, gone in 3.12)
    old = "65.5.0" if sys.version_info < (3, 12) else "68.2.2"
    subprocess.run([*pip, f"setuptools=={old}", "tomli>=1.1; python_version < '3.11'"], check=True, timeout=300)
    subprocess.run([*pip, "--no-deps", *map(str, plugin_wheel.glob("*.whl"))], check=True, timeout=300)

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "setup.py").write_text(
        "from setuptools import setup\nsetup(name='plain', version='1', py_modules=['m'])\n"
    )
    (plain / "m.py").write_text("")
    proc = subprocess.run(
        [python, "setup.py", "-q", "sdist"], cwd=plain, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0 and (plain / "dist" / "plain-1.tar.gz").is_file(), proc.stderr

    project = copy_example(tmp_path)
    setup = [python, "-c", "from setuptools import setup; setup()", "--version"]
    proc = subprocess.run(setup, cwd=project, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    assert f"needs setuptools>=70.1 to build wasm modules, but setuptools {old} is installed" in proc.stderr
