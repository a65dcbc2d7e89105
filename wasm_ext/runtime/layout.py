"""The names of every file a build writes for one module: the only place they are formed.

The build writes them, setuptools is told them in advance, the loader finds them at run
time and ``wasm-ext`` reads them from wheels, all through :class:`ModuleFiles`. For a
module ``mypkg.kernels``, in ``mypkg/``::

    kernels.py  kernels.pyi              the stub and its types
    kernels.wasm                         the portable module
    kernels.wasm-manifest.json           what the build made (see manifest.py)
    kernels.<target><tag>.cwasm          precompiled artifacts, one per target and engine config
    _wasm_ext_runtime/*.py               the runtime the stub imports (shared by the package's stubs)
    py.typed                             PEP 561 marker (packages only)

A top-level module ``kernels`` gets its own ``_kernels_wasm_ext_runtime/`` instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import NamedTuple

RUNTIME_PACKAGE = "_wasm_ext_runtime"
MANIFEST_SUFFIX = ".wasm-manifest.json"
ARTIFACT_SUFFIX = ".cwasm"
TYPED_MARKER = "py.typed"
# what the build writes into a py.typed it creates (PEP 561 reads only "partial"): tells it from an author's
TYPED_MARKER_TEXT = "# Written by setuptools-wasm: this package ships type information (PEP 561).\n"


def stem_of(module_name: str) -> str:
    """The last part of a dotted module name: the stem of every file built for it."""
    return module_name.rpartition(".")[2]


def runtime_package(module_name: str) -> tuple[str, str]:
    """(import path the stub uses, dotted name of the runtime copy) for *module_name*."""
    package, _, stem = module_name.rpartition(".")
    if package:
        return f".{RUNTIME_PACKAGE}", f"{package}.{RUNTIME_PACKAGE}"
    name = f"_{stem}{RUNTIME_PACKAGE}"
    return name, name


class ModuleFiles(NamedTuple):
    """The files of one module in *directory* (the stub's directory), named after *stem*."""

    directory: Path
    stem: str
    module_name: str = ""  # dotted name; decides the runtime directory and py.typed

    @classmethod
    def of(cls, module_name: str, directory: str | os.PathLike[str]) -> ModuleFiles:
        return cls(Path(directory), stem_of(module_name), module_name)

    @classmethod
    def beside_stub(cls, module_name: str, stub_file: str) -> ModuleFiles:
        """The files next to a stub at run time (*stub_file* is the stub's ``__file__``)."""
        return cls.of(module_name, os.path.dirname(os.path.abspath(stub_file)))

    @property
    def stub(self) -> Path:
        return self.directory / f"{self.stem}.py"

    @property
    def stub_types(self) -> Path:
        return self.directory / f"{self.stem}.pyi"

    @property
    def wasm(self) -> Path:
        return self.directory / f"{self.stem}.wasm"

    @property
    def manifest(self) -> Path:
        return self.directory / f"{self.stem}{MANIFEST_SUFFIX}"

    def artifact(self, target: str, tag: str) -> Path:
        """A precompiled artifact for *target* and the engine config named by *tag* (``""`` or ``".sandbox"``)."""
        return self.directory / artifact_name(self.stem, target, tag)

    def named(self, file_name: str) -> Path:
        """A file the manifest names (never outside the directory, whatever the manifest says)."""
        return self.directory / PurePath(file_name).name

    @property
    def runtime_dir(self) -> Path:
        return self.directory / runtime_package(self.module_name)[1].rpartition(".")[2]

    @property
    def typed_marker(self) -> Path | None:
        """``py.typed`` for a stub inside a package; ``None`` for a top-level module."""
        return self.directory / TYPED_MARKER if "." in self.module_name else None

    def outputs(self, artifacts: Iterable[tuple[str, str]], runtime_files: Iterable[str]) -> list[Path]:
        """Every file a build writes: *artifacts* as (target, tag), the runtime's file names."""
        paths = [self.stub, self.stub_types, self.wasm, self.manifest]
        paths += [self.artifact(target, tag) for target, tag in artifacts]
        if self.typed_marker is not None:
            paths.append(self.typed_marker)
        paths += [self.runtime_dir / name for name in runtime_files]
        return paths


def artifact_name(stem: str, target: str, tag: str) -> str:
    """The file name of a precompiled artifact (see :meth:`ModuleFiles.artifact`)."""
    return f"{stem}.{target}{tag}{ARTIFACT_SUFFIX}"


def manifest_beside(wasm_file: str) -> str:
    """The manifest's name (or archive member) for a ``.wasm`` path or member name."""
    if not wasm_file.endswith(".wasm"):
        raise ValueError(f"not a .wasm file: {wasm_file}")
    return wasm_file[: -len(".wasm")] + MANIFEST_SUFFIX


def runtime_sources() -> list[Path]:
    """The runtime's own files, as the build copies them next to each stub."""
    return sorted(Path(__file__).resolve().parent.glob("*.py"))
