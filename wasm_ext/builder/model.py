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


@dataclass(frozen=True)
class Param:
    """One Python-level parameter: a scalar, a (pointer, length) buffer, or a C string."""

    name: str  # the Python name
    kind: str  # "scalar", "buffer" or "string"
    ctype: str  # scalar kind (see SCALARS); the element kind for buffers
    spelling: str  # the C type as written
    writable: bool = False  # buffers: T* (in/out) rather than const T* (in)
    length: str | None = None  # buffers: the C length parameter folded into this one
    length_ctype: str | None = None
    length_spelling: str | None = None


@dataclass(frozen=True)
class Function:
    """A C function exported from the module."""

    name: str  # C name
    params: tuple[Param, ...]
    result: str  # scalar kind or "void"
    result_spelling: str
    doc: str
    location: str  # file:line of the definition
    export: str = ""  # the wasm export name (filled in after linking)

    @property
    def wasm_params(self) -> tuple[str, ...]:
        types: list[str] = []
        for p in self.params:
            if p.kind == "scalar":
                types.append(SCALARS[p.ctype].wasm)
            elif p.kind == "buffer":
                types += ["i32", SCALARS[p.length_ctype or "u32"].wasm]
            else:
                types.append("i32")
        return tuple(types)

    @property
    def wasm_results(self) -> tuple[str, ...]:
        return () if self.result == VOID else (SCALARS[self.result].wasm,)

    @property
    def uses_memory(self) -> bool:
        """Whether a call passes anything through linear memory (so the module needs malloc)."""
        return any(p.kind != "scalar" for p in self.params)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Function:
        return cls(**{**data, "params": tuple(Param(**p) for p in data["params"])})
