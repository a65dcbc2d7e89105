"""The build's stage cache: one API for every stage, hits only while every input, files included, is unchanged."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import pytest

from wasm_ext.builder.outputs import write_if_changed
from wasm_ext.builder.stage_cache import StageCache, digest, files_digest


def test_put_then_get(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = StageCache(tmp_path / "cache")
    assert cache.get("compile", "k1") is None  # nothing yet
    cache.put("compile", "k1", b"module", {"features": ["simd128"]})
    with caplog.at_level(logging.INFO, logger="wasm_ext"):
        hit = cache.get("compile", "k1")
    assert hit is not None and (hit.data, hit.meta) == (b"module", {"features": ["simd128"]})
    assert "wasm-ext: compile: up to date (cached)" in caplog.messages


def test_another_key_misses_and_one_entry_per_stage_is_kept(tmp_path: Path) -> None:
    cache = StageCache(tmp_path)
    cache.put("wasm-opt", "k1", b"one")
    assert cache.get("wasm-opt", "k2") is None
    cache.put("wasm-opt", "k2", b"two")
    assert cache.get("wasm-opt", "k1") is None
    entry = cache.get("wasm-opt", "k2")
    assert entry is not None and entry.data == b"two"
    assert cache.get("precompile", "k2") is None  # stages are separate


def test_recorded_files_invalidate_the_entry_when_they_change(tmp_path: Path) -> None:
    header = tmp_path / "consts.h"
    header.write_text("#define ANSWER 40\n")
    cache = StageCache(tmp_path / "cache")
    cache.put("compile", "k", b"module", files=[str(header)])
    assert cache.get("compile", "k") is not None
    header.write_text("#define ANSWER 50\n")  # same key, a header read last time changed
    assert cache.get("compile", "k") is None
    header.unlink()
    assert cache.get("compile", "k") is None


def test_an_entry_whose_files_are_gone_is_not_kept(tmp_path: Path) -> None:
    cache = StageCache(tmp_path / "cache")
    cache.put("compile", "k", b"module", files=[str(tmp_path / "missing.h")])
    assert cache.get("compile", "k") is None and not (tmp_path / "cache" / "compile.bin").exists()


@pytest.mark.parametrize("damage", ["blob", "record", "record-not-a-dict"])
def test_damaged_entries_miss(tmp_path: Path, damage: str) -> None:
    cache = StageCache(tmp_path)
    cache.put("compile", "k", b"module")
    if damage == "blob":
        (tmp_path / "compile.bin").write_bytes(b"modulX")
    elif damage == "record":
        (tmp_path / "compile.json").write_text("{not json")
    else:
        (tmp_path / "compile.json").write_text("[1, 2]")
    assert cache.get("compile", "k") is None


def test_a_cache_directory_others_can_write_is_not_used(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Its modules are shipped as if built: a shared, writable cache could ship anyone's code."""
    cache = StageCache(tmp_path / "cache")
    cache.put("compile", "k", b"module")
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "cache").iterdir()} == {0o600}
    (tmp_path / "cache").chmod(0o777)
    with caplog.at_level(logging.WARNING, logger="wasm_ext"):
        assert cache.get("compile", "k") is None
        cache.put("compile", "k2", b"other")
        assert cache.get("compile", "k2") is None
    assert caplog.messages == [
        (
            f"wasm-ext: not using the stage cache: {tmp_path / 'cache'}: it is writable by others (mode 0777); "
            "only a directory that you own and nobody else can write is trusted"
        )
    ]
    assert json.loads((tmp_path / "cache" / "compile.json").read_text())["key"] == "k"  # nothing written


def test_a_cache_below_a_directory_others_can_write_is_not_used(tmp_path: Path) -> None:
    shared = tmp_path / "ci-cache"
    cache = StageCache(shared / "build" / "cache")
    cache.put("compile", "k", b"module")
    shared.chmod(0o777)
    assert cache.get("compile", "k") is None
    shared.chmod(0o755)
    assert cache.get("compile", "k") is not None


@pytest.mark.parametrize("part", ["blob", "record"])
def test_an_entry_others_can_write_is_not_used(tmp_path: Path, part: str) -> None:
    cache = StageCache(tmp_path)
    cache.put("compile", "k", b"module")
    (tmp_path / f"compile.{'bin' if part == 'blob' else 'json'}").chmod(0o666)
    assert cache.get("compile", "k") is None


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_an_entry_owned_by_another_user_is_not_used(tmp_path: Path) -> None:
    cache = StageCache(tmp_path)
    cache.put("compile", "k", b"module")
    os.chown(tmp_path / "compile.bin", 65534, -1)
    assert cache.get("compile", "k") is None


def test_digests() -> None:
    assert digest("a", 1, ["x"]) == digest("a", 1, ["x"]) != digest("a", 1, ["y"])
    assert digest({"b": 1, "a": 2}) == digest({"a": 2, "b": 1})  # key order does not matter
    assert len(digest()) == 64


def test_files_digest(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("1")
    b.write_text("2")
    first = files_digest([a, b])
    assert first == files_digest([str(b), str(a), a])  # order and duplicates do not matter
    b.write_text("3")
    assert files_digest([a, b]) != first
    assert files_digest([a, tmp_path / "missing"]) is None


def test_write_if_changed_keeps_unchanged_files(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "k.py"
    assert write_if_changed(path, "x = 1\n") is True
    stamp = path.stat().st_mtime_ns
    assert write_if_changed(path, b"x = 1\n") is False and path.stat().st_mtime_ns == stamp
    assert write_if_changed(path, "x = 2\n") is True and path.read_text() == "x = 2\n"


def test_files_in_the_plugins_include_directory_are_recorded_wherever_it_moves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip installs the plugin at a new temporary path for every isolated build: the entry must still hit."""
    from wasm_ext.builder import stage_cache

    first, second = tmp_path / "env1" / "include", tmp_path / "env2" / "include"
    for include in (first, second):
        include.mkdir(parents=True)
        (include / "wasm_ext.h").write_text("#define WASM_EXPORT\n")
    source = tmp_path / "k.c"
    source.write_text("int f(void);\n")
    monkeypatch.setattr(stage_cache, "INCLUDE_DIR", str(first))
    cache = StageCache(tmp_path / "cache")
    cache.put("compile", "k", b"module", files=[str(first / "wasm_ext.h"), str(source)])
    record = json.loads((tmp_path / "cache" / "compile.json").read_text())
    assert record["files"] == sorted(["$WASM_EXT_INCLUDE/wasm_ext.h", str(source)])
    monkeypatch.setattr(stage_cache, "INCLUDE_DIR", str(second))  # the next isolated build
    assert cache.get("compile", "k") is not None
    (second / "wasm_ext.h").write_text("#define WASM_EXPORT __attribute__((used))\n")  # a new plugin's header
    assert cache.get("compile", "k") is None
