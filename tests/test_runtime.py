"""The runtime a built package carries: lazy loading, artifact checks, traps, threads."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Callable

import pytest
from conftest import Built

SOURCE = """
#include <stdint.h>
#include <stddef.h>
#include <wasm_ext.h>
WASM_EXPORT int32_t mul(int32_t a, int32_t b) { return a * b; }
WASM_EXPORT int32_t divide(int32_t a, int32_t b) { return a / b; }
WASM_EXPORT void boom(void) { __builtin_trap(); }
WASM_EXPORT uint32_t first_byte(const uint8_t *data, size_t n) { return n ? data[0] : 0; }
"""


@pytest.fixture
def built(build_c: Callable[..., Built]) -> Built:
    return build_c(SOURCE)


def _run_fresh(built: Built, code: str) -> str:
    """Run *code* in a new interpreter that sees only the built package (and wasmtime)."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=built.root / "site",
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def test_import_does_not_load_wasmtime(built: Built) -> None:
    out = _run_fresh(
        built,
        f"import sys, {built.package}.kernels as k; print('wasmtime' in sys.modules); "
        f"print(k.mul(6, 7)); print('wasmtime' in sys.modules); print(k._module.loaded_from)",
    )
    assert out.split() == ["False", "42", "True", "precompiled"]


def _manifest(built: Built) -> dict:  # type: ignore[type-arg]
    return json.loads((built.package_dir / "kernels.wasm-manifest.json").read_text())


def _artifact(built: Built):  # type: ignore[no-untyped-def]
    return built.package_dir / _manifest(built)["precompiled"][0]["file"]


def _loaded_from(built: Built) -> str:
    return _run_fresh(built, f"import {built.package}.kernels as k; print(k.mul(3, 5), k._module.loaded_from)")


def test_tampered_artifact_is_never_deserialized(built: Built) -> None:
    artifact = _artifact(built)
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    assert _loaded_from(built) == "15 wasm"


def test_artifact_from_another_wasmtime_version_is_skipped(built: Built) -> None:
    manifest = _manifest(built)
    manifest["precompiled"][0]["wasmtime"] = "1.0.0"
    (built.package_dir / "kernels.wasm-manifest.json").write_text(json.dumps(manifest))
    assert _loaded_from(built) == "15 wasm"


def test_other_config_or_target_is_skipped(built: Built) -> None:
    for key, value in (("config", "0" * 16), ("target", "riscv64-unknown-linux-gnu")):
        manifest = _manifest(built)
        original = manifest["precompiled"][0][key]
        manifest["precompiled"][0][key] = value
        (built.package_dir / "kernels.wasm-manifest.json").write_text(json.dumps(manifest))
        assert _loaded_from(built) == "15 wasm"
        manifest["precompiled"][0][key] = original
        (built.package_dir / "kernels.wasm-manifest.json").write_text(json.dumps(manifest))
    assert _loaded_from(built) == "15 precompiled"


def test_missing_artifact_or_manifest(built: Built) -> None:
    _artifact(built).unlink()
    assert _loaded_from(built) == "15 wasm"
    (built.package_dir / "kernels.wasm-manifest.json").unlink()
    assert _loaded_from(built) == "15 wasm"


def test_missing_wasm_is_a_clear_error(built: Built) -> None:
    (built.package_dir / "kernels.wasm-manifest.json").unlink()
    (built.package_dir / "kernels.wasm").unlink()
    kernels = built.import_stub()
    with pytest.raises(kernels.KernelError, match=r"\.kernels: cannot load .*kernels\.wasm"):
        kernels.mul(1, 2)


def test_trap_raises_kernel_trap_and_next_call_works(built: Built) -> None:
    kernels = built.import_stub()
    assert kernels.first_byte(b"\x07") == 7
    with pytest.raises(kernels.KernelTrap, match=r"^divide: wasm trap \(integer_division_by_zero\)") as info:
        kernels.divide(1, 0)
    assert info.value.function == "divide" and info.value.trap_code == "integer_division_by_zero"
    assert isinstance(info.value, RuntimeError)
    with pytest.raises(kernels.KernelTrap, match=r"^boom: wasm trap \(unreachable\)"):
        kernels.boom()
    assert kernels.divide(9, 3) == 3
    assert kernels.first_byte(b"\x09") == 9


def test_threads_each_get_their_own_instance(built: Built) -> None:
    kernels = built.import_stub()
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for i in range(2000):
                assert kernels.mul(seed, i) == seed * i
                assert kernels.first_byte(bytes([(seed + i) % 256])) == (seed + i) % 256
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
