"""Recorded clang ASTs of the C fixtures in ``tests/unit/fixtures/c``, loaded without a compiler.

``tests/unit/fixtures/record_asts.py`` runs clang's JSON AST dump over each fixture
source (with zig available) and writes ``tests/unit/fixtures/asts/<name>.json``,
trimmed to what :func:`wasm_ext.builder.c_ast.collect` reads and with file names reduced
to basenames. Each recording stores the sha256 of its C source, so a fixture changed
without re-recording is caught by :func:`stale_recordings`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from wasm_ext.builder.c_ast import SourceInfo, collect

FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "fixtures"
C_DIR = FIXTURES / "c"
AST_DIR = FIXTURES / "asts"
RECORD_COMMAND = ".venv/bin/python tests/unit/fixtures/record_asts.py"


def source_names() -> list[str]:
    """The fixture names: the stems of ``tests/unit/fixtures/c/*.c``."""
    return sorted(path.stem for path in C_DIR.glob("*.c"))


def source_sha256(path: Path) -> str:
    """sha256 of a C source with line endings normalized (a Windows checkout hashes the same)."""
    text = path.read_bytes().replace(b"\r\n", b"\n")
    return hashlib.sha256(text).hexdigest()


def source_text(name: str) -> str:
    return (C_DIR / f"{name}.c").read_text(encoding="utf-8")


@functools.cache
def load_tree(name: str) -> dict[str, Any]:
    """The recorded (trimmed) AST of fixture *name*; ``collect`` reads it as the full one."""
    tree: dict[str, Any] = json.loads((AST_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return tree


def load_info(*names: str) -> SourceInfo:
    """A :class:`SourceInfo` of the fixtures *names*, as ``read_sources`` collects it (no compiler run)."""
    info = SourceInfo()
    for name in names:
        collect(load_tree(name), f"{name}.c", info)
    return info


def stale_recordings() -> list[str]:
    """Why the recordings do not match the C sources (empty when they all do)."""
    problems: list[str] = []
    recorded = {path.stem for path in AST_DIR.glob("*.json")}
    for name in source_names():
        if name not in recorded:
            problems.append(f"{name}.c has no recorded AST")
            continue
        expected = source_sha256(C_DIR / f"{name}.c")
        if load_tree(name).get("source_sha256") != expected:
            problems.append(f"asts/{name}.json was recorded from another version of c/{name}.c")
    problems += [f"asts/{name}.json has no C source" for name in sorted(recorded - set(source_names()))]
    return problems


def line_of(name: str, function: str, *, definition: bool = True) -> int:
    """The 1-based line of fixture *name* where *function* is defined (or first declared).

    A definition's line is the first with ``function(`` followed, on the same line, by
    the ``{`` of its body (every fixture writes its definitions that way).
    """
    pattern = re.compile(rf"\b{re.escape(function)}\(")
    for number, line in enumerate(source_text(name).splitlines(), start=1):
        match = pattern.search(line)
        if match and (not definition or "{" in line[match.end() :]):
            return number
    raise LookupError(f"{function}() is not {'defined' if definition else 'declared'} in c/{name}.c")
