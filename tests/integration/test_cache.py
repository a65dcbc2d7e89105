"""Stage caching: a no-op rebuild runs no tool; a changed header or flag rebuilds."""

from __future__ import annotations

import importlib
import logging
import sys
import time
from pathlib import Path

import pytest

from wasm_ext import WasmExtension
from wasm_ext.builder.pipeline import build_extension

SOURCE = '#include <wasm_ext.h>\n#include "consts.h"\nWASM_EXPORT int answer(void) { return ANSWER + EXTRA; }\n'


def _build(root: Path, caplog: pytest.LogCaptureFixture, **kwargs: object) -> tuple[list[str], float]:
    caplog.clear()
    started = time.perf_counter()
    with caplog.at_level(logging.INFO, logger="wasm_ext"):
        build_extension(
            WasmExtension("cachepkg.kernels", sources=["src/k.c"], include_dirs=["include"], **kwargs),  # type: ignore[arg-type]
            source_root=root,
            package_dir=root / "site" / "cachepkg",
            temp_dir=root / "build-temp",
        )
    return [r.getMessage() for r in caplog.records], time.perf_counter() - started


def _answer(root: Path) -> int:
    sys.modules.pop("cachepkg.kernels", None)
    sys.modules.pop("cachepkg", None)
    sys.path.insert(0, str(root / "site"))
    try:
        return int(importlib.import_module("cachepkg.kernels").answer())
    finally:
        sys.path.remove(str(root / "site"))
        sys.modules.pop("cachepkg.kernels", None)
        sys.modules.pop("cachepkg", None)


def _tools_run(messages: list[str]) -> list[str]:
    return [
        m for m in messages if m.startswith("wasm-ext: + ") and (" cc " in m or "wasm-opt -" in m or "-ast-dump" in m)
    ]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "include").mkdir()
    (tmp_path / "site" / "cachepkg").mkdir(parents=True)
    (tmp_path / "site" / "cachepkg" / "__init__.py").write_text("")
    (tmp_path / "src" / "k.c").write_text(SOURCE)
    (tmp_path / "include" / "consts.h").write_text("#define ANSWER 40\n")
    return tmp_path


def test_noop_rebuild_runs_no_tool(project: Path, caplog: pytest.LogCaptureFixture) -> None:
    first, _ = _build(project, caplog, define_macros=["EXTRA=2"])
    assert len(_tools_run(first)) >= 2
    again, seconds = _build(project, caplog, define_macros=["EXTRA=2"])
    assert _tools_run(again) == []
    assert "wasm-ext: compile: up to date (cached)" in again and "wasm-ext: precompile: up to date (cached)" in again
    print(f"no-op rebuild of the wasm step: {seconds:.3f} s")
    assert _answer(project) == 42


def test_changed_header_or_flag_rebuilds(project: Path, caplog: pytest.LogCaptureFixture) -> None:
    _build(project, caplog, define_macros=["EXTRA=2"])
    assert _answer(project) == 42
    (project / "include" / "consts.h").write_text("#define ANSWER 50\n")  # a header with only a macro
    messages, _ = _build(project, caplog, define_macros=["EXTRA=2"])
    assert _tools_run(messages) and _answer(project) == 52
    messages, _ = _build(project, caplog, define_macros=["EXTRA=3"])
    assert _tools_run(messages) and _answer(project) == 53
    messages, _ = _build(project, caplog, define_macros=["EXTRA=3"], opt_level="Oz")
    assert _tools_run(messages) and _answer(project) == 53
