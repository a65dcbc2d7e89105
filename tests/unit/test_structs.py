"""Structs by value and by pointer: clang's wasm32 layout, what is refused, and the stub's dataclasses.

The layouts are checked against what clang lays out (offsets and sizes below are
clang's for wasm32; the integration layer checks them against ``offsetof`` in a real
build); the generated code runs over the fake engine, which plays the C side by reading
and writing the memory the stub staged.
"""

from __future__ import annotations

import dataclasses
import pickle
import struct
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from support.asts import load_info
from support.fake import FakeCall, FakeInstance, FakeKernels, GeneratedStub, imported_stub

from wasm_ext.builder.mapping import map_functions
from wasm_ext.builder.model import Function
from wasm_ext.builder.structs import StructLayouts
from wasm_ext.declarations import HandleDecl, parse_functions
from wasm_ext.errors import SignatureError

MODULE = "kernels"
INFO = load_info("structs")
DECLARED = parse_functions({"fill": {"out": "out"}, "grow": {"p": "inout"}}, where="setup.py")
BOUND = ["hash", "twice", "dot", "fill", "grow", "echo"]


def _mapped() -> list[Function]:
    functions = map_functions(INFO, BOUND, module=MODULE, declared=DECLARED)
    return [replace(f, export=f.name) for f in functions]


# --- layout --------------------------------------------------------------------------------


def test_layouts_are_clangs_for_wasm32() -> None:
    layouts = StructLayouts(INFO)
    outer = layouts.get("struct outer")
    offsets = {f.name: f.offset for f in outer.fields}
    # char, then struct inner (align 8), int32_t[3], char[5], enum (align 4), bool, struct inner[2]
    assert offsets == {"tag": 0, "in_": 8, "arr": 24, "name": 36, "c": 44, "flag": 48, "pair": 56}
    assert (outer.size, outer.align) == (88, 8)
    assert [(f.kind, f.count) for f in outer.fields] == [
        ("i8", 0),
        ("struct", 0),
        ("i32", 3),
        ("bytes", 5),
        ("i32", 0),
        ("bool", 0),
        ("struct", 2),
    ]
    assert [f.cname for f in outer.fields][1] == "in"  # a keyword in Python: the field is in_
    assert [t.name for t in layouts.closure("outer")] == ["inner", "outer"]
    point = layouts.get("struct point")
    assert (point.name, point.size, point.align, point.direct) == ("point", 8, 4, "")
    assert layouts.get("struct hash128_t").name == "hash128_t"  # typedef struct {...} hash128_t
    assert layouts.get("struct one").direct == "f64"  # one scalar: wasm32 passes it as that scalar


@pytest.mark.parametrize(
    ("function", "why"),
    [
        ("uses_pointer", "struct with_pointer holds a pointer, field text (const char *)"),
        ("uses_bits", "struct with_bits has a bit-field, field bits (unsigned int)"),
        ("uses_union", "union either is a union: only structs can be passed by value"),
        ("uses_packed", "struct packed has a layout attribute (PackedAttr): only C's default layout"),
        ("array_of_points", "parameter ps (const point *): arrays of structs cannot be bound yet"),
    ],
)
def test_what_is_no_plain_data_is_refused_with_the_reason(function: str, why: str) -> None:
    with pytest.raises(SignatureError, match=rf"function {function}\(\) at structs.c:\d+: .*") as caught:
        map_functions(INFO, [function], module=MODULE)
    assert why in str(caught.value)


def test_every_refused_struct_function_is_reported_at_once() -> None:
    refused = ["uses_pointer", "uses_bits", "uses_union", "uses_packed", "array_of_points"]
    with pytest.raises(SignatureError, match=r"^kernels: 5 functions cannot be mapped:"):
        map_functions(INFO, refused, module=MODULE)


def test_a_writable_pointer_to_a_struct_needs_a_direction() -> None:
    with pytest.raises(SignatureError) as caught:
        map_functions(INFO, ["grow"], module=MODULE)
    message = str(caught.value)
    assert 'parameter p (point *) points to one struct: declare functions.grow.p = "out"' in message
    assert "declare it a handle, handles.point = " in message


# --- mapping -------------------------------------------------------------------------------


def test_structs_cross_the_abi_as_wasm32_passes_them() -> None:
    by_name = {f.name: f for f in _mapped()}
    hash_ = by_name["hash"]  # a 16-byte result: through a hidden first pointer
    assert (hash_.result, hash_.result_struct, hash_.returns_indirect) == ("void", "hash128_t", True)
    assert (hash_.wasm_params, hash_.wasm_results) == (("i32", "i32", "i32"), ())
    twice = by_name["twice"]  # a struct of one double: passed and returned as the double
    assert (twice.wasm_params, twice.wasm_results) == (("f64",), ("f64",))
    assert [(p.kind, p.struct) for p in twice.params] == [("scalar", "one")]
    dot = by_name["dot"]  # by value (by pointer to a copy), and const point * (read: "in")
    assert [(p.kind, p.struct) for p in dot.params] == [("struct", "point"), ("in", "point")]
    assert dot.wasm_params == ("i32", "i32")
    assert [t.name for t in by_name["fill"].structs] == ["inner", "outer"]
    assert [e.name for e in by_name["fill"].enums] == ["color"]  # a field's enum is the stub's too
    assert Function.from_json(by_name["echo"].to_json()) == by_name["echo"]


# --- the stub over the fake engine ---------------------------------------------------------


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GeneratedStub]:
    with imported_stub(_mapped(), tmp_path_factory.mktemp("structs")) as generated:
        yield generated


@pytest.fixture
def kernels(stub: GeneratedStub) -> FakeKernels:
    return FakeKernels(stub)


def _at(call: FakeCall, position: int) -> int:
    return int(call.value("u32", position))


def _memory(call: FakeCall, address: int, nbytes: int) -> bytes:
    for start, data in call.memory.items():
        if start <= address and address + nbytes <= start + len(data):
            return data[address - start : address - start + nbytes]
    raise AssertionError(f"nothing staged at {address:#x}")


OUTER = struct.Struct("<b7xh6xd3i5s3xi?7xh6xdh6xd")  # struct outer, as clang lays it out


def test_a_struct_result_comes_back_through_the_hidden_pointer(kernels: FakeKernels) -> None:
    def hash_(call: FakeCall, instance: FakeInstance) -> None:
        n = _at(call, 2)
        instance.poke(_at(call, 0), struct.pack("<QQ", n, 2**64 - 1))

    kernels.program("hash", effect=hash_)
    result = kernels["hash"](b"abc")
    module = kernels.module
    assert result == module.hash128_t(low64=3, high64=2**64 - 1)
    assert dataclasses.is_dataclass(result) and type(result).__name__ == "hash128_t"
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.low64 = 1
    assert pickle.loads(pickle.dumps(result)) == result
    assert hash(result) == hash(module.hash128_t(3, 2**64 - 1))


def test_structs_by_value_and_by_pointer_are_staged_in_memory_order(kernels: FakeKernels) -> None:
    seen: list[tuple[float, ...]] = []

    def dot(call: FakeCall, instance: FakeInstance) -> None:
        a = struct.unpack("<ff", _memory(call, _at(call, 0), 8))
        b = struct.unpack("<ff", _memory(call, _at(call, 1), 8))
        seen.append(a + b)

    kernels.program("dot", effect=dot, result=11.0)
    point = kernels.module.point
    assert kernels["dot"](point(1.0, 2), b=point(x=3, y=4)) == 11.0
    assert seen == [(1.0, 2.0, 3.0, 4.0)]
    with pytest.raises(TypeError, match=r"^dot\(\): b must be a point, not tuple$"):
        kernels["dot"](point(1, 2), (3, 4))


def test_a_struct_of_one_scalar_travels_as_the_scalar(kernels: FakeKernels) -> None:
    kernels.program("twice", result=5.0)
    one = kernels.module.one
    assert kernels["twice"](one(2.5)) == one(5.0)
    assert kernels.calls[-1].value("f64", 0) == 2.5


def test_out_and_inout_structs_come_back(kernels: FakeKernels) -> None:
    module = kernels.module

    def fill(call: FakeCall, instance: FakeInstance) -> None:
        seed = call.value("i32", 0)
        values = (65, -2, 0.5, seed, 2, 3, b"ab", 5, True, 1, 1.0, 2, 2.0)
        instance.poke(_at(call, 1), OUTER.pack(*values))

    kernels.program("fill", effect=fill)
    got = kernels["fill"](7)
    assert got == module.outer(
        65,
        module.inner(-2, 0.5),
        (7, 2, 3),
        b"ab\0\0\0",
        module.color.GREEN,
        True,
        (module.inner(1, 1.0), module.inner(2, 2.0)),
    )
    assert got.c is module.color.GREEN  # an enum field holds its member

    def grow(call: FakeCall, instance: FakeInstance) -> None:
        x, y = struct.unpack("<ff", _memory(call, _at(call, 0), 8))
        instance.poke(_at(call, 0), struct.pack("<ff", x + 1, y))

    kernels.program("grow", effect=grow)
    assert kernels["grow"](module.point(1.5, 2)) == module.point(2.5, 2.0)


def test_a_struct_result_and_a_struct_argument_in_one_call(kernels: FakeKernels) -> None:
    def echo(call: FakeCall, instance: FakeInstance) -> None:
        instance.poke(_at(call, 0), _memory(call, _at(call, 1), OUTER.size))

    kernels.program("echo", effect=echo)
    m = kernels.module
    value = m.outer(1, m.inner(2, 3.0), (4, 5, 6), b"name", 5, False, (m.inner(7, 8.0), m.inner(9, 10.0)))
    assert kernels["echo"](value) == value
    assert kernels["echo"](o=value).name == b"name\0"


# --- the dataclasses check their fields ----------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda m: m.inner(2**15, 0.0),
            OverflowError,
            r"^inner.a=32768 is out of range for int16_t \[-32768, 32767\]$",
        ),
        (lambda m: m.inner("1", 0.0), TypeError, r"^inner.a \(int16_t\) must be an int, not str$"),
        (lambda m: m.inner(1, "x"), TypeError, r"^inner.d \(double\) must be a float, not str$"),
        (lambda m: m.point(1e39, 0), OverflowError, r"^point.x=1e\+39 is too large for float \(a 32-bit float\)$"),
        (lambda m: _outer(m, arr=(1, 2)), ValueError, r"^outer.arr \(int32_t\[3\]\) must have 3 items, not 2$"),
        (lambda m: _outer(m, arr=(1, 2, 2**31)), OverflowError, r"^outer.arr\[2\]=2147483648 is out of range"),
        (lambda m: _outer(m, name=b"toolong"), ValueError, r"^outer.name \(char\[5\]\) holds at most 5 bytes, not 7$"),
        (lambda m: _outer(m, name="text"), TypeError, r"^outer.name \(char\[5\]\) must be bytes, not str$"),
        (lambda m: _outer(m, in_=(1, 2.0)), TypeError, r"^outer.in_ must be a inner, not tuple$"),
    ],
)
def test_fields_are_checked_when_a_struct_is_made(stub: GeneratedStub, make: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        make(stub.import_module())


def _outer(m: Any, **changes: Any) -> Any:
    fields: dict[str, Any] = {
        "tag": 0,
        "in_": m.inner(0, 0.0),
        "arr": (0, 0, 0),
        "name": b"",
        "c": 0,
        "flag": False,
        "pair": (m.inner(0, 0.0), m.inner(0, 0.0)),
    }
    return m.outer(**{**fields, **changes})


def test_fields_are_normalized_as_c_stores_them(stub: GeneratedStub) -> None:
    m = stub.import_module()
    value = _outer(m, arr=[1, 2, 3], name=bytearray(b"ab"), c=5, flag=7)
    assert (value.arr, value.name, value.c, value.flag) == ((1, 2, 3), b"ab\0\0\0", m.color.GREEN, True)
    assert m.inner(1, 2).d == 2.0 and type(m.inner(1, 2).d) is float
    assert _outer(m, c=99).c == 99  # a value no member has is kept, as C keeps it


def test_the_types_are_dataclasses_in_the_pyi(stub: GeneratedStub) -> None:
    assert "from dataclasses import dataclass\n" in stub.pyi
    assert "@dataclass(frozen=True)\nclass point(_CStruct):" in stub.pyi
    assert "    arr: tuple[int, ...]\n    name: bytes\n    c: color\n" in stub.pyi
    assert "def hash(data: Buffer | WasmBuffer) -> hash128_t:" in stub.pyi
    assert "def fill(seed: int) -> outer:" in stub.pyi
    assert "def grow(p: point) -> point:" in stub.pyi


def test_kernels_named_like_builtins_do_not_break_the_dataclasses(tmp_path: Path) -> None:
    """dataclasses compiles __eq__, __hash__ and __setattr__ to look up hash, type and NotImplemented
    in the class's module globals: a stub's kernels may have those names (c_struct keeps them apart)."""
    names = {"twice": "type", "dot": "NotImplemented", "grow": "repr"}
    functions = [replace(f, export=names.get(f.name, f.name)) for f in _mapped()]
    with imported_stub(functions, tmp_path) as generated:
        m = generated.import_module()
        a, b = m.point(1, 2), m.point(1, 2)
        assert a == b and hash(a) == hash(b) and a != m.one(1.0) and (a == 1) is False
        with pytest.raises(dataclasses.FrozenInstanceError):
            a.x = 3.0
        assert dataclasses.replace(a, y=5) == m.point(1, 5)
        with pytest.raises(OverflowError, match=r"^point.x=1e\+39 is too large"):
            dataclasses.replace(a, x=1e39)
        assert repr(a) == "point(x=1.0, y=2.0)"
        assert type(a).__module__ == generated.module_name and pickle.loads(pickle.dumps(a)) == a


def test_a_struct_declared_a_handle_is_a_handle_even_before_a_length_name() -> None:
    handles = [HandleDecl("point", "")]
    (fn,) = map_functions(INFO, ["array_of_points"], module=MODULE, handles=handles)
    assert [(p.name, p.kind, p.handle) for p in fn.params] == [("ps", "handle", "point"), ("n", "scalar", "")]
