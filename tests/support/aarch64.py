"""An aarch64 Python 3.11 run under qemu-user, for tests that need a second architecture.

``make aarch64`` (``tests/support/make_aarch64.sh``) prepares, in
``$XDG_CACHE_HOME/setuptools-wasm-tests/aarch64`` (``~/.cache/...``): an arm64 Debian root
(``root/``: python3.11 and Debian's pip) and the aarch64 wheel of the wasmtime version the
test environment has, installed into ``wasmtime-<version>/``. :func:`find` returns it, or
``None`` with the reason a test should give when skipping.

Commands run as ``qemu-aarch64-static -L ROOT ROOT/usr/bin/python3.11``: binfmt_misc is not
mounted in these containers, so qemu is called explicitly. ``-L`` makes qemu look up every
absolute path in ROOT first (the dynamic loader, ``/etc``), then on the host, so host paths
such as a test's ``tmp_path`` work unchanged. The wasmtime site and any given directories go
on ``PYTHONPATH``.

:meth:`Aarch64.install_wheel` installs with pip under qemu (Debian's pip 23.0.1 in the root),
so the install is what pip on aarch64 really does (tags checked, RECORD written, entry points
made), at ~10 s of CPU per wheel under emulation.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

QEMU = "qemu-aarch64-static"
PYTHON = "usr/bin/python3.11"
PREPARE = "run `make aarch64` (it needs root or sudo -n, apt and the network once)"


def cache_dir() -> Path:
    """Where ``make aarch64`` puts the root and the wasmtime site."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "setuptools-wasm-tests" / "aarch64"


@dataclass(frozen=True)
class Aarch64:
    """The prepared arm64 root, and how to run its Python under qemu."""

    qemu: str  # the qemu-aarch64-static binary
    root: Path  # the arm64 Debian root
    site: Path  # the aarch64 wasmtime, installed
    wasmtime_version: str

    @property
    def python(self) -> Path:
        return self.root / PYTHON

    def command(self, *args: str) -> list[str]:
        """The argv running the aarch64 ``python3.11 ARGS...`` under qemu."""
        return [self.qemu, "-L", str(self.root), str(self.python), *args]

    def environment(self, path: Sequence[Path] = (), env: Mapping[str, str] | None = None) -> dict[str, str]:
        """This process's environment without its Python and pip settings, plus *path* then the
        wasmtime site on PYTHONPATH, plus *env*."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_", "VIRTUAL_ENV"))}
        clean["PYTHONPATH"] = os.pathsep.join([*(str(p) for p in path), str(self.site)])
        clean["PYTHONUNBUFFERED"] = "1"
        clean["PIP_CONFIG_FILE"] = os.devnull  # the host's pip config (indexes, constraints) is not the root's
        clean["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        clean["PIP_ROOT_USER_ACTION"] = "ignore"
        clean.update(env or {})
        return clean

    def run(
        self,
        args: Sequence[str],
        *,
        path: Sequence[Path] = (),
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 600,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """``python3.11 ARGS`` on aarch64, output captured; *check*: a failure raises with its output."""
        done = subprocess.run(
            self.command(*args),
            env=self.environment(path, env),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"aarch64 python {' '.join(args)[:200]} exited {done.returncode}\n"
                f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
            )
        return done

    def run_code(self, code: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """``python3.11 -c CODE`` (dedented) on aarch64; keywords as for :meth:`run`."""
        return self.run(["-c", textwrap.dedent(code)], **kwargs)

    def install_wheel(self, wheel: Path, target: Path, *, timeout: float = 900) -> Path:
        """Install *wheel* (and nothing else: no dependencies, no index) into *target* with pip on
        aarch64; returns *target*, to pass in ``path=``."""
        self.run(
            ["-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
            timeout=timeout,
        )
        return target


def find() -> tuple[Aarch64 | None, str]:
    """The prepared aarch64 Python for this environment's wasmtime version, or ``None`` and why not."""
    qemu = shutil.which(QEMU)
    if qemu is None:
        return None, f"no {QEMU} on PATH, so no aarch64 Python: {PREPARE}"
    try:
        version = importlib.metadata.version("wasmtime")
    except importlib.metadata.PackageNotFoundError:
        return None, "wasmtime is not installed in this environment"
    cache = cache_dir()
    root = cache / "root"
    if not os.access(root / PYTHON, os.X_OK):
        return None, f"no arm64 root with python3.11 in {root}: {PREPARE}"
    site = cache / f"wasmtime-{version}"
    if not (site / "wasmtime").is_dir():
        found = sorted(p.name for p in cache.glob("wasmtime-*"))
        return None, f"no aarch64 wasmtime {version} (this environment's) in {cache} (found {found}): {PREPARE}"
    return Aarch64(qemu, root, site, version), ""
