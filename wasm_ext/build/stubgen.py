"""Generate the typed stub module (``.py`` + ``.pyi``) from the signature model.

The templates live in ``templates/`` (installed as ``wasm_ext.templates``); this module
fills them in and copies the runtime beside the stub. Files are written only when their
content changed, so rebuilds keep timestamps and caches intact.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from string import Template

from .. import __version__
from ..errors import SignatureError
from . import codegen
from .cache import write_if_changed
from .signatures import Function

RUNTIME_PACKAGE = "_wasm_ext_runtime"
RUNTIME_NAMES = ("KernelError", "KernelTimeout", "KernelTrap", "WasmBuffer", "WasiGrants", "Sandbox", "sandbox")
# a kernel may not take these names: the stub's own, and the Sandbox class's methods
RESERVED_NAMES = frozenset({*RUNTIME_NAMES, "alloc", "close"})
_RUNTIME_SOURCE = Path(__file__).resolve().parent.parent / "runtime"


def runtime_location(module_name: str) -> tuple[str, str]:
    """(import path used by the stub, dotted name of the copied runtime package)."""
    package, _, stem = module_name.rpartition(".")
    if package:
        return f".{RUNTIME_PACKAGE}", f"{package}.{RUNTIME_PACKAGE}"
    name = f"_{stem}{RUNTIME_PACKAGE}"
    return name, name


def _docstring(text: str, indent: str) -> str:
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').strip()
    lines = text.splitlines() or [""]
    if len(lines) == 1:
        return f'{indent}"""{lines[0]}"""'
    body = "\n".join(f"{indent}{line}" if line.strip() else "" for line in lines[1:])
    return f'{indent}"""{lines[0]}\n{body}\n{indent}"""'


def _c_decl(spelling: str, name: str) -> str:
    return f"{spelling}{name}" if spelling.endswith("*") else f"{spelling} {name}"


def _c_prototype(fn: Function) -> str:
    params = []
    for p in fn.params:
        params.append(_c_decl(p.spelling, p.name))
        if p.length:
            params.append(_c_decl(p.length_spelling or "size_t", p.length))
    return f"{fn.result_spelling} {fn.name}({', '.join(params)})"


def _function_doc(fn: Function) -> str:
    doc = fn.doc or f"Call the wasm kernel {fn.name}()."
    notes = [f"C: ``{_c_prototype(fn)}``"]
    for p in fn.params:
        if p.kind == "buffer":
            mode = "copied in and back out" if p.writable else "read-only"
            notes.append(f"``{p.name}``: buffer of {p.ctype} ({mode}); ``{p.length}`` is filled in.")
    return doc + "\n\n" + "\n".join(notes)


def _py_function(fn: Function) -> str:
    """*fn* as a closure inside the stub's ``_functions`` factory (indented one level)."""
    lines = [codegen.signature(fn), _docstring(_function_doc(fn), "        "), *codegen.body(fn)]
    return "\n" + "\n".join(f"    {line}" if i != 1 and line else line for i, line in enumerate(lines)) + "\n"


def _pyi_function(fn: Function, *, method: bool = False) -> str:
    indent = "    " if method else ""
    doc = _docstring(_function_doc(fn), indent + "    ")
    return f"\n{'' if method else chr(10)}{indent}{codegen.signature(fn, method=method)}\n{doc}\n"


_ALLOC_DOC = """Allocate *nbytes* inside the wasm module, to pass to kernels without copying.

    See ``WasmBuffer``: read and write it with ``.view()``, free it with ``.free()``
    or a ``with`` block. It belongs to the calling thread.
    """


def _template(name: str) -> Template:
    return Template(resources.files("wasm_ext.templates").joinpath(name).read_text(encoding="utf-8"))


def generate_stub(
    module_name: str,
    functions: Sequence[Function],
    directory: Path,
    *,
    sources: Sequence[str],
    wasi: bool,
) -> list[Path]:
    """Write ``<stem>.py``, ``<stem>.pyi`` and the runtime copy into *directory*."""
    stem = module_name.rpartition(".")[2]
    runtime_import, runtime_package = runtime_location(module_name)
    for fn in functions:
        if fn.export in RESERVED_NAMES:
            raise SignatureError(
                f"{module_name}: the kernel {fn.name}() would be exported as {fn.export!r}, a name the stub "
                f"reserves ({', '.join(sorted(RESERVED_NAMES))}); rename it with export_name(...)"
            )
    with_alloc = any(p.kind != "scalar" for fn in functions for p in fn.params)
    exports = [fn.export for fn in functions]
    names = [*exports, *RUNTIME_NAMES]
    py_functions = "".join(_py_function(f) for f in functions)
    pyi_functions = "".join(_pyi_function(f) for f in functions)
    pyi_methods = "".join(_pyi_function(f, method=True) for f in functions)
    alloc = sandbox_alloc = ""
    if with_alloc:
        names.append("alloc")
        alloc_signature = "def alloc(nbytes: int) -> WasmBuffer:"
        alloc = f'\n\n{alloc_signature}\n    """{_ALLOC_DOC}"""\n    return _module.alloc(nbytes)\n'
        pyi_functions += f'\n\n{alloc_signature}\n    """{_ALLOC_DOC}"""\n'
        method_doc = "Allocate *nbytes* inside this sandbox's instance (see the module's ``alloc``)."
        sandbox_alloc = (
            f'\n    def alloc(self, nbytes: int) -> WasmBuffer:\n        """{method_doc}"""\n'
            "        return self._module.alloc(nbytes)\n"
        )
        pyi_methods += f'\n    def alloc(self, nbytes: int) -> WasmBuffer:\n        """{method_doc}"""\n'

    fields = {
        "plugin_version": __version__,
        "sources": ", ".join(sources),
        "module_doc": f"WebAssembly kernels of {module_name}, built by setuptools-wasm.",
        "runtime": runtime_import,
        "all": ", ".join(repr(n) for n in names),
        "wasi": repr(wasi),
    }
    py = _template("stub.py.tmpl").substitute(
        fields,
        functions=py_functions,
        function_types=", ".join(codegen.callable_type(f) for f in functions),
        names=", ".join(exports),
        self_names=", ".join(f"self.{name}" for name in exports),
        alloc=alloc,
        sandbox_alloc=sandbox_alloc,
    )
    pyi = _template("stub.pyi.tmpl").substitute(fields, functions=pyi_functions, methods=pyi_methods)
    outputs = [directory / f"{stem}.py", directory / f"{stem}.pyi"]
    write_if_changed(outputs[0], py)
    write_if_changed(outputs[1], pyi)
    if "." in module_name:  # the stub's package is typed (PEP 561); keep an author's own marker
        marker = directory / "py.typed"
        if not marker.exists():
            marker.write_text("")
        outputs.append(marker)
    return outputs + copy_runtime(directory / runtime_package.rpartition(".")[2])


def copy_runtime(destination: Path) -> list[Path]:
    """Copy the runtime package (its ``.py`` files) to *destination*."""
    outputs = []
    for source in sorted(_RUNTIME_SOURCE.glob("*.py")):
        target = destination / source.name
        write_if_changed(target, source.read_bytes())
        outputs.append(target)
    return outputs
