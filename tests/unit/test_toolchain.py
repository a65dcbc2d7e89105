"""Finding the tools without running a real one: environment overrides, probes, the stable zig copy, feature flags."""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
import tempfile
import time
from pathlib import Path

import pytest

from wasm_ext.builder import libbinaryen, toolchain
from wasm_ext.builder.optimize import feature_flags
from wasm_ext.errors import ToolchainError

VERBOSE = """clang version 20.1.2
#include "..." search starts here:
#include <...> search starts here:
 /zig/lib/include
 /zig/lib/libc/include/wasm-wasi-musl
End of search list.
"""


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_header_search_path_from_zig_cc_verbose() -> None:
    assert toolchain._include_dirs_from_verbose(VERBOSE) == ["/zig/lib/include", "/zig/lib/libc/include/wasm-wasi-musl"]
    with pytest.raises(ToolchainError, match="could not read the header search path from zig cc -v"):
        toolchain._include_dirs_from_verbose("clang version 20\n")


def test_wasm_ext_cc_that_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASM_EXT_CC", "/nonexistent/clang --target=wasm32-wasi")
    with pytest.raises(
        ToolchainError,
        match=r"WASM_EXT_CC='/nonexistent/clang --target=wasm32-wasi': '/nonexistent/clang' was not found\. Install the 'ziglang' package",
    ):
        toolchain.find_compiler()


def test_wasm_ext_cc_is_used_as_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clang = _script(tmp_path / "my-clang", 'echo "my clang version 99.1"\n')
    monkeypatch.setenv("WASM_EXT_CC", f"{clang} --target=wasm32-wasi -O2")
    compiler = toolchain.find_compiler()
    assert compiler.kind == "WASM_EXT_CC" and compiler.cc == (str(clang), "--target=wasm32-wasi", "-O2")
    assert compiler.ast == compiler.cc and compiler.describe() == "WASM_EXT_CC (my clang version 99.1)"


def test_wasi_sdk_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WASM_EXT_CC", raising=False)
    monkeypatch.setenv("WASI_SDK_PATH", str(tmp_path / "nothing"))
    with pytest.raises(ToolchainError, match=r"holds no bin/clang and share/wasi-sysroot\. Install the 'ziglang'"):
        toolchain.find_compiler()
    (tmp_path / "sdk" / "bin").mkdir(parents=True)
    (tmp_path / "sdk" / "share" / "wasi-sysroot").mkdir(parents=True)
    _script(tmp_path / "sdk" / "bin" / "clang", 'echo "clang version 19 (wasi-sdk)"\n')
    monkeypatch.setenv("WASI_SDK_PATH", str(tmp_path / "sdk"))
    compiler = toolchain.find_compiler()
    assert compiler.kind == "wasi-sdk" and f"--sysroot={tmp_path / 'sdk' / 'share' / 'wasi-sysroot'}" in compiler.cc


def test_missing_wasm_opt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(libbinaryen, "find_library", lambda: None)
    monkeypatch.setenv("WASM_OPT", "/nonexistent/wasm-opt")
    assert toolchain.find_wasm_opt(required=False) is None
    with pytest.raises(
        ToolchainError, match=r"WASM_OPT='/nonexistent/wasm-opt' was not found\. Require 'setuptools-wasm\[opt\]'"
    ):
        toolchain.find_wasm_opt(required=True)
    monkeypatch.delenv("WASM_OPT")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolchainError, match=r"wasm-opt was not found on PATH and icpp-binaryen is not installed\."):
        toolchain.find_wasm_opt(required=True)


def _fake_library(monkeypatch: pytest.MonkeyPatch, path: str = "libc.so.6") -> libbinaryen.Library:
    """A "libbinaryen" that loads (this process's libc) and has none of Binaryen's functions."""
    library = libbinaryen.Library(Path(path), 116, "116.0.1")
    monkeypatch.setattr(libbinaryen, "find_library", lambda: library)
    toolchain._probe_libbinaryen.cache_clear()
    return library


@pytest.mark.skipif(sys.platform != "linux", reason="the fake library is glibc's libc.so.6")
def test_the_library_is_used_only_without_wasm_opt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_library(monkeypatch)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "bin").mkdir()
    fake = _script(tmp_path / "bin" / "wasm-opt", 'if [ "$1" = --version ]; then echo "wasm-opt version 132"; fi\n')
    monkeypatch.delenv("WASM_OPT", raising=False)
    monkeypatch.setenv("PATH", str(fake.parent))
    on_path = toolchain.find_wasm_opt(required=True)
    assert on_path is not None and (on_path.kind, on_path.version, on_path.argv) == ("wasm-opt", 132, (str(fake),))
    monkeypatch.setenv("PATH", "/nonexistent")
    library = toolchain.find_wasm_opt(required=True)
    assert library is not None and (library.kind, library.version) == ("libbinaryen (icpp-binaryen 116.0.1)", 116)
    script = str(Path(libbinaryen.__file__).resolve())
    assert library.argv == (sys.executable, "-I", script, "--library", "libc.so.6")
    assert library.features == frozenset()  # libc has no BinaryenFeature* functions: no flag is passed
    monkeypatch.setenv("WASM_OPT", "/nonexistent/wasm-opt")  # asked for one that is missing: not replaced
    assert toolchain.find_wasm_opt(required=False) is None


def test_a_library_that_does_not_load_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "libbinaryen.so").write_bytes(b"not a shared library")
    _fake_library(monkeypatch, str(tmp_path / "libbinaryen.so"))
    monkeypatch.delenv("WASM_OPT", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolchainError, match=r"libbinaryen\.so \(from icpp-binaryen 116\.0\.1\) could not be loaded"):
        toolchain.find_wasm_opt(required=False)


def test_find_library_reads_the_installed_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    name = {"darwin": "libbinaryen.dylib", "win32": "binaryen.dll"}.get(sys.platform, "libbinaryen.so")
    package = tmp_path / "site" / "icpp_binaryen"
    (package / "lib").mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    (tmp_path / "site" / "icpp_binaryen-116.0.9.dist-info").mkdir()
    (tmp_path / "site" / "icpp_binaryen-116.0.9.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: icpp-binaryen\nVersion: 116.0.9\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert libbinaryen.find_library() is None  # no version.txt, no library
    (package / "lib" / "version.txt").write_text("116\n")
    assert libbinaryen.find_library() is None
    (package / "lib" / name).write_bytes(b"")
    assert libbinaryen.find_library() == libbinaryen.Library(package / "lib" / name, 116, "116.0.9")


@pytest.mark.parametrize(
    "argv",
    [
        ["--library", "x", "-O3", "in.wasm"],  # no -o
        ["-O3", "in.wasm", "-o", "out.wasm"],  # no --library
        ["--library", "x", "--converge", "in.wasm", "-o", "out.wasm"],  # an option it does not implement
        ["--library", "x", "--enable-unknown-feature", "in.wasm", "-o", "out.wasm"],
    ],
)
def test_the_library_runner_refuses_what_it_does_not_do(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert libbinaryen.main(argv) == 2
    assert "libbinaryen.py" in capsys.readouterr().err


def test_the_library_runner_takes_every_level_and_flag_the_build_passes() -> None:
    from wasm_ext.builder.optimize import FEATURE_FLAGS
    from wasm_ext.extension import OPT_LEVELS

    assert set(OPT_LEVELS) <= set(libbinaryen.LEVELS)
    known = {flag for flags in FEATURE_FLAGS.values() for flag in flags}
    assert set(libbinaryen.FEATURES) <= known | {"gc", "memory64", "strings"}


def test_wasm_opt_probe_reads_version_and_features_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    fake = _script(
        tmp_path / "wasm-opt",
        f'echo "$1" >> {calls}\n'
        'if [ "$1" = --version ]; then echo "wasm-opt version 117 (version_117)"; '
        'else echo "  --enable-simd  --enable-sign-ext  --enable-bulk-memory"; fi\n',
    )
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("WASM_OPT", str(fake))
    toolchain._probe_wasm_opt.cache_clear()
    found = toolchain.find_wasm_opt(required=True)
    assert found is not None and found.version == 117
    assert found.features == frozenset({"simd", "sign-ext", "bulk-memory"})
    records = json.loads((tmp_path / "cache" / "setuptools-wasm" / "wasm-opt-probes.json").read_text())
    assert [r["version"] for r in records.values()] == [117]
    toolchain._probe_wasm_opt.cache_clear()
    assert toolchain.find_wasm_opt(required=True) == found  # from the record on disk: the tool is not run again
    assert calls.read_text().split() == ["--version", "--help"]


def test_wasm_opt_without_a_version(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = _script(tmp_path / "wasm-opt", 'echo "something else"\n')
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    toolchain._probe_wasm_opt.cache_clear()
    with pytest.raises(ToolchainError, match=r"--version printed no Binaryen version: 'something else'"):
        toolchain._probe_wasm_opt(str(fake))


ZIG_FEATURES = ["bulk-memory-opt", "nontrapping-fptoint", "sign-ext", "simd128", "multivalue"]


@pytest.mark.parametrize(
    ("known", "expected"),
    [
        (  # Binaryen 132 (npm)
            {"bulk-memory-opt", "bulk-memory", "nontrapping-float-to-int", "sign-ext", "simd", "multivalue"},
            [
                "--enable-bulk-memory-opt",
                "--enable-nontrapping-float-to-int",
                "--enable-sign-ext",
                "--enable-simd",
                "--enable-multivalue",
            ],
        ),
        (  # Binaryen 108 (Debian): no bulk-memory-opt, so bulk-memory stands in
            {"bulk-memory", "nontrapping-float-to-int", "sign-ext", "simd"},
            ["--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-sign-ext", "--enable-simd"],
        ),
    ],
    ids=["binaryen-132", "binaryen-108"],
)
def test_feature_flags_follow_what_wasm_opt_knows(
    known: set[str], expected: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    wasm_opt = toolchain.WasmOpt(("wasm-opt",), 100, frozenset(known))
    with caplog.at_level(logging.INFO, logger="wasm_ext"):
        assert feature_flags(ZIG_FEATURES, wasm_opt) == expected
    if "multivalue" not in known:
        assert "wasm-ext: wasm-opt 100 has no flag for feature 'multivalue'; left to its defaults" in caplog.messages


def _fake_zig_package(tmp_path: Path) -> Path:
    package = tmp_path / "site-packages" / "ziglang"
    (package / "lib" / "include").mkdir(parents=True)
    _script(package / "zig", "echo zig\n")
    (package / "lib" / "include" / "stdint.h").write_text("/* header */\n")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.pyc").write_bytes(b"\0")
    return package


def test_stable_zig_home_is_made_once_with_hard_links(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    package = _fake_zig_package(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    home = toolchain.stable_zig_home(package, "9.9.9")
    assert home.parent == tmp_path / "cache" / "setuptools-wasm" / "zig"
    assert (home / "lib" / "include" / "stdint.h").read_text() == "/* header */\n"
    assert os.access(home / "zig", os.X_OK) and not (home / "__pycache__").exists()
    assert (home / "zig").stat().st_ino == (package / "zig").stat().st_ino  # a hard link: no extra disk
    marker = home / ".setuptools-wasm-complete"
    stamp = marker.stat().st_mtime_ns
    assert toolchain.stable_zig_home(package, "9.9.9") == home and marker.stat().st_mtime_ns == stamp
    assert [p.name for p in home.parent.iterdir()] == [home.name]  # no staging directory left


def test_stable_zig_home_replaces_an_incomplete_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    package = _fake_zig_package(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    home = toolchain.stable_zig_home(package, "9.9.9")
    (home / ".setuptools-wasm-complete").unlink()
    (home / "zig").unlink()  # a half-made copy
    assert toolchain.stable_zig_home(package, "9.9.9") == home and (home / "zig").is_file()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_zig_copy_others_could_write_is_not_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The build runs the zig it finds there: another user must not be able to plant one."""
    package = _fake_zig_package(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    home = toolchain.stable_zig_home(package, "9.9.9")
    assert stat.S_IMODE(home.parent.stat().st_mode) == 0o700
    home.parent.chmod(0o777)  # e.g. a cache directory shared between users
    with caplog.at_level(logging.WARNING, logger="wasm_ext"):
        assert toolchain.stable_zig_home(package, "9.9.9") == package
    (message,) = _warnings(caplog)
    assert message.startswith(f"wasm-ext: not using a stable copy of zig: {home.parent}: it is writable by others")
    assert "running zig in place" in message and "set XDG_CACHE_HOME" in message
    home.parent.chmod(0o700)
    (home / "zig").chmod(0o777)
    assert toolchain.stable_zig_home(package, "9.9.9") == package


def test_no_writable_cache_directory_runs_zig_in_place(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """HOME or XDG_CACHE_HOME unwritable: a warning naming the directory, not a bare [Errno 13]."""
    package = _fake_zig_package(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(Path(os.devnull) / "cache"))  # fails even as root
    with caplog.at_level(logging.WARNING, logger="wasm_ext"):
        assert toolchain.stable_zig_home(package, "9.9.9") == package
    (message,) = _warnings(caplog)
    assert message.startswith(
        f"wasm-ext: not using a stable copy of zig: {Path(os.devnull) / 'cache'}: cannot be created (Not a directory)"
    )


def test_no_home_directory_runs_zig_in_place(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(toolchain, "user_cache_dir", no_home)
    package = _fake_zig_package(tmp_path)
    assert toolchain.stable_zig_home(package, "9.9.9") == package


def test_stale_staging_directories_are_removed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    package = _fake_zig_package(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    home = toolchain.stable_zig_home(package, "9.9.9")
    stale, fresh = home.parent / f".{home.name}-killed", home.parent / f".{home.name}-copying"
    for staging in (stale, fresh):
        (staging / "lib").mkdir(parents=True)
    old = time.time() - toolchain.STALE_STAGING_SECONDS - 60
    os.utime(stale, (old, old))
    assert toolchain.stable_zig_home(package, "9.9.9") == home
    assert not stale.exists() and fresh.is_dir()  # another build may be copying right now


def test_zig_gets_a_private_cache_when_home_cannot_hold_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: zig failed with 'unable to open global cache directory' under an unusable HOME."""
    monkeypatch.delenv("ZIG_GLOBAL_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(Path(os.devnull) / "cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="wasm_ext"):
        env = toolchain._zig_cache_env()
    fallback = tmp_path / f"setuptools-wasm-zig-cache-{os.getuid()}"
    assert env == (("ZIG_GLOBAL_CACHE_DIR", str(fallback)),) and stat.S_IMODE(fallback.stat().st_mode) == 0o700
    assert _warnings(caplog) == [
        (
            f"wasm-ext: zig's cache directory: {Path(os.devnull) / 'cache' / 'zig'} cannot be used (Not a directory); "
            f"using {fallback} (set ZIG_GLOBAL_CACHE_DIR to choose one)"
        )
    ]
    monkeypatch.setenv("ZIG_GLOBAL_CACHE_DIR", str(tmp_path / "mine"))
    assert toolchain._zig_cache_env() == ()  # the user's choice is zig's business


def test_no_usable_cache_for_zig_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ZIG_GLOBAL_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(Path(os.devnull) / "cache"))
    shared = tmp_path / "shared-tmp"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # not sticky: anyone could swap the fallback for their own
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    with pytest.raises(
        ToolchainError, match=r"zig needs a cache directory: .*writable by others.*ZIG_GLOBAL_CACHE_DIR"
    ):
        toolchain._zig_cache_env()
