"""The test suite on every supported Python: ``nox -s tests-3.9`` ... ``tests-3.13``.

`make test` runs the oldest and newest; `make test-all-pythons` runs all five.
Interpreters are looked up as ``python3.X`` on PATH, then in pyenv's versions.
"""

from __future__ import annotations

import glob
import os
import shutil

import nox

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
