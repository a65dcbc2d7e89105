"""Toolchain discovery: the stable zig copy, and wasm-opt versions with their feature flags."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

import pytest
from support.building import REPO, Built

from wasm_ext.builder import libbinaryen, toolchain
from wasm_ext.builder.optimize import feature_flags
from wasm_ext.runtime.layout import manifest_beside
from wasm_ext.runtime.manifest import Manifest


def test_stable_zig_home_is_made_once_per_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ziglang

    package = Path(ziglang.__file__).resolve().parent
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    home = toolchain.stable_zig_home(package, "9.9.9-test")
    assert home.is_relative_to(tmp_path / "cache" / "setuptools-wasm" / "zig") and (home / "zig").is_file()
    assert os.access(home / "zig", os.X_OK)
    marker = home / ".setuptools-wasm-complete"
    stamp = marker.stat().st_mtime_ns
    assert toolchain.stable_zig_home(package, "9.9.9-test") == home
    assert marker.stat().st_mtime_ns == stamp  # reused, not copied again
    if (home / "zig").stat().st_dev == (package / "zig").stat().st_dev:
        assert (home / "zig").stat().st_ino == (package / "zig").stat().st_ino  # hard link, no extra disk
    assert not [p for p in home.parent.iterdir() if p.name.startswith(".")]  # no staging left behind


def _wasm_opts() -> list[str]:
    """Every distinct wasm-opt on this machine: PATH's (npm's under `make`) and Debian's."""
    found = {shutil.which("wasm-opt"), str(REPO / "node_modules" / ".bin" / "wasm-opt"), "/usr/bin/wasm-opt"}
    return sorted(p for p in found if p and Path(p).is_file())


@pytest.mark.parametrize("path", _wasm_opts())
def test_feature_flags_follow_the_binaryen_version(path: str) -> None:
    wasm_opt = toolchain._probe_wasm_opt(path)
    zig_features = ["bulk-memory-opt", "call-indirect-overlong", "extended-const", "multivalue", "mutable-globals", "nontrapping-fptoint", "sign-ext"]  # fmt: skip
    flags = feature_flags(zig_features, wasm_opt)
    assert "--enable-nontrapping-float-to-int" in flags and "--enable-sign-ext" in flags
    if "bulk-memory-opt" in wasm_opt.features:  # Binaryen >= 121
        assert "--enable-bulk-memory-opt" in flags
    else:  # e.g. Debian's 108
        assert "--enable-bulk-memory" in flags


OPTIMIZED_SOURCE = """
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <wasm_ext.h>
WASM_EXPORT size_t count_byte(const uint8_t *p, size_t n) {
    size_t c = 0; const uint8_t *end = p + n;
    while ((p = memchr(p, 'x', (size_t)(end - p))) != NULL) { c++; p++; }
    return c;
}
WASM_EXPORT double to_double(int64_t v) { return (double)v; }
WASM_EXPORT int32_t to_int(double v) { return (int32_t)v; }
"""


@pytest.mark.parametrize("path", _wasm_opts())
def test_each_wasm_opt_optimizes_zig_output(
    path: str, build_c: Callable[..., Built], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WASM_OPT", path)
    built = build_c(OPTIMIZED_SOURCE, wasm_opt=True)
    assert built.result.size < built.result.size_before_opt
    kernels = built.import_stub()
    assert kernels.count_byte(b"xaxbxx") == 4
    assert kernels.to_int(1e20) == 2**31 - 1  # saturating conversion: the nontrapping feature survived


@pytest.mark.skipif(
    libbinaryen.find_library() is None, reason="icpp-binaryen is not installed (pip install icpp-binaryen)"
)
def test_the_pypi_library_optimizes_when_no_wasm_opt_is_found(
    build_c: Callable[..., Built], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WASM_OPT", raising=False)
    path = os.environ.get("PATH", "").split(os.pathsep)
    monkeypatch.setenv("PATH", os.pathsep.join(d for d in path if not (Path(d) / "wasm-opt").exists()))
    built = build_c(OPTIMIZED_SOURCE, wasm_opt=True)
    manifest = Manifest.read(built.package_dir / manifest_beside("kernels.wasm"))
    library = libbinaryen.find_library()
    assert library is not None
    assert manifest.toolchain.optimizer == f"libbinaryen (icpp-binaryen {library.package_version})"
    assert manifest.toolchain.wasm_opt == library.version
    assert built.result.size < built.result.size_before_opt
    kernels = built.import_stub()
    assert kernels.count_byte(b"xaxbxx") == 4
    assert kernels.to_int(1e20) == 2**31 - 1  # the nontrapping feature reached the library
    names = set(manifest.function_names.values())
    assert {"count_byte", "to_double", "to_int"} <= names  # -g: the library kept the name section
