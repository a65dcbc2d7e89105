"""What the stub templates are filled with: each export of the model, prepared for rendering.

The templates (``templates/*.j2``) hold every line of code a stub contains; this module
works out what varies per function: annotations, the range and type check of each
scalar, the raw slot each value goes to (``wasm_ext.runtime.binding.slot_index``), the
buffer and string arguments that go through linear memory, the result expression, and
the docstring. Generated names all start with ``_`` and memory arguments are numbered
(``_s0``, ``_n0``, ``_at0``), so no C name can collide with them (parameter names never
start with ``_``, see ``mapping._python_name``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..runtime.binding import slot_index
from .model import SCALARS, VOID, Function, Param

BUFFER_ANNOTATION = "Buffer | WasmBuffer"
STRING_ANNOTATION = "str | bytes"


@dataclass(frozen=True)
class StubParam:
    """One parameter of a stub function, with everything its checks and slot need."""

    name: str
    annotation: str
    kind: str  # "scalar", "buffer" or "string"
    check: str  # scalars: "int", "float" or "bool" (bool needs no check)
    ctype: str
    lo: int
    hi: int
    slot: str  # where the value (or the address, for memory arguments) is written
    index: int = -1  # memory arguments: the number in their generated names
    itemsize: int = 1
    writable: bool = False
    length_slot: str = ""  # buffers: where the element count is written
    count: str = ""  # buffers: the element count as an expression
    length_ctype: str = ""
    length_hi: int | None = None  # buffers: the count's limit, when the C length type is narrower than memory


@dataclass(frozen=True)
class StubFunction:
    """One kernel function of the stub."""

    export: str
    params: tuple[StubParam, ...]
    result: str  # the result annotation
    result_expr: str | None  # how the result is read from the binding; None for void
    doc: str
    callable_type: str  # the function's type as a Callable annotation

    @property
    def memory_params(self) -> tuple[StubParam, ...]:
        return tuple(p for p in self.params if p.kind != "scalar")

    @property
    def writable_params(self) -> tuple[StubParam, ...]:
        return tuple(p for p in self.params if p.writable)

    def signature(self, *, method: bool = False) -> str:
        params = ["self"] * method + [f"{p.name}: {p.annotation}" for p in self.params]
        return f"def {self.export}({', '.join(params)}) -> {self.result}:"


def _slot(kind: str, position: int) -> str:
    view = SCALARS[kind].view
    return f"_b.{view}[{slot_index(view, position)}]"


def stub_function(fn: Function) -> StubFunction:
    """*fn* prepared for the templates."""
    params: list[StubParam] = []
    position = 0  # the wasm parameter slot
    memory_index = 0
    for p in fn.params:
        if p.kind == "scalar":
            info = SCALARS[p.ctype]
            check = "float" if info.python == "float" else "bool" if p.ctype == "bool" else "int"
            params.append(
                StubParam(p.name, info.python, "scalar", check, p.ctype, info.lo, info.hi, _slot(p.ctype, position))
            )
            position += 1
            continue
        address = _slot("u32", position)
        position += 1
        if p.kind == "string":
            params.append(StubParam(p.name, STRING_ANNOTATION, "string", "", p.ctype, 0, 0, address, memory_index))
        else:
            length_kind = p.length_ctype or "u32"
            size = SCALARS[p.ctype].size
            limit = SCALARS[length_kind].hi
            params.append(
                StubParam(
                    p.name,
                    BUFFER_ANNOTATION,
                    "buffer",
                    "",
                    p.ctype,
                    0,
                    0,
                    address,
                    memory_index,
                    itemsize=size,
                    writable=p.writable,
                    length_slot=_slot(length_kind, position),
                    count=f"_n{memory_index}" if size == 1 else f"_n{memory_index} // {size}",
                    length_ctype=length_kind,
                    length_hi=limit if limit < 0xFFFFFFFF // size else None,
                )
            )
            position += 1
        memory_index += 1
    result = "None" if fn.result == VOID else SCALARS[fn.result].python
    if fn.result == VOID:
        result_expr = None
    elif fn.result == "bool":
        result_expr = "_b.u32[0] != 0"
    else:
        result_expr = _slot(fn.result, 0)
    callable_type = f"Callable[[{', '.join(p.annotation for p in params)}], {result}]"
    return StubFunction(fn.export, tuple(params), result, result_expr, function_doc(fn), callable_type)


def _c_decl(spelling: str, name: str) -> str:
    return f"{spelling}{name}" if spelling.endswith("*") else f"{spelling} {name}"


def c_prototype(fn: Function) -> str:
    params = []
    for p in fn.params:
        params.append(_c_decl(p.spelling, p.name))
        if p.length:
            params.append(_c_decl(p.length_spelling or "size_t", p.length))
    return f"{fn.result_spelling} {fn.name}({', '.join(params)})"


def function_doc(fn: Function) -> str:
    """The docstring of *fn*'s stub function: the C comment, then the prototype and buffer notes."""
    doc = fn.doc.strip() or f"Call the wasm kernel {fn.name}()."
    notes = [f"C: ``{c_prototype(fn)}``"]
    for p in fn.params:
        if p.kind == "buffer":
            notes.append(_buffer_note(p))
    return doc + "\n\n" + "\n".join(notes)


def _buffer_note(p: Param) -> str:
    mode = "copied in and back out" if p.writable else "read-only"
    return f"``{p.name}``: buffer of {p.ctype} ({mode}); ``{p.length}`` is filled in."
