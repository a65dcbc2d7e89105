"""Generated stub code run against a fake binding: checks, slots, results, buffers, strings, failures.

The stubs are rendered by the real generator and imported (``support.fake``); the kernel
functions come from the stub's ``_functions`` factory, the code the module-level functions
run, over bindings whose ``call`` records the raw slots the stub wrote. Also covered: keyword
arguments and arity, reserved export names, ``__all__``, ``alloc``, the ``Sandbox`` class,
the ``.pyi`` against the ``.py``, and docstrings. No C compiler and no wasm engine.
"""

from __future__ import annotations

import array
import ast
import ctypes
import enum
import inspect
import math
import pickle
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.fake import (
    FakeCall,
    FakeInstance,
    FakeKernels,
    GeneratedStub,
    KernelFailed,
    buffer,
    function,
    imported_stub,
    scalar,
    string,
    write_stub,
)

from wasm_ext.builder import codegen
from wasm_ext.builder.c_ast import RawFunction, RawParam
from wasm_ext.builder.mapping import map_function
from wasm_ext.builder.model import Function
from wasm_ext.builder.stubgen import render, reserved_names
from wasm_ext.errors import SignatureError

# written out here, not taken from model.SCALARS, so a wrong table there fails these tests
INT_RANGES = {
    "i8": (-128, 127),
    "u8": (0, 255),
    "i16": (-32768, 32767),
    "u16": (0, 65535),
    "i32": (-(2**31), 2**31 - 1),
    "u32": (0, 2**32 - 1),
    "i64": (-(2**63), 2**63 - 1),
    "u64": (0, 2**64 - 1),
}
INT_KINDS = list(INT_RANGES)
FLOAT_KINDS = ["f32", "f64"]
KINDS = [*INT_KINDS, *FLOAT_KINDS, "bool"]
# the view each kind's slot is written through, and its index for the 4th argument (slot 3, 48 bytes in)
VIEWS = {
    "i8": "i32",
    "u8": "u32",
    "i16": "i32",
    "u16": "u32",
    "i32": "i32",
    "u32": "u32",
    "i64": "i64",
    "u64": "u64",
    "f32": "f32",
    "f64": "f64",
    "bool": "u32",
}
SLOT3_INDEX = {"i32": 12, "u32": 12, "f32": 12, "i64": 6, "u64": 6, "f64": 6}
BUFFER_KINDS = {"u8": "B", "i16": "h", "u32": "I", "f32": "f", "i64": "q", "f64": "d"}  # element kind: array code

DOCS = {
    "doc_plain": ("Add two numbers.\n\nReturns their sum.", "Add two numbers.\n\nReturns their sum."),
    "doc_default": ("", "Call the wasm kernel doc_default()."),
    "doc_quotes": ('Say """hi""" to "them"', 'Say """hi""" to "them"'),
    "doc_backslash": ("Paths like C:\\dir\\ and \\n stay\\", "Paths like C:\\dir\\ and \\n stay\\"),
    "doc_whitespace": (
        "\n  Leading blank.  \n\n\tTabbed\tline   \n  indented\n\n",
        "Leading blank.\n\n        Tabbed  line\n  indented",  # tabs expanded; the C: line has no indentation
    ),
    "doc_paragraphs": ("One.\n\n\nTwo, after two blank lines.", "One.\n\n\nTwo, after two blank lines."),
}

FUNCTIONS: list[Function] = [
    *(function(f"echo_{k}", scalar("x", k), result=k) for k in KINDS),
    *(
        function(f"fourth_{k}", scalar("p0", "i32"), scalar("p1", "i64"), scalar("p2", "f32"), scalar("x", k))
        for k in KINDS
    ),
    function("nothing"),
    function(
        "mix",
        scalar("a", "i8"),
        scalar("b", "f64"),
        scalar("c", "bool"),
        scalar("d", "u64"),
        scalar("e", "f32"),
        scalar("g", "i16"),
        result="f64",
    ),
    *(function(f"count_{k}", buffer("data", k), result="u32") for k in BUFFER_KINDS),
    function("scale", buffer("data", "f32", writable=True), scalar("factor", "f32")),
    function("narrow", buffer("data", "u16", length_kind="u8"), result="i32"),
    function("wide", buffer("data", "u8", length="len", length_kind="i32")),
    function("huge", buffer("data", "f64", length="count", length_kind="i64")),
    function("measure", string("s"), result="u32"),
    function("fill", buffer("out", "i64", writable=True), string("tag"), buffer("src"), result="i64"),
    *(function(name, scalar("a", "i32"), doc=doc) for name, (doc, _) in DOCS.items()),
]


def _addresses(call: FakeCall, *positions: int) -> list[int]:
    return [int(call.value("u32", p)) for p in positions]


def kernel_source(py: str, name: str) -> str:
    """The source of the kernel *name* inside the stub's ``_functions`` factory."""
    tree = ast.parse(py)
    (factory,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_functions"]
    (kernel,) = [n for n in factory.body if isinstance(n, ast.FunctionDef) and n.name == name]
    return ast.get_source_segment(py, kernel) or ""


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GeneratedStub]:
    with imported_stub(FUNCTIONS, tmp_path_factory.mktemp("codegen")) as generated:
        yield generated


@pytest.fixture
def kernels(stub: GeneratedStub) -> FakeKernels:
    return FakeKernels(stub)


# -- scalars ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_scalar_lands_in_its_view_at_its_slot(stub: GeneratedStub, kernels: FakeKernels, kind: str) -> None:
    view = VIEWS[kind]
    slot = f"_b.{view}[{SLOT3_INDEX[view]}]"
    line = f"{slot} = 1 if x else 0" if kind == "bool" else f"{slot} = x"
    assert f"\n            {line}\n" in kernel_source(stub.py, f"fourth_{kind}")
    value: Any = {"bool": True, "f32": -2.5, "f64": math.pi}.get(kind, INT_RANGES.get(kind, (0, 0))[1])
    assert kernels[f"fourth_{kind}"](-7, -(2**40), 0.25, value) is None
    (call,) = kernels.calls
    assert call.export == f"fourth_{kind}"
    assert (call.value("i32", 0), call.value("i64", 1), call.value("f32", 2)) == (-7, -(2**40), 0.25)
    assert call.value(view, 3) == value


@pytest.mark.parametrize(("kind", "end"), [(k, end) for k in INT_KINDS for end in ("lo", "hi")])
def test_int_range_ends_are_accepted(kernels: FakeKernels, kind: str, end: str) -> None:
    lo, hi = INT_RANGES[kind]
    value = lo if end == "lo" else hi
    assert kernels[f"echo_{kind}"](value) == value  # slot 0 is also the result slot: it reads back
    assert kernels.calls[0].value(VIEWS[kind], 0) == value


@pytest.mark.parametrize(("kind", "end"), [(k, end) for k in INT_KINDS for end in ("lo", "hi")])
def test_int_one_past_the_range_is_overflow(kernels: FakeKernels, kind: str, end: str) -> None:
    lo, hi = INT_RANGES[kind]
    value = lo - 1 if end == "lo" else hi + 1
    with pytest.raises(OverflowError) as info:
        kernels[f"echo_{kind}"](value)
    assert str(info.value) == f"echo_{kind}(): x={value} is out of range for {kind} [{lo}, {hi}]"
    assert kernels.calls == []


@pytest.mark.parametrize("kind", INT_KINDS)
@pytest.mark.parametrize(("value", "type_name"), [(1.5, "float"), ("1", "str"), (None, "NoneType"), (b"1", "bytes")])
def test_int_parameter_rejects_other_types(kernels: FakeKernels, kind: str, value: object, type_name: str) -> None:
    with pytest.raises(TypeError) as info:
        kernels[f"echo_{kind}"](value)
    assert str(info.value) == f"echo_{kind}(): x must be an int, not {type_name}"
    assert kernels.calls == []


class Index:
    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


class Color(enum.IntEnum):
    RED = 200


class MyInt(int):
    pass


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, 1), (False, 0), (Index(42), 42), (Color.RED, 200), (MyInt(7), 7), (np.uint8(255), 255), (np.int64(3), 3)],
    ids=["True", "False", "__index__", "IntEnum", "int-subclass", "numpy-uint8", "numpy-int64"],
)
def test_int_parameter_accepts_what_index_accepts(kernels: FakeKernels, value: object, expected: int) -> None:
    assert kernels["echo_u8"](value) == expected
    assert kernels.calls[0].value("u32", 0) == expected


@pytest.mark.parametrize(
    ("export", "value", "message"),
    [
        ("echo_i16", Index(40000), "echo_i16(): x=40000 is out of range for i16 [-32768, 32767]"),
        ("echo_u8", np.int64(-3), "echo_u8(): x=-3 is out of range for u8 [0, 255]"),
        ("echo_u32", MyInt(-1), "echo_u32(): x=-1 is out of range for u32 [0, 4294967295]"),
    ],
)
def test_converted_ints_are_range_checked(kernels: FakeKernels, export: str, value: object, message: str) -> None:
    with pytest.raises(OverflowError) as info:
        kernels[export](value)
    assert str(info.value) == message


@pytest.mark.parametrize("kind", FLOAT_KINDS)
@pytest.mark.parametrize(
    ("value", "type_name"), [("1.5", "str"), (None, "NoneType"), (b"1", "bytes"), ([1.0], "list"), (1j, "complex")]
)
def test_float_parameter_rejects_other_types(kernels: FakeKernels, kind: str, value: object, type_name: str) -> None:
    with pytest.raises(TypeError) as info:
        kernels[f"echo_{kind}"](value)
    assert str(info.value) == f"echo_{kind}(): x must be a float, not {type_name}"
    assert kernels.calls == []


class Floaty:
    def __float__(self) -> float:
        return 0.75


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3.0), (True, 1.0), (Floaty(), 0.75), (np.float32(0.5), 0.5), (Fraction(1, 4), 0.25), (Decimal("2.5"), 2.5)],
    ids=["int", "bool", "__float__", "numpy-float32", "Fraction", "Decimal"],
)
def test_float_parameter_accepts_numbers(kernels: FakeKernels, value: object, expected: float) -> None:
    result = kernels["echo_f64"](value)
    assert result == expected and type(result) is float
    assert kernels.calls[0].value("f64", 0) == expected


def test_f32_parameter_is_rounded_to_single_precision(kernels: FakeKernels) -> None:
    assert kernels["echo_f32"](0.1) == ctypes.c_float(0.1).value != 0.1
    assert kernels.calls[0].value("f32", 0) == ctypes.c_float(0.1).value


def test_float_parameter_too_large_int_names_the_parameter(kernels: FakeKernels) -> None:
    with pytest.raises((OverflowError, TypeError)) as info:
        kernels["echo_f64"](10**400)
    assert str(info.value).startswith("echo_f64(): x")


@pytest.mark.parametrize(
    ("value", "raw"),
    [(True, 1), (False, 0), (2, 1), (-1, 1), (0, 0), ("", 0), ("x", 1), ([], 0), ([0], 1), (None, 0), (0.5, 1)],
)
def test_bool_parameter_passes_truthiness(kernels: FakeKernels, value: object, raw: int) -> None:
    assert kernels["fourth_bool"](0, 0, 0.0, value) is None
    assert kernels.calls[0].value("u32", 3) == raw


def test_several_parameters_take_consecutive_slots(stub: GeneratedStub, kernels: FakeKernels) -> None:
    source = kernel_source(stub.py, "mix")
    expected = ["_b.i32[0] = a", "_b.f64[2] = b", "_b.u32[8] = 1 if c else 0", "_b.u64[6] = d", "_b.f32[16] = e"]
    assert all(f"\n            {line}\n" in source for line in [*expected, "_b.i32[20] = g"])
    kernels.program("mix", result=0.5)
    assert kernels["mix"](-128, 2.5, [1], 2**64 - 1, 1.5, -32768) == 0.5
    (call,) = kernels.calls
    views = ["i32", "f64", "u32", "u64", "f32", "i32"]
    assert [call.value(v, p) for p, v in enumerate(views)] == [-128, 2.5, 1, 2**64 - 1, 1.5, -32768]


def test_keyword_arguments_fill_the_same_slots(kernels: FakeKernels) -> None:
    kernels["mix"](g=5, e=0.25, d=9, c=False, b=-1.0, a=3)
    views = ["i32", "f64", "u32", "u64", "f32", "i32"]
    assert [kernels.calls[0].value(v, p) for p, v in enumerate(views)] == [3, -1.0, 0, 9, 0.25, 5]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "echo_i32() missing 1 required positional argument: 'x'"),
        ((1, 2), {}, "echo_i32() takes 1 positional argument but 2 were given"),
        ((1,), {"x": 2}, "echo_i32() got multiple values for argument 'x'"),
        ((), {"y": 1}, "echo_i32() got an unexpected keyword argument 'y'"),
    ],
)
def test_wrong_arity_names_the_module_level_function(
    stub: GeneratedStub, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    module = stub.import_module()
    with pytest.raises(TypeError) as info:
        module.echo_i32(*args, **kwargs)
    assert str(info.value) == message


def test_module_level_functions_pickle_by_reference(stub: GeneratedStub) -> None:
    module = stub.import_module()
    assert (module.scale.__qualname__, kernels_qualname(module)) == ("scale", "_functions.<locals>.scale")
    assert pickle.loads(pickle.dumps(module.scale)) is module.scale


def kernels_qualname(module: Any) -> str:
    """The qualified name of a kernel made by the factory afresh (as for a Sandbox)."""
    functions = module._functions(None, None, None)
    return str(next(f for f in functions if f.__name__ == "scale").__qualname__)


def test_binding_is_made_once_per_export_and_kept(kernels: FakeKernels) -> None:
    kernels["echo_i32"](1)
    kernels["echo_i32"](2)
    kernels["echo_u8"](3)
    assert kernels.binds == ["echo_i32", "echo_u8"]
    assert kernels.tls.echo_i32.instance is kernels.instance


# -- results ---------------------------------------------------------------------------------


def test_void_result_is_none(kernels: FakeKernels) -> None:
    kernels.program("nothing", result=123, view="i32")
    assert kernels["nothing"]() is None
    assert [c.export for c in kernels.calls] == ["nothing"]


@pytest.mark.parametrize(("raw", "expected"), [(0, False), (1, True), (2, True), (0xFFFF_FFFF, True)])
def test_bool_result(kernels: FakeKernels, raw: int, expected: bool) -> None:
    kernels.program("echo_bool", result=raw, view="u32")
    assert kernels["echo_bool"](False) is expected


@pytest.mark.parametrize(
    ("kind", "view", "raw", "expected"),
    [
        ("u32", "i32", -1, 2**32 - 1),
        ("u32", "i32", -(2**31), 2**31),
        ("u64", "i64", -1, 2**64 - 1),
        ("u64", "i64", -(2**63), 2**63),
        ("u16", "u32", 65535, 65535),
        ("u8", "i32", 255, 255),
        ("i32", "u32", 2**32 - 1, -1),
        ("i64", "u64", 2**64 - 1, -1),
        ("i8", "i32", -128, -128),
    ],
)
def test_integer_results_read_through_their_signedness(
    kernels: FakeKernels, kind: str, view: str, raw: int, expected: int
) -> None:
    kernels.program(f"echo_{kind}", result=raw, view=view)
    assert kernels[f"echo_{kind}"](0) == expected


@pytest.mark.parametrize(("kind", "value"), [("f32", 1.5), ("f32", -math.inf), ("f64", math.pi), ("f64", -0.0)])
def test_float_results(kernels: FakeKernels, kind: str, value: float) -> None:
    kernels.program(f"echo_{kind}", result=value)
    result = kernels[f"echo_{kind}"](7.0)
    assert type(result) is float and math.copysign(1, result) == math.copysign(1, value) and result == value


def test_float_result_reads_only_its_own_bytes(kernels: FakeKernels) -> None:
    kernels.program("echo_f32", result=-1, view="i64")  # f32 result with garbage in the upper 4 bytes
    assert math.isnan(kernels["echo_f32"](0.0))  # 0xFFFFFFFF as f32
    kernels.program("echo_f32", result=0x7FFF_FFFF_0000_0000, view="u64")
    assert kernels["echo_f32"](0.0) == 0.0


# -- failed calls ----------------------------------------------------------------------------


@pytest.mark.parametrize(("error", "trap"), [(3, False), (0, True), (-1, True)])
def test_failed_call_goes_to_fail(kernels: FakeKernels, error: int, trap: bool) -> None:
    kernels.program("echo_i32", result=5, error=error, trap=trap)
    with pytest.raises(KernelFailed, match=f"^echo_i32 failed \\(error {error}\\)$"):
        kernels["echo_i32"](1)
    (failure,) = kernels.failures
    assert (failure.export, failure.error) == ("echo_i32", error)
    assert failure.binding is kernels.tls.echo_i32


def test_successful_call_does_not_fail(kernels: FakeKernels) -> None:
    kernels.program("nothing", error=0, trap=False)
    kernels["nothing"]()
    assert kernels.failures == []


# -- buffers ---------------------------------------------------------------------------------

NOT_A_BUFFER = "count_u8(): data must be a buffer (bytes, bytearray, memoryview, array, numpy array, ...), not {}"


@pytest.mark.parametrize(("value", "type_name"), [(5, "int"), ("abc", "str"), (None, "NoneType"), ([1, 2], "list")])
def test_buffer_rejects_non_buffers(kernels: FakeKernels, value: object, type_name: str) -> None:
    with pytest.raises(TypeError) as info:
        kernels["count_u8"](value)
    assert str(info.value) == NOT_A_BUFFER.format(type_name)
    assert kernels.instance.events == []


@pytest.mark.parametrize(
    ("export", "value", "message"),
    [
        ("count_u32", array.array("h", [1, 2]), "count_u32(): data must hold 4-byte items, got item size 2"),
        ("count_u32", b"abcd", "count_u32(): data must hold 4-byte items, got item size 1"),
        ("count_f64", np.zeros(2, np.float32), "count_f64(): data must hold 8-byte items, got item size 4"),
        ("count_i16", bytearray(4), "count_i16(): data must hold 2-byte items, got item size 1"),
    ],
)
def test_buffer_item_size_must_match(kernels: FakeKernels, export: str, value: object, message: str) -> None:
    with pytest.raises(TypeError) as info:
        kernels[export](value)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("export", "value"),
    [
        ("count_u8", memoryview(bytearray(8))[::2]),
        ("count_f32", np.zeros((3, 4), np.float32).T),
        ("count_f32", np.zeros((3, 4), np.float32)[:, ::2]),
    ],
    ids=["strided-memoryview", "transposed", "sliced"],
)
def test_buffer_must_be_contiguous(kernels: FakeKernels, export: str, value: object) -> None:
    with pytest.raises(ValueError) as info:
        kernels[export](value)
    assert str(info.value) == f"{export}(): data must be a C-contiguous buffer"


@pytest.mark.parametrize(
    ("value", "type_name"),
    [(b"\0" * 8, "bytes"), (memoryview(bytearray(8)).toreadonly(), "memoryview"), (np.zeros(2, np.float32), None)],
    ids=["bytes", "read-only-memoryview", "read-only-ndarray"],
)
def test_written_buffer_must_be_writable(kernels: FakeKernels, value: Any, type_name: str | None) -> None:
    if type_name is None:
        value.flags.writeable = False
        type_name = "numpy.ndarray"
    with pytest.raises(TypeError) as info:
        kernels["scale"](value, 2.0)
    assert str(info.value) == f"scale(): data is written by the kernel and must be writable, not {type_name}"


def test_read_only_buffer_may_be_read_only(kernels: FakeKernels) -> None:
    kernels.program("count_u8", result=3)
    kernels.program("count_u32", result=2)
    assert kernels["count_u8"](b"abc") == 3
    assert kernels["count_u32"](memoryview(bytes(8)).cast("I")) == 2
    assert [e[0] for e in kernels.instance.events] == ["stage", "call", "release"] * 2


@pytest.mark.parametrize(
    ("export", "nbytes", "itemsize"), [("count_u32", 6, 4), ("count_f64", 12, 8), ("count_i16", 3, 2)]
)
def test_wasm_buffer_must_hold_whole_items(kernels: FakeKernels, export: str, nbytes: int, itemsize: int) -> None:
    with pytest.raises(ValueError) as info:
        kernels[export](kernels.wasm_buffer(nbytes))
    assert str(info.value) == (f"{export}(): data holds {nbytes} bytes, not a whole number of {itemsize}-byte items")


def test_wasm_buffer_is_passed_in_place(kernels: FakeKernels) -> None:
    wb = kernels.wasm_buffer(24, address=0x4_0000)
    kernels["scale"](wb, 3.0)
    (call,) = kernels.calls
    assert (call.value("u32", 0), call.value("u32", 1), call.value("f32", 2)) == (0x4_0000, 6, 3.0)
    assert kernels.instance.events == [
        ("stage", 0x4_0000, 24, "scale"),
        ("call", "scale"),
        ("unstage", 0x4_0000, 24, "scale"),
        ("release", 0x4_0000),
    ]
    assert kernels.instance.staged == [wb]


@pytest.mark.parametrize("kind", BUFFER_KINDS)
def test_buffer_element_count_goes_into_the_length_slot(kernels: FakeKernels, kind: str) -> None:
    data = array.array(BUFFER_KINDS[kind], [1, 2, 3, 4, 5])
    kernels[f"count_{kind}"](data)
    (call,) = kernels.calls
    address, count = call.value("u32", 0), call.value("u32", 1)
    assert count == 5
    assert call.memory[int(address)] == data.tobytes()
    assert kernels.instance.events[0] == ("stage", address, 5 * data.itemsize, f"count_{kind}")


def test_multidimensional_array_counts_every_element(kernels: FakeKernels) -> None:
    data = np.arange(12, dtype=np.float64).reshape(3, 4)
    kernels["count_f64"](data)
    (call,) = kernels.calls
    assert call.value("u32", 1) == 12
    assert call.memory[int(call.value("u32", 0))] == data.tobytes()


def test_empty_buffer(kernels: FakeKernels) -> None:
    kernels["count_u8"](b"")
    assert kernels.calls[0].value("u32", 1) == 0
    assert kernels.instance.events[0][2] == 0


@pytest.mark.parametrize(
    ("export", "length_slot"),
    [("count_u8", "_b.u32[4] = _n0\n"), ("narrow", "_b.u32[4] = _n0 // 2\n"), ("wide", "_b.i32[4] = _n0\n")]
    + [("huge", "_b.i64[2] = _n0 // 8\n")],
)
def test_length_slot_uses_the_view_of_the_length_type(stub: GeneratedStub, export: str, length_slot: str) -> None:
    assert length_slot in kernel_source(stub.py, export)


def test_i64_length_is_written_as_i64(kernels: FakeKernels) -> None:
    kernels["huge"](np.zeros(3))
    assert kernels.calls[0].value("i64", 1) == 3


def test_narrow_length_type_fits(kernels: FakeKernels) -> None:
    kernels["narrow"](array.array("H", range(255)))
    assert kernels.calls[0].value("u32", 1) == 255


def test_narrow_length_type_overflows_and_releases(kernels: FakeKernels) -> None:
    with pytest.raises(OverflowError) as info:
        kernels["narrow"](array.array("H", range(256)))
    assert str(info.value) == "narrow(): data=256 is out of range for u8 length [0, 255]"
    assert kernels.calls == []
    assert kernels.instance.events == []  # checked before anything is staged


def test_signed_length_type_overflows(kernels: FakeKernels) -> None:
    with pytest.raises(OverflowError) as info:
        kernels["wide"](kernels.wasm_buffer(2**31))
    assert str(info.value) == "wide(): data=2147483648 is out of range for i32 length [0, 2147483647]"
    kernels["wide"](kernels.wasm_buffer(2**31 - 1))
    assert kernels.calls[0].value("i32", 1) == 2**31 - 1


@pytest.mark.parametrize(
    ("element", "length", "limit"),
    [("u8", "u32", None), ("u8", "i32", 2**31 - 1), ("u16", "u8", 255), ("f64", "i32", None), ("u32", "u16", 65535)]
    + [("u8", "i64", None), ("u8", "u64", None), ("i64", "i16", 32767), ("u8", "i8", 127)],
)
def test_length_check_only_where_the_length_type_is_narrower(element: str, length: str, limit: int | None) -> None:
    fn = function("f", buffer("data", element, length_kind=length))
    (_, length) = codegen.stub_function(fn).params
    assert length.length_hi == limit


def test_written_buffer_is_copied_back(kernels: FakeKernels) -> None:
    def double(call: FakeCall, instance: FakeInstance) -> None:
        address = int(call.value("u32", 0))
        values = memoryview(instance.memory[address]).cast("f")
        for i in range(len(values)):
            values[i] *= 2

    kernels.program("scale", effect=double)
    data = np.array([1.0, -2.5, 4.0], np.float32)
    assert kernels["scale"](data, 2.0) is None
    assert data.tolist() == [2.0, -5.0, 8.0]
    address = kernels.calls[0].value("u32", 0)
    assert kernels.instance.events == [
        ("stage", address, 12, "scale"),
        ("call", "scale"),
        ("unstage", address, 12, "scale"),
        ("release", address),
    ]


def test_read_only_buffer_is_not_copied_back(kernels: FakeKernels) -> None:
    data = bytearray(b"abc")

    def scribble(call: FakeCall, instance: FakeInstance) -> None:
        instance.memory[int(call.value("u32", 0))][:] = b"xyz"

    kernels.program("count_u8", effect=scribble)
    kernels["count_u8"](data)
    assert data == b"abc"
    assert "unstage" not in [e[0] for e in kernels.instance.events]


def test_memory_arguments_stage_call_unstage_release_in_order(kernels: FakeKernels) -> None:
    out = array.array("q", [0, 0])
    kernels.program("fill", result=-(2**40))
    assert kernels["fill"](out, "tag", b"source") == -(2**40)
    (call,) = kernels.calls
    out_at, tag_at, src_at = _addresses(call, 0, 2, 3)
    assert (call.value("u32", 1), call.value("u32", 4)) == (2, 6)  # element counts; the string has no length
    assert kernels.instance.events == [
        ("stage", out_at, 16, "fill"),
        ("stage", tag_at, 4, "fill"),
        ("stage", src_at, 6, "fill"),
        ("call", "fill"),
        ("unstage", out_at, 16, "fill"),
        ("release", out_at),
        ("release", tag_at),
        ("release", src_at),
    ]


def test_failed_call_releases_without_copying_back(kernels: FakeKernels) -> None:
    kernels.program("fill", error=9)
    with pytest.raises(KernelFailed):
        kernels["fill"](array.array("q", [1]), "t", b"s")
    assert [e[0] for e in kernels.instance.events] == [
        "stage",
        "stage",
        "stage",
        "call",
        "release",
        "release",
        "release",
    ]
    assert kernels.failures[0].error == 9


def test_failed_stage_releases_what_was_staged(kernels: FakeKernels) -> None:
    kernels.instance.fail_stage = 1
    with pytest.raises(MemoryError, match=r"^fill\(\): fake allocation failure$"):
        kernels["fill"](array.array("q", [1]), "t", b"s")
    first = kernels.instance.events[0][1]
    assert kernels.instance.events == [("stage", first, 8, "fill"), ("release", first)]  # the others took nothing


def test_argument_errors_come_before_any_staging(kernels: FakeKernels) -> None:
    with pytest.raises(TypeError, match=r"^fill\(\): tag must be str or bytes, not int$"):
        kernels["fill"](array.array("q", [1]), 5, b"s")
    assert kernels.instance.events == []


# -- strings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "staged"),
    [("héllo", b"h\xc3\xa9llo\0"), ("", b"\0"), (b"raw\xff", b"raw\xff\0"), (bytearray(b"ba"), b"ba\0")],
    ids=["str", "empty", "bytes", "bytearray"],
)
def test_string_is_passed_nul_terminated(kernels: FakeKernels, value: object, staged: bytes) -> None:
    kernels["measure"](value)
    (call,) = kernels.calls
    address = int(call.value("u32", 0))
    assert call.memory[address] == staged
    assert kernels.instance.events == [
        ("stage", address, len(staged), "measure"),
        ("call", "measure"),
        ("release", address),
    ]


@pytest.mark.parametrize("value", ["a\0b", b"\0", bytearray(b"x\0")])
def test_string_must_not_contain_nul(kernels: FakeKernels, value: object) -> None:
    with pytest.raises(ValueError) as info:
        kernels["measure"](value)
    assert str(info.value) == "measure(): s must not contain NUL characters"


@pytest.mark.parametrize(("value", "type_name"), [(5, "int"), (None, "NoneType"), (memoryview(b"x"), "memoryview")])
def test_string_rejects_other_types(kernels: FakeKernels, value: object, type_name: str) -> None:
    with pytest.raises(TypeError) as info:
        kernels["measure"](value)
    assert str(info.value) == f"measure(): s must be str or bytes, not {type_name}"


# -- the module around the kernels -----------------------------------------------------------


@pytest.mark.parametrize(
    "export",
    ["KernelError", "KernelTimeout", "KernelTrap", "Sandbox", "WasiGrants", "WasmBuffer", "alloc", "close", "sandbox"]
    + ["Buffer", "Callable", "Any", "NoReturn", "TYPE_CHECKING", "annotations", "int", "float", "bool", "str", "bytes"],
)
def test_reserved_export_names_are_refused(export: str) -> None:
    fns = [function("ok", scalar("x", "i32")), function("k", export=export)]
    with pytest.raises(SignatureError) as info:
        render("pkg.kernels", fns, sources=["k.c"], wasi=False)
    assert str(info.value) == (
        f"pkg.kernels: the kernel k() would be exported as {export!r}, a name the generated stub itself uses; "
        "rename it with export_name(...)"
    )


def test_the_reserved_names_are_read_from_the_templates() -> None:
    names = reserved_names()
    assert {"Sandbox", "alloc", "close", "Buffer", "Callable", "TYPE_CHECKING", "int", "float", "bytes"} <= names
    assert not {"k_int", "p_int", "nbytes", "timeout", "self"} & names  # the probe's kernels, and parameters


@pytest.mark.parametrize(
    ("export", "problem"),
    [
        ("_bind", "a name starting with '_' (the stub keeps those for itself)"),
        ("_functions", "a name starting with '_' (the stub keeps those for itself)"),
        ("_module", "a name starting with '_' (the stub keeps those for itself)"),
        ("\ufb01x", "Python would read it as 'fix' (identifiers are NFKC-normalized)"),
        ("a-b", "not a valid Python identifier"),
        ("class", "not a valid Python identifier"),
    ],
)
def test_export_names_that_would_break_the_stub_are_refused(export: str, problem: str) -> None:
    fns = [function("ok", scalar("x", "i32")), function("k", export=export)]
    with pytest.raises(SignatureError) as info:
        render("pkg.kernels", fns, sources=["k.c"], wasi=False)
    assert str(info.value) == (
        f"pkg.kernels: the kernel k() would be exported as {export!r}, {problem}; rename it with export_name(...)"
    )


def test_two_kernels_with_one_export_name_are_refused() -> None:
    fns = [function("a", export="same"), function("b", export="same")]
    with pytest.raises(SignatureError, match=r"the kernels a\(\) and b\(\) would both be exported as 'same'"):
        render("pkg.kernels", fns, sources=["k.c"], wasi=False)


def test_all_lists_kernels_then_runtime_names_in_ruff_order(tmp_path: Path) -> None:
    fns = [function("zeta", buffer("b")), function("Alpha"), function("k10"), function("k2"), function("MAX_N")]
    with imported_stub(fns, tmp_path) as generated:
        module = generated.import_module()
        expected = ["MAX_N", "Alpha", "KernelError", "KernelTimeout", "KernelTrap", "Sandbox", "WasiGrants"]
        expected += ["WasmBuffer", "alloc", "k2", "k10", "sandbox", "zeta"]
        assert module.__all__ == expected
        assert all(hasattr(module, name) for name in expected)
        assert ast.literal_eval(_assigned(generated.pyi, "__all__")) == expected


def _assigned(source: str, target: str) -> str:
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == [target]:
            return ast.unparse(node.value)
    raise AssertionError(f"no {target} = ... in the source")


def _defined(source: str, scope: str | None = None) -> set[str]:
    body = ast.parse(source).body
    if scope is not None:
        (cls,) = [n for n in body if isinstance(n, ast.ClassDef) and n.name == scope]
        body = cls.body
    return {n.name for n in body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


@pytest.mark.parametrize("memory", [False, True])
def test_alloc_only_with_memory_parameters(tmp_path: Path, memory: bool) -> None:
    extra = [function("take", string("s"))] if memory else []
    with imported_stub([function("plain", scalar("x", "i32")), *extra], tmp_path) as generated:
        module = generated.import_module()
        assert ("alloc" in module.__all__) is memory
        assert hasattr(module, "alloc") is memory
        assert hasattr(module.Sandbox, "alloc") is memory
        assert ("alloc" in _defined(generated.pyi)) is memory
        assert ("alloc" in _defined(generated.pyi, "Sandbox")) is memory
        assert ("_in_string" in generated.py) is memory and "_in_buffer" not in generated.py
        assert "_check_float" not in generated.py and "from typing_extensions import Buffer" not in generated.py


def test_module_alloc_goes_to_the_kernel_module(
    stub: GeneratedStub, kernels: FakeKernels, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = stub.import_module()
    monkeypatch.setattr(module._module, "alloc", kernels.as_module().alloc)
    wb = module.alloc(32)
    assert (wb.nbytes, kernels.allocations) == (32, [32])


def test_sandbox_has_the_same_functions(
    stub: GeneratedStub, kernels: FakeKernels, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = stub.import_module()
    limits: list[dict[str, Any]] = []

    def sandbox(**kwargs: Any) -> Any:
        limits.append(kwargs)
        return kernels.as_module()

    monkeypatch.setattr(module._module, "sandbox", sandbox)
    kernel_names = [f.export for f in FUNCTIONS]
    with module.sandbox(timeout=0.5, max_memory="1MiB") as sb:
        assert isinstance(sb, module.Sandbox)
        assert [name for name in kernel_names if callable(getattr(sb, name, None))] == kernel_names
        assert sb.echo_i64(-5) == -5
        sb.scale(array.array("f", [1.0, 2.0]), 1.0)
        assert sb.alloc(8).nbytes == 8
        for name in kernel_names:
            assert inspect.signature(getattr(sb, name)) == inspect.signature(getattr(module, name))
    assert limits == [{"timeout": 0.5, "max_memory": "1MiB", "wasi": None}]
    assert kernels.closed == 1
    assert [c.export for c in kernels.calls] == ["echo_i64", "scale"]
    assert kernels.binds == ["echo_i64", "scale"]


Params = list[tuple[str, str, str, str]]  # (kind, name, annotation, default) of each parameter


def _ast_signature(node: ast.FunctionDef, *, drop_self: bool = False) -> tuple[Params, str]:
    """A ``def`` of the ``.pyi`` as (parameters, return annotation)."""

    def text(expr: ast.expr | None) -> str:
        return "" if expr is None else ast.unparse(expr)

    a = node.args
    defaults = [None] * (len(a.args) - len(a.defaults)) + list(a.defaults)
    params = [("POSITIONAL_OR_KEYWORD", p.arg, text(p.annotation), text(d)) for p, d in zip(a.args, defaults)]
    if a.vararg:
        params.append(("VAR_POSITIONAL", a.vararg.arg, text(a.vararg.annotation), ""))
    params += [("KEYWORD_ONLY", p.arg, text(p.annotation), text(d)) for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    assert not a.posonlyargs and not a.kwarg
    return params[drop_self:], text(node.returns)


def _py_signature(fn: Any) -> tuple[Params, str]:
    """A function of the imported ``.py`` as (parameters, return annotation); annotations are strings there."""

    def text(value: Any) -> str:
        return "" if value is inspect.Parameter.empty else str(value)

    sig = inspect.signature(fn)
    params = [
        (p.kind.name, p.name, text(p.annotation), "" if p.default is p.empty else repr(p.default))
        for p in sig.parameters.values()
    ]
    return params, text(sig.return_annotation)


def test_pyi_declares_what_the_py_defines(stub: GeneratedStub, kernels: FakeKernels) -> None:
    module = stub.import_module()
    tree = ast.parse(stub.pyi)
    defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    (sandbox_class,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Sandbox"]
    methods = {n.name: n for n in sandbox_class.body if isinstance(n, ast.FunctionDef)}
    kernel_names = [f.export for f in FUNCTIONS]
    assert list(defs) == [*kernel_names, "alloc", "sandbox"]
    assert list(methods) == ["__init__", *kernel_names, "alloc", "close", "__enter__", "__exit__"]
    for name in kernel_names:
        fn = getattr(module, name)
        assert _ast_signature(defs[name]) == _py_signature(fn) == _py_signature(kernels[name]), name
        assert _ast_signature(methods[name], drop_self=True) == _py_signature(fn), name
        assert ast.get_docstring(defs[name]) == inspect.getdoc(fn) == ast.get_docstring(methods[name])
    for name in ("alloc", "sandbox"):
        assert _ast_signature(defs[name]) == _py_signature(getattr(module, name)), name
    for name in ("__init__", "alloc", "close", "__enter__", "__exit__"):
        assert _ast_signature(methods[name]) == _py_signature(getattr(module.Sandbox, name)), name
    assert _ast_signature(defs["sandbox"])[0] == _ast_signature(methods["__init__"], drop_self=True)[0]
    compile(stub.pyi, "kernels.pyi", "exec")


@pytest.mark.parametrize(
    ("export", "annotations"),
    [
        ("mix", "(a: int, b: float, c: bool, d: int, e: float, g: int) -> float"),
        ("fill", "(out: Buffer | WasmBuffer, tag: str | bytes, src: Buffer | WasmBuffer) -> int"),
        ("echo_bool", "(x: bool) -> bool"),
        ("nothing", "() -> None"),
    ],
)
def test_annotations(stub: GeneratedStub, export: str, annotations: str) -> None:
    params, result = _py_signature(getattr(stub.import_module(), export))
    assert f"({', '.join(f'{name}: {a}' for _, name, a, _ in params)}) -> {result}" == annotations


# -- docstrings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "export",
    [pytest.param(name) for name in DOCS],
)
def test_docstring_keeps_the_c_comment(stub: GeneratedStub, export: str) -> None:
    expected = DOCS[export][1] + f"\n\nC: ``void {export}(int32_t a)``"
    assert inspect.getdoc(getattr(stub.import_module(), export)) == expected


def test_docstring_escapes_quotes_and_backslashes(stub: GeneratedStub) -> None:
    assert '"""Say \\"\\"\\"hi\\"\\"\\" to "them"\n' in stub.py
    assert '"""Paths like C:\\\\dir\\\\ and \\\\n stay\\\\\n' in stub.py


@pytest.mark.parametrize(
    ("export", "lines"),
    [
        ("count_u8", ["C: ``uint32_t count_u8(const uint8_t *data, size_t n)``"]),
        ("scale", ["C: ``void scale(float *data, size_t n, float factor)``"]),
        ("narrow", ["C: ``int32_t narrow(const uint16_t *data, uint8_t n)``"]),
        ("measure", ["C: ``uint32_t measure(const char *s)``"]),
        ("mix", ["C: ``double mix(int8_t a, double b, bool c, uint64_t d, float e, int16_t g)``"]),
    ],
)
def test_docstring_prototype(stub: GeneratedStub, export: str, lines: list[str]) -> None:
    doc = inspect.getdoc(getattr(stub.import_module(), export)) or ""
    assert doc.splitlines()[2:3] == lines


def test_docstring_buffer_notes(stub: GeneratedStub) -> None:
    doc = inspect.getdoc(stub.import_module().fill) or ""
    assert doc == (
        "Call the wasm kernel fill().\n\n"
        "C: ``int64_t fill(int64_t *out, size_t n, const char *tag, const uint8_t *src, size_t n)``\n"
        "``out``: buffer of i64 (copied in and back out); ``n`` is its length, filled in.\n"
        "``src``: buffer of u8 (read-only); ``n`` is its length, filled in."
    )


# -- bugs found here (see the report) ---------------------------------------------------------


@pytest.mark.parametrize("export", ["_bind", "_functions"])
def test_underscore_export_names_are_refused_or_harmless(tmp_path: Path, export: str) -> None:
    fns = [function("shadow", export=export), function("other", scalar("x", "i32"), result="i32")]
    try:
        generated = write_stub(fns, tmp_path)
    except SignatureError:
        return
    try:
        kernels = FakeKernels(generated)
        assert kernels["other"](5) == 5
        assert kernels.binds == ["other"]
        module = generated.import_module()
        assert callable(module._functions)
    finally:
        generated.forget()


def test_parameter_named_self_gives_a_valid_pyi() -> None:
    raw = RawFunction("f", [RawParam("self", "int")], "int", False, "k.c:1")
    fn = replace(map_function(raw, {}, module="pkg.kernels"), export="f")
    try:
        _, pyi = render("pkg.kernels", [fn], sources=["k.c"], wasi=False)
    except SignatureError:
        return
    compile(pyi, "kernels.pyi", "exec")
