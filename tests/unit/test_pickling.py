"""Exceptions cross processes as themselves; what lives in one process's instances refuses to be pickled, saying why."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Callable

import pytest
from support.wat import Package, make_package, unique_package

from wasm_ext.errors import ConfigError, SignatureError, SizeLimitError, ToolchainError, WasmCompileError
from wasm_ext.runtime.exceptions import KernelError, KernelTimeout, KernelTrap


@pytest.fixture(scope="module")
def module_package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    return make_package(tmp_path_factory.mktemp("pickling"), unique_package("pickling"))


@pytest.fixture(scope="module")
def kernels(module_package: Package) -> Any:
    return module_package.import_stub()


def _round_trip(exc: BaseException) -> BaseException:
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is type(exc) and str(again) == str(exc) and again.args == exc.args
    return again


def test_kernel_trap_pickles_with_its_fields() -> None:
    again = _round_trip(KernelTrap("pkg.k.divide", "integer_division_by_zero", "wasm backtrace: ..."))
    assert isinstance(again, KernelTrap)
    assert (again.function, again.trap_code, again.detail) == (
        "pkg.k.divide",
        "integer_division_by_zero",
        "wasm backtrace: ...",
    )


def test_kernel_timeout_pickles_with_its_fields() -> None:
    again = _round_trip(KernelTimeout("pkg.k.spin", 0.25))
    assert isinstance(again, KernelTimeout)
    assert (again.function, again.trap_code, again.timeout) == ("pkg.k.spin", "interrupt", 0.25)
    assert str(again) == "pkg.k.spin: interrupted after the 0.25 s timeout"


def test_an_attribute_added_later_survives() -> None:
    exc = KernelTrap("f", None, "boom")
    exc.note = "added by a caller"  # type: ignore[attr-defined]
    assert _round_trip(exc).note == "added by a caller"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "exc",
    [
        KernelError("pkg.k: cannot load"),
        ConfigError("bad option"),
        ToolchainError("no zig"),
        WasmCompileError("clang failed"),
        SignatureError("f: unmappable"),
        SizeLimitError("too big"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_other_public_exception_pickles(exc: BaseException) -> None:
    _round_trip(exc)


def test_a_real_trap_pickles(kernels: Any) -> None:
    with pytest.raises(kernels.KernelTrap) as info:  # the package's own runtime copy's class
        kernels.divide(1, 0)
    again = _round_trip(info.value)
    assert (
        isinstance(again, kernels.KernelTrap) and again.trap_code == info.value.trap_code == "integer_division_by_zero"
    )


POOLS = """
import concurrent.futures, multiprocessing
import {module} as k

if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        print("executor", list(pool.map(k.divide, [6, 8], [3, 4])))
        try:
            pool.submit(k.divide, 1, 0).result(timeout=60)
        except k.KernelTrap as exc:
            print("executor trap", type(exc).__name__, exc.function, exc.trap_code)
    with context.Pool(2) as pool:
        try:
            pool.starmap_async(k.divide, [(4, 2), (1, 0), (2, 1)]).get(timeout=60)
        except k.KernelTrap as exc:
            print("pool trap", type(exc).__name__, exc.function, exc.trap_code)
"""


def test_a_trap_in_a_process_pool_worker_reaches_the_parent(
    module_package: Package, fresh_python: Callable[..., Any], tmp_path: Path
) -> None:
    """Before: BrokenProcessPool from ProcessPoolExecutor, and multiprocessing.Pool.map hung for ever."""
    script = tmp_path / "pools.py"  # spawn re-imports the main module: it must be a file
    script.write_text(POOLS.format(module=module_package.module_name))
    proc = fresh_python(
        f"import runpy; runpy.run_path({str(script)!r}, run_name='__main__')", cwd=module_package.site, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "executor [2, 2]",
        "executor trap KernelTrap divide integer_division_by_zero",
        "pool trap KernelTrap divide integer_division_by_zero",
    ]


def _refusal(obj: object) -> str:
    with pytest.raises(TypeError) as info:
        pickle.dumps(obj)
    return str(info.value)


def test_a_wasm_buffer_refuses_saying_why(kernels: Any) -> None:
    with kernels.alloc(16) as buffer:
        message = _refusal(buffer)
    assert message.startswith("cannot pickle a WasmBuffer (16 bytes): it lives in a wasm instance of this process")
    assert "pickle its contents (buffer.read())" in message


def test_a_sandbox_refuses_saying_why(kernels: Any, module_package: Package) -> None:
    with kernels.sandbox(timeout=5) as sandbox:
        message = _refusal(sandbox)
        assert message.startswith(f"cannot pickle a sandbox of {module_package.module_name}: it lives in a wasm")
        assert "make sandboxes where they are used (e.g. in a process pool's initializer)" in message
        with pytest.raises((pickle.PicklingError, AttributeError), match=r"Sandbox\.divide"):
            pickle.dumps(sandbox.divide)  # a sandbox's function: no global of that name to refer to
        assert sandbox.divide(6, 3) == 2


def test_the_module_level_functions_pickle_by_reference(kernels: Any) -> None:
    assert pickle.loads(pickle.dumps(kernels.divide)) is kernels.divide
    assert _refusal(kernels._module).startswith(f"cannot pickle the kernel module of {kernels.__name__}: ")
