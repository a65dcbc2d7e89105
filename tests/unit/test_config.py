"""WasmExtension arguments and [tool.wasm-ext] tables: accepted forms and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from wasm_ext import WasmExtension
from wasm_ext.config import extensions_from_pyproject
from wasm_ext.errors import ConfigError
from wasm_ext.extension import parse_size


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (65536, 65536),
        ("64KiB", 65536),
        ("64K", 65536),
        ("1MiB", 1 << 20),
        ("1.5MiB", 3 << 19),
        ("100kB", 100_000),
        ("512", 512),
        (None, None),
    ],
)
def test_parse_size(spec: object, expected: int | None) -> None:
    assert parse_size(spec) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", ["64 parsecs", "", "-1", 0, -5, True, 1.5, "KiB"])
def test_parse_size_rejects(spec: object) -> None:
    with pytest.raises(ConfigError, match="max_size"):
        parse_size(spec)  # type: ignore[arg-type]


def test_defaults() -> None:
    ext = WasmExtension("pkg.kernels", sources=["k.c"])
    assert (ext.opt_level, ext.wasm_opt, ext.precompile, ext.max_size, ext.wasi, ext.exports) == (
        "O3",
        "auto",
        True,
        None,
        False,
        None,
    )
    assert (ext.package, ext.basename) == ("pkg", "kernels")
    assert ext.simd is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"opt_level": "O9"}, "opt_level must be one of"),
        ({"wasm_opt": "yes"}, "wasm_opt must be True, False or 'auto'"),
        ({"precompile": "no"}, "precompile must be True or False"),
        ({"wasi": 1}, "wasi must be True or False"),
        ({"simd": "simd128"}, r"pkg.kernels: simd must be True or False, got 'simd128'"),
        ({"exports": "fib"}, "exports must be a list of strings"),
        ({"exports": ["not-an-identifier"]}, "is not a C identifier"),
        ({"define_macros": [("A", 1)]}, "define_macros entries"),
        ({"max_size": "big"}, "max_size"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        WasmExtension("pkg.kernels", sources=["k.c"], **kwargs)  # type: ignore[arg-type]


def test_invalid_name_and_sources() -> None:
    with pytest.raises(ConfigError, match="dotted module name"):
        WasmExtension("pkg.bad-name", sources=["k.c"])
    with pytest.raises(ConfigError, match="at least one C file"):
        WasmExtension("pkg.k", sources=[])


def test_macros_in_both_forms() -> None:
    ext = WasmExtension("p.k", sources=["k.c"], define_macros=["A", "B=2", ("C", "3"), ("D", None)])  # type: ignore[list-item]
    assert ext.define_macros == [("A", None), ("B", "2"), ("C", "3"), ("D", None)]


def _pyproject(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(body)
    return path


def test_pyproject_modules(tmp_path: Path) -> None:
    path = _pyproject(
        tmp_path,
        """
[[tool.wasm-ext.modules]]
name = "pkg.kernels"
sources = ["src/k.c"]
max-size = "64KiB"
opt-level = "Oz"
wasm-opt = false
define-macros = ["FAST=1"]
exports = ["fib"]
""",
    )
    (ext,) = extensions_from_pyproject(path)
    assert (ext.name, ext.sources, ext.max_size, ext.opt_level, ext.wasm_opt) == (
        "pkg.kernels",
        ["src/k.c"],
        65536,
        "Oz",
        False,
    )
    assert ext.define_macros == [("FAST", "1")] and ext.exports == ["fib"]


def test_pyproject_without_table(tmp_path: Path) -> None:
    assert extensions_from_pyproject(_pyproject(tmp_path, "[project]\nname='x'\n")) == []
    assert extensions_from_pyproject(tmp_path / "missing.toml") == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[tool.wasm-ext.modules]]\nname="p.k"\nsources=["k.c"]\nmax_size=1\n', r"unknown key 'max_size'"),
        ('[[tool.wasm-ext.modules]]\nname="p.k"\nsources="k.c"\n', r"'sources' must be a list of strings"),
        ('[[tool.wasm-ext.modules]]\nname="p.k"\nsources=["k.c"]\nwasi="yes"\n', r"'wasi' must be true or false"),
        (
            '[[tool.wasm-ext.modules]]\nname="p.k"\nsources=["k.c"]\nsimd=1\n',
            r"\(p.k\): 'simd' must be true or false, got 1",
        ),
        ('[[tool.wasm-ext.modules]]\nsources=["k.c"]\n', r"missing required key 'name'"),
        ("[tool.wasm-ext]\nmodule=[]\n", r"unknown key 'module' in \[tool.wasm-ext\]"),
        ('[[tool.wasm-ext.modules]]\nname="p.k"\nsources=["k.c"]\nopt-level="fast"\n', "opt_level must be one of"),
        ("[tool.wasm-ext\n", "invalid TOML"),
    ],
)
def test_pyproject_errors_name_key_and_file(tmp_path: Path, body: str, message: str) -> None:
    path = _pyproject(tmp_path, body)
    with pytest.raises(ConfigError, match=message) as info:
        extensions_from_pyproject(path)
    assert str(path) in str(info.value)


def test_pyproject_simd(tmp_path: Path) -> None:
    body = '[[tool.wasm-ext.modules]]\nname = "p.k"\nsources = ["k.c"]\nsimd = true\n'
    (ext,) = extensions_from_pyproject(_pyproject(tmp_path, body))
    assert ext.simd is True
