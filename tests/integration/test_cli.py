"""``wasm-ext size | check | inspect`` on real built modules, and their input errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Callable

import pytest
from support.building import Built

from wasm_ext.builder import gate
from wasm_ext.cli import main
from wasm_ext.runtime import wasmtime_engine

SOURCE = """
#include <stdint.h>
#include <stddef.h>
#include <wasm_ext.h>
/// Sum of squares.
WASM_EXPORT int64_t squares(const int32_t *xs, size_t n) { int64_t s = 0; for (size_t i = 0; i < n; i++) s += (int64_t)xs[i] * xs[i]; return s; }
WASM_EXPORT double half(double x) { return x / 2; }
"""


@pytest.fixture
def built(build_c: Callable[..., Built]) -> Built:
    return build_c(SOURCE, max_size="4KiB")


def _wheel_of(built: Built, tmp_path: Path) -> Path:
    """Zip the built package the way a wheel holds it (the e2e tests cover real pip wheels)."""
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path in sorted(built.package_dir.rglob("*")):
            if path.is_file():
                zf.write(path, f"{built.package}/{path.relative_to(built.package_dir)}")
    return wheel


def test_size_table_json_and_markdown(built: Built, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    wheel = _wheel_of(built, tmp_path)
    assert main(["size", str(wheel), str(built.package_dir)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["module", "shipped", "B"]
    assert len(out) == 3 and all(line.startswith(f"{built.package}.kernels") for line in out[1:])
    assert f" {built.result.size} " in out[1] and " 4096 " in out[1]
    assert f" {wasmtime_engine.host_target()} " in out[1] and "func[" not in out[1]  # artifacts; names known

    assert main(["size", "--json", "--top", "10", str(wheel)]) == 0
    (module,) = json.loads(capsys.readouterr().out)["modules"]
    assert module["module"] == f"{built.package}.kernels" and module["size"] == built.result.size
    assert module["size_before_opt"] == built.result.size_before_opt and module["max_size"] == 4096
    assert 0 < module["gzip_size"] < module["size"]
    names = [f["name"] for f in module["largest_functions"]]
    assert {"squares", "half", "malloc"} <= set(names) and not any(n.startswith("func[") for n in names)
    sizes = [f["size"] for f in module["largest_functions"]]
    assert sizes == sorted(sizes, reverse=True)

    assert main(["size", "--markdown", str(built.package_dir / "kernels.wasm")]) == 0
    md = capsys.readouterr().out.splitlines()
    assert md[0].startswith("| module | shipped B |") and md[2].startswith(
        f"| {built.package}.kernels | {built.result.size} |"
    )


def test_check_limits_and_baseline(built: Built, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    baseline = tmp_path / "sizes.json"
    assert main(["check", str(built.package_dir), "--baseline", str(baseline), "--write-baseline"]) == 0
    assert json.loads(baseline.read_text())["modules"] == {f"{built.package}.kernels": {"size": built.result.size}}
    assert main(["check", str(built.package_dir), "--baseline", str(baseline)]) == 0
    assert "ok   " in capsys.readouterr().out

    data = json.loads(baseline.read_text())
    old = built.result.size * 100 // 110  # the module now looks 10% larger than the baseline
    data["modules"][f"{built.package}.kernels"]["size"] = old
    baseline.write_text(json.dumps(data))
    assert main(["check", str(built.package_dir), "--baseline", str(baseline), "--max-growth", "5%"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL {built.package}.kernels: grew from {old} to {built.result.size} bytes" in out
    assert "more than the allowed 5%" in out and "limit 4096 bytes" in out
    assert main(["check", str(built.package_dir), "--baseline", str(baseline), "--max-growth", "15"]) == 0


def test_check_fails_over_max_size(built: Built, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    built = built.copy(tmp_path)  # its manifest changes below
    manifest = built.package_dir / "kernels.wasm-manifest.json"
    data = json.loads(manifest.read_text())
    data["max_size"] = 100
    manifest.write_text(json.dumps(data))
    assert main(["check", str(built.package_dir)]) == 1
    out = capsys.readouterr().out
    size = built.result.size
    assert f"FAIL {built.package}.kernels: {gate.over_limit(size, 100)}" in out
    assert f"by {size - 100} bytes (size {size} bytes, limit 100 bytes)" in out


def test_inspect(built: Built, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(built.package_dir / "kernels.wasm")]) == 0
    out = capsys.readouterr().out
    assert "features: " in out and "nontrapping-fptoint" in out
    assert "imports: none" in out
    assert re.search(r"squares +func \(i32, i32\) -> \(i64\) +python: squares\(xs: Buffer \| WasmBuffer\) -> int", out)
    assert re.search(r"half +func \(f64\) -> \(f64\) +python: half\(x: float\) -> float", out)


def test_input_errors(built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    fake_wheel = tmp_path / "broken-1.0-py3-none-any.whl"
    fake_wheel.write_bytes(b"not a zip")
    fake_wasm = tmp_path / "broken.wasm"
    fake_wasm.write_bytes(b"\0asm\x01\0\0\0\x01\xff")
    bad_baseline = tmp_path / "sizes.json"
    bad_baseline.write_text("{not json")
    cases = [
        (["size", str(text)], "not a wheel (.whl), a directory or a WebAssembly module"),
        (["size", str(tmp_path / "missing.whl")], "no such file or directory"),
        (["size", str(fake_wheel)], "not a readable wheel"),
        (["size", str(fake_wasm)], "not a valid WebAssembly module"),
        (["check", str(built.package_dir), "--baseline", str(bad_baseline)], "not valid JSON"),
        (["check", str(built.package_dir), "--max-growth", "lots"], "--max-growth must be a percentage"),
        (["inspect", str(text)], "inspect takes a .wasm file"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err, argv


def test_console_script_is_installed() -> None:
    exe = shutil.which("wasm-ext", path=str(Path(sys.executable).parent))
    assert exe is not None
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert proc.stdout.startswith("wasm-ext 0.")
