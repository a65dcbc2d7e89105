"""What the stub templates are filled with: each export of the model, prepared for rendering.

The templates (``templates/*.j2``) hold every line of code a stub contains; this module
works out what varies per function: annotations, the range and type check of each
scalar, the raw slot each value goes to (``wasm_ext.runtime.binding.slot_index``), the
buffer and string arguments that go through linear memory, the result expression, and
the docstring. Generated names all start with ``_`` and memory arguments are numbered
(``_s0``, ``_n0``, ``_at0``), so no C name can collide with them (parameter names never
start with ``_``, see ``c_types.python_name``).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ..runtime.binding import slot_index
from .model import ARGUMENT_KINDS, RETURNED_KINDS, SCALARS, VOID, EnumType, Function, Param
from .structgen import STRUCT_CODES, flat_name, make_name, struct_format, zero_name

BUFFER_ANNOTATION = "Buffer | WasmBuffer"
STRING_ANNOTATION = "str | bytes"


@dataclass(frozen=True)
class StubParam:
    """One C parameter of a stub function, with everything its checks, staging and slot need.

    Python arguments (``is_argument``) appear in the signature; ``length`` and ``out``
    parameters are filled in by the stub.
    """

    name: str
    annotation: str
    kind: str  # see wasm_ext.builder.model.ARGUMENT_KINDS
    check: str  # scalars and values by pointer: "int", "float" or "bool" (bool needs no check)
    ctype: str
    lo: int
    hi: int
    slot: str  # where the value (or the address, for memory arguments) is written
    index: int = -1  # memory arguments: the number in their generated names
    itemsize: int = 1
    writable: bool = False
    count: str = ""  # lengths: the count as an expression (of the first buffer that names it)
    length_ctype: str = ""
    length_hi: int | None = None  # lengths: the limit, when the C type is narrower than memory
    others: tuple[tuple[str, str], ...] = ()  # lengths: (name, count) of the other buffers sharing it
    buffers: str = ""  # lengths: the names of the buffers that share it, for messages
    nbytes: str = ""  # memory arguments: their size in bytes, as an expression
    address: str = ""  # values by pointer: their address (in the function's block of values)
    read: str = ""  # out/inout: the expression reading the value back after the call
    output: str = ""  # out/inout: the local the value is read into
    source: str = ""  # memory arguments: what release() is given ("None" for an output buffer)
    capacity: str = ""  # output buffers: the capacity expression (in elements)
    capacity_hi: int = 0  # output buffers: the largest capacity the C side can take
    produced: str = ""  # output buffers: the produced length (in elements), read after the call
    handle: str = ""  # handles: the private name of the handle's class
    owned: bool = False  # handles: the function takes it over (closed, not freed, after a call)
    value: str = ""  # scalars: what is written to the slot, if not the argument itself (a struct of one scalar)

    @property
    def is_argument(self) -> bool:
        return self.kind in ARGUMENT_KINDS


@dataclass(frozen=True)
class StubFunction:
    """One kernel function of the stub."""

    export: str
    params: tuple[StubParam, ...]
    result: str  # the result annotation
    result_expr: str | None  # how the C result is read from the binding; None for void
    doc: str
    callable_type: str  # the function's type as a Callable annotation
    return_expr: str | None = None  # after copying buffers back: what the function returns
    closes: str = ""  # a handle type's destroy function: the handle parameter it closes (instead of a call)
    needs_instance: bool = False  # the kernel reads _b.instance (memory arguments, handles)
    # values by pointer (in/inout/out) share one block of memory, packed and unpacked with one Struct
    values_struct: str = ""  # the module-level name of that Struct ("" without such values)
    values_format: str = ""
    values_pack: str = ""  # the arguments of its pack()
    values_index: int = -1  # the block's number among the memory arguments
    c_name: str = ""  # the C function (errors name it)
    error_value: str = ""  # an error convention: the raw result it tests
    error_test: str = ""  # the condition (on _c) that the call failed
    error_message: str = ""  # the expression of the library's message for _c ("" for none)
    values_reserved: bool = False  # the block holds only the struct result (C writes all of it): nothing to pack

    @property
    def arguments(self) -> tuple[StubParam, ...]:
        return tuple(p for p in self.params if p.is_argument)

    @property
    def memory_params(self) -> tuple[StubParam, ...]:
        return tuple(p for p in self.params if p.index >= 0)

    @property
    def writable_params(self) -> tuple[StubParam, ...]:
        return tuple(p for p in self.params if p.writable)

    @property
    def lengths(self) -> tuple[StubParam, ...]:
        return tuple(p for p in self.params if p.kind == "length")

    @property
    def copies_back(self) -> bool:
        """Whether anything is read from memory after the call (buffers copied back, values returned)."""
        return bool(self.writable_params) or any(p.read or p.kind == "output" for p in self.params)

    @property
    def unpacks_values(self) -> bool:
        """Whether the block of values is read back (values returned, or an output's produced length)."""
        return bool(self.values_struct) and any(p.read or p.produced.startswith("_v") for p in self.params)

    def signature(self, *, method: bool = False) -> str:
        params = ["self"] * method + [f"{p.name}: {p.annotation}" for p in self.arguments]
        return f"def {self.export}({', '.join(params)}) -> {self.result}:"


def _slot(kind: str, position: int) -> str:
    view = SCALARS[kind].view
    return f"_b.{view}[{slot_index(view, position)}]"


def _check(kind: str) -> str:
    return "float" if SCALARS[kind].python == "float" else "bool" if kind == "bool" else "int"


VALUE_KINDS = (
    "in",
    "inout",
    "out",
    "handle_out",
    "capacity_ptr",
    "capacity_ptr_arg",
    "struct",
    "fixed",
    "cursor_length",
)
RESULT = -1  # the position of a struct result returned through a hidden pointer, in the block of values


class _Values(NamedTuple):
    """The layout of a function's block of values by pointer (by parameter position; RESULT first)."""

    format: str
    offsets: dict[int, int]
    items: dict[int, int]  # the index of each value's first item in the unpacked tuple
    size: int


def _values_layout(fn: Function) -> _Values:
    """The one block that holds every value *fn* passes by pointer: out-values, structs, the struct result."""
    by_name = {t.name: t for t in fn.structs}
    fmt, offsets, items, offset, count = "<", {}, {}, 0, 0
    entries = [(RESULT, fn.result_struct)] if fn.returns_indirect else []
    entries += [(i, p.struct) for i, p in enumerate(fn.params) if p.kind in VALUE_KINDS or p.cursor]
    for position, struct in entries:
        if struct:
            part, n = struct_format(by_name[struct], by_name)
            size, align = by_name[struct].size, by_name[struct].align
        else:
            kind = "u32" if fn.params[position].cursor else fn.params[position].ctype  # a cursor: a pointer
            part, n, size = STRUCT_CODES[kind], 1, SCALARS[kind].size
            align = size
        pad = -offset % align
        fmt += f"{pad}x" * bool(pad) + part
        offsets[position], items[position] = offset + pad, count
        offset += pad + size
        count += n
    return _Values(fmt, offsets, items, offset)


def capacity_expression(
    fn: Function, capacity: str, memory_index: dict[int, int], exports: dict[str, str] | None
) -> str:
    """An output buffer's capacity as Python over the stub's locals: arguments by their Python
    names, lengths by the counts they are filled with, bound functions by their aliases."""
    by_c_name = {p.c_name: (i, p) for i, p in enumerate(fn.params)}

    class Rename(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.AST:
            node.args = [self.visit(a) for a in node.args]
            assert isinstance(node.func, ast.Name)
            node.func = ast.Name(kernel_alias((exports or {}).get(node.func.id, node.func.id)), ast.Load())
            return node

        def visit_Name(self, node: ast.Name) -> ast.AST:
            position, p = by_c_name[node.id]
            if p.kind == "length":
                first = next(i for i, b in enumerate(fn.params) if b.kind == "buffer" and b.length == position)
                return ast.parse(_count(fn.params[first], memory_index[first]), mode="eval").body
            return ast.Name(p.name, ast.Load())

    return ast.unparse(Rename().visit(ast.parse(capacity, mode="eval")))


def kernel_alias(export: str) -> str:
    """The name other kernels call the kernel *export* by (an error convention's predicate or message)."""
    return f"_k_{export}"


def handle_alias(name: str) -> str:
    """The stub's private name for the handle class *name* (see :func:`enum_alias`)."""
    return f"_handle_{name}"


def enum_alias(name: str) -> str:
    """The stub's private name for the enum class *name* (kernels read it, and a parameter cannot shadow it)."""
    return f"_enum_{name}"


def _count(p: Param, index: int) -> str:
    size = SCALARS[p.ctype].size
    return f"_n{index}" if size == 1 or p.count_bytes else f"_n{index} // {size}"


def stub_function(fn: Function, exports: dict[str, str] | None = None) -> StubFunction:
    """*fn* prepared for the templates; *exports*: the export names of the module's C functions
    (an error convention calls other kernels by them)."""
    memory_index = {
        i: n for n, i in enumerate(i for i, p in enumerate(fn.params) if p.by_pointer and p.kind not in VALUE_KINDS)
    }
    layout = _values_layout(fn)
    offsets = layout.offsets
    values_index = len(memory_index)
    params: list[StubParam] = []
    reads: list[tuple[str, str]] = []  # (annotation, expression) of each value returned besides the result
    shift = 1 if fn.returns_indirect else 0  # the hidden result pointer comes first
    if fn.result_length >= 0:  # bytes the library keeps, as many as a value by pointer says after the call
        length = f"_v{values_index}[{layout.items[fn.result_length]}]"
        read = f'_inst.read_returned(_b.u32[0], {length}, "{fn.export}")'
        params.append(StubParam("", "", "result_bytes", "", "u32", 0, 0, "", read=read, output="_obytes"))
        reads.append(("bytes", "_obytes"))
    if fn.returns_indirect:
        read = f"{make_name(fn.result_struct)}(_v{values_index}, 0)"
        at = f"_at{values_index}"
        params.append(
            StubParam("", "", "sret", "", "u32", 0, 0, _slot("u32", 0), address=at, read=read, output="_oret")
        )
        reads.append((fn.result_struct, "_oret"))
    for position, p in enumerate(fn.params):
        info = SCALARS[p.ctype]
        slot = _slot("u32" if p.by_pointer else p.ctype, position + shift)
        if p.struct and p.kind == "scalar":  # a struct of one scalar: wasm32 passes it as that scalar
            value = f'{flat_name(p.struct)}({p.name}, "{fn.export}", "{p.name}")[0]'
            params.append(StubParam(p.name, p.struct, "scalar", "", p.ctype, 0, 0, slot, value=value))
            continue
        if p.struct:  # by value ("struct"), or one by pointer (in, inout, out): in the block of values
            address = f"_at{values_index} + {offsets[position]}" if offsets[position] else f"_at{values_index}"
            read = ""
            if p.kind in ("out", "inout"):
                read = f"{make_name(p.struct)}(_v{values_index}, {layout.items[position]})"
                reads.append((p.struct, f"_o{position}"))
            annotation = "" if p.kind == "out" else p.struct
            params.append(
                StubParam(
                    p.name,
                    annotation,
                    p.kind,
                    "",
                    p.ctype,
                    0,
                    0,
                    slot,
                    address=address,
                    read=read,
                    output=f"_o{position}" if read else "",
                )
            )
            continue
        python = f"{p.enum} | int" if p.enum else info.python  # an enum parameter takes its class or an int
        if p.kind == "handle":
            alias = handle_alias(p.handle)
            params.append(StubParam(p.name, p.handle, "handle", "", p.ctype, 0, 0, slot, handle=alias, owned=p.owned))
            continue
        if p.kind == "scalar":
            params.append(StubParam(p.name, python, "scalar", _check(p.ctype), p.ctype, info.lo, info.hi, slot))
            continue
        if p.kind == "null":
            params.append(StubParam(p.name, "", "null", "", p.ctype, 0, 0, slot))
            continue
        if p.kind == "length":
            buffers = [
                (memory_index[i], b) for i, b in enumerate(fn.params) if b.kind == "buffer" and b.length == position
            ]
            (first_index, first), *rest = buffers
            smallest = min(SCALARS[b.ctype].size if not b.count_bytes else 1 for _, b in buffers)
            limit = info.hi
            params.append(
                StubParam(
                    p.name,
                    "",
                    "length",
                    "",
                    p.ctype,
                    0,
                    0,
                    slot,
                    count=_count(first, first_index),
                    length_ctype=p.ctype,
                    length_hi=limit if limit < 0xFFFFFFFF // smallest else None,
                    others=tuple((b.name, _count(b, i)) for i, b in rest),
                    buffers=" and ".join(b.name for _, b in buffers),
                )
            )
            continue
        index = memory_index.get(position, -1)
        if p.kind == "capacity":  # carries an output buffer's capacity
            owner = next(i for i, b in enumerate(fn.params) if b.kind == "output" and b.length == position)
            params.append(
                StubParam(p.name, "", "capacity", "", p.ctype, 0, 0, slot, count=f"_cap{memory_index[owner]}")
            )
            continue
        if p.kind == "output":
            if p.produced == "return":
                produced = _slot(fn.result, 0)
            elif p.produced == "pointer":
                produced = f"_v{values_index}[{layout.items[p.length]}]"
            else:
                produced = f"_cap{index}"
            carrier_hi = SCALARS[fn.params[p.length].ctype].hi if p.length >= 0 else 0xFFFFFFFF
            params.append(
                StubParam(
                    p.name,
                    "",
                    "output",
                    "",
                    p.ctype,
                    0,
                    0,
                    slot,
                    index,
                    itemsize=info.size,
                    nbytes=f"_cap{index}" if info.size == 1 else f"_cap{index} * {info.size}",
                    output=f"_o{position}",
                    source="None",
                    capacity=capacity_expression(fn, p.capacity, memory_index, exports),
                    capacity_hi=min(carrier_hi, 0xFFFFFFFF // info.size),
                    produced=produced,
                )
            )
            reads.append(("bytes", f"_o{position}"))
            continue
        if p.kind == "string":
            params.append(
                StubParam(p.name, STRING_ANNOTATION, "string", "", p.ctype, 0, 0, slot, index, nbytes=f"_n{index}")
            )
        elif p.kind == "buffer":
            at = f"_at{values_index} + {offsets[position]}" if p.cursor and offsets[position] else ""
            params.append(
                StubParam(
                    p.name,
                    BUFFER_ANNOTATION,
                    "buffer",
                    "",
                    p.ctype,
                    0,
                    0,
                    slot,
                    index,
                    itemsize=info.size,
                    writable=p.writable,
                    nbytes=f"_n{index}",
                    address=at or (f"_at{values_index}" if p.cursor else ""),  # a cursor: the pointer in the block
                )
            )
        else:  # a value by pointer (in, inout, out, handle_out): in the block of values
            address = f"_at{values_index} + {offsets[position]}" if offsets[position] else f"_at{values_index}"
            read = ""
            if p.kind in RETURNED_KINDS and p.kind != "output":
                value = f"_v{values_index}[{layout.items[position]}]"  # its place among the block's values
                if p.kind == "handle_out" and fn.error:  # the call said it succeeded: a NULL is an error too
                    read = f'_wrap_handle({handle_alias(p.handle)}, _inst, {value}, "{fn.export}")'
                    annotation = p.handle
                elif p.kind == "handle_out":
                    read, annotation = f"_wrap_handle({handle_alias(p.handle)}, _inst, {value})", f"{p.handle} | None"
                else:
                    read, annotation = (f"{enum_alias(p.enum)}({value})" if p.enum else value), p.enum or info.python
                reads.append((annotation, f"_o{position}"))
            argument = p.kind in ("in", "inout", "capacity_ptr_arg")
            params.append(
                StubParam(
                    p.name,
                    python if argument else "",
                    p.kind,
                    _check(p.ctype) if argument else "",
                    p.ctype,
                    info.lo,
                    info.hi,
                    slot,
                    itemsize=info.size,
                    address=address,
                    read=read,
                    output=f"_o{position}" if read else "",
                )
            )
    values_struct = values_pack = ""
    if offsets:
        values_struct = f"_values_{fn.export}"
        capacity_of = {b.length: memory_index[i] for i, b in enumerate(fn.params) if b.kind == "output"}
        values_pack = ", ".join(_pack_item(fn, i, capacity_of, memory_index) for i in offsets)
        # packed inside the call's try (after the buffers a cursor points at are staged): released by address
        values = StubParam("", "", "values", "", "", 0, 0, "", values_index, nbytes=str(layout.size), source="None")
        params.append(values)
    results: list[tuple[str, str]] = []
    error_value = error_test = error_message = ""
    if fn.error:
        error_value = _slot("u32" if fn.result == "bool" else fn.result, 0)
        named = (exports or {}).get(fn.error, fn.error)
        error_test = {"< 0": "_c < 0", "!= 0": "_c", "== 0": "not _c"}.get(fn.error, f"{kernel_alias(named)}(_c)")
        if fn.error_message:
            error_message = f"{kernel_alias((exports or {}).get(fn.error_message, fn.error_message))}(_c)"
    drops_result = fn.error in ("!= 0", "== 0") and not (fn.result_handle or fn.result_string)
    drops_result = drops_result or any(p.produced == "return" for p in fn.params)  # it is the output's length
    drops_result = drops_result or fn.result_length >= 0  # the pointer to the bytes returned instead
    if fn.result != VOID and not drops_result:
        result_expr = "_b.u32[0] != 0" if fn.result == "bool" else _slot(fn.result, 0)
        if fn.result_enum:
            result_expr = f"{enum_alias(fn.result_enum)}({result_expr})"
        if fn.result_struct:  # a struct of one scalar, returned as that scalar
            result_expr = f"{make_name(fn.result_struct)}(({result_expr},), 0)"
        python = fn.result_enum or fn.result_struct or SCALARS[fn.result].python
        nullable = "" if fn.error == "== 0" else " | None"  # NULL raises instead
        if fn.result_handle:
            result_expr = f"_wrap_handle({handle_alias(fn.result_handle)}, _inst, {result_expr})"
            python = f"{fn.result_handle}{nullable}"
        if fn.result_string:
            freed = ", True" if fn.result_string == "free" else ""
            result_expr = f'_read_string(_inst, {result_expr}, "{fn.export}"{freed})'
            python = f"str{nullable}"
        results.append((python, result_expr))
    else:
        result_expr = None
    results += reads
    if not results:
        result, return_expr = "None", None
    elif len(results) == 1:
        result, return_expr = results[0][0], reads[0][1] if reads else "_r"
    else:
        result = f"tuple[{', '.join(a for a, _ in results)}]"
        return_expr = ", ".join(["_r"] * (result_expr is not None) + [e for _, e in reads])
    closes = next((p.name for p in fn.params if p.kind == "handle" for h in fn.handles if h.destroy == fn.name), "")
    if closes:
        result, return_expr, result_expr = "None", None, None
    arguments = [q.annotation for q in params if q.is_argument]
    callable_type = f"Callable[[{', '.join(arguments)}], {result}]"
    needs_instance = fn.reads_memory
    return StubFunction(
        fn.export,
        tuple(params),
        result,
        result_expr,
        function_doc(fn),
        callable_type,
        return_expr,
        closes,
        needs_instance,
        values_struct,
        layout.format,
        values_pack,
        values_index if offsets else -1,
        fn.name,
        error_value,
        error_test,
        error_message or "None",
        list(offsets) == [RESULT],
    )


def _pack_item(fn: Function, position: int, capacity_of: dict[int, int], memory_index: dict[int, int]) -> str:
    """What the block of values is packed with for the value at *position* (RESULT: the struct result)."""
    if position == RESULT:
        return f"*{zero_name(fn.result_struct)}"
    p = fn.params[position]
    if p.cursor:  # the cursor points at its staged buffer
        return f"_at{memory_index[position]}"
    if p.kind == "cursor_length":
        cursor = next(i for i, b in enumerate(fn.params) if b.cursor and b.length == position)
        return _count(fn.params[cursor], memory_index[cursor])
    if p.kind == "fixed":
        return str(p.fixed)
    if p.struct:
        return (
            f"*{zero_name(p.struct)}"
            if p.kind == "out"
            else f'*{flat_name(p.struct)}({p.name}, "{fn.export}", "{p.name}")'
        )
    if p.kind.startswith("capacity_ptr"):
        return f"_cap{capacity_of[position]}"
    return p.name if p.kind in ("in", "inout") else "0"


@dataclass(frozen=True)
class StubEnum:
    """An ``IntEnum`` class of the stub, made of a C enum."""

    name: str
    alias: str  # the private name kernels read it by
    members: tuple[tuple[str, int], ...]
    doc: str


def stub_enums(functions: Sequence[Function]) -> list[StubEnum]:
    """The enum classes *functions* use, each once, in the order first used."""
    found = {e.name: e for fn in functions for e in fn.enums}
    return [StubEnum(e.name, enum_alias(e.name), e.members, _enum_doc(e)) for e in found.values()]


def _enum_doc(e: EnumType) -> str:
    members = ", ".join(f"{n} = {v}" for n, v in e.members)
    return (
        f"The C enum {e.name} ({e.location}): {members}.\n\nKernels take a member or any int; a value\n"
        "returned that is no member comes back as a member without a name."
    )


@dataclass(frozen=True)
class StubHandle:
    """A handle class of the stub, made of a C struct the stub hands out only as an opaque object."""

    name: str
    alias: str
    destroy: str  # the export that frees one ("")
    doc: str
    base: str = ""  # the handle class it is a kind of ("" for none)


def stub_handles(functions: Sequence[Function]) -> list[StubHandle]:
    """The handle classes *functions* use, each once, with their destroy function's export."""
    exports = {fn.name: fn.export for fn in functions}
    found = {h.name: h for fn in functions for h in fn.handles}
    handles = []
    for h in found.values():
        destroy = exports.get(h.destroy, "")
        freed = (
            f"``close()``, a ``with`` block, ``{destroy}()`` or garbage collection frees it (once)"
            if destroy
            else "no destroy function is declared: the library owns it"
        )
        doc = f"A C ``{h.spelling}``, made by the kernels that return one.\n\n{freed[0].upper()}{freed[1:]}."
        if h.base:
            doc += f"\n\nIt is a kind of {h.base}: it passes for one."
        handles.append(StubHandle(h.name, handle_alias(h.name), destroy, doc, h.base))
    order: list[StubHandle] = []  # a base class before the classes of its kinds
    by_name = {h.name: h for h in handles}

    def add(handle: StubHandle) -> None:
        if handle.base in by_name:
            add(by_name[handle.base])
        if handle not in order:
            order.append(handle)

    for stub_handle in handles:
        add(stub_handle)
    return order


def _c_decl(spelling: str, name: str) -> str:
    return f"{spelling}{name}" if spelling.endswith("*") else f"{spelling} {name}"


def c_prototype(fn: Function) -> str:
    params = ", ".join(_c_decl(p.spelling, p.c_name) for p in fn.params)
    return f"{_c_decl(fn.result_spelling, fn.name)}({params})"


def function_doc(fn: Function) -> str:
    """The docstring of *fn*'s stub function: the C comment, then the prototype and notes on pointers."""
    doc = fn.doc.strip() or f"Call the wasm kernel {fn.name}()."
    notes = [f"C: ``{c_prototype(fn)}``"]
    for p in fn.params:
        if p.kind == "buffer":
            notes.append(_buffer_note(fn, p))
        elif p.kind in ("out", "inout"):
            given = "returned" if p.kind == "out" else "passed in, and its new value returned"
            notes.append(f"``{p.name}`` (``{p.spelling}``): the function writes it; {given}.")
    return doc + "\n\n" + "\n".join(notes)


def _buffer_note(fn: Function, p: Param) -> str:
    mode = "copied in and back out" if p.writable else "read-only"
    length = fn.params[p.length]
    shared = [b.name for b in fn.lengths_of(p.length) if b is not p]
    what = "its size in bytes" if p.count_bytes else "its length"
    also = f" (shared with {', '.join(shared)}: they must be as long)" if shared else ""
    return f"``{p.name}``: buffer of {p.ctype} ({mode}); ``{length.c_name}`` is {what}, filled in{also}."
