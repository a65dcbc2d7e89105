"""The shape of the code, as tests: the runtime has no import cycles and never reaches the build side;
a generated stub imports nothing of its runtime but ``stubapi``, and importing a built one loads none
of the modules only its first call needs."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from importlib.util import find_spec
from pathlib import Path

import pytest
from support.wat import make_package, unique_package

import wasm_ext
from wasm_ext.builder.model import Function, Param
from wasm_ext.builder.stubgen import render

RUNTIME = Path(wasm_ext.__file__).parent / "runtime"
ALLOWED_OUTSIDE_STDLIB = {"wasmtime", "js", "pyodide"}  # js/pyodide: js_engine.py, under Pyodide only


def _imports(path: Path) -> list[ast.ImportFrom | ast.Import]:
    """Every import statement of *path*: top level, under TYPE_CHECKING, inside functions."""
    return [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, (ast.Import, ast.ImportFrom))]


def _runtime_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(RUNTIME.glob("*.py")):
        edges: set[str] = set()
        for node in _imports(path):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    edges.add(node.module.split(".")[0])
                else:  # from . import x
                    edges.update(alias.name for alias in node.names)
        graph[path.stem] = edges - {"__init__"}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_among_runtime_modules() -> None:
    graph = _runtime_graph()
    assert {"loader", "instance", "wasmtime_engine", "js_engine", "stubapi"} <= set(graph)
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_cycle_finder_finds_cycles() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_engines_and_the_instance_never_import_the_loader() -> None:
    graph = _runtime_graph()
    for module in ("instance", "engine", "wasmtime_engine", "js_engine", "binding", "buffer", "sandbox"):
        assert "loader" not in graph[module], module


@pytest.mark.parametrize("path", sorted(RUNTIME.glob("*.py")), ids=lambda p: p.name)
def test_runtime_imports_only_itself_the_stdlib_and_wasmtime(path: Path) -> None:
    tree = ast.parse(path.read_text())
    checking_only = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            checking_only.update(n for stmt in node.body for n in ast.walk(stmt) if isinstance(n, ast.ImportFrom))
    for node in (n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))):
        if isinstance(node, ast.ImportFrom) and node.level:
            assert node.level == 1, f"{path.name}: reaches outside the runtime package ({'.' * node.level})"
            continue
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        for name in names:
            top = name.split(".")[0]
            assert top != "wasm_ext", f"{path.name} imports the build side ({name})"
            if top == "typing_extensions" and node in checking_only:
                continue  # type checkers bundle it; it is never imported at run time
            if sys.version_info >= (3, 10):
                assert top in sys.stdlib_module_names or top in ALLOWED_OUTSIDE_STDLIB, f"{path.name}: {name}"


@pytest.mark.parametrize("module_name", ["pkg.kernels", "kernels"])
def test_a_stub_imports_only_stubapi_from_its_runtime(module_name: str) -> None:
    functions = [
        Function("f", (Param("x", "scalar", "i32", "int"),), "i32", "int", "", "k.c:1", "f"),
        Function(
            "g",
            (Param("data", "buffer", "u8", "const uint8_t *", length=1), Param("n", "length", "u32", "size_t")),
            "void",
            "void",
            "",
            "k.c:2",
            "g",
        ),
    ]
    for source in render(module_name, functions, sources=["k.c"], wasi=False):
        runtime = [
            node.module
            for node in _imports_of(source)
            if isinstance(node, ast.ImportFrom) and "wasm_ext_runtime" in (node.module or "")
        ]
        assert runtime and set(runtime) == {runtime[0]} and runtime[0].endswith("wasm_ext_runtime.stubapi")


def _imports_of(source: str) -> list[ast.ImportFrom | ast.Import]:
    return [n for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.Import, ast.ImportFrom))]


# -- what importing a built stub loads ---------------------------------------------------------

# The runtime modules a stub's import runs; everything else waits for the first call.
AT_IMPORT = {"", "arguments", "buffer", "exceptions", "loader", "stubapi"}
# Modules that importing a stub must leave alone: each costs a few milliseconds to import
# (wasmtime, typing, dataclasses, logging, json and pathlib ten or more), paid by every
# program that imports a package built with this plugin, calling its kernels or not.
NOT_AT_IMPORT = (
    "wasmtime",
    "ctypes",
    "typing",
    "dataclasses",
    "inspect",
    "enum",
    "json",
    "hashlib",
    "logging",
    "tempfile",
    "random",
    "pathlib",
    "platform",
    "urllib",
    "re",
    "threading",
    "weakref",
    "struct",
    "collections",
    "functools",
    "math",
    "importlib.metadata",
)
# What the first call of a precompiled module does not need either (the per-user cache, the
# logging of its problems, importlib.metadata for the wasmtime version, dataclasses with the
# inspect it imports: ~13 ms, so the runtime's records are NamedTuples, and hashlib with
# OpenSSL: ~6 ms, so a small artifact's sha256 is CPython's built-in one). Not threading:
# the runtime leaves it to sandboxes, but on Python 3.9 and 3.10 the stdlib imports it.
NOT_AT_FIRST_CALL = ("logging", "tempfile", "random", "importlib.metadata", "dataclasses", "inspect", "hashlib")

PROBE = """
import sys
sys.path[:0] = {paths!r}
before = set(sys.modules)
import {module} as k
at_import = set(sys.modules) - before
result = k.add(40, 2)
at_call = set(sys.modules) - before
import json
print(json.dumps({{"import": sorted(at_import), "call": sorted(at_call), "result": result,
                  "loaded_from": k._module.loaded_from}}))
"""


def _fresh_import(package_site: Path, module: str) -> dict[str, object]:
    """Import *module* in an interpreter without site (its .pth files import pathlib, re, ...), then call it."""
    spec = find_spec("wasmtime")
    assert spec is not None and spec.submodule_search_locations
    wasmtime_site = str(Path(next(iter(spec.submodule_search_locations))).parent)
    code = textwrap.dedent(PROBE).format(paths=[str(package_site), wasmtime_site], module=module)
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    found: dict[str, object] = json.loads(proc.stdout)
    return found


def test_importing_a_built_stub_loads_only_what_it_needs(tmp_path: Path) -> None:
    package = make_package(tmp_path, unique_package("lean"))
    found = _fresh_import(package.site, package.module_name)
    imported = set(found["import"])  # type: ignore[call-overload]
    runtime = f"{package.name}._wasm_ext_runtime"
    assert {m[len(runtime) :].lstrip(".") for m in imported if m.startswith(runtime)} == AT_IMPORT
    assert sorted(imported & set(NOT_AT_IMPORT)) == []
    called = set(found["call"])  # type: ignore[call-overload]
    assert (found["result"], found["loaded_from"]) == (42, "precompiled")
    assert "wasmtime" in called and f"{runtime}.wasmtime_engine" in called  # the probe sees what the call loads
    assert sorted(called & set(NOT_AT_FIRST_CALL)) == []
    assert f"{runtime}.module_cache" not in called


def test_the_lazy_names_of_a_stub_and_its_stubapi_are_the_real_ones(tmp_path: Path) -> None:
    package = make_package(tmp_path, unique_package("lazy"))
    stub = package.import_stub()
    stubapi = package.runtime("stubapi")
    grants = stub.WasiGrants  # a TypedDict (typing.is_typeddict is 3.10+: its marks instead)
    assert isinstance(getattr(grants, "__total__", None), bool) and "preopens" in grants.__annotations__
    assert grants is stubapi.WasiGrants
    assert stub.WasiGrants is package.runtime("sandbox").WasiGrants
    assert stubapi.CEnum is package.runtime("enums").CEnum and stubapi.Handle is package.runtime("handles").Handle
    assert stubapi.Values is __import__("struct").Struct
    assert all(hasattr(stubapi, name) for name in stubapi.__all__)
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        stub.nothing  # noqa: B018
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        stubapi.nothing  # noqa: B018
