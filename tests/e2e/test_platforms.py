"""One wheel, two platforms: built here on x86_64, precompiled on aarch64 (qemu-user), merged, run on both.

The aarch64 side is a real arm64 Python with the aarch64 wasmtime wheel, run under
qemu-user (``make aarch64`` prepares it; see tests/support/aarch64.py). It runs the
plugin's ``wasm-ext precompile`` on the wheel built here; ``wasm-ext merge`` joins the two;
the merged wheel then loads precompiled and gives correct results on both machines.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from support.aarch64 import Aarch64
from support.venvs import Venv

pytestmark = pytest.mark.e2e

CHECK = """
import sys, zlib
from wasm_example import kernels
from wasm_example.logs import parse_logs, parse_logs_python
data = bytes(range(256)) * 1024
assert kernels.fib(40) == 102334155
assert kernels.sieve(100_000) == 9592
assert kernels.adler32(data) == zlib.adler32(data)
log = b'{"ts":"2024-09-15T10:30:00Z","level":"ERROR","ip":"10.0.0.1","msg":"x"}\\nnot json\\n'
assert parse_logs(log) == parse_logs_python(log)
import platform
print(platform.machine(), kernels._module.loaded_from)
"""


def _cli(*args: str, cwd: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "wasm_ext.cli", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_merged_wheel_loads_precompiled_on_x86_64_and_aarch64(
    aarch64: Aarch64, example_wheel: Path, plugin_wheel: Path, tmp_path: Path
) -> None:
    built = example_wheel
    (plugin,) = plugin_wheel.glob("setuptools_wasm-*.whl")

    # on aarch64: the plugin (no compiler needed) adds that host's artifacts
    tools = tmp_path / "arm-tools"
    aarch64.install_wheel(plugin, tools)
    proc = aarch64.run(["-m", "wasm_ext.cli", "precompile", str(built), "-o", str(tmp_path / "arm")], path=[tools])
    assert (
        "added wasm_example.kernels: aarch64-unknown-linux-gnu kernels.aarch64-unknown-linux-gnu.cwasm" in proc.stdout
    )

    # here: merge what each host made
    merged_dir = tmp_path / "merged"
    out = _cli("merge", str(built), str(tmp_path / "arm" / built.name), "-o", str(merged_dir), cwd=tmp_path)
    lines = {line.partition(": ")[0]: line for line in out.splitlines()}
    assert "kernels.aarch64-unknown-linux-gnu.cwasm (" in lines["aarch64-unknown-linux-gnu"]
    assert "kernels.x86_64-unknown-linux-gnu.cwasm (" in lines["x86_64-unknown-linux-gnu"]
    merged = merged_dir / built.name
    with zipfile.ZipFile(merged) as zf:
        artifacts = sorted(n for n in zf.namelist() if n.endswith(".cwasm"))
    assert len(artifacts) == 8  # 2 modules x 2 engine configs x 2 targets
    sizes = _cli("size", str(merged), cwd=tmp_path)
    assert "aarch64-unknown-linux-gnu " in sizes and "x86_64-unknown-linux-gnu " in sizes
    print(sizes)  # the sizes per target, for the closing note (pytest -s)

    # x86_64: a fresh venv with the merged wheel
    user = Venv(tmp_path / "user")
    user.pip("install", "--quiet", str(merged))
    assert user.run("-c", CHECK, cwd=tmp_path).stdout.split() == ["x86_64", "precompiled"]

    # aarch64: the merged wheel installed there, with the aarch64 wasmtime
    site = tmp_path / "arm-site"
    aarch64.install_wheel(merged, site)
    proc = aarch64.run(["-c", CHECK], path=[site], cwd=tmp_path)
    assert proc.stdout.split() == ["aarch64", "precompiled"]


def test_each_host_refuses_the_others_artifact_alone(aarch64: Aarch64, example_wheel: Path, tmp_path: Path) -> None:
    """Without a merge, the x86_64 wheel on aarch64 compiles on first use (the artifact is not for it)."""
    built = example_wheel
    site = tmp_path / "arm-site"
    aarch64.install_wheel(built, site)
    proc = aarch64.run(["-c", CHECK], path=[site], cwd=tmp_path, env={"WASM_EXT_CACHE_DIR": str(tmp_path / "c")})
    assert proc.stdout.split() == ["aarch64", "wasm"]
