"""Building test modules with the real pipeline, once per session for each distinct input.

:class:`Builder` builds a C snippet (or the example project) into a site directory and
remembers the result by everything that decides it (source, options, the environment
variables the build reads), so a second test asking for the same module imports the
first build. Tests that change a build's files take :meth:`Built.copy` first.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "example_project"
# environment variables that change what a build does, part of every cache key
BUILD_ENVIRONMENT = ("WASM_EXT_CC", "WASM_EXT_CXX", "WASI_SDK_PATH", "WASM_OPT", "WASM_EXT_REQUIRE_WASM_OPT", "PATH")


class Built:
    """A module built from C by the real pipeline: ``<site>/<package>/kernels.*``."""

    def __init__(self, site: Path, package: str, result: Any, stem: str = "kernels") -> None:
        self.site = site
        self.package = package
        self.result = result
        self.stem = stem

    @property
    def package_dir(self) -> Path:
        return self.site / self.package

    @property
    def module_name(self) -> str:
        return f"{self.package}.{self.stem}"

    def import_stub(self) -> Any:
        """The stub, imported in this process (its site directory goes on ``sys.path``)."""
        if str(self.site) not in sys.path:
            sys.path.insert(0, str(self.site))
        return importlib.import_module(self.module_name)

    def copy(self, directory: Path) -> Built:
        """A private copy under *directory* (same package name: use it from fresh processes)."""
        site = directory / "site"
        shutil.copytree(self.package_dir, site / self.package, ignore=shutil.ignore_patterns("__pycache__"))
        return Built(site, self.package, self.result, self.stem)


class Builder:
    """Builds C snippets with the real pipeline; each distinct input once per session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._built: dict[str, Built] = {}
        self._count = 0

    def build(
        self,
        source: str,
        filename: str = "kernels.c",
        *,
        fresh: bool = False,
        more_sources: dict[str, str] | None = None,
        **options: Any,
    ) -> Built:
        """``source`` as ``<unique package>.kernels``; *fresh*: never reuse an earlier build;
        *more_sources*: more files of the module (name -> text), compiled after *source*."""
        from wasm_ext import WasmExtension
        from wasm_ext.builder.pipeline import build_extension

        source = textwrap.dedent(source)
        environment = {name: os.environ.get(name) for name in BUILD_ENVIRONMENT}
        more = {name: textwrap.dedent(text) for name, text in (more_sources or {}).items()}
        key = hashlib.sha256(
            json.dumps([source, filename, options, environment, more], default=str).encode()
        ).hexdigest()
        if not fresh and key in self._built:
            return self._built[key]
        self._count += 1
        package = f"wasmtest_{self._count}_{key[:8]}"
        work = self.root / package
        (work / "src").mkdir(parents=True)
        (work / "src" / filename).write_text(source)
        for name, text in more.items():
            (work / "src" / name).write_text(text)
        site = work / "site"
        (site / package).mkdir(parents=True)
        (site / package / "__init__.py").write_text("")
        ext = WasmExtension(f"{package}.kernels", sources=[f"src/{n}" for n in (filename, *more)], **options)
        result = build_extension(ext, source_root=work, package_dir=site / package, temp_dir=work / "tmp")
        built = Built(site, package, result)
        if not fresh:
            self._built[key] = built
        return built


def build_example(root: Path) -> Path:
    """The example project's package built by the real pipeline into ``<root>/wasm_example``; returns *root*."""
    from wasm_ext.builder.pipeline import build_extension
    from wasm_ext.config import extensions_from_pyproject

    package = root / "wasm_example"
    package.mkdir(parents=True)
    for source in (EXAMPLE / "src" / "wasm_example").iterdir():
        if source.is_file():
            (package / source.name).write_bytes(source.read_bytes())
    for ext in extensions_from_pyproject(EXAMPLE / "pyproject.toml"):
        build_extension(ext, source_root=EXAMPLE, package_dir=package, temp_dir=root / "tmp" / ext.name)
    return root


def import_example(site: Path) -> ModuleType:
    """``wasm_example.logs`` from *site*, replacing any other copy of ``wasm_example`` in this process."""
    for name in [m for m in sys.modules if m == "wasm_example" or m.startswith("wasm_example.")]:
        del sys.modules[name]
    if str(site) in sys.path:
        sys.path.remove(str(site))
    sys.path.insert(0, str(site))
    return importlib.import_module("wasm_example.logs")


def copy_example(directory: Path) -> Path:
    """A copy of example_project/ (so builds never write into the checkout)."""
    target = directory / "example_project"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    return target
