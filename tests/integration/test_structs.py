"""Structs by value and by pointer, compiled and run: clang's layout, wasm32's ABI, the dataclasses.

Each C function touches every field, so a field the stub placed at the wrong offset, or
a struct passed the wrong way (by value, through the hidden result pointer, as one
scalar), gives a wrong value here. ``sizeof`` is checked against the stub's own layout.
"""

from __future__ import annotations

import dataclasses
import pickle
from array import array
from typing import Any

import pytest
from support.building import Builder

from wasm_ext.errors import SignatureError

LIBRARY = r"""
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct { uint64_t low64; uint64_t high64; } hash128_t;
struct inner { int16_t a; double d; };
typedef enum { RED = 1, GREEN = 2, BLUE = 4 } color_t;
struct outer {
    char tag;
    struct inner in;
    int32_t arr[3];
    char name[5];
    color_t c;
    bool flag;
    struct inner pair[2];
    float f;
};
typedef struct point { float x, y; } point;
struct celsius { double degrees; };

/* A 128-bit hash of the data (not a good one), returned by value through the hidden pointer. */
hash128_t hash128(const uint8_t *data, size_t len, uint64_t seed) {
    hash128_t h = {seed, ~seed};
    for (size_t i = 0; i < len; i++) {
        h.low64 = h.low64 * 31 + data[i];
        h.high64 ^= h.low64 << (i % 7);
    }
    return h;
}

/* Every field one step on. */
struct outer bump(struct outer o) {
    o.tag += 1;
    o.in.a += 1;
    o.in.d += 1;
    for (int i = 0; i < 3; i++) o.arr[i] += 1;
    for (int i = 0; i < 5; i++) if (o.name[i]) o.name[i] += 1;
    o.c = o.c == BLUE ? RED : (color_t)(o.c * 2);
    o.flag = !o.flag;
    for (int i = 0; i < 2; i++) { o.pair[i].a += 1; o.pair[i].d *= 2; }
    o.f /= 2;
    return o;
}

size_t sizeof_outer(void) { return sizeof(struct outer); }

float dot(point a, const point *b) { return a.x * b->x + a.y * b->y; }

/* Scale p in place. */
void scale(point *p, float k) { p->x *= k; p->y *= k; }

/* The centre of n points; false for none. */
bool centre(const float *xs, const float *ys, size_t n, point *out) {
    if (n == 0) return false;
    out->x = out->y = 0;
    for (size_t i = 0; i < n; i++) { out->x += xs[i]; out->y += ys[i]; }
    out->x /= n;
    out->y /= n;
    return true;
}

struct celsius warmer(struct celsius t, double by) { t.degrees += by; return t; }
"""

DECLARED = {
    "scale": {"p": "inout"},
    "centre": {"xs": "in[n]", "ys": "in[n]", "out": "out"},
}
EXPORTS = ["hash128", "bump", "sizeof_outer", "dot", "scale", "centre", "warmer"]


@pytest.fixture(scope="module")
def lib(builder: Builder) -> Any:
    return builder.build(LIBRARY, exports=EXPORTS, functions=DECLARED).import_stub()


def _hash128(data: bytes, seed: int) -> tuple[int, int]:
    mask = 2**64 - 1
    low, high = seed, ~seed & mask
    for i, byte in enumerate(data):
        low = (low * 31 + byte) & mask
        high ^= (low << (i % 7)) & mask
    return low, high


def test_a_struct_returned_through_the_hidden_pointer(lib: Any) -> None:
    for data, seed in ((b"", 0), (b"hello", 7), (bytes(range(256)) * 3, 2**64 - 1)):
        h = lib.hash128(data, seed)
        assert (h.low64, h.high64) == _hash128(data, seed)
    assert isinstance(h, lib.hash128_t) and dataclasses.is_dataclass(h)
    assert pickle.loads(pickle.dumps(h)) == h


def test_every_field_crosses_at_its_offset(lib: Any) -> None:
    inner, color = lib.inner, lib.color_t
    value = lib.outer(
        tag=64,
        in_=inner(-3, 0.25),
        arr=(1, -2, 2**31 - 2),
        name=b"abc",
        c=color.GREEN,
        flag=False,
        pair=(inner(10, 1.5), inner(-32768, -2.0)),
        f=3.0,
    )
    got = lib.bump(value)
    assert got == lib.outer(
        65,
        inner(-2, 1.25),
        (2, -1, 2**31 - 1),
        b"bcd\0\0",
        color.BLUE,
        True,
        (inner(11, 3.0), inner(-32767, -4.0)),
        1.5,
    )
    assert lib.bump(got).c is color.RED
    assert lib.sizeof_outer() == lib._values_bump.size // 2  # the argument's copy and the result: one outer each


def test_by_value_by_pointer_in_and_inout(lib: Any) -> None:
    point = lib.point
    assert lib.dot(point(1, 2), point(3, 4)) == 11.0
    assert lib.scale(point(1.5, -2), 2) == point(3.0, -4.0)


def test_an_out_struct_after_the_result(lib: Any) -> None:
    assert lib.centre(array("f", [1, 3]), array("f", [2, 6])) == (True, lib.point(2.0, 4.0))
    ok, _ = lib.centre(array("f"), array("f"))
    assert ok is False


def test_a_struct_of_one_scalar_travels_as_the_scalar(lib: Any) -> None:
    assert lib.warmer(lib.celsius(20.5), 1.25) == lib.celsius(21.75)


def test_bad_values_raise_before_the_call(lib: Any) -> None:
    with pytest.raises(TypeError, match=r"^dot\(\): b must be a point, not tuple$"):
        lib.dot(lib.point(1, 2), (3, 4))
    with pytest.raises(OverflowError, match=r"^inner\.a=40000 is out of range for int16_t"):
        lib.inner(40000, 0.0)
    with pytest.raises(ValueError, match=r"^outer\.name \(char\[5\]\) holds at most 5 bytes, not 6$"):
        lib.outer(0, lib.inner(0, 0), (0, 0, 0), b"sixsix", 1, False, (lib.inner(0, 0), lib.inner(0, 0)), 0.0)


def test_types_in_the_pyi(lib: Any, builder: Builder) -> None:
    built = builder.build(LIBRARY, exports=EXPORTS, functions=DECLARED)
    pyi = (built.package_dir / "kernels.pyi").read_text()
    assert "def hash128(data: Buffer | WasmBuffer, seed: int) -> hash128_t:" in pyi
    assert "def centre(xs: Buffer | WasmBuffer, ys: Buffer | WasmBuffer) -> tuple[bool, point]:" in pyi
    assert "@dataclass(frozen=True)\nclass outer(_CStruct):" in pyi


def test_a_struct_with_a_pointer_is_refused_naming_the_field(builder: Builder) -> None:
    source = "struct span { const char *text; int n; };\nint first(struct span s) { return s.n; }\n"
    with pytest.raises(SignatureError, match=r"struct span holds a pointer, field text \(const char \*\)"):
        builder.build(source, fresh=True, exports=["first"])
