"""The shape of the code, as tests: the runtime has no import cycles and never reaches the build side;
a generated stub imports nothing of its runtime but ``stubapi``."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

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
