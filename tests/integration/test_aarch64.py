"""The aarch64 Python under qemu-user (``support.aarch64``) that the multi-target wheel tests use.

It must really be aarch64 with this environment's wasmtime, run wasm correctly, install a
wheel with its own pip, and make artifacts that each architecture refuses from the other
with a ``WasmtimeError`` naming the architecture (so a wheel carrying both picks by target).
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import runpy
from pathlib import Path

import pytest
import wasmtime
from support.aarch64 import Aarch64
from support.building import REPO
from support.wheels import zip_wheel

from wasm_ext.builder.precompile import serialize
from wasm_ext.runtime import wasmtime_engine

# sum of i*i*i (mod 2**32) for i < n: a loop the compiler cannot fold away
CUBES_WAT = """
(module
  (func (export "cubes") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i32.add (local.get $acc)
          (i32.mul (local.get $i) (i32.mul (local.get $i) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $acc)))
"""
N = 100_000


def cubes(n: int) -> int:
    return sum(i * i * i for i in range(n)) % 2**32


# ``cubes(N)`` from a serialized module in an engine of the DEFAULT config, run on both sides.
RUN_ARTIFACT = """
import wasmtime
from wasm_ext.runtime import wasmtime_engine

def run_artifact(path, n):
    engine = wasmtime.Engine(wasmtime_engine.make_config(wasmtime_engine.DEFAULT))
    store = wasmtime.Store(engine)
    module = wasmtime.Module.deserialize_file(engine, str(path))
    return wasmtime.Instance(store, module, []).exports(store)["cubes"](store, n) % 2**32
"""


def run_artifact(path: Path) -> int:
    runner = path.parent / "runner.py"
    runner.write_text(RUN_ARTIFACT)
    result = runpy.run_path(str(runner))["run_artifact"](path, N)
    assert isinstance(result, int)
    return result


# The same steps on aarch64: serialize there with the plugin's precompile code, run it, and try x86_64's.
ON_AARCH64 = """
import json, platform, importlib.metadata
from pathlib import Path
import wasmtime
from runner import run_artifact
from wasm_ext.builder.precompile import serialize
from wasm_ext.runtime import wasmtime_engine as w
work = Path({work!r})
wasm = (work / "cubes.wasm").read_bytes()
(work / "aarch64.cwasm").write_bytes(serialize(wasm, w.DEFAULT, w.host_target(), module="cubes"))
report = {{"machine": platform.machine(), "wasmtime": importlib.metadata.version("wasmtime"),
          "target": w.host_target(), "result": run_artifact(work / "aarch64.cwasm", {n})}}
try:
    run_artifact(work / "x86_64.cwasm", {n})
except wasmtime.WasmtimeError as exc:
    report["refused"] = str(exc)
print(json.dumps(report))
"""


def test_aarch64_python_runs_wasm_and_refuses_x86_64_artifacts(aarch64: Aarch64, tmp_path: Path) -> None:
    if platform.machine() != "x86_64":
        pytest.skip(f"this host is {platform.machine()}: the test compares x86_64 with aarch64 under qemu")
    wasm = bytes(wasmtime.wat2wasm(CUBES_WAT))
    (tmp_path / "cubes.wasm").write_bytes(wasm)
    host = wasmtime_engine.host_target()
    assert host is not None
    (tmp_path / "x86_64.cwasm").write_bytes(serialize(wasm, wasmtime_engine.DEFAULT, host, module="cubes"))

    (tmp_path / "runner.py").write_text(RUN_ARTIFACT)
    code = ON_AARCH64.format(work=str(tmp_path), n=N)
    report = json.loads(aarch64.run_code(code, path=[tmp_path, REPO]).stdout)

    assert report["machine"] == "aarch64"
    assert report["target"] == "aarch64-unknown-linux-gnu"
    assert report["wasmtime"] == importlib.metadata.version("wasmtime")
    assert report["result"] == cubes(N)
    assert "architecture" in report.get("refused", ""), report
    assert run_artifact(tmp_path / "x86_64.cwasm") == cubes(N)
    with pytest.raises(wasmtime.WasmtimeError, match="architecture"):
        run_artifact(tmp_path / "aarch64.cwasm")


def test_install_wheel_with_pip_on_aarch64(aarch64: Aarch64, tmp_path: Path) -> None:
    package = tmp_path / "src" / "archprobe"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("import platform\n\ndef machine() -> str:\n    return platform.machine()\n")
    wheel = zip_wheel(tmp_path / "src", tmp_path / "dist", name="archprobe", version="1.2")

    target = aarch64.install_wheel(wheel, tmp_path / "site")

    done = aarch64.run_code(
        "import archprobe, importlib.metadata as m; print(archprobe.machine(), m.version('archprobe'))",
        path=[target],
    )
    assert done.stdout.split() == ["aarch64", "1.2"]
    record = (target / "archprobe-1.2.dist-info" / "RECORD").read_text()
    assert "archprobe/__init__.py," in record
    assert (target / "archprobe-1.2.dist-info" / "INSTALLER").read_text().strip() == "pip"
