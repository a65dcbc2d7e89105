"""C++ sources built by the real toolchain (zig's clang++ and libc++, wasm-opt, wasmtime).

extern "C" kernels that use std::vector, std::string and std::sort return what Python
computes; C and C++ sources link into one module; what C cannot call is a build error per
function; exceptions are off by default (a ``throw`` is a compile error naming the option)
and cannot be turned on with zig (its wasm32-wasi libc++abi has no exception runtime);
RTTI is off by default and works when asked for.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from support.building import Builder

from wasm_ext.builder import wasm_binary
from wasm_ext.errors import ConfigError, SignatureError, WasmCompileError

KERNELS = r"""
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>
#include <wasm_ext.h>

/// The median of n numbers (the upper one of an even count); 0 for none.
WASM_EXPORT int32_t median(const int32_t *xs, std::size_t n) {
    std::vector<int32_t> v(xs, xs + n);
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

/// Sort n numbers in place, descending.
extern "C" WASM_EXPORT void sort_descending(int32_t *xs, size_t n) {
    std::sort(xs, xs + n, [](int32_t a, int32_t b) { return a > b; });
}

extern "C" {
/** How many distinct words (separated by spaces) the text holds. */
WASM_EXPORT size_t distinct_words(const char *text) {
    std::set<std::string> words;
    std::string word;
    for (const char *p = text;; p++) {
        if (*p == ' ' || *p == '\0') {
            if (!word.empty()) words.insert(word);
            word.clear();
            if (*p == '\0') break;
        } else {
            word += *p;
        }
    }
    return words.size();
}

/** The i-th of n numbers, through std::vector::at (out of range: libc++ aborts). */
WASM_EXPORT int32_t checked_at(const int32_t *xs, size_t n, int32_t i) {
    std::vector<int32_t> v(xs, xs + n);
    return v.at(static_cast<size_t>(i));
}
}
"""


@pytest.fixture(scope="module")
def kernels(builder: Builder) -> Any:
    return builder.build(KERNELS, "kernels.cpp").import_stub()


def test_a_cxx_kernel_with_the_standard_library(kernels: Any) -> None:
    rng = np.random.default_rng(7)
    xs = rng.integers(-(2**31), 2**31 - 1, size=1001, dtype=np.int32)
    assert kernels.median(xs) == int(np.sort(xs)[500])
    assert kernels.median(np.zeros(0, dtype=np.int32)) == 0
    data = xs.copy()
    assert kernels.sort_descending(data) is None
    assert np.array_equal(data, np.sort(xs)[::-1])
    text = "the cat and the dog and the bird  "
    assert kernels.distinct_words(text) == len(set(text.split())) == 5
    assert kernels.median.__doc__.startswith("The median of n numbers")


def test_libcxx_aborts_trap_and_the_module_imports_nothing(kernels: Any, builder: Builder) -> None:
    xs = np.arange(4, dtype=np.int32)
    assert kernels.checked_at(xs, 3) == 3
    with pytest.raises(kernels.KernelTrap, match=r"^checked_at: wasm trap \(unreachable\)"):
        kernels.checked_at(xs, 4)
    assert kernels.checked_at(xs, 2) == 2  # a fresh instance after the trap
    built = builder.build(KERNELS, "kernels.cpp")
    module = wasm_binary.parse((built.package_dir / "kernels.wasm").read_bytes())
    assert module.imports == []  # libc++'s stderr message would import fd_write: wasi=False allows none


C_PART = r"""
#include <stdint.h>
#include <wasm_ext.h>

int32_t cxx_square(int32_t x); /* defined in C++, with C linkage */

/* x squared plus y, the square computed by the C++ source */
WASM_EXPORT int32_t square_plus(int32_t x, int32_t y) { return cxx_square(x) + y; }

int32_t c_twice(int32_t x) { return 2 * x; }
"""

CXX_PART = r"""
#include <cstdint>
#include <numeric>
#include <vector>
#include <wasm_ext.h>

extern "C" int32_t c_twice(int32_t x); // defined in C

extern "C" int32_t cxx_square(int32_t x) { return x * x; }

/// The sum of 2*k for k in 0..n-1, each doubled by the C source.
WASM_EXPORT int64_t sum_doubled(int32_t n) {
    std::vector<int64_t> v;
    for (int32_t k = 0; k < n; k++) v.push_back(c_twice(k));
    return std::accumulate(v.begin(), v.end(), int64_t{0});
}
"""


def test_c_and_cxx_sources_in_one_module(builder: Builder) -> None:
    lib = builder.build(C_PART, "part.c", more_sources={"part.cpp": CXX_PART}).import_stub()
    assert lib.square_plus(7, 1) == 50
    assert lib.sum_doubled(1000) == sum(2 * k for k in range(1000))
    assert sorted(n for n in dir(lib) if n in ("square_plus", "sum_doubled", "cxx_square", "c_twice")) == [
        "square_plus",
        "sum_doubled",
    ]


UNBINDABLE = r"""
#include <string>

int scale(int x) { return 3 * x; }
int pick(int x) { return x; }
double pick(double x) { return x; }
extern "C" int length(const std::string &s) { return (int)s.size(); }
extern "C" int ok(int x) { return scale(x); }
"""


def test_what_c_cannot_call_is_an_error_per_function(builder: Builder) -> None:
    with pytest.raises(SignatureError) as caught:
        builder.build(UNBINDABLE, "k.cpp", exports=["scale", "pick", "length", "ok"])
    first, *lines = str(caught.value).splitlines()
    assert first.endswith("3 functions cannot be mapped:")
    assert re.search(r"scale\(\) at .*k\.cpp:4: has C\+\+ linkage \(its symbol is _Z5scalei, not scale\)", lines[0])
    assert 'declare it extern "C"' in lines[0]
    assert "pick() at" in lines[1] and "names 2 C++ functions (_Z4picki at" in lines[1]
    assert "length() at" in lines[2] and "parameter s (const std::string &) is a C++ reference" in lines[2]
    lib = builder.build(UNBINDABLE, "k.cpp", exports=["ok"]).import_stub()
    assert lib.ok(5) == 15


THROWS = r"""
#include <stdexcept>
#include <wasm_ext.h>

WASM_EXPORT int checked(int x) {
    if (x < 0) throw std::invalid_argument("negative");
    return x;
}
"""


def test_exceptions_are_off_by_default_and_a_throw_names_the_option(builder: Builder) -> None:
    with pytest.raises(WasmCompileError) as caught:
        builder.build(THROWS, "k.cpp")
    message = str(caught.value)
    assert "cannot use 'throw' with exceptions disabled" in message
    assert "hint: C++ exceptions are off (cxx_exceptions=False, the default)" in message
    assert '{"kind"' not in message and len(message) < 3000  # diagnostics only, never the AST


def test_exceptions_cannot_be_turned_on_with_zig(builder: Builder) -> None:
    with pytest.raises(ConfigError, match=r"cxx_exceptions=True cannot be built with zig .*built with -fno-exceptions"):
        builder.build(THROWS, "k.cpp", cxx_exceptions=True)


RTTI = r"""
#include <typeinfo>
#include <wasm_ext.h>

struct Shape { virtual ~Shape() {} virtual int sides() const = 0; };
struct Square : Shape { int sides() const override { return 4; } };
struct Triangle : Shape { int sides() const override { return 3; } };

/// 1 if shape k (0: square, 1: triangle) is a Square by dynamic_cast, plus 10 * its sides.
WASM_EXPORT int is_square(int k) {
    Shape *s = k ? static_cast<Shape *>(new Triangle) : new Square;
    int result = (dynamic_cast<Square *>(s) != nullptr) + 10 * s->sides() + 0 * (int)(typeid(*s) == typeid(Square));
    delete s;
    return result;
}
"""


def test_rtti_is_off_by_default_and_works_when_asked(builder: Builder) -> None:
    with pytest.raises(
        WasmCompileError, match=r"hint: RTTI is off \(cxx_rtti=False, the default\): pass cxx_rtti=True"
    ):
        builder.build(RTTI, "k.cpp")
    lib = builder.build(RTTI, "k.cpp", cxx_rtti=True, cxx_std=20).import_stub()
    assert (lib.is_square(0), lib.is_square(1)) == (41, 30)
