"""C prototypes -> typed Python functions: every scalar row, buffers, strings, docs, errors."""

from __future__ import annotations

import array
import inspect
import math
from typing import Callable

import pytest
from support.building import Builder, Built

from wasm_ext.errors import SignatureError

# (C type, a value that only fits that type's full range, Python annotation)
SCALARS = [
    ("int8_t", -128, "int"),
    ("uint8_t", 255, "int"),
    ("int16_t", -32768, "int"),
    ("uint16_t", 65535, "int"),
    ("int32_t", -(2**31), "int"),
    ("uint32_t", 2**32 - 1, "int"),
    ("int64_t", -(2**63), "int"),
    ("uint64_t", 2**64 - 1, "int"),
    ("char", -5, "int"),
    ("signed char", -128, "int"),
    ("unsigned char", 200, "int"),
    ("short", -300, "int"),
    ("unsigned short", 60000, "int"),
    ("int", -(2**31), "int"),
    ("unsigned", 2**32 - 1, "int"),
    ("unsigned int", 2**32 - 1, "int"),
    ("long", -(2**31), "int"),
    ("unsigned long", 2**32 - 1, "int"),
    ("long long", -(2**63), "int"),
    ("unsigned long long", 2**64 - 1, "int"),
    ("size_t", 2**32 - 1, "int"),
    ("ssize_t", -(2**31), "int"),
    ("intptr_t", -(2**31), "int"),
    ("float", 1.5, "float"),
    ("double", math.pi, "float"),
    ("bool", True, "bool"),
    ("_Bool", False, "bool"),
]


def _ident(ctype: str) -> str:
    return "echo_" + ctype.replace(" ", "_")


SCALAR_SOURCE = (
    "#include <stdint.h>\n#include <stddef.h>\n#include <stdbool.h>\n#include <sys/types.h>\n#include <wasm_ext.h>\n"
    + "".join(f"WASM_EXPORT {c} {_ident(c)}({c} v) {{ return v; }}\n" for c, _, _ in SCALARS)
    + "WASM_EXPORT void do_nothing(void) {}\n"
)


@pytest.fixture(scope="module")
def scalar_stub(builder: Builder) -> object:
    return builder.build(SCALAR_SOURCE).import_stub()


@pytest.mark.parametrize(("ctype", "value", "annotation"), SCALARS, ids=[c for c, _, _ in SCALARS])
def test_scalar_round_trip_and_annotation(scalar_stub: object, ctype: str, value: object, annotation: str) -> None:
    fn = getattr(scalar_stub, _ident(ctype))
    assert fn(value) == value
    sig = inspect.signature(fn)
    assert [str(p.annotation) for p in sig.parameters.values()] == [annotation]
    assert sig.return_annotation == annotation
    spelled = {"unsigned": "unsigned int", "_Bool": "bool"}.get(ctype, ctype)  # as clang prints it
    assert f"C: ``{spelled} {_ident(ctype)}({spelled} v)``" in fn.__doc__


# wasm32 is ILP32: long and size_t are 32-bit, char is signed
RANGES = {
    "int8_t": 8, "signed char": 8, "char": 8, "uint8_t": -8, "unsigned char": -8,
    "int16_t": 16, "short": 16, "uint16_t": -16, "unsigned short": -16,
    "int32_t": 32, "int": 32, "long": 32, "ssize_t": 32, "intptr_t": 32,
    "uint32_t": -32, "unsigned": -32, "unsigned int": -32, "unsigned long": -32, "size_t": -32,
    "int64_t": 64, "long long": 64, "uint64_t": -64, "unsigned long long": -64,
}  # fmt: skip


@pytest.mark.parametrize("ctype", sorted(RANGES))
def test_integer_range_is_checked(scalar_stub: object, ctype: str) -> None:
    fn = getattr(scalar_stub, _ident(ctype))
    bits = abs(RANGES[ctype])
    lo, hi = (0, 2**bits - 1) if RANGES[ctype] < 0 else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    assert (fn(lo), fn(hi)) == (lo, hi)
    for outside in (lo - 1, hi + 1):
        with pytest.raises(OverflowError, match=rf"{_ident(ctype)}\(\): v={outside} is out of range"):
            fn(outside)
    with pytest.raises(TypeError, match=rf"{_ident(ctype)}\(\): v must be an int, not str"):
        fn("1")


def test_unsigned_results_are_never_negative(scalar_stub: object) -> None:
    assert scalar_stub.echo_uint32_t(2**31) == 2**31  # type: ignore[attr-defined]
    assert scalar_stub.echo_uint64_t(2**63 + 5) == 2**63 + 5  # type: ignore[attr-defined]


def test_float_and_void(scalar_stub: object) -> None:
    assert scalar_stub.echo_float(0.1) == pytest.approx(0.1, rel=1e-7)  # type: ignore[attr-defined]
    assert scalar_stub.echo_double(2) == 2.0  # type: ignore[attr-defined]
    assert scalar_stub.do_nothing() is None  # type: ignore[attr-defined]
    assert inspect.signature(scalar_stub.do_nothing).return_annotation == "None"  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match=r"echo_double\(\): v must be a float"):
        scalar_stub.echo_double("x")  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match=r"echo_int\(\) takes 1 positional argument but 2 were given"):
        scalar_stub.echo_int(1, 2)  # type: ignore[attr-defined]


BUFFER_SOURCE = """
#include <stdint.h>
#include <stddef.h>
#include <wasm_ext.h>
WASM_EXPORT double dsum(const double *xs, size_t n) { double s = 0; for (size_t i = 0; i < n; i++) s += xs[i]; return s; }
WASM_EXPORT int64_t isum(const int32_t *values, int count) { int64_t s = 0; for (int i = 0; i < count; i++) s += values[i]; return s; }
WASM_EXPORT size_t nbytes(const void *blob, size_t blob_size) { (void)blob; return blob_size; }
WASM_EXPORT void scale(double *xs, size_t xs_len, double k) { for (size_t i = 0; i < xs_len; i++) xs[i] *= k; }
WASM_EXPORT size_t length_of(const char *text) { size_t n = 0; while (text[n]) n++; return n; }
"""


def test_buffers_and_strings(build_c: Callable[..., Built]) -> None:
    kernels = build_c(BUFFER_SOURCE).import_stub()
    assert kernels.dsum(array.array("d", [1.5, 2.5, 3.0])) == 7.0
    assert kernels.dsum(array.array("d")) == 0.0
    assert kernels.isum(array.array("i", [1, -2, 2**31 - 1])) == 2**31 - 2
    assert kernels.nbytes(memoryview(b"abcdef")[1:4]) == 3
    assert kernels.nbytes(array.array("d", [1, 2])) == 16  # void*: any buffer, counted in bytes
    values = array.array("d", [1.0, 2.0])
    assert kernels.scale(values, 3.0) is None and list(values) == [3.0, 6.0]
    assert kernels.length_of("héllo") == 6 and kernels.length_of(b"abc") == 3

    sig = inspect.signature(kernels.scale)
    assert [(p.name, str(p.annotation)) for p in sig.parameters.values()] == [
        ("xs", "Buffer | WasmBuffer"),
        ("k", "float"),
    ]
    assert str(inspect.signature(kernels.length_of).parameters["text"].annotation) == "str | bytes"

    with pytest.raises(TypeError, match=r"dsum\(\): xs must hold 8-byte items, got item size 4"):
        kernels.dsum(array.array("f", [1.0]))
    with pytest.raises(TypeError, match=r"scale\(\): xs is written by the kernel and must be writable, not bytes"):
        kernels.scale(bytes(16), 2.0)
    with pytest.raises(TypeError, match=r"dsum\(\): xs must be a buffer"):
        kernels.dsum([1.0, 2.0])
    with pytest.raises(ValueError, match="C-contiguous"):
        kernels.nbytes(memoryview(b"abcdef")[::2])
    with pytest.raises(ValueError, match="NUL"):
        kernels.length_of("a\0b")


@pytest.mark.parametrize(
    ("decl", "message"),
    [
        ("int f(int *p)", r"parameter p \(int \*\) is a pointer with no length: .*functions\.f\.p = \"out\""),
        ("int f(int x, ...)", r"variadic functions"),
        ("int f(int (*cb)(int))", r"parameter cb \(int \(\*\)\(int\)\) is a function pointer: callbacks"),
        ("int *f(int x)", r"return type 'int \*' has no Python mapping"),
        ("int f(long double x)", r"parameter x has type 'long double'"),
        ("int f(int **pp, int n)", r"parameter pp has type 'int \*\*'"),
    ],
)
def test_unmappable_prototypes(build_c: Callable[..., Built], decl: str, message: str) -> None:
    source = f"#include <wasm_ext.h>\nWASM_EXPORT {decl} {{ return 0; }}\n"
    with pytest.raises(SignatureError, match=rf"function f\(\) at .*: {message}.*leave it out of `exports`"):
        build_c(source)


def test_typedefs_and_keyword_names(build_c: Callable[..., Built]) -> None:
    source = """
    #include <stdint.h>
    #include <wasm_ext.h>
    typedef uint8_t byte_t;
    typedef const byte_t *bytes_in;
    typedef int64_t ticks;
    WASM_EXPORT ticks total(bytes_in from, uint32_t len) { ticks t = 0; for (uint32_t i = 0; i < len; i++) t += from[i]; return t; }
    """
    kernels = build_c(source).import_stub()
    assert kernels.total(b"\x05\x06") == 11
    assert list(inspect.signature(kernels.total).parameters) == ["from_"]


@pytest.mark.parametrize(
    "length",
    ["n", "len", "length", "size", "count", "data_len", "data_size", "data_count", "data_n", "data_length"],
)
def test_length_parameter_names(build_c: Callable[..., Built], length: str) -> None:
    source = f"""
    #include <stddef.h>
    #include <wasm_ext.h>
    WASM_EXPORT size_t last(const unsigned char *data, size_t {length}) {{ return {length} ? data[{length} - 1] : 0; }}
    """
    kernels = build_c(source).import_stub()
    assert list(inspect.signature(kernels.last).parameters) == ["data"]
    assert kernels.last(b"\x01\x02\x03") == 3


def test_other_names_do_not_pair(build_c: Callable[..., Built]) -> None:
    source = "#include <wasm_ext.h>\nWASM_EXPORT int f(const int *data, int total) { return total; }\n"
    with pytest.raises(SignatureError, match=r"parameter data \(const int \*\) is a pointer with no length"):
        build_c(source)


def test_reserved_export_names(build_c: Callable[..., Built]) -> None:
    source = "#include <wasm_ext.h>\nWASM_EXPORT int alloc(int n) { return n; }\n"
    with pytest.raises(SignatureError, match=r"exported as 'alloc', a name the generated stub itself uses"):
        build_c(source)


def test_swapped_export_names_call_the_right_functions(build_c: Callable[..., Built]) -> None:
    """Before: both kernels were bound to one export, so one Python name called the other C function."""
    source = """
    __attribute__((export_name("second"))) int first(void) { return 1; }
    __attribute__((export_name("first"))) int second(void) { return 2; }
    """
    kernels = build_c(source).import_stub()
    assert (kernels.second(), kernels.first()) == (1, 2)  # each Python name is its export's C function


@pytest.mark.parametrize(
    ("name", "why"),
    [("_private", "a name starting with '_'"), ("int", "a name the generated stub itself uses")],
)
def test_export_names_that_would_break_the_stub(build_c: Callable[..., Built], name: str, why: str) -> None:
    source = f'__attribute__((export_name("{name}"))) int f(int x) {{ return x; }}\n'
    with pytest.raises(SignatureError, match=rf"the kernel f\(\) would be exported as '{name}', {why}"):
        build_c(source)


def test_parameter_names_never_shadow_the_stub(build_c: Callable[..., Built]) -> None:
    source = """
    #include <stddef.h>
    #include <wasm_ext.h>
    WASM_EXPORT int f(int b, int e, int _inst, int _b, const unsigned char *int_, size_t n) { return b + e + _inst + _b + (int)n; }
    """
    kernels = build_c(source).import_stub()
    assert list(inspect.signature(kernels.f).parameters) == ["b", "e", "inst", "b_", "int_"]
    assert kernels.f(1, 2, 3, 4, b"xyz") == 13
