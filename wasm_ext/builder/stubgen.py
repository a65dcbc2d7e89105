"""Generate the typed stub (``.py`` + ``.pyi``) from the model, and copy the runtime beside it.

The Jinja2 templates in ``templates/`` (installed as ``wasm_ext.templates``) hold the
code; :mod:`.codegen` prepares what varies per function; :mod:`.pyfmt` lays out lines
that names made too long. The stub imports only ``stubapi`` of its runtime copy and
checks at import that it was generated for that runtime's version. Files are written
only when their content changed, so rebuilds keep timestamps and caches intact.
"""

from __future__ import annotations

import ast
import functools
import keyword
import unicodedata
from collections.abc import Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from .. import __version__
from ..errors import SignatureError
from ..runtime.layout import TYPED_MARKER_TEXT, ModuleFiles, runtime_package, runtime_sources
from ..runtime.stubapi import RUNTIME_VERSION
from . import codegen, pyfmt, structgen
from .mapping import expression_calls
from .model import Function, Param
from .outputs import write_if_changed

if TYPE_CHECKING:
    from .plan import BuildPlan

# what a stub exports besides its kernels
RUNTIME_NAMES = ("KernelError", "KernelTimeout", "KernelTrap", "WasmBuffer", "WasiGrants", "Sandbox", "sandbox")


ALLOC_DOC = """Allocate *nbytes* inside the wasm module, to pass to kernels without copying.

See ``WasmBuffer``: read and write it with ``.view()``, free it with ``.free()``
or a ``with`` block. It belongs to the calling thread."""


def _template_source(name: str) -> str:
    return resources.files("wasm_ext.templates").joinpath(name).read_text(encoding="utf-8")


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["docstring"] = lambda text, indent: pyfmt.docstring(str(text), indent)
    return env


def render(module_name: str, functions: Sequence[Function], *, sources: Sequence[str], wasi: bool) -> tuple[str, str]:
    """The stub's ``.py`` and ``.pyi`` sources for *functions* (their export names filled in)."""
    check_export_names(module_name, functions)
    check_enum_names(module_name, functions)
    return _render(module_name, functions, sources=sources, wasi=wasi)


def export_name_problem(name: str) -> str | None:
    """Why *name* cannot be a kernel's name in the stub, or ``None``.

    A kernel becomes a module-level name and a local of the stub's ``_functions``, so it
    must be a Python identifier that Python keeps as written (identifiers are NFKC-
    normalized: two C names could become one), outside the stub's private ``_`` names,
    and none of the names the generated code itself uses (its imports, the builtins in
    its annotations and checks, the Sandbox's methods): a kernel of such a name would
    silently replace what the stub relies on.
    """
    if not name.isidentifier() or keyword.iskeyword(name):
        return "not a valid Python identifier"
    if unicodedata.normalize("NFKC", name) != name:
        return f"Python would read it as {unicodedata.normalize('NFKC', name)!r} (identifiers are NFKC-normalized)"
    if name.startswith("_"):
        return "a name starting with '_' (the stub keeps those for itself)"
    if name in reserved_names():
        return "a name the generated stub itself uses"
    return None


def check_export_names(module_name: str, functions: Sequence[Function]) -> None:
    """Raise :class:`SignatureError` naming the function if an export name cannot be used, or two are the same."""
    seen: dict[str, str] = {}
    for fn in functions:
        problem = export_name_problem(fn.export)
        if problem is not None:
            raise SignatureError(
                f"{module_name}: the kernel {fn.name}() would be exported as {fn.export!r}, {problem}; "
                "rename it with export_name(...)"
            )
        if fn.export in seen:
            raise SignatureError(
                f"{module_name}: the kernels {seen[fn.export]}() and {fn.name}() would both be exported as "
                f"{fn.export!r}; give one another export_name(...)"
            )
        seen[fn.export] = fn.name


def check_enum_names(module_name: str, functions: Sequence[Function]) -> None:
    """Raise :class:`SignatureError` naming the enum if its class or a member cannot have its C name in the stub."""
    kernels = {fn.export for fn in functions}
    types = [(f"the C enum {e.name} ({e.location})", e.name) for fn in functions for e in fn.enums]
    types += [(f"the C handle type {h.spelling}", h.name) for fn in functions for h in fn.handles]
    types += [(f"the C struct {t.spelling} ({t.location})", t.name) for fn in functions for t in fn.structs]
    classes: dict[str, str] = {}
    for where_, name in types:
        problem = export_name_problem(name)
        if problem is None and (name in kernels or name in RUNTIME_NAMES or name == "alloc"):
            problem = "already the name of a kernel or of the stub's own API"
        if problem is None and classes.setdefault(name, where_) != where_:
            problem = f"the name {classes[name]} takes"
        if problem is not None:
            raise SignatureError(
                f"{module_name}: {where_} would become the class {name!r}, {problem}; give it a typedef name"
            )
    for enum in {e.name: e for fn in functions for e in fn.enums}.values():
        where = f"{module_name}: the C enum {enum.name} ({enum.location})"
        for member, _ in enum.members:
            if not member.isidentifier() or keyword.iskeyword(member) or member.startswith("_") or member in ("mro",):
                raise SignatureError(
                    f"{where}: its enumerator {member!r} cannot be a member of a Python enum (a keyword, or a name "
                    "starting with '_'); leave its functions out of `exports`"
                )


@functools.cache
def reserved_names() -> frozenset[str]:
    """Every name the templates use outside a function's parameters, read from a stub they render.

    Computed rather than listed, so a template change cannot add a name a kernel could take
    unnoticed: the probe stub has a kernel of every shape (each check, buffers, strings, alloc).
    """
    probe = [
        Function("k_int", (Param("p_int", "scalar", "i32", "int"),), "i32", "int", "", "probe"),
        Function("k_float", (Param("p_float", "scalar", "f64", "double"),), "f64", "double", "", "probe"),
        Function("k_bool", (Param("p_bool", "scalar", "bool", "bool"),), "bool", "bool", "", "probe"),
        Function(
            "k_buffers",
            (
                Param("p_in", "buffer", "u8", "const uint8_t *", False, 1),
                Param("n", "length", "u32", "size_t"),
                Param("p_out", "buffer", "i64", "int64_t *", True, 3),
                Param("m", "length", "u16", "uint16_t"),
                Param("p_str", "string", "i8", "const char *"),
            ),
            "void",
            "void",
            "",
            "probe",
        ),
        Function(
            "k_pointers",
            (
                Param("p_a", "buffer", "f32", "const float *", False, 2),
                Param("p_b", "buffer", "f32", "float *", True, 2, True),
                Param("len", "length", "i32", "int"),
                *(
                    Param(f"p_{d}_{k}", d, k, "int *")
                    for d in ("in", "inout", "out")
                    for k in ("i32", "f32", "f64", "bool")
                ),
            ),
            "i32",
            "int",
            "",
            "probe",
        ),
        Function("k_fails", (Param("p_code", "scalar", "i32", "int"),), "i32", "int", "", "probe", error="< 0"),
    ]
    probe = [replace(fn, export=fn.name) for fn in probe]
    kernels = {fn.name for fn in probe}
    names: set[str] = set()
    parameters: set[str] = set()  # local to their function: a kernel of that name does them no harm
    for wasi in (False, True):
        for source in _render("probe.kernels", probe, sources=["probe.c"], wasi=wasi):
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Name):
                    names.add(node.id)
                elif isinstance(node, ast.arg):
                    parameters.add(node.arg)
                elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    names.add(node.name)
                elif isinstance(node, ast.alias):
                    names.add((node.asname or node.name).split(".")[0])
    return frozenset(names - kernels - parameters)


def _render(module_name: str, functions: Sequence[Function], *, sources: Sequence[str], wasi: bool) -> tuple[str, str]:
    exports = {fn.name: fn.export for fn in functions}
    prepared = [codegen.stub_function(fn, exports) for fn in functions]
    helpers_called = [h for fn in functions for h in (fn.error, fn.error_message)]
    helpers_called += [
        c for fn in functions for p in fn.params if p.kind == "output" for c in expression_calls(p.capacity)
    ]
    called = sorted({exports[h] for h in helpers_called if h in exports})
    enums = codegen.stub_enums(functions)
    handles = codegen.stub_handles(functions)
    structs = structgen.stub_structs(functions, {e.name: e.alias for e in enums})
    with_alloc = any(fn.uses_memory for fn in functions)
    kinds = {p.kind for f in prepared for p in f.params}
    checks = {p.check for f in prepared for p in f.params}
    helpers = sorted(
        name
        for name, used in (
            ("check_float", "float" in checks),
            ("check_int", "int" in checks),
            ("in_buffer", "buffer" in kinds),
            ("in_string", "string" in kinds),
            ("length_mismatch", any(p.others for f in prepared for p in f.params)),
            ("require", True),
            ("overflow", "int" in checks or any(p.length_hi is not None for f in prepared for p in f.params)),
            ("Values", any(f.values_struct for f in prepared)),
            ("read_string", any(fn.result_string for fn in functions)),
            ("bad_capacity", "output" in kinds),
            ("bad_length", "output" in kinds),
            ("check_handle", "handle" in kinds),
            ("disown", any(p.owned for f in prepared for p in f.params)),
            ("wrap_handle", any(fn.result_handle for fn in functions) or "handle_out" in kinds),
            ("check_struct", bool(structs)),
            ("c_struct", bool(structs)),
            ("c_new", bool(structs)),
        )
        if used
    )
    fields = {
        "plugin_version": __version__,
        "runtime_version": RUNTIME_VERSION,
        # in a comment line: a file name holding a newline must not end it
        "sources": ", ".join(s if s.isprintable() else s.encode("unicode_escape").decode("ascii") for s in sources),
        "module_doc": f"WebAssembly kernels of {module_name}, built by setuptools-wasm.",
        "runtime": runtime_package(module_name)[0],
        "all_names": pyfmt.export_order(
            [
                *(f.export for f in prepared),
                *(e.name for e in enums),
                *(h.name for h in handles),
                *(t.name for t in structs),
                *(["Error"] * any(fn.error for fn in functions)),
                *RUNTIME_NAMES,
                *(["alloc"] * with_alloc),
            ]
        ),
        "enums": enums,
        "handles": handles,
        "structs": structs,
        "called": [(codegen.kernel_alias(name), name) for name in called],
        "with_errors": any(fn.error for fn in functions),
        "functions": prepared,
        "helpers": helpers,
        "with_alloc": with_alloc,
        "uses_buffer": "buffer" in kinds,
        "alloc_doc": ALLOC_DOC,
        "wasi": wasi,
    }
    env = _environment()
    py = pyfmt.layout(env.get_template("stub.py.j2").render(fields))
    pyi = pyfmt.layout(env.get_template("stub.pyi.j2").render(fields))
    return py, pyi


def generate_stub(plan: BuildPlan, functions: Sequence[Function]) -> list[Path]:
    """Write the stub, its types, ``py.typed`` and the runtime copy; return the files."""
    files = plan.files
    py, pyi = render(plan.name, functions, sources=plan.source_names, wasi=plan.wasi)
    write_if_changed(files.stub, py)
    write_if_changed(files.stub_types, pyi)
    outputs = [files.stub, files.stub_types]
    marker = files.typed_marker
    if marker is not None:  # the stub's package is typed (PEP 561); keep an author's own marker
        if not marker.exists():
            marker.write_text(TYPED_MARKER_TEXT)
        outputs.append(marker)
    return outputs + copy_runtime(files)


def copy_runtime(files: ModuleFiles) -> list[Path]:
    """Copy the runtime package (its ``.py`` files) to where the stub imports it from."""
    outputs = []
    for source in runtime_sources():
        target = files.runtime_dir / source.name
        write_if_changed(target, source.read_bytes())
        outputs.append(target)
    return outputs
