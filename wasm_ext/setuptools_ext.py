"""setuptools integration: the distribution hook, and the ``build_ext``/``bdist_wheel`` subclasses.

The hook runs for every setuptools build in an environment where the plugin is installed,
so it does nothing unless the distribution declares a :class:`WasmExtension` (in
``ext_modules`` or ``[tool.wasm-ext]``). Ordinary extensions still go to setuptools'
own ``build_ext``, so both kinds can live in one ``setup.py``. It imports setuptools'
commands only once a distribution declares wasm modules, and checks the setuptools version
first, so an unsupported setuptools breaks no other project's build and gets one message.
The ``egg_info`` wrapper keeps in-place outputs out of sdists (see :mod:`wasm_ext.source_tree`).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import extensions_from_pyproject, load_pyproject
from .errors import ConfigError, UnsupportedSetuptoolsError, reraise_explained
from .extension import WasmExtension
from .log import get_logger
from .runtime.layout import TYPED_MARKER

if TYPE_CHECKING:
    from setuptools import Distribution
    from setuptools.command.build_ext import build_ext as _setuptools_build_ext
    from setuptools.command.install import install as _setuptools_install

log = get_logger(__name__)

RUNTIME_REQUIREMENT = 'wasmtime>=50; sys_platform != "emscripten"'
_WASMTIME_RE = re.compile(r"^\s*wasmtime\b", re.IGNORECASE)
REQUIRED_SETUPTOOLS = (70, 1)  # setuptools.command.bdist_wheel; keep in step with pyproject.toml


def finalize_distribution_options(dist: Distribution) -> None:
    """Entry point of ``setuptools.finalize_distribution_options``."""
    if getattr(dist, "_wasm_ext_configured", False):
        return
    root = Path(dist.src_root or os.curdir)
    pyproject = root / "pyproject.toml"
    declared = extensions_from_pyproject(pyproject)
    existing = list(dist.ext_modules or [])
    if not declared and not any(isinstance(e, WasmExtension) for e in existing):
        return
    dist._wasm_ext_configured = True
    taken = {e.name for e in existing}
    for ext in declared:
        if ext.name in taken:
            raise ConfigError(f"{pyproject}: module {ext.name!r} is declared twice")
    dist.ext_modules = existing + declared
    _require_setuptools()
    from setuptools.command.build_ext import build_ext
    from setuptools.command.egg_info import egg_info
    from setuptools.command.install import install

    _require_wasmtime(dist, pyproject)
    dist.cmdclass["build_ext"] = _make_build_ext(dist.cmdclass.get("build_ext", build_ext))
    dist.cmdclass["bdist_wheel"] = _make_bdist_wheel(dist.cmdclass.get("bdist_wheel"))
    dist.cmdclass["install"] = _make_install(dist.cmdclass.get("install", install))
    dist.cmdclass["egg_info"] = _make_egg_info(dist.cmdclass.get("egg_info", egg_info))


def _require_setuptools() -> None:
    """Refuse, in one message, a setuptools older than the plugin needs (before any of its imports fail)."""
    import setuptools

    installed = getattr(setuptools, "__version__", "unknown")
    match = re.match(r"(\d+)\.(\d+)", installed)
    too_old = match is None or (int(match[1]), int(match[2])) < REQUIRED_SETUPTOOLS
    if not too_old:
        try:
            import setuptools.command.bdist_wheel  # the newest module the plugin needs
        except ImportError:
            too_old = True
    if too_old:
        required = ".".join(map(str, REQUIRED_SETUPTOOLS))
        raise UnsupportedSetuptoolsError(
            f"setuptools-wasm needs setuptools>={required} to build wasm modules, but setuptools {installed} "
            f"is installed ({os.path.dirname(setuptools.__file__)}); upgrade it: put 'setuptools>={required}' "
            "in [build-system] requires of pyproject.toml (or run: pip install --upgrade 'setuptools>="
            f"{required}' where you build with --no-build-isolation or setup.py)"
        )


def _require_wasmtime(dist: Distribution, pyproject: Path) -> None:
    """Make the built package depend on wasmtime, its only run-time dependency."""
    project = load_pyproject(pyproject).get("project", {}) if pyproject.is_file() else {}
    if "dependencies" in project:  # static: setuptools will overwrite install_requires
        if not any(_WASMTIME_RE.match(req) for req in project["dependencies"]):
            raise ConfigError(
                f"{pyproject}: the built package needs wasmtime at run time; add "
                f"'{RUNTIME_REQUIREMENT}' to [project] dependencies"
            )
        return
    requires = list(dist.install_requires or [])
    if not any(_WASMTIME_RE.match(str(req)) for req in requires):
        dist.install_requires = [*requires, RUNTIME_REQUIREMENT]


def _only_wasm(dist: Distribution) -> bool:
    return all(isinstance(e, WasmExtension) for e in dist.ext_modules or []) and not dist.has_c_libraries()


def _make_build_ext(base: type[_setuptools_build_ext]) -> type[_setuptools_build_ext]:
    from .builder.pipeline import build_extension

    class build_ext(base):
        """Builds WasmExtensions with the wasm pipeline; hands the rest to setuptools."""

        extensions: list[Any]

        def run(self) -> None:
            everything: list[Any] = list(self.extensions)
            wasm = [e for e in everything if isinstance(e, WasmExtension)]
            self.extensions = [e for e in everything if not isinstance(e, WasmExtension)]
            try:
                if self.extensions:
                    super().run()
            finally:
                self.extensions = everything
            for ext in wasm:
                self._build_wasm(ext)

        def _build_wasm(self, ext: WasmExtension) -> None:
            build_dir = self._wasm_package_dir(ext, inplace=False)
            log.info("building wasm extension %s", ext.name)
            result = build_extension(  # explains its own OSErrors
                ext,
                source_root=Path(self.distribution.src_root or os.curdir),
                package_dir=build_dir,
                temp_dir=Path(self.build_temp) / "wasm" / ext.name,
            )
            log.info("built %s in %.2f s: %d bytes", ext.name, result.seconds, result.size)
            if self.inplace:
                source_dir = self._wasm_package_dir(ext, inplace=True)
                try:
                    for path in result.outputs:
                        target = source_dir / path.relative_to(build_dir)
                        if path.name == TYPED_MARKER and target.exists():
                            continue  # the author's own py.typed: never overwrite it
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(path, target)
                except OSError as exc:  # a full disk, a read-only tree: say which, and what to do
                    reraise_explained(exc, ext.name)

        def _wasm_package_dir(self, ext: WasmExtension, *, inplace: bool) -> Path:
            if inplace:
                build_py = self.get_finalized_command("build_py")
                return Path(build_py.get_package_dir(ext.package))
            return Path(self.build_lib, *ext.package.split(".")) if ext.package else Path(self.build_lib)

        def _wasm_outputs(self, ext: WasmExtension, *, inplace: bool) -> list[str]:
            """The files the pipeline will write for *ext* (setuptools asks before building)."""
            from .runtime import wasmtime_engine
            from .runtime.layout import ModuleFiles, runtime_sources

            files = ModuleFiles.of(ext.name, self._wasm_package_dir(ext, inplace=inplace))
            target = wasmtime_engine.host_target()
            artifacts = [(target, c.tag) for c in wasmtime_engine.CONFIGS] if ext.precompile and target else []
            return [str(p) for p in files.outputs(artifacts, [s.name for s in runtime_sources()])]

        def _fake_extension_files(self) -> set[str]:
            """The ``.so`` paths setuptools would expect for wasm extensions (never built)."""
            return {self.get_ext_filename(self.get_ext_fullname(e.name)) for e in self._wasm_exts()}

        def get_outputs(self) -> list[str]:
            fake = self._fake_extension_files()
            outputs = [o for o in super().get_outputs() if not any(o.endswith(f) for f in fake)]
            for ext in self._wasm_exts():
                outputs += self._wasm_outputs(ext, inplace=False)
            return sorted(set(outputs))

        def get_output_mapping(self) -> dict[str, str]:
            fake = self._fake_extension_files()
            mapping = {k: v for k, v in super().get_output_mapping().items() if not any(k.endswith(f) for f in fake)}
            if self.inplace:
                for ext in self._wasm_exts():
                    mapping.update(zip(self._wasm_outputs(ext, inplace=False), self._wasm_outputs(ext, inplace=True)))
            return dict(sorted(mapping.items()))

        def _wasm_exts(self) -> list[WasmExtension]:
            return [e for e in self.extensions or [] if isinstance(e, WasmExtension)]

        def get_source_files(self) -> list[str]:
            files = list(super().get_source_files())
            root = Path(self.distribution.src_root or os.curdir).resolve()
            for ext in self._wasm_exts():
                for directory in {str(Path(s).parent) for s in ext.sources} | set(ext.include_dirs):
                    path = (root / directory).resolve()
                    if path.is_dir() and path.is_relative_to(root):
                        files += sorted(str(h.relative_to(root)) for h in path.glob("*.h"))
            return list(dict.fromkeys(files))

    return build_ext


def _make_bdist_wheel(base: Any) -> Any:
    if base is None:
        from setuptools.command.bdist_wheel import bdist_wheel as setuptools_bdist_wheel

        base = setuptools_bdist_wheel

    class bdist_wheel(base):
        """Tags a wheel whose only extensions are wasm as pure: ``py3-none-any``."""

        def finalize_options(self) -> None:
            super().finalize_options()
            if _only_wasm(self.distribution):
                self.root_is_pure = True

    return bdist_wheel


def _make_egg_info(base: Any) -> Any:
    class egg_info(base):
        """Leaves the plugin's in-place outputs out of the file list (SOURCES.txt), hence out of sdists."""

        def find_sources(self) -> None:
            super().find_sources()
            from setuptools.command.egg_info import manifest_maker

            from .runtime.layout import ModuleFiles
            from .source_tree import generated_files

            build_py = self.get_finalized_command("build_py")
            ours: set[str] = set()
            for ext in self.distribution.ext_modules or []:
                if isinstance(ext, WasmExtension):
                    files = ModuleFiles.of(ext.name, build_py.get_package_dir(ext.package))
                    ours.update(os.path.abspath(p) for p in generated_files(files))
            kept = [f for f in self.filelist.files if os.path.abspath(f) not in ours]
            if len(kept) == len(self.filelist.files):
                return
            for f in sorted(set(self.filelist.files) - set(kept)):
                log.debug("leaving %s out of the sdist: setuptools-wasm wrote it", f)
            self.filelist.files = kept
            maker = manifest_maker(self.distribution)
            maker.manifest = os.path.join(self.egg_info, "SOURCES.txt")
            maker.filelist = self.filelist
            maker.write_manifest()

    return egg_info


def _make_install(base: type[_setuptools_install]) -> type[_setuptools_install]:
    class install(base):
        """Installs a distribution whose only extensions are wasm into purelib.

        distutils picks platlib whenever ``ext_modules`` is non-empty; wasm modules are
        platform-independent data, so such a wheel keeps everything at its (pure) root.
        """

        def finalize_options(self) -> None:
            dist = self.distribution
            if not _only_wasm(dist):
                super().finalize_options()
                return
            dist.has_ext_modules = lambda: False
            try:
                super().finalize_options()
            finally:
                del dist.has_ext_modules

    return install
