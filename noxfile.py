"""The test suite on every supported Python: ``nox -s tests-3.9`` ... ``tests-3.13``.

`make test` runs ``unit-bare`` and the oldest and newest; `make test-all-pythons` runs all
five. Interpreters are looked up as ``python3.X`` on PATH, then in pyenv's versions.
"""

from __future__ import annotations

import glob
import os
import shutil
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
    session.install("--quiet", "-e", ".[test]")
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
