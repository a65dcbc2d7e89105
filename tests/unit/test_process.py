"""The one way the build runs a tool: ``+ command`` logged, output captured, errors carrying the tool's own words."""

from __future__ import annotations

import logging
import sys

import pytest

from wasm_ext.builder.process import run
from wasm_ext.errors import ToolchainError, WasmCompileError


def test_success_logs_the_command_and_returns_the_output(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="wasm_ext"):
        proc = run([sys.executable, "-c", "print('hello')"], error=WasmCompileError, what="greeting")
    assert proc.stdout == "hello\n"
    assert f"wasm-ext: + {sys.executable} -c 'print('\"'\"'hello'\"'\"')'" in caplog.messages  # shlex-quoted


def test_failure_raises_the_given_error_with_the_tool_output() -> None:
    code = "import sys; print('out'); print('k.c:2:5: error: expected expression', file=sys.stderr); sys.exit(3)"
    with pytest.raises(WasmCompileError) as info:
        run([sys.executable, "-c", code], error=WasmCompileError, what="pkg.k: compiling k.c")
    assert str(info.value) == "pkg.k: compiling k.c failed (exit code 3):\nk.c:2:5: error: expected expression\nout"


def test_failure_without_output() -> None:
    with pytest.raises(WasmCompileError, match=r"failed \(exit code 1\):\n\(no output\)"):
        run([sys.executable, "-c", "raise SystemExit(1)"], error=WasmCompileError, what="x")


def test_a_tool_that_cannot_start_is_a_toolchain_error() -> None:
    with pytest.raises(ToolchainError, match=r"wasm-opt --version: cannot run '/nonexistent/wasm-opt'"):
        run(["/nonexistent/wasm-opt", "--version"], error=WasmCompileError, what="wasm-opt --version")


def test_the_tool_gets_no_stdin() -> None:
    proc = run([sys.executable, "-c", "import sys; print(repr(sys.stdin.read()))"], error=WasmCompileError, what="x")
    assert proc.stdout.strip() == "''"
