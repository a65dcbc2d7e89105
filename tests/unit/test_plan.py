"""The build plan: a declared extension resolved and frozen before any tool runs; the size gate's rule."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

import wasm_ext
from wasm_ext import WasmExtension
from wasm_ext.builder import gate, toolchain
from wasm_ext.builder.plan import BuildPlan, make_plan, preprocessor_flags
from wasm_ext.errors import ConfigError, SizeLimitError, ToolchainError

FAKE_COMPILER = toolchain.Compiler("fake", ("cc",), ("cc", "-ast"), "1.0")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "k.c").write_text("int f(int x) { return x; }\n")
    (tmp_path / "include").mkdir()
    monkeypatch.setattr(toolchain, "find_compiler", lambda: FAKE_COMPILER)
    return tmp_path


def _plan(project: Path, **options: object) -> BuildPlan:
    ext = WasmExtension("pkg.kernels", sources=["src/k.c"], **options)  # type: ignore[arg-type]
    return make_plan(ext, source_root=project, package_dir=project / "out" / "pkg", temp_dir=project / "tmp")


def test_plan_resolves_everything_the_stages_need(project: Path) -> None:
    plan = _plan(
        project,
        include_dirs=["include"],
        define_macros=["A", "B=2"],
        undef_macros=["C"],
        extra_compile_args=["-Wall"],
        exports=["f"],
        wasm_opt=False,
        max_size="1KiB",
        opt_level="Oz",
    )
    assert plan.sources == (project / "src" / "k.c",) and plan.source_names == ("src/k.c",)
    assert plan.preprocessor_flags == (f"-I{wasm_ext.INCLUDE_DIR}", f"-I{project / 'include'}", "-DA", "-DB=2", "-UC")
    assert plan.files.stub == project / "out" / "pkg" / "kernels.py"
    assert (plan.compiler, plan.wasm_opt, plan.exports, plan.max_size, plan.opt_level) == (
        FAKE_COMPILER,
        None,
        ("f",),
        1024,
        "Oz",
    )
    assert plan.extra_compile_args == ("-Wall",) and plan.temp_dir == project / "tmp"
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.opt_level = "O0"  # type: ignore[misc]


def test_declared_inputs_change_with_every_option(project: Path) -> None:
    base = _plan(project, wasm_opt=False).declared()
    assert set(base) == {
        "name",
        "sources",
        "preprocessor_flags",
        "extra_compile_args",
        "extra_link_args",
        "exports",
        "opt_level",
        "simd",
        "wasi",
        "functions",
        "handles",
        "compiler",
        "languages",
        "cxx",
    }
    changes = ({"opt_level": "O2"}, {"define_macros": ["X"]}, {"wasi": True}, {"exports": ["f"]}, {"simd": True})
    for options in (*changes, {"functions": {"f": {"x": "out"}}}):
        assert _plan(project, wasm_opt=False, **options).declared() != base, options
    assert _plan(project, wasm_opt=False, max_size=10).declared() == base  # the gate does not change the module


def test_simd_compiles_every_source_with_simd128(project: Path) -> None:
    assert _plan(project, wasm_opt=False).target_flags == ()
    plan = _plan(project, wasm_opt=False, simd=True)
    assert plan.simd is True and plan.target_flags == ("-msimd128",)


def test_missing_source_and_include_dir(project: Path) -> None:
    with pytest.raises(ConfigError, match=r"pkg.kernels: source file\(s\) not found: .*src/nope.c"):
        make_plan(
            WasmExtension("pkg.kernels", sources=["src/nope.c"]),
            source_root=project,
            package_dir=project / "out",
            temp_dir=project / "tmp",
        )
    with pytest.raises(ConfigError, match=r"pkg.kernels: include directory not found: missing"):
        _plan(project, include_dirs=["missing"])


def test_wasm_opt_auto_warns_required_fails(
    project: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WASM_OPT", "/nonexistent/wasm-opt")
    monkeypatch.delenv("WASM_EXT_REQUIRE_WASM_OPT", raising=False)
    with caplog.at_level(logging.WARNING, logger="wasm_ext"):
        assert _plan(project).wasm_opt is None
    assert (
        "wasm-ext: pkg.kernels: wasm-opt not found, shipping the unoptimized module. Require 'setuptools-wasm[opt]'"
        in caplog.text
    )
    with pytest.raises(ToolchainError, match="was not found"):
        _plan(project, wasm_opt=True)
    monkeypatch.setenv("WASM_EXT_REQUIRE_WASM_OPT", "1")
    with pytest.raises(ToolchainError, match="was not found"):
        _plan(project)


def test_preprocessor_flags() -> None:
    assert preprocessor_flags(
        include_dirs=["a", "b c"], define_macros=[("X", None), ("Y", "")], undef_macros=["Z"]
    ) == [
        "-Ia",
        "-Ib c",
        "-DX",
        "-DY=",
        "-UZ",
    ]


@pytest.mark.parametrize(
    ("size", "limit", "problem"),
    [
        (100, None, None),
        (100, 100, None),
        (101, 100, "the wasm module is 101 bytes (101 B), over its max_size of 100 bytes (100 B) by 1 bytes"),
        (
            70_000,
            65_536,
            "the wasm module is 70000 bytes (68.4 KiB), over its max_size of 65536 bytes (64.0 KiB) by 4464 bytes",
        ),
        (
            3 << 20,
            1 << 20,
            "the wasm module is 3145728 bytes (3.00 MiB), over its max_size of 1048576 bytes (1.00 MiB)",
        ),
    ],
)
def test_size_gate_is_one_rule_and_one_message(size: int, limit: int | None, problem: str | None) -> None:
    found = gate.over_limit(size, limit)
    if problem is None:
        assert found is None
        gate.check_size("pkg.k", size, limit)
        return
    assert found is not None and found.startswith(problem)
    with pytest.raises(SizeLimitError) as info:
        gate.check_size("pkg.k", size, limit)
    assert str(info.value) == f"pkg.k: {found}. {gate.SHRINK_HINT}"
