"""The generated stub and the runtime copy type-check under ``mypy --strict``; bad calls do not."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

USER_CODE = """
from wasm_example import kernels

good: int = kernels.fib(10) + kernels.sieve(100) + kernels.adler32(b"abc") + kernels.adler32(bytearray(3))
with kernels.alloc(16) as buf:
    kernels.adler32(buf)
try:
    kernels.fib(-1)
except kernels.KernelTrap as exc:
    code = exc.trap_code
with kernels.sandbox(timeout=0.5, max_memory="64MiB") as sb:
    also: int = sb.fib(10) + sb.adler32(sb.alloc(4))
try:
    kernels.sandbox(wasi={"stdout": True}).fib(3)
except kernels.KernelTimeout as timeout:
    limit: float = timeout.timeout

kernels.fib("10")
kernels.adler32(5)
text: str = kernels.sieve(10)
sb.fib("10")
kernels.sandbox(timeout="1")
kernels.sandbox(wasi={"network": True})
"""


@pytest.fixture
def example_stub(example_site: Path, tmp_path: Path) -> Path:
    """A copy of the example built by the real pipeline (a user file is written beside it)."""
    root = tmp_path / "typed"
    shutil.copytree(example_site / "wasm_example", root / "wasm_example", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _mypy(cwd: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--python-version",
            f"{sys.version_info[0]}.{sys.version_info[1]}",
            *targets,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_generated_stub_and_runtime_pass_mypy_strict(example_stub: Path) -> None:
    assert (example_stub / "wasm_example" / "py.typed").is_file()
    proc = _mypy(example_stub, "wasm_example/kernels.py", "wasm_example/_logparse.py", "wasm_example/_wasm_ext_runtime")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = _mypy(example_stub, "-p", "wasm_example")  # the package as users see it: .pyi wins
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_rejects_wrongly_typed_calls(example_stub: Path) -> None:
    (example_stub / "use.py").write_text(USER_CODE)
    proc = _mypy(example_stub, "use.py")
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in errors] == ["18", "19", "20", "21", "22", "23"], proc.stdout
    assert 'Argument 1 to "fib" has incompatible type "str"; expected "int"' in errors[0]
    assert 'Argument 1 to "adler32" has incompatible type "int"' in errors[1]
    assert 'Incompatible types in assignment (expression has type "int", variable has type "str")' in errors[2]
    assert 'Argument 1 to "fib" of "Sandbox" has incompatible type "str"; expected "int"' in errors[3]
    assert 'Argument "timeout" to "sandbox" has incompatible type "str"' in errors[4]
    assert 'Argument "wasi" to "sandbox" has incompatible type' in errors[5] and "WasiGrants" in errors[5]


def _pyright() -> str:
    found = shutil.which("pyright") or shutil.which(
        "pyright", path=str(Path(__file__).parents[2] / "node_modules" / ".bin")
    )
    if found is None:
        pytest.skip("pyright not found (make setup installs it from npm into node_modules/.bin)")
    return found


def test_pyright_verifytypes_scores_the_built_package_complete(example_stub: Path, tmp_path: Path) -> None:
    """A built package's public types are complete, in an environment without typing_extensions."""
    import os
    import venv

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    site = next((env_dir / "lib").glob("python*/site-packages"))
    shutil.copytree(example_stub / "wasm_example", site / "wasm_example")
    proc = subprocess.run(
        [_pyright(), "--verifytypes", "wasm_example"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "VIRTUAL_ENV": str(env_dir), "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}"},
        timeout=300,
        check=False,
    )
    assert "Type completeness score: 100%" in proc.stdout, proc.stdout
    assert 'Package directory: "' + str(site / "wasm_example") in proc.stdout  # the copy, not another one
