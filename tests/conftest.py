"""Shared helpers: build a C snippet with the real pipeline and import its stub."""

from __future__ import annotations

import importlib
import itertools
import os
import shutil
import subprocess
import sys
import textwrap
import venv
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import pytest

from wasm_ext import WasmExtension
from wasm_ext.build.pipeline import BuildResult, build_extension

REPO = Path(__file__).resolve().parent.parent
_counter = itertools.count()


class Built:
    """A module built from C by the real pipeline, under a package unique to the test."""

    def __init__(self, root: Path, package: str, result: BuildResult) -> None:
        self.root = root
        self.package = package
        self.result = result
        self.package_dir = root / "site" / package

    def import_stub(self) -> ModuleType:
        return importlib.import_module(f"{self.package}.kernels")


@pytest.fixture
def build_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Built]:
    """``build_c(source, **WasmExtension kwargs)`` -> :class:`Built` (sys.path is set up)."""

    def build(source: str, filename: str = "kernels.c", **kwargs: Any) -> Built:
        package = f"wasmtest_{next(_counter)}_{tmp_path.name.replace('-', '_')}"
        src = tmp_path / "src"
        src.mkdir(exist_ok=True)
        (src / filename).write_text(textwrap.dedent(source))
        ext = WasmExtension(f"{package}.kernels", sources=[f"src/{filename}"], **kwargs)
        site = tmp_path / "site"
        (site / package).mkdir(parents=True)
        (site / package / "__init__.py").write_text("")
        result = build_extension(ext, source_root=tmp_path, package_dir=site / package, temp_dir=tmp_path / "tmp")
        monkeypatch.syspath_prepend(str(site))
        return Built(tmp_path, package, result)

    return build


@pytest.fixture(autouse=True)
def _module_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own cache of run-time compiled modules."""
    cache = tmp_path / "module-cache"
    monkeypatch.setenv("WASM_EXT_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(scope="session")
def plugin_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin built as a wheel once per session, for builds under pip's isolation."""
    out = tmp_path_factory.mktemp("plugin-wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(REPO)],
        check=True,
    )
    return out


class Venv:
    """A fresh virtual environment (pip only) and helpers to run its Python and pip."""

    def __init__(self, path: Path) -> None:
        venv.EnvBuilder(with_pip=True, clear=True).create(path)
        self.path = path
        self.python = str(path / ("Scripts" if os.name == "nt" else "bin") / "python")

    def run(self, *args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        proc = subprocess.run([self.python, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def pip(self, *args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("-m", "pip", "--disable-pip-version-check", *args, cwd=cwd, check=check)


def copy_example(tmp_path: Path) -> Path:
    """A copy of example_project/ (so builds never write into the checkout)."""
    target = tmp_path / "example_project"
    shutil.copytree(
        REPO / "example_project", target, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    return target
