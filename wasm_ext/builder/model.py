"""The typed model of a module's exports: what the C side says, as the stub generator needs it.

:mod:`.mapping` builds it from the C declarations; :mod:`.compile` checks it against
the linked module; :mod:`.codegen` turns it into Python. Scalar kinds carry how each
value crosses the wasm boundary: its wasm value type, its size, its range and the
binding view (``wasm_ext.runtime.binding``) a stub reads and writes it through.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple


class Scalar(NamedTuple):
    wasm: str  # the wasm value type that carries it: i32, i64, f32 or f64
    size: int  # sizeof in wasm32 (the item size of a buffer of this type)
    signed: bool
    python: str  # the Python annotation
    view: str  # the binding view its slot is read and written through
    lo: int = 0  # integer range (ints only)
    hi: int = 0


def _int(size: int, signed: bool) -> Scalar:
    bits = 8 * size
    wasm = "i64" if size == 8 else "i32"
    if signed:
        return Scalar(wasm, size, True, "int", wasm, -(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    return Scalar(wasm, size, False, "int", "u" + wasm[1:], 0, (1 << bits) - 1)


SCALARS: dict[str, Scalar] = {
    "i8": _int(1, True),
    "u8": _int(1, False),
    "i16": _int(2, True),
    "u16": _int(2, False),
    "i32": _int(4, True),
    "u32": _int(4, False),
    "i64": _int(8, True),
    "u64": _int(8, False),
    "f32": Scalar("f32", 4, True, "float", "f32"),
    "f64": Scalar("f64", 8, True, "float", "f64"),
    "bool": Scalar("i32", 1, False, "bool", "u32", 0, 1),
}
VOID = "void"


# How a C parameter reaches the function. Python arguments: "scalar" (by value), "buffer"
# (a pointer to its data), "string" (NUL-terminated), "in" and "inout" (a pointer to one
# value; inout's is returned after the call). Hidden from Python: "length" (the count of
# the buffers that name it) and "out" (a pointer to one value the call writes; returned).
# Handles: "handle" (a Python argument: an object of the handle's class, passed as its
# address) and "handle_out" (hidden: a T ** the function stores a new handle in; returned).
# Output buffers: "output" (hidden: a buffer the stub allocates and the library fills;
# returned as bytes), its capacity carried by "capacity" (hidden scalar), "capacity_ptr"
# (hidden pointer: the produced length comes back through it), "capacity_ptr_arg" (the same,
# with the capacity a Python argument), or by a "scalar" argument.
# Structs: "struct" (a Python argument: a struct by value the C ABI passes by pointer to a
# copy); a struct small enough to travel as one scalar is a "scalar" with its ``struct`` set,
# and a pointer to one struct is "in", "inout" or "out" with its ``struct`` set.
# Cursors: a "buffer" with ``cursor`` set is a const T ** the stub points at the staged data,
# its length a "cursor_length" (hidden T *: the count goes in, what is left comes back).
# Hidden constants: "null" (a pointer passed as NULL), "fixed" (a pointer to the value ``fixed``).
ARGUMENT_KINDS = ("scalar", "buffer", "string", "in", "inout", "handle", "capacity_ptr_arg", "struct")
RETURNED_KINDS = ("out", "inout", "handle_out", "output", "cursor_length")
MODEL_FORMAT = 7  # of Function.to_json: part of the compile cache key


@dataclass(frozen=True)
class EnumType:
    """A C enum the stub makes an ``IntEnum`` class of (named by its tag or typedef)."""

    name: str
    members: tuple[tuple[str, int], ...]
    location: str


@dataclass(frozen=True)
class StructField:
    """One field of a plain-data struct, at its offset in clang's wasm32 layout."""

    name: str  # the Python name
    cname: str  # the C name
    kind: str  # a scalar kind (see SCALARS), "bytes" (an array of 1-byte integers) or "struct"
    offset: int
    spelling: str  # the C type as written
    count: int = 0  # arrays: the number of elements (0 for a single value)
    struct: str = ""  # kind "struct": the nested struct's class
    enum: str = ""  # an enum field: its class


@dataclass(frozen=True)
class StructType:
    """A C struct of numbers, arrays and structs that the stub passes by value as a frozen dataclass."""

    name: str  # the class name (the typedef name, or the struct's tag)
    spelling: str  # the C type: "struct point"
    size: int
    align: int
    fields: tuple[StructField, ...]
    location: str
    direct: str = ""  # the scalar kind it crosses the wasm boundary as, if it is one scalar ("" otherwise)


@dataclass(frozen=True)
class HandleType:
    """A C struct the stub hands out as an opaque object of a class of its own."""

    name: str  # the class name (the typedef name, or the struct's tag)
    destroy: str  # the C function that frees one ("" if none was declared)
    spelling: str  # the C type: "struct state"
    base: str = ""  # the handle class this one is a kind of ("" for none): its objects pass for one


@dataclass(frozen=True)
class Param:
    """One C parameter and what it is on the Python side (see ``ARGUMENT_KINDS``)."""

    name: str  # the Python name (hidden parameters keep one for the docs)
    kind: str
    ctype: str  # scalar kind (see SCALARS): the value's; a buffer's element; in/out/inout: the pointee's
    spelling: str  # the C type as written
    writable: bool = False  # buffers: T* copied back out (inout) rather than read-only (in)
    length: int = -1  # buffers: the index of their length parameter in Function.params
    count_bytes: bool = False  # buffers: that length counts bytes, not elements
    cname: str = ""  # the C name, where it is not the Python name
    enum: str = ""  # scalars and values by pointer of an enum type: its class (see Function.enums)
    handle: str = ""  # handle and handle_out: the handle's class (see Function.handles)
    capacity: str = ""  # output: its capacity, an expression over C parameter names, integers and bound functions
    produced: str = ""  # output: where its produced length comes from: "capacity", "return" or "pointer"
    struct: str = ""  # a struct by value or by pointer: its class (see Function.structs)
    owned: bool = False  # handle: the function takes it over (declared "own"): closed, not freed, after a call
    cursor: bool = False  # buffer: passed through a cursor (const T **), its length by pointer
    fixed: int = 0  # kind "fixed": the value it points to

    @property
    def c_name(self) -> str:
        return self.cname or self.name

    @property
    def is_argument(self) -> bool:
        return self.kind in ARGUMENT_KINDS

    @property
    def by_pointer(self) -> bool:
        """Passed as the address of something in linear memory."""
        return self.kind not in ("scalar", "length", "handle", "capacity", "null")


@dataclass(frozen=True)
class Function:
    """A C function exported from the module."""

    name: str  # C name
    params: tuple[Param, ...]  # one per C parameter, in order
    result: str  # scalar kind or "void"
    result_spelling: str
    doc: str
    location: str  # file:line of the definition
    export: str = ""  # the wasm export name (filled in after linking)
    result_enum: str = ""  # a result of an enum type: its class
    enums: tuple[EnumType, ...] = ()  # the enums its parameters and result use
    result_handle: str = ""  # a result that is a handle: its class
    result_string: str = ""  # a result that is a C string: "static", or "free" (the caller frees it)
    error: str = ""  # its result's error convention: "< 0", "!= 0", "== 0", or a predicate's C name
    error_message: str = ""  # the C function that gives an error's message ("" for none)
    handles: tuple[HandleType, ...] = ()  # the handle types its parameters and result use
    result_struct: str = ""  # a struct result: its class (with result "void": returned through a hidden pointer)
    structs: tuple[StructType, ...] = ()  # the structs its parameters and result use, nested ones first
    result_length: int = -1  # a result of bytes the library keeps ("bytes[*N]"): the parameter N's index

    @property
    def returns_indirect(self) -> bool:
        """The struct result comes back through a hidden first parameter (wasm32's sret)."""
        return bool(self.result_struct) and self.result == VOID

    @property
    def wasm_params(self) -> tuple[str, ...]:
        params = tuple("i32" if p.by_pointer else SCALARS[p.ctype].wasm for p in self.params)
        return ("i32", *params) if self.returns_indirect else params

    @property
    def wasm_results(self) -> tuple[str, ...]:
        return () if self.result == VOID else (SCALARS[self.result].wasm,)

    @property
    def arguments(self) -> tuple[Param, ...]:
        """The parameters a Python caller passes, in C order."""
        return tuple(p for p in self.params if p.is_argument)

    @property
    def returned(self) -> tuple[Param, ...]:
        """The pointer parameters whose values come back after the call (after the result, if any)."""
        return tuple(p for p in self.params if p.kind in RETURNED_KINDS)

    def lengths_of(self, index: int) -> tuple[Param, ...]:
        """The buffers whose count parameter *index* is."""
        return tuple(p for p in self.params if p.kind == "buffer" and p.length == index)

    @property
    def uses_memory(self) -> bool:
        """Whether a call passes anything through linear memory (so the module needs malloc)."""
        return self.returns_indirect or any(p.by_pointer for p in self.params)

    @property
    def uses_handles(self) -> bool:
        return bool(self.result_handle) or any(p.handle for p in self.params)

    @property
    def reads_memory(self) -> bool:
        """Whether the stub reads linear memory or handles after the call (so it needs the instance)."""
        return self.uses_memory or self.uses_handles or bool(self.result_string) or self.returns_indirect

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Function:
        params = tuple(Param(**p) for p in data["params"])
        enums = tuple(EnumType(e["name"], tuple((m, v) for m, v in e["members"]), e["location"]) for e in data["enums"])
        handles = tuple(HandleType(**h) for h in data["handles"])
        structs = tuple(
            StructType(**{**t, "fields": tuple(StructField(**f) for f in t["fields"])}) for t in data["structs"]
        )
        return cls(**{**data, "params": params, "enums": enums, "handles": handles, "structs": structs})
