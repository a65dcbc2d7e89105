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
from ..runtime.types import SCALARS, VOID
from .signatures import Function, Param

RUNTIME_PACKAGE = "_wasm_ext_runtime"
_RUNTIME_SOURCE = Path(__file__).resolve().parent.parent / "runtime"


def runtime_location(module_name: str) -> tuple[str, str]:
    """(import path used by the stub, dotted name of the copied runtime package)."""
    package, _, stem = module_name.rpartition(".")
    if package:
        return f".{RUNTIME_PACKAGE}", f"{package}.{RUNTIME_PACKAGE}"
    name = f"_{stem}{RUNTIME_PACKAGE}"
    return name, name


def _annotation(param: Param) -> str:
    if param.kind == "buffer":
        return "Buffer"
    if param.kind == "string":
        return "str | bytes"
    return SCALARS[param.ctype].python


def _result_annotation(fn: Function) -> str:
    return "None" if fn.result == VOID else SCALARS[fn.result].python


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


def _signature(fn: Function) -> str:
    params = ", ".join(f"{p.name}: {_annotation(p)}" for p in fn.params)
    return f"def {fn.export}({params}) -> {_result_annotation(fn)}:"


def _py_function(fn: Function) -> str:
    specs = tuple((p.name, p.kind, p.ctype, p.writable) for p in fn.params)
    args = ", ".join(p.name for p in fn.params)
    return (
        f"\n\n_{fn.export}: Callable[..., {_result_annotation(fn)}] = _module.function(\n"
        f"    {fn.export!r}, {specs!r}, {fn.result!r}\n)\n\n\n"
        f"{_signature(fn)}\n{_docstring(_function_doc(fn), '    ')}\n"
        f"    return _{fn.export}({args})\n"
    )


def _pyi_function(fn: Function) -> str:
    return f"\n\n{_signature(fn)}\n{_docstring(_function_doc(fn), '    ')}\n"


def _template(name: str) -> Template:
    return Template(resources.files("wasm_ext.templates").joinpath(name).read_text(encoding="utf-8"))


def write_if_changed(path: Path, content: str | bytes) -> bool:
    """Write *content* to *path* unless it already holds exactly that; True if written."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


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
    names = [fn.export for fn in functions] + ["KernelError", "KernelTrap"]
    fields = {
        "plugin_version": __version__,
        "sources": ", ".join(sources),
        "module_doc": f"WebAssembly kernels of {module_name}, built by setuptools-wasm.",
        "runtime": runtime_import,
        "all": ", ".join(repr(n) for n in names),
        "wasi": repr(wasi),
    }
    py = _template("stub.py.tmpl").substitute(fields, functions="".join(_py_function(f) for f in functions))
    pyi = _template("stub.pyi.tmpl").substitute(fields, functions="".join(_pyi_function(f) for f in functions))
    outputs = [directory / f"{stem}.py", directory / f"{stem}.pyi"]
    write_if_changed(outputs[0], py)
    write_if_changed(outputs[1], pyi)
    return outputs + copy_runtime(directory / runtime_package.rpartition(".")[2])


def copy_runtime(destination: Path) -> list[Path]:
    """Copy the runtime package (its ``.py`` files) to *destination*."""
    outputs = []
    for source in sorted(_RUNTIME_SOURCE.glob("*.py")):
        target = destination / source.name
        write_if_changed(target, source.read_bytes())
        outputs.append(target)
    return outputs
