"""Shared helpers: build a C snippet with the real pipeline and import its stub."""

from __future__ import annotations

import importlib
import itertools
import subprocess
import sys
import textwrap
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
