"""Real ``pip wheel`` / ``python -m build`` / ``pip install -e`` runs under build isolation.

Each build resolves the plugin from a wheel of this checkout (``--find-links``) and its
other build requirements from the package index, exactly as a user's build would; each
built package is then used from a fresh virtual environment that never saw the plugin.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from pathlib import Path

import pytest
from support.building import REPO, copy_example
from support.venvs import Venv

pytestmark = pytest.mark.e2e
EXAMPLE = REPO / "example_project"


@pytest.fixture(scope="module")
def builder(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A fresh venv with only pip (and `build`): the plugin arrives through build isolation."""
    env = Venv(tmp_path_factory.mktemp("builder") / "venv")
    env.pip("install", "--quiet", "build")
    return env


def _check_installed_example(tmp_path: Path, wheel: Path) -> str:
    """Install *wheel* in a clean venv (wasmtime only) and run the example's demo in it."""
    user = Venv(tmp_path / "user-venv")
    user.pip("install", "--quiet", str(wheel))
    assert user.run("-c", "import wasm_ext", cwd=tmp_path, check=False).returncode != 0, (
        "the plugin leaked into the user's venv"
    )
    out = user.run(str(EXAMPLE / "demo.py"), cwd=tmp_path).stdout
    assert "all results correct" in out and "loaded from        : precompiled" in out, out
    checks = user.run(str(EXAMPLE / "check_wheel.py"), cwd=tmp_path).stdout  # also run in Pyodide
    assert "all checks passed" in checks, checks
    return out


def test_pip_wheel_example_then_use_it_without_the_plugin(builder: Venv, plugin_wheel: Path, tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    out = tmp_path / "wheels"
    builder.pip("wheel", "--no-deps", "--find-links", str(plugin_wheel), "-w", str(out), str(project))
    (wheel,) = out.glob("*.whl")
    assert wheel.name == "wasm_ext_example-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read("wasm_ext_example-0.1.0.dist-info/METADATA").decode()
        wheel_info = zf.read("wasm_ext_example-0.1.0.dist-info/WHEEL").decode()
    expected = {
        "wasm_example/__init__.py",
        "wasm_example/kernels.py",
        "wasm_example/kernels.pyi",
        "wasm_example/kernels.wasm",
        "wasm_example/kernels.wasm-manifest.json",
        "wasm_example/_wasm_ext_runtime/__init__.py",
        "wasm_example/_wasm_ext_runtime/loader.py",
    }
    assert expected <= names
    assert any(n.startswith("wasm_example/kernels.") and n.endswith(".cwasm") for n in names)
    assert not any(n.endswith((".c", ".h", ".so")) for n in names)
    assert "Root-Is-Purelib: true" in wheel_info and "Tag: py3-none-any" in wheel_info
    assert 'Requires-Dist: wasmtime>=50; sys_platform != "emscripten"' in metadata
    _check_installed_example(tmp_path, wheel)


def test_an_unchanged_tree_rebuilds_from_the_compile_cache_under_pip_wheel(
    builder: Venv, plugin_wheel: Path, tmp_path: Path
) -> None:
    """Before: every isolated build installed the plugin at a new path, the cache key named it, and it missed."""
    project = copy_example(tmp_path)

    def build() -> str:
        out = tmp_path / "wheels"
        args = ("wheel", "-v", "--no-deps", "--find-links", str(plugin_wheel), "-w", str(out), str(project))
        proc = builder.pip(*args)
        return proc.stdout + proc.stderr  # pip -v shows the backend's log on stderr

    build()
    unchanged = build()
    assert unchanged.count("wasm-ext: compile: up to date (cached)") == 2, unchanged  # both modules
    kernels = project / "csrc" / "kernels.c"
    kernels.write_text(kernels.read_text() + "\n/* an edit */\n")
    edited = build()
    assert edited.count("wasm-ext: compile: up to date (cached)") == 1, edited  # _logparse only
    assert "compiling" in edited and "kernels.c" in edited


def test_sdist_then_wheel_with_python_m_build(builder: Venv, plugin_wheel: Path, tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    out = tmp_path / "dist"
    env_find_links = {"PIP_FIND_LINKS": str(plugin_wheel)}
    os.environ.update(env_find_links)
    try:
        builder.run("-m", "build", "--outdir", str(out), str(project))  # sdist, then a wheel from it
    finally:
        os.environ.pop("PIP_FIND_LINKS")
    (sdist,) = out.glob("*.tar.gz")
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert {"pyproject.toml", "csrc/kernels.c", "csrc/adler32.h", "src/wasm_example/__init__.py"} <= names
    assert not any(n.endswith((".wasm", ".cwasm", ".whl", "kernels.py")) or "_wasm_ext_runtime" in n for n in names)
    (wheel,) = out.glob("*.whl")
    assert wheel.name.endswith("-py3-none-any.whl")
    _check_installed_example(tmp_path, wheel)


def test_editable_install(plugin_wheel: Path, tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    env = Venv(tmp_path / "editable-venv")
    env.pip("install", "--quiet", "--find-links", str(plugin_wheel), "-e", str(project))
    code = "import wasm_example.kernels as k, zlib; print(k.__file__); print(k.fib(20), k.adler32(b'abc') == zlib.adler32(b'abc'))"
    file, result = env.run("-c", code, cwd=tmp_path).stdout.split("\n", 1)
    assert Path(file).resolve() == (project / "src" / "wasm_example" / "kernels.py").resolve()
    assert result.split() == ["6765", "True"]
    # plain `pip install .` in the same venv replaces it with a regular install
    env.pip("install", "--quiet", "--find-links", str(plugin_wheel), str(project))
    assert (
        "site-packages"
        in env.run("-c", "import wasm_example.kernels as k; print(k.__file__, k.fib(10))", cwd=tmp_path).stdout
    )


def test_failed_build_leaves_no_wheel(builder: Venv, plugin_wheel: Path, tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('max-size = "64KiB"', "max-size = 200"))
    out = tmp_path / "wheels"
    proc = builder.pip(
        "wheel", "--no-deps", "--find-links", str(plugin_wheel), "-w", str(out), str(project), check=False
    )
    assert proc.returncode != 0
    assert "wasm_example.kernels: the wasm module is" in proc.stdout + proc.stderr
    assert "over its max_size of 200 bytes" in proc.stdout + proc.stderr
    assert not list(out.glob("*.whl")) if out.exists() else True


MIXED_SETUP = """
from setuptools import Extension, setup
from wasm_ext import WasmExtension

setup(
    name="mixed-example",
    version="0.1.0",
    packages=["mixed"],
    install_requires=[],
    ext_modules=[
        Extension("mixed._native", sources=["native.c"]),
        WasmExtension("mixed.kernels", sources=["kernels.c"], max_size="16KiB"),
    ],
)
"""

NATIVE_C = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, "The answer."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};
PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
"""


def test_setup_py_mixing_native_and_wasm_extensions(builder: Venv, plugin_wheel: Path, tmp_path: Path) -> None:
    project = tmp_path / "mixed"
    (project / "mixed").mkdir(parents=True)
    (project / "mixed" / "__init__.py").write_text("")
    (project / "setup.py").write_text(MIXED_SETUP)
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=70.1", "setuptools-wasm"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    (project / "native.c").write_text(NATIVE_C)
    (project / "kernels.c").write_text("#include <wasm_ext.h>\nWASM_EXPORT int square(int x) { return x * x; }\n")
    out = tmp_path / "wheels"
    builder.pip("wheel", "--no-deps", "--find-links", str(plugin_wheel), "-w", str(out), str(project))
    (wheel,) = out.glob("*.whl")
    assert "-none-any" not in wheel.name  # it holds a native extension: platform wheel
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "Requires-Dist: wasmtime" in zf.read("mixed_example-0.1.0.dist-info/METADATA").decode()
    assert any(n.startswith("mixed/_native.") and n.endswith(".so") for n in names)
    assert "mixed/kernels.wasm" in names and "mixed/kernels.py" in names
    user = Venv(tmp_path / "user-venv")
    user.pip("install", "--quiet", str(wheel))
    code = "import mixed._native as n, mixed.kernels as k; print(n.answer(), k.square(12))"
    assert user.run("-c", code, cwd=tmp_path).stdout.split() == ["42", "144"]
