"""Generate the typed stub (``.py`` + ``.pyi``) from the model, and copy the runtime beside it.

The Jinja2 templates in ``templates/`` (installed as ``wasm_ext.templates``) hold the
code; :mod:`.codegen` prepares what varies per function; :mod:`.pyfmt` lays out lines
that names made too long. The stub imports only ``stubapi`` of its runtime copy and
checks at import that it was generated for that runtime's version. Files are written
only when their content changed, so rebuilds keep timestamps and caches intact.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from .. import __version__
from ..errors import SignatureError
from ..runtime.layout import ModuleFiles, runtime_package, runtime_sources
from ..runtime.stubapi import RUNTIME_VERSION
from . import codegen, pyfmt
from .model import Function
from .outputs import write_if_changed

if TYPE_CHECKING:
    from .plan import BuildPlan

# what a stub exports besides its kernels
RUNTIME_NAMES = ("KernelError", "KernelTimeout", "KernelTrap", "WasmBuffer", "WasiGrants", "Sandbox", "sandbox")
# a kernel may not take these names: the stub's own, the Sandbox class's methods, and what the
# stub imports at module level (a kernel of that name would redefine it)
RESERVED_NAMES = frozenset(
    {*RUNTIME_NAMES, "alloc", "close", "Buffer", "Callable", "Any", "NoReturn", "TYPE_CHECKING", "annotations"}
)

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
    for fn in functions:
        if fn.export in RESERVED_NAMES:
            raise SignatureError(
                f"{module_name}: the kernel {fn.name}() would be exported as {fn.export!r}, a name the stub "
                f"reserves ({', '.join(sorted(RESERVED_NAMES))}); rename it with export_name(...)"
            )
    prepared = [codegen.stub_function(fn) for fn in functions]
    with_alloc = any(fn.uses_memory for fn in functions)
    kinds = {p.kind for f in prepared for p in f.params}
    checks = {p.check for f in prepared for p in f.params}
    helpers = [
        name
        for name, used in (
            ("check_float", "float" in checks),
            ("check_int", "int" in checks),
            ("in_buffer", "buffer" in kinds),
            ("in_string", "string" in kinds),
            ("overflow", "int" in checks or any(p.length_hi is not None for f in prepared for p in f.params)),
        )
        if used
    ]
    fields = {
        "plugin_version": __version__,
        "runtime_version": RUNTIME_VERSION,
        "sources": ", ".join(sources),
        "module_doc": f"WebAssembly kernels of {module_name}, built by setuptools-wasm.",
        "runtime": runtime_package(module_name)[0],
        "all_names": pyfmt.export_order([*(f.export for f in prepared), *RUNTIME_NAMES, *(["alloc"] * with_alloc)]),
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
            marker.write_text("")
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
