"""Read C declarations and doc comments from clang's JSON AST of a module's sources.

Parse -> model -> generator, as separate steps: this module knows clang and its JSON and
produces :class:`SourceInfo` (every function declared or defined, with its parameters as
spelled, its doc comment and whether it is marked for export; the typedefs; every file
read). :mod:`.mapping` turns that into the typed model; it never sees clang.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..errors import WasmCompileError
from . import cxx
from .process import stream

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
    static: bool = False  # internal linkage: the linker cannot export it
    unit: str = ""  # the source whose translation unit holds the definition (a static one is wrapped there)
    # parameter -> "in", "out" or "in,out": what its doc comment says (Doxygen's @param[out] x)
    directions: dict[str, str] = field(default_factory=dict)
    # C++: why it cannot be bound (C++ linkage, overloaded, a member, a template, C++-only types), with the fix
    cxx: str = ""
    cxx_symbols: dict[str, str] = field(default_factory=dict)  # C++ entities of this name: symbol -> location


@dataclass
class RawEnum:
    """A C enum with its enumerators and their values, named by its tag or its typedef."""

    name: str
    members: list[tuple[str, int]]
    location: str


@dataclass
class RawField:
    name: str
    spelling: str
    bitfield: bool = False
    attributes: list[str] = field(default_factory=list)  # layout attributes on the field (AlignedAttr)


@dataclass
class RawRecord:
    """A struct or union definition: its fields as spelled, and what could make its layout not C's default."""

    fields: list[RawField]
    location: str
    union: bool = False
    attributes: list[str] = field(default_factory=list)  # layout attributes: PackedAttr, AlignedAttr, ...


_LAYOUT_ATTRIBUTES = ("PackedAttr", "AlignedAttr", "MaxFieldAlignmentAttr")


@dataclass
class SourceInfo:
    """What the AST of a module's sources says: C functions, export markers, typedefs."""

    functions: dict[str, RawFunction] = field(default_factory=dict)
    typedefs: dict[str, str] = field(default_factory=dict)
    enums: dict[str, RawEnum] = field(default_factory=dict)  # by the type as mappings see it: "enum color"
    # "struct point" -> whether a definition was seen (a pointer to an incomplete struct is a handle)
    records: dict[str, bool] = field(default_factory=dict)
    structs: dict[str, RawRecord] = field(default_factory=dict)  # the definitions: "struct point" -> its fields
    files: set[str] = field(default_factory=set)  # every file read, sources and headers
    # C++ classes that are not plain data (cannot cross as a C struct): "struct Name" -> why
    cxx_classes: dict[str, str] = field(default_factory=dict)

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
    flags = [*plan.target_flags, *plan.preprocessor_flags, *plan.extra_compile_args]
    project = _project_files(plan)
    for index, source in enumerate(plan.sources):
        depfile = depfile_dir / f"{index}-{source.stem}.d"
        deps = ["-MD", "-MF", str(depfile)]
        if cxx.is_cxx(source):
            assert plan.cxx_commands is not None
            try:
                tree = dump_ast(
                    plan.compiler,
                    source,
                    [*plan.cxx_flags, *flags, *deps, "-x", "c++"],
                    module=plan.name,
                    ast=plan.cxx_commands.ast,
                )
            except WasmCompileError as exc:
                raise WasmCompileError(plan.explain(str(exc))) from None
        else:
            tree = dump_ast(plan.compiler, source, [*flags, *deps], module=plan.name)
        info.files.update(str(Path(d).resolve()) for d in read_depfile(depfile))
        info.files.add(str(source.resolve()))
        collect(tree, str(source), info, project=project)
    if plan.has_cxx:
        check_cxx_types(info)
    return info


def _project_files(plan: BuildPlan) -> Callable[[str], bool]:
    """Whether a file is the project's own: below its source root or include_dirs, not the toolchain's."""
    args = list(plan.compiler.ast) + (list(plan.cxx_commands.ast) if plan.cxx_commands is not None else [])
    system = [Path(b) for a, b in zip(args, args[1:]) if a == "-isystem"]
    system += [Path(a.split("=", 1)[1]) for a in args if a.startswith("--sysroot=")]
    system = [p.resolve() for p in system]
    known: dict[str, bool] = {}

    def ours(file: str) -> bool:
        if file not in known:
            path = Path(file).resolve()
            known[file] = any(path.is_relative_to(r) for r in plan.project_dirs) and not any(
                path.is_relative_to(s) for s in system
            )
        return known[file]

    return ours


def dump_ast(
    compiler: Compiler, source: Path, flags: Sequence[str], *, module: str, ast: Sequence[str] | None = None
) -> dict[str, Any]:
    """clang's JSON AST of *source* (every header included): its top-level declarations, pruned.

    The AST is read as clang writes it, one top-level declaration at a time, and every
    statement and expression in it is cut to its kind (and ``value``): function bodies and
    initializers are never read, so a generated source whose tables make a gigabyte of
    JSON costs what its declarations do. On a compile error only clang's diagnostics are
    shown (its stdout then holds a partial AST). *ast*: the command prefix to use instead of
    the compiler's (C++ sources: its C++ AST command).

    The C++ standard library's own namespaces (``std`` and reserved names, hundreds of MB of
    JSON for ``<vector>``) are skipped whole as they stream past: nothing in them can be bound.
    """

    def read(out: IO[bytes]) -> list[dict[str, Any]]:
        try:
            return list(top_level_nodes(out))
        except ValueError as exc:
            raise WasmCompileError(f"{module}: clang printed an unreadable AST for {source}: {exc}") from None

    inner = stream(
        [*(compiler.ast if ast is None else ast), *flags, "-Xclang", "-ast-dump=json", "-fsyntax-only", str(source)],
        read,
        error=WasmCompileError,
        what=f"{module}: reading C declarations of {source}",
        env=compiler.environment(),
    )
    return {"kind": "TranslationUnitDecl", "inner": inner}


# Nodes whose subtrees nothing here reads (statements, expressions: bodies and initializers),
# kept as {"kind": ..., "value": ...} (an enumerator's value sits in its ConstantExpr).
_PRUNED_KINDS = (b"Stmt", b"Expr", b"Literal", b"Operator")
_KIND_LINE = re.compile(rb'^( +)"kind": "([A-Za-z]+)",?$')
_TOP_LEVEL_OPEN = b"    {"  # clang indents 2 spaces a level; top-level nodes are TU.inner items
_TOP_LEVEL_MEMBER_INDENT = 6
_TOP_LEVEL_MEMBER = b" " * _TOP_LEVEL_MEMBER_INDENT + b'"'
_TOP_LEVEL_INNER = b" " * _TOP_LEVEL_MEMBER_INDENT + b'"inner": ['


def _skipped_namespace(header: dict[bytes, bytes]) -> bool:
    """Whether a top-level node is a namespace of the C++ implementation (``std``, ``__cxxabiv1``,
    any reserved name): what it declares is never the project's, and ``<vector>`` alone puts
    hundreds of MB of JSON there."""
    if header.get(b'"kind"') != b'"NamespaceDecl"' or b'"name"' not in header:
        return False
    name = header[b'"name"'].strip(b'"')
    return name == b"std" or name.startswith(b"__") or (name[:1] == b"_" and name[1:2].isupper())


def top_level_nodes(out: IO[bytes]) -> Iterator[dict[str, Any]]:
    """The items of the translation unit's ``inner``, pruned (see :func:`dump_ast`), one at a time.

    Reads clang's pretty-printed JSON line by line (one member a line, 2 spaces a level, as
    LLVM's JSON writer prints it), skipping a pruned subtree by searching for its closing
    line in large chunks; output in any other layout is parsed whole instead. Raises
    ``ValueError`` on output that is not such JSON.
    """
    first = out.readline()
    if first.rstrip() != b"{":
        tree = json.loads(first + out.read())
        if not isinstance(tree, dict):
            raise ValueError("the AST is not a JSON object")
        yield from tree.get("inner", [])
        return
    lines = _Lines(out)
    node: list[bytes] | None = None
    header: dict[bytes, bytes] = {}  # the top-level node's "kind" and "name", as read
    while (line := lines.next()) is not None:
        if node is None:
            if line == _TOP_LEVEL_OPEN:
                node = [line]
                header = {}
            continue
        if line.startswith(b"    }") and len(line) - len(line.lstrip(b" ")) == 4:
            node.append(line)
            yield _loads_node(node)
            node = None
            continue
        if line.startswith(_TOP_LEVEL_MEMBER) and line[_TOP_LEVEL_MEMBER_INDENT + 1 : _TOP_LEVEL_MEMBER_INDENT + 6] in (
            b'kind"',
            b'name"',
        ):
            key, _, value = line.strip().partition(b": ")
            header[key] = value.rstrip(b",")
        elif line == _TOP_LEVEL_INNER and _skipped_namespace(header):
            _, close, last = lines.skip(b"    }", None)  # the whole namespace, at the speed of bytes.find
            if last:
                node.append(b'      "lastLoc": ' + json.dumps(last).encode() + b",")
            node += [b'      "inner": []', close]
            yield _loads_node(node)
            node = None
            continue
        match = _KIND_LINE.match(line)
        if match and match.group(2).endswith(_PRUNED_KINDS) and len(match.group(1)) > _TOP_LEVEL_MEMBER_INDENT:
            indent = len(match.group(1))
            if node[-1].startswith(b" " * indent + b'"id": '):
                node.pop()  # what was read of the object: its "id", then its "{" (or "key": {)
            opening = node.pop()
            if not (opening.endswith(b"{") and opening.startswith(b" " * (indent - 2)) and opening[indent - 2] != 32):
                raise ValueError(f"a {match.group(2).decode()} node without its opening brace")
            values, close, last = lines.skip(b" " * (indent - 2) + b"}", b" " * indent + b'"value": ')
            kept = [b'"kind": "' + match.group(2) + b'"', *(v.strip().rstrip(b",") for v in values)]
            if last:  # the location state the subtree left: the next locations are written against it
                kept.append(b'"lastLoc": ' + json.dumps(last).encode())
            node.append(opening[:-1] + b"{" + b",".join(kept) + (b"}," if close.endswith(b",") else b"}"))
            continue
        node.append(line)
    if node is not None:
        raise ValueError("the AST ends inside a declaration (clang's output was cut short)")


class _Lines:
    """Lines of a byte stream, read in large chunks, with a fast skip to a line of a given prefix."""

    CHUNK = 1 << 20

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._buf = b"\n"  # a newline before every line, so "\n" + prefix finds one at its start
        self._pos = 1
        self._eof = False

    def _more(self) -> bool:
        if self._eof:
            return False
        chunk = self._out.read(self.CHUNK)
        if not chunk:
            self._eof = True
            return False
        self._buf = self._buf[self._pos - 1 :] + chunk
        self._pos = 1
        return True

    def next(self) -> bytes | None:
        """The next line without its end, or ``None`` at the end."""
        while (end := self._buf.find(b"\n", self._pos)) < 0:
            if not self._more():
                if self._pos >= len(self._buf):
                    return None
                line, self._pos = self._buf[self._pos :], len(self._buf)
                return line.rstrip(b"\r")
        line, self._pos = self._buf[self._pos : end], end + 1
        return line.rstrip(b"\r")

    def skip(self, close: bytes, keep: bytes | None) -> tuple[list[bytes], bytes, dict[str, Any]]:
        """Skip to the first line starting with *close* (consumed and returned), keeping the lines
        that start with *keep* on the way, and the last location written there (``file``,
        ``line``: clang writes each only when it changed, so what follows depends on it);
        raises ``ValueError`` if the stream ends first."""
        kept: list[bytes] = []
        last: dict[str, Any] = {}
        target, wanted = b"\n" + close, b"\n" + (keep or b"")
        tail = max(len(target), len(wanted), len(_FILE_KEY))  # kept when reading on: a match may start in it
        while True:
            found = self._buf.find(target, self._pos - 1)
            limit = found if found >= 0 else len(self._buf)
            at = self._buf.find(wanted, self._pos - 1, limit) if keep else -1
            while at >= 0:  # lines to keep before the close (few: an enumerator's value)
                end = self._buf.find(b"\n", at + 1)
                if end < 0:
                    break
                kept.append(self._buf[at + 1 : end].rstrip(b"\r"))
                at = self._buf.find(wanted, end, limit)
            where, cut = _last_location(self._buf, self._pos - 1, limit)
            if "file" in where:
                last = where
            elif "line" in where:
                last["line"] = where["line"]
            if found >= 0 and at < 0 and cut < 0 and self._buf.find(b"\n", found + 1) >= 0:
                self._pos = found + 1
                line = self.next()
                assert line is not None
                return kept, line, last
            starts = [i for i in (at, cut) if i >= 0]
            if starts:  # a line to read runs past the buffer: read on from its start
                self._pos = min(starts) + 1
            elif found >= 0:  # so does the closing line
                self._pos = found + 1
            else:
                self._pos = max(self._pos, len(self._buf) - tail + 1)
            if not self._more():
                raise ValueError("the AST ends inside a declaration (clang's output was cut short)")


_FILE_KEY, _LINE_KEY = b'"file": ', b'"line": '


def _last_location(buf: bytes, start: int, end: int) -> tuple[dict[str, Any], int]:
    """The last ``file`` and ``line`` of a location in ``buf[start:end]`` (an ``includedFrom``'s
    file is not one), and where a line holding one starts if it runs past the buffer (else -1)."""
    where: dict[str, Any] = {}
    cut = -1
    at = buf.rfind(_FILE_KEY, start, end)
    while at >= 0:
        line_start = buf.rfind(b"\n", 0, at) + 1
        before = buf[buf.rfind(b"\n", 0, max(line_start - 1, 0)) + 1 : max(line_start - 1, 0)]
        if not before.rstrip().endswith(b'"includedFrom": {'):
            break
        at = buf.rfind(_FILE_KEY, start, line_start)
    file_at = at
    line_at = buf.rfind(_LINE_KEY, max(start, file_at), end)
    for key, found in (("file", file_at), ("line", line_at)):
        if found < 0:
            continue
        stop = buf.find(b"\n", found)
        if stop < 0:
            cut = buf.rfind(b"\n", 0, found)
            return {}, cut
        where[key] = json.loads(buf[found + len(_FILE_KEY if key == "file" else _LINE_KEY) : stop].strip().rstrip(b","))
    return where, cut


def _loads_node(lines: list[bytes]) -> dict[str, Any]:
    text = b"\n".join(lines).rstrip().rstrip(b",")
    node = json.loads(text)
    if not isinstance(node, dict):
        raise ValueError("a top-level AST node is not a JSON object")  # noqa: TRY004 - read as "unreadable"
    return node


def collect(
    tree: dict[str, Any], main_file: str, info: SourceInfo, project: Callable[[str], bool] | None = None
) -> None:
    """Add the top-level declarations of *tree* (the AST of *main_file*) to *info*.

    A function counts as defined where its definition is, as the compiler sees it: in
    *main_file*, or in a file *project* accepts (the project's own headers); one a macro
    made is where the macro was expanded.
    """
    where = LocationTracker()
    anonymous: dict[str, RawEnum] = {}  # enum {...} by id, until a typedef names it
    anonymous_records: dict[str, tuple[str, RawRecord]] = {}  # struct {...} by id, until a typedef names it
    for node, file, line, scope in declarations(tree, where):
        kind = node.get("kind")
        if kind == "TypedefDecl" and "name" in node:
            info.typedefs[node["name"]] = node.get("type", {}).get("qualType", "")
            named = _enum_type_id(node)
            record = _record_type_id(node)
            if record in anonymous_records:
                tag, definition = anonymous_records.pop(record)
                info.records[f"{tag} {node['name']}"] = True
                info.structs.setdefault(f"{tag} {node['name']}", definition)
            if named in anonymous:
                enum = anonymous.pop(named)
                enum.name = node["name"]
                info.enums.setdefault(f"enum {enum.name}", enum)
        elif kind in ("RecordDecl", "CXXRecordDecl") and not scope:
            _add_record(node, f"{file}:{line}", info, anonymous_records)
            if kind == "CXXRecordDecl":
                ours = file == main_file or (project is not None and bool(file) and project(file))
                _add_cxx_class(node, file, line, ours, info)
        elif kind in _CXX_ONLY_KINDS or (kind == "FunctionDecl" and not c_linkage(node)):
            ours = file == main_file or (project is not None and bool(file) and project(file))
            _add_cxx_function(node, file, line, scope, ours, info)
        elif kind == "EnumDecl" and node.get("inner"):
            enum = RawEnum(node.get("name", ""), _enumerators(node), f"{file}:{line}")
            if enum.name:
                info.enums.setdefault(f"enum {enum.name}", enum)
            else:
                anonymous[node.get("id", "")] = enum
        elif kind == "FunctionDecl" and "name" in node:
            ours = file == main_file or (project is not None and bool(file) and project(file))
            _add_function(node, file, line, ours, info, main_file)


def _add_record(
    node: dict[str, Any], location: str, info: SourceInfo, anonymous: dict[str, tuple[str, RawRecord]]
) -> None:
    """Note a struct or union (and those defined inside it): whether it is complete, and its fields."""
    complete = bool(node.get("completeDefinition"))
    tag = _tag(node)
    definition = None
    if complete:
        inner = node.get("inner", [])
        for child in inner:
            if child.get("kind") == "RecordDecl":
                _add_record(child, location, info, {})
        fields = [
            RawField(
                c.get("name", ""),
                c.get("type", {}).get("qualType", ""),
                bool(c.get("isBitfield")),
                [a["kind"] for a in c.get("inner", []) if a.get("kind") in _LAYOUT_ATTRIBUTES],
            )
            for c in inner
            if c.get("kind") == "FieldDecl"
        ]
        attributes = [c["kind"] for c in inner if c.get("kind") in _LAYOUT_ATTRIBUTES]
        definition = RawRecord(fields, location, tag == "union", attributes)
    if "name" in node:
        key = f"{tag} {node['name']}"
        info.records[key] = info.records.get(key, False) or complete
        if definition is not None:
            info.structs.setdefault(key, definition)
    elif definition is not None:
        anonymous[node.get("id", "")] = (tag, definition)


# Declarations read through: their members are declarations of the same scope
_CXX_CONTAINERS = ("LinkageSpecDecl", "NamespaceDecl")
# C++ functions that are never C ones, whatever their linkage
_CXX_ONLY_KINDS = ("FunctionTemplateDecl", "CXXMethodDecl", "CXXConstructorDecl", "CXXDestructorDecl")
# what a namespace's members are read for: C++ functions named in `exports` get their own error
_NAMESPACE_KINDS = ("FunctionDecl", "FunctionTemplateDecl", "LinkageSpecDecl", "NamespaceDecl")


def declarations(tree: dict[str, Any], where: LocationTracker) -> Iterator[tuple[dict[str, Any], str, Any, str]]:
    """(node, file, line, C++ scope) of each declaration of *tree* in document order, reading
    through ``extern "C" { }`` blocks and namespaces; the scope is the namespace (``"ns"``,
    ``"a::b"``; ``""`` at global scope). Only functions are read in namespaces: their types and
    records cannot be named from C. Locations are tracked through everything, as clang wrote them."""
    yield from _declarations(tree.get("inner", []), where, "")


def _declarations(
    nodes: list[dict[str, Any]], where: LocationTracker, scope: str
) -> Iterator[tuple[dict[str, Any], str, Any, str]]:
    for node in nodes:
        kind = node.get("kind")
        if kind in _CXX_CONTAINERS:
            where.enter(node)
            inner = scope
            if kind == "NamespaceDecl":
                name = node.get("name", "(anonymous namespace)")
                inner = f"{scope}::{name}" if scope else name
            yield from _declarations(node.get("inner", []), where, inner)
            continue
        file, line = where.node(node)
        if not scope or kind in _NAMESPACE_KINDS:
            yield node, file, line, scope


def c_linkage(node: dict[str, Any]) -> bool:
    """Whether a function's symbol is its name (C linkage): clang writes the mangled name it links under."""
    return node.get("mangledName", node.get("name")) == node.get("name")


def _tag(node: dict[str, Any]) -> str:
    """``struct`` or ``union`` (a C++ ``class`` is a ``struct`` to C)."""
    tag = str(node.get("tagUsed", "struct"))
    return "struct" if tag == "class" else tag


class LocationTracker:
    """clang's location state while its JSON is read in document order.

    clang writes a location's ``file`` only when it differs from the last location it
    wrote, and its ``line`` only when that differs, anywhere in the document (ranges and
    nested nodes included; a macro location writes its spelling, then its expansion).
    A pruned subtree leaves its last location as ``lastLoc``.
    """

    def __init__(self) -> None:
        self.file = ""
        self.line: Any = None

    def _bare(self, loc: dict[str, Any]) -> None:
        if "file" in loc:
            self.file, self.line = loc["file"], loc.get("line", self.line)
        elif "line" in loc:
            self.line = loc["line"]

    def _location(self, loc: Any) -> None:
        if not isinstance(loc, dict):
            return
        if "spellingLoc" in loc or "expansionLoc" in loc:
            self._bare(loc.get("spellingLoc", {}))
            self._bare(loc.get("expansionLoc", {}))
        else:
            self._bare(loc)

    def _walk(self, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("loc", "begin", "end"):
                    self._location(item)
                elif key == "lastLoc" and isinstance(item, dict):
                    self._bare(item)
                elif key != "includedFrom" and isinstance(item, (dict, list)):
                    self._walk(item)
        elif isinstance(value, list):
            for item in value:
                self._walk(item)

    def enter(self, node: dict[str, Any]) -> tuple[str, Any]:
        """(file, line) of *node*, reading all of it but its ``inner`` (which clang writes last):
        the caller reads those next, each with :meth:`node` or :meth:`enter`."""
        return self.node({k: v for k, v in node.items() if k != "inner"})

    def node(self, node: dict[str, Any]) -> tuple[str, Any]:
        """(file, line) of *node*'s location (a macro's: where it was expanded); then the rest of it is read."""
        self._location(node.get("loc", {}))
        here = (self.file, self.line)
        self._walk({k: v for k, v in node.items() if k != "loc"})
        return here


def _enum_type_id(node: dict[str, Any]) -> str | None:
    """The id of the enum a typedef names, through any sugar (``ElaboratedType``) around its ``EnumType``."""
    return _named_type_id(node, "EnumType")


def _record_type_id(node: dict[str, Any]) -> str | None:
    """The id of the struct or union a typedef names (see :func:`_enum_type_id`)."""
    return _named_type_id(node, "RecordType")


def _named_type_id(node: dict[str, Any], kind: str) -> str | None:
    for child in node.get("inner", []):
        if child.get("kind") == kind:
            found: str | None = child.get("decl", {}).get("id")
            return found
        if child.get("kind", "").endswith("Type"):
            return _named_type_id(child, kind)
    return None


def _enumerators(node: dict[str, Any]) -> list[tuple[str, int]]:
    """(name, value) of each enumerator: its constant's value, or one more than the last."""
    members: list[tuple[str, int]] = []
    value = -1
    for child in node.get("inner", []):
        if child.get("kind") != "EnumConstantDecl" or "name" not in child:
            continue
        constant = next((c for c in child.get("inner", []) if "value" in c), None)
        value = int(constant["value"]) if constant is not None else value + 1
        members.append((child["name"], value))
    return members


def _add_function(node: dict[str, Any], file: str, line: Any, ours: bool, info: SourceInfo, unit: str = "") -> None:
    inner = node.get("inner", [])
    name = node["name"]
    qual = node.get("type", {}).get("qualType", "")
    result = qual.split("(", 1)[0].strip() if "(" in qual else qual
    params = [
        RawParam(child.get("name", ""), child.get("type", {}).get("qualType", ""))
        for child in inner
        if child.get("kind") == "ParmVarDecl"
    ]
    line = "?" if line is None else line
    kinds = {child.get("kind") for child in inner}
    visibility_default = any(c.get("kind") == "VisibilityAttr" and c.get("visibility") == "default" for c in inner)
    marked = "WebAssemblyExportNameAttr" in kinds or ("AnnotateAttr" in kinds and visibility_default)
    comment = next((c for c in inner if c.get("kind") == "FullComment"), None)
    doc = "" if comment is None else _render_comment(comment)
    fn = info.functions.get(name)
    if fn is None or fn.cxx:  # a C function's name is its symbol: C++ functions of that name give way
        fn = info.functions[name] = RawFunction(name, params, result, bool(node.get("variadic")), f"{file}:{line}")
    defined = "CompoundStmt" in kinds and ours
    if defined:
        fn.params, fn.result, fn.variadic = params, result, bool(node.get("variadic"))
        fn.location = f"{file}:{line}"
        fn.defined = True
        fn.unit = unit
    fn.static = fn.static or node.get("storageClass") == "static"
    fn.marked = fn.marked or marked
    if doc and not fn.doc:
        fn.doc = doc
        fn.directions = {} if comment is None else _directions(comment)


def _directions(comment: dict[str, Any]) -> dict[str, str]:
    """The directions a comment gives explicitly: ``@param[out] used`` -> ``{"used": "out"}``."""
    return {
        c["param"]: c["direction"]
        for c in comment.get("inner", [])
        if c.get("kind") == "ParamCommandComment" and c.get("explicit") and "param" in c and "direction" in c
    }


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


# --- C++ ---------------------------------------------------------------------------------

_EXTERN_C_FIX = (
    'export an extern "C" function that calls it (in C++, WASM_EXPORT gives a function C linkage: '
    'WASM_EXPORT int f(int x) { ... } is extern "C")'
)


def _add_cxx_function(
    node: dict[str, Any], file: str, line: Any, scope: str, ours: bool, info: SourceInfo, owner: str = ""
) -> None:
    """Note a C++ function the project declares (C++ linkage, a member, a template) under its
    plain name, with why it cannot be exported; a C function of the same name wins."""
    name = str(node.get("name", ""))
    if not ours or not name.isidentifier():
        return
    existing = info.functions.get(name)
    if existing is not None and not existing.cxx:
        return
    location = f"{file}:{'?' if line is None else line}"
    kind = node.get("kind")
    qualified = "::".join(part for part in (scope, owner, name) if part)
    symbol = f"template {qualified}" if kind == "FunctionTemplateDecl" else str(node.get("mangledName", qualified))
    fn = existing
    if fn is None:
        fn = info.functions[name] = RawFunction(name, [], "", False, location, defined=True)
    fn.cxx_symbols.setdefault(symbol, location)
    if len(fn.cxx_symbols) > 1:
        listed = ", ".join(f"{sym} at {where}" for sym, where in fn.cxx_symbols.items())
        fn.cxx = (
            f"names {len(fn.cxx_symbols)} C++ functions ({listed}), overloads or members; C has one function "
            f'per name: export an extern "C" function for each one you need, each with its own name, calling it'
        )
    elif kind == "FunctionTemplateDecl":
        fn.cxx = (
            f"is a C++ function template ({qualified}): templates cannot be exported; export an extern "
            f'"C" function for each instantiation you need, calling {name}<...>'
        )
    elif kind in ("CXXMethodDecl", "CXXConstructorDecl", "CXXDestructorDecl"):
        of = f" of {owner}" if owner else ""
        fn.cxx = (
            f"is a C++ member function{of} ({qualified}): methods cannot be exported; export an extern "
            f'"C" function that takes the object as a pointer (a handle{f", {owner} *" if owner else ""}) and calls it'
        )
    elif scope:
        fn.cxx = f"is {qualified}, a function in namespace {scope} with C++ linkage (symbol {symbol}): {_EXTERN_C_FIX}"
    else:
        fn.cxx = (
            f'has C++ linkage (its symbol is {symbol}, not {name}): declare it extern "C" (or put it in an '
            f'extern "C" {{ }} block), or {_EXTERN_C_FIX}'
        )


def _add_cxx_class(node: dict[str, Any], file: str, line: Any, ours: bool, info: SourceInfo) -> None:
    """A C++ class or struct at global scope: its name is a type name (``state *`` is ``struct state *``),
    whether it is plain data, and the project's own classes' member functions."""
    name = node.get("name")
    if not name:
        return
    key = f"{_tag(node)} {name}"
    info.typedefs.setdefault(name, key)
    data = node.get("definitionData", {})
    if node.get("completeDefinition"):
        if data.get("isPolymorphic"):
            info.cxx_classes[key] = "it has virtual functions"
        elif not data.get("isTriviallyCopyable"):
            info.cxx_classes[key] = "it has a copy constructor, move constructor or destructor of its own"
        elif not data.get("isStandardLayout"):
            info.cxx_classes[key] = "its layout is not a C struct's"
    for child in node.get("inner", []):
        if child.get("kind") in _CXX_ONLY_KINDS and not child.get("isImplicit"):
            _add_cxx_function(child, file, line, "", ours, info, owner=name)


def check_cxx_types(info: SourceInfo) -> None:
    """After every C++ source is read: name ``std::size_t`` and its kin as C does, give enums their
    C++ type names, and note each C function whose types only C++ has (references, classes that
    are not plain data, templates, namespaced types) with why and the fix."""
    for alias in [t for t in info.typedefs if "::" not in t]:
        info.typedefs.setdefault(f"std::{alias}", alias)  # <cstdint>, <cstddef>: using ::uint8_t; ...
    for enum in info.enums:
        info.typedefs.setdefault(enum.split(" ", 1)[1], enum)
    for fn in info.functions.values():
        if fn.cxx or not fn.defined:
            continue
        problems = []
        why = _cxx_type(fn.result, info)
        if why:
            problems.append(
                f"its result ({fn.result}) {why}: return plain data (numbers, a const char *, a struct of "
                "numbers) or a pointer to the object (a handle)"
            )
        for i, p in enumerate(fn.params):
            why = _cxx_type(p.spelling, info)
            if why:
                fix = (
                    f"take a pointer ({p.spelling.replace('&&', '*').replace('&', '*')}) instead"
                    if "&" in p.spelling
                    else "take plain data (numbers, a pointer and a length) and build the C++ object inside the "
                    "function, or take a pointer to it (a handle)"
                )
                problems.append(f"parameter {p.name or i} ({p.spelling}) {why}: {fix}")
        if problems:
            fn.cxx = "; ".join(problems) + f' (or export an extern "C" wrapper with C types that calls {fn.name})'


def _cxx_type(spelling: str, info: SourceInfo) -> str:
    """Why a type written *spelling* exists only in C++ ("" when C has it too)."""
    if "&" in spelling:
        return "is a C++ reference"
    base = " ".join(w for w in re.sub(r"[*&]", " ", spelling).split() if w not in ("const", "volatile"))
    if "(" in base or "[" in base:
        return ""  # function pointers and arrays: the mapping says what it says of them in C
    if "<" in base:
        return "is a C++ template type"
    if "::" in base and base not in info.typedefs:
        return "is a C++ type of a namespace"
    if "*" not in spelling:
        record = info.typedefs.get(base, base)
        seen = 0
        while record in info.typedefs and seen < 32:  # typedef chains: typedef Counter C;
            record, seen = info.typedefs[record], seen + 1
        if record in info.cxx_classes:
            return f"is a C++ class passed by value ({info.cxx_classes[record]})"
    return ""
