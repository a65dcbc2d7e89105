"""``tests/support/build_python_ft.sh``: never fails its caller, and does nothing once built.

The build itself (minutes) is not run here; ``make python-freethreaded`` does it, and the
``tests-3.13t`` session checks its result.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from support.pythons import BUILD_FT


def run(*args: str, prefix: Path, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WASM_EXT_PYTHON_FT_PREFIX": str(prefix), "XDG_CACHE_HOME": str(prefix.parent / "cache")}
    if path is not None:
        env["PATH"] = path
    bash = shutil.which("bash") or shutil.which("bash", path=os.defpath)  # unit-bare's PATH has only its venv
    assert bash is not None
    return subprocess.run(
        [bash, str(BUILD_FT), *args], check=False, capture_output=True, text=True, env=env, timeout=60
    )


def fake_interpreter(prefix: Path, gil_enabled: bool) -> Path:
    """A ``python3.13t`` that passes (or fails) the script's check, as a built one would."""
    python = prefix / "bin" / "python3.13t"
    python.parent.mkdir(parents=True)
    python.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'raise SystemExit({int(gil_enabled)})'\n")
    python.chmod(0o755)
    return python


def test_path_is_empty_until_built(tmp_path: Path) -> None:
    prefix = tmp_path / "python3.13t"
    assert run("--path", prefix=prefix).stdout == ""
    python = fake_interpreter(prefix, gil_enabled=False)
    assert run("--path", prefix=prefix).stdout == f"{python}\n"


def test_a_built_interpreter_is_not_built_again(tmp_path: Path) -> None:
    prefix = tmp_path / "python3.13t"
    fake_interpreter(prefix, gil_enabled=False)
    proc = run(prefix=prefix, path="/nonexistent")  # no tools at all: it must not need any
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_a_build_that_cannot_be_done_is_one_note_and_success(tmp_path: Path) -> None:
    prefix = tmp_path / "python3.13t"
    fake_interpreter(prefix, gil_enabled=True)  # there, but with the GIL: it would be rebuilt
    proc = run(prefix=prefix, path="/nonexistent")  # ... which needs apt-get, gcc, make
    assert proc.returncode == 0
    assert proc.stdout.splitlines() == [
        "note: free-threaded CPython not built (no apt-get on PATH); the tests-3.13t session will skip"
    ]
    assert (prefix / "bin" / "python3.13t").exists()  # nothing removed before a build succeeds
