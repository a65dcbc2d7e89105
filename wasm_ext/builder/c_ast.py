"""Read C declarations and doc comments from clang's JSON AST of a module's sources.

Parse -> model -> generator, as separate steps: this module knows clang and its JSON and
produces :class:`SourceInfo` (every function declared or defined, with its parameters as
spelled, its doc comment and whether it is marked for export; the typedefs; every file
read). :mod:`.mapping` turns that into the typed model; it never sees clang.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import WasmCompileError
from .process import run

if TYPE_CHECKING:
    from .plan import BuildPlan
    from .toolchain import Compiler


@dataclass
class RawParam:
    name: str
    spelling: str


@dataclass
class RawFunction:
    name: str
    params: list[RawParam]
    result: str
    variadic: bool
    location: str
    doc: str = ""
    defined: bool = False
    marked: bool = False  # WASM_EXPORT or export_name(...)


@dataclass
class SourceInfo:
    """What the AST of a module's sources says: C functions, export markers, typedefs."""

    functions: dict[str, RawFunction] = field(default_factory=dict)
    typedefs: dict[str, str] = field(default_factory=dict)
    files: set[str] = field(default_factory=set)  # every file read, sources and headers

    @property
    def defined(self) -> list[str]:
        return sorted(name for name, f in self.functions.items() if f.defined)

    @property
    def marked(self) -> list[str]:
        return sorted(name for name, f in self.functions.items() if f.defined and f.marked)


def read_sources(plan: BuildPlan) -> SourceInfo:
    """Run clang's AST dump over every source of *plan* and collect functions, markers and typedefs.

    The same run writes a depfile per source; :attr:`SourceInfo.files` lists every file
    the preprocessor read (headers with only macros included), for the build cache.
    """
    info = SourceInfo()
    depfile_dir = plan.temp_dir / "deps"
    depfile_dir.mkdir(parents=True, exist_ok=True)
    flags = [*plan.preprocessor_flags, *plan.extra_compile_args]
    for index, source in enumerate(plan.sources):
        depfile = depfile_dir / f"{index}-{source.stem}.d"
        tree = dump_ast(plan.compiler, source, [*flags, "-MD", "-MF", str(depfile)], module=plan.name)
        info.files.update(str(Path(d).resolve()) for d in read_depfile(depfile))
        info.files.add(str(source.resolve()))
        collect(tree, str(source), info)
    return info


def dump_ast(compiler: Compiler, source: Path, flags: Sequence[str], *, module: str) -> dict[str, Any]:
    """clang's JSON AST of *source* (every header included), parsed."""
    proc = run(
        [*compiler.ast, *flags, "-Xclang", "-ast-dump=json", "-fsyntax-only", str(source)],
        error=WasmCompileError,
        what=f"{module}: reading C declarations of {source}",
        env=compiler.environment(),
    )
    try:
        tree: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise WasmCompileError(f"{module}: clang printed an unreadable AST for {source}: {exc}") from exc
    return tree


def collect(tree: dict[str, Any], main_file: str, info: SourceInfo) -> None:
    """Add the top-level declarations of *tree* (the AST of *main_file*) to *info*."""
    # clang's JSON names a node's file only when it differs from the previous node's, so
    # the current file is tracked while walking the top-level declarations in order.
    current = ""
    for node in tree.get("inner", []):
        loc = node.get("loc", {})
        for candidate in (loc, loc.get("spellingLoc", {}), loc.get("expansionLoc", {})):
            if "file" in candidate:
                current = candidate["file"]
                break
        kind = node.get("kind")
        if kind == "TypedefDecl" and "name" in node:
            info.typedefs[node["name"]] = node.get("type", {}).get("qualType", "")
        elif kind == "FunctionDecl" and "name" in node:
            _add_function(node, current, current == main_file, info)


def _add_function(node: dict[str, Any], file: str, in_main_file: bool, info: SourceInfo) -> None:
    inner = node.get("inner", [])
    name = node["name"]
    qual = node.get("type", {}).get("qualType", "")
    result = qual.split("(", 1)[0].strip() if "(" in qual else qual
    params = [
        RawParam(child.get("name", ""), child.get("type", {}).get("qualType", ""))
        for child in inner
        if child.get("kind") == "ParmVarDecl"
    ]
    line = node.get("loc", {}).get("line") or node.get("loc", {}).get("expansionLoc", {}).get("line", "?")
    kinds = {child.get("kind") for child in inner}
    visibility_default = any(c.get("kind") == "VisibilityAttr" and c.get("visibility") == "default" for c in inner)
    marked = "WebAssemblyExportNameAttr" in kinds or ("AnnotateAttr" in kinds and visibility_default)
    doc = next((_render_comment(c) for c in inner if c.get("kind") == "FullComment"), "")
    fn = info.functions.get(name)
    if fn is None:
        fn = info.functions[name] = RawFunction(name, params, result, bool(node.get("variadic")), f"{file}:{line}")
    defined = "CompoundStmt" in kinds and in_main_file
    if defined:
        fn.params, fn.result, fn.variadic = params, result, bool(node.get("variadic"))
        fn.location = f"{file}:{line}"
        fn.defined = True
    fn.marked = fn.marked or marked
    fn.doc = fn.doc or doc


def _render_comment(node: dict[str, Any]) -> str:
    """Plain text of a ``/** */`` or ``///`` comment: paragraphs, then ``@param``/``@return``."""
    paragraphs: list[str] = []
    params: list[str] = []
    returns: list[str] = []
    for child in node.get("inner", []):
        kind = child.get("kind")
        text = _comment_text(child)
        if kind == "ParagraphComment":
            if text:
                paragraphs.append(text)
        elif kind == "ParamCommandComment":
            params.append(f"    {child.get('param', '?')}: {text}")
        elif kind == "BlockCommandComment" and child.get("name") in ("return", "returns", "result"):
            returns.append(f"    {text}")
        elif text:
            paragraphs.append(text)
    out = "\n\n".join(paragraphs)
    if params:
        out += "\n\nArgs:\n" + "\n".join(params)
    if returns:
        out += "\n\nReturns:\n" + "\n".join(returns)
    return out.strip()


def _comment_text(node: dict[str, Any]) -> str:
    """Text of a comment node: pieces on one source line are joined as they stand (clang
    splits a line at ``<``, taking it for HTML), pieces on new lines with a space."""
    lines: list[str] = []
    current: list[Any] = [None]

    def walk(n: dict[str, Any]) -> None:
        line = n.get("loc", {}).get("line", current[0])
        if n.get("kind") == "TextComment":
            if line != current[0] or not lines:
                lines.append("")
            lines[-1] += n.get("text", "")
        current[0] = line
        for c in n.get("inner", []):
            walk(c)

    walk(node)
    return " ".join(text.strip() for text in lines if text.strip())


def read_depfile(path: Path) -> list[str]:
    """The prerequisites listed in a make-style depfile written by ``-MD -MF``."""
    text = path.read_text(encoding="utf-8", errors="replace").replace("\\\n", " ")
    deps: list[str] = []
    for rule in text.splitlines():
        _, sep, rest = rule.partition(": ")
        if sep:
            deps += [d.replace("\\ ", " ") for d in re.split(r"(?<!\\)\s+", rest.strip()) if d]
    return deps
