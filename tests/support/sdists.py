"""Third-party C sources from PyPI sdists, downloaded once into a cache outside the repository.

``pip download --no-binary :all: --no-deps NAME==VERSION`` into
``$XDG_CACHE_HOME/setuptools-wasm-tests/sdists`` (``~/.cache/...``), unpacked beside the
archive; a test that needs one is skipped, saying why, when the index cannot be reached.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "setuptools-wasm-tests" / "sdists"


def sdist(name: str, version: str) -> Path:
    """The unpacked source tree of *name* *version* (its top directory)."""
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    archives = [p for p in cache.glob(f"{name}-{version}.tar.gz")] or [
        p for p in cache.glob(f"{name.lower()}-{version}.tar.gz")
    ]
    if not archives:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps", "--no-build-isolation",
             f"{name}=={version}", "-d", str(cache)],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        archives = sorted(cache.glob(f"{name.lower()}-{version}.tar.gz")) + sorted(
            cache.glob(f"{name}-{version}.tar.gz")
        )
        if proc.returncode != 0 or not archives:
            pytest.skip(f"the {name} {version} sdist could not be downloaded: {proc.stderr.strip()[-300:]}")
    archive = archives[0]
    top = cache / archive.name.removesuffix(".tar.gz")
    if not top.is_dir():
        with tarfile.open(archive) as tar:
            tar.extractall(cache, filter="data") if sys.version_info >= (3, 12) else tar.extractall(cache)
    return top
