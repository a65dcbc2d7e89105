"""The test suite on every supported Python: ``nox -s tests-3.9`` ... ``tests-3.13``.

`make test` runs ``unit-bare`` and the oldest and newest; `make test-all-pythons` runs all
five. Interpreters are looked up as ``python3.X`` on PATH, then in pyenv's versions.

``tests-3.13t``: the runtime, sandbox and thread tests on a free-threaded CPython 3.13 (no GIL),
the one ``make python-freethreaded`` builds (``tests/support/build_python_ft.sh``); it skips
when that interpreter is not built.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys

import nox

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - nox runs on the venv's Python
    import tomli as tomllib

PYTHONS = ["3.9", "3.10", "3.11", "3.12", "3.13"]
nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True


def _interpreter(version: str) -> str:
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"))
    if found:
        return found[-1]
    return shutil.which(f"python{version}") or version


def _tests(session: nox.Session) -> None:
    # [opt]: icpp-binaryen where it has wheels (3.11+ here), so the optimizer from PyPI is tested for real
    session.install("--quiet", "-e", ".[test,opt]")
    session.run("python", "-m", "pytest", *session.posargs)


for _version in PYTHONS:
    nox.session(name=f"tests-{_version}", python=_interpreter(_version))(_tests)


@nox.session(name="unit-bare")
def unit_bare(session: nox.Session) -> None:
    """The unit layer where no toolchain exists: the plugin without its dependencies (so no ziglang),
    the test extras, and a PATH holding nothing but this venv (no node, no wasm-opt)."""
    with open("pyproject.toml", "rb") as fh:
        test_extras = tomllib.load(fh)["project"]["optional-dependencies"]["test"]
    session.install("--quiet", "--no-deps", "-e", ".")
    session.install("--quiet", "setuptools>=70.1", *test_extras)
    session.run("python", "-c", "import importlib.util as u; assert u.find_spec('ziglang') is None, 'ziglang present'")
    bare = {"PATH": session.bin, "WASM_OPT": "", "WASM_EXT_CC": "", "WASI_SDK_PATH": ""}
    session.run("python", "-m", "pytest", "tests/unit", "-q", *session.posargs, env=bare)


# The tests whose behaviour changes without a GIL: the runtime (loading, per-thread instances,
# buffers, fork), sandboxes (timer thread, close() from another thread), re-entrancy and handles
# across threads, and the exit-time check. They run on WAT modules (no C toolchain), so the
# session needs the plugin and wasmtime but neither zig nor wasm-opt.
FREE_THREADED_TESTS = [
    "tests/unit/test_runtime.py",
    "tests/unit/test_sandbox.py",
    "tests/unit/test_reentrancy.py",
    "tests/unit/test_handles.py",
    "tests/unit/test_exit.py",
]
# Test extras these tests do not need, and that have no free-threaded wheel here (pip would compile
# them: numpy for 10+ minutes; hypothesis's native part needs crates from the network): numpy (its
# tests skip), hypothesis, the native packages of test_libraries.py, and the lint tools (`make lint`).
NOT_FOR_FREE_THREADED = {"brotli", "pycryptodome", "xxhash", "numpy", "hypothesis", "mypy", "ruff", "build"}


def _free_threaded_interpreter() -> str | None:
    """The interpreter ``make python-freethreaded`` built, or ``None`` when it is not built."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests", "support", "build_python_ft.sh")
    out = subprocess.run(["bash", script, "--path"], capture_output=True, text=True, check=False).stdout.strip()
    return out or None


_FREE_THREADED = _free_threaded_interpreter()


@nox.session(name="tests-3.13t", python=_FREE_THREADED or False)
def tests_free_threaded(session: nox.Session) -> None:
    """The runtime, sandbox and thread tests on free-threaded CPython 3.13 (``make python-freethreaded``)."""
    if _FREE_THREADED is None:
        session.skip("note: no free-threaded CPython built (make python-freethreaded); skipping")
    session.run("python", "-c", "import sys; assert not sys._is_gil_enabled(), 'the GIL is on'")
    with open("pyproject.toml", "rb") as fh:
        extras = tomllib.load(fh)["project"]["optional-dependencies"]["test"]
    wanted = [e for e in extras if re.split(r"[\s<>=!~;\[]", e, maxsplit=1)[0] not in NOT_FOR_FREE_THREADED]
    session.install("--quiet", "--no-deps", "-e", ".")
    session.install("--quiet", "setuptools>=70.1", *wanted)
    session.run("python", "-m", "pytest", *FREE_THREADED_TESTS, "-q", *session.posargs)
