"""Other interpreters a test can run a fresh process on: the free-threaded CPython that
``make python-freethreaded`` builds (``build_python_ft.sh``), with this venv's wasmtime-py."""

from __future__ import annotations

import os
import sys
from importlib.metadata import distribution
from pathlib import Path

BUILD_FT = Path(__file__).resolve().parent / "build_python_ft.sh"


def free_threaded_python() -> Path | None:
    """The built free-threaded interpreter, or ``None`` when it is not built (nothing is built here).

    Where ``build_python_ft.sh --path`` looks, found without running it: the unit layer's
    PATH may hold no shell.
    """
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "setuptools-wasm-tests"
    prefix = Path(os.environ.get("WASM_EXT_PYTHON_FT_PREFIX") or cache / "python3.13t")
    python = prefix / "bin" / "python3.13t"
    return python if os.access(python, os.X_OK) else None


def is_this_interpreter(python: Path) -> bool:
    return os.path.realpath(python) == os.path.realpath(sys.executable)


def wasmtime_site(directory: Path) -> Path:
    """*directory* holding links to this environment's wasmtime-py and its metadata.

    wasmtime-py is pure Python plus a shared library loaded with ctypes, so the same files
    serve any CPython 3.9+: on ``PYTHONPATH`` they let another interpreter import it.
    """
    dist = distribution("wasmtime")
    site = Path(str(dist.locate_file("")))
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("wasmtime", f"wasmtime-{dist.version}.dist-info"):
        link = directory / name
        if not link.exists():
            link.symlink_to(site / name)
    return directory
