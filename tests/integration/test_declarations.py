"""Declared parameters, compiled and run: values by pointer, buffers with any length, Doxygen directions.

The C here is written the way libraries write it (lengths before pointers, ``srcSize``,
out-parameters, one length for two buffers), with no shim: only ``functions=`` says
what the types leave open. Each result is checked against Python computing the same.
"""

from __future__ import annotations

import inspect
import logging
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.building import Builder

from wasm_ext.errors import SignatureError, WasmCompileError

LIBRARY = r"""
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* xor src into dst; both n bytes long */
void xor_into(size_t n, const uint8_t *src, uint8_t *dst) {
    for (size_t i = 0; i < n; i++) dst[i] ^= src[i];
}

/** Adler-32 of the first srcSize bytes, and how many of them were zero.
 * @param[out] zeros how many bytes were zero
 */
uint32_t adler(const void *src, size_t srcSize, size_t *zeros) {
    const uint8_t *p = src;
    uint32_t a = 1, b = 0;
    size_t z = 0;
    for (size_t i = 0; i < srcSize; i++) {
        a = (a + p[i]) % 65521;
        b = (b + a) % 65521;
        z += p[i] == 0;
    }
    *zeros = z;
    return (b << 16) | a;
}

/* divide; false when den is 0 */
bool divmod(int64_t num, int64_t den, int64_t *quot, int64_t *rem) {
    if (den == 0) return false;
    *quot = num / den;
    *rem = num % den;
    return true;
}

/* one Newton step towards sqrt(a), in place */
void newton(double *x, const double *a) { *x = 0.5 * (*x + *a / *x); }

/* the sum of nbytes bytes of 32-bit words */
int64_t sum_words(const int32_t *words, int nbytes) {
    int64_t s = 0;
    for (int i = 0; i < nbytes / 4; i++) s += words[i];
    return s;
}

/* the length of a string, or of its first len bytes */
size_t measure(const char *s, size_t srclen) {
    size_t i = 0;
    while (i < srclen && s[i]) i++;
    return i;
}
"""

DECLARED = {
    "xor_into": {"src": "in[n]", "dst": "inout[n]"},
    "adler": {"src": "in[srcSize]"},
    "divmod": {"quot": "out", "rem": "out"},
    "newton": {"x": "inout", "a": "in"},
    "sum_words": {"words": "in[nbytes bytes]"},
    "measure": {"s": "in[srclen]"},
}


@pytest.fixture(scope="module")
def lib(builder: Builder) -> Any:
    return builder.build(LIBRARY, exports=list(DECLARED), functions=DECLARED).import_stub()


def test_shared_length_and_length_first(lib: Any) -> None:
    dst = bytearray(b"\x0f" * 5)
    assert lib.xor_into(b"\xff\x00\x01\x02\x03", dst) is None
    assert dst == bytes(b ^ 0x0F for b in b"\xff\x00\x01\x02\x03")
    with pytest.raises(ValueError, match=r"xor_into\(\): src and dst share the length n and must be as long"):
        lib.xor_into(b"abc", bytearray(4))


def test_void_buffer_with_an_unusual_length_name_and_a_doxygen_out(lib: Any) -> None:
    data = bytes(range(256)) * 40 + b"\0\0"
    assert lib.adler(data) == (zlib.adler32(data), data.count(0))
    assert list(inspect.signature(lib.adler).parameters) == ["src"]


def test_two_out_values_after_the_result(lib: Any) -> None:
    assert lib.divmod(-7, 2) == (True, -3, -1)  # C truncates
    ok, _, _ = lib.divmod(1, 0)
    assert ok is False


def test_inout_and_in_values(lib: Any) -> None:
    x = 1.0
    for _ in range(6):
        x = lib.newton(x, 2.0)
    assert x == pytest.approx(2**0.5, rel=1e-12)


def test_byte_count(lib: Any) -> None:
    words = np.array([1, -2, 3, 2**31 - 1], dtype=np.int32)
    assert lib.sum_words(words) == int(words.astype(np.int64).sum())
    with pytest.raises(TypeError, match="4-byte items"):
        lib.sum_words(np.zeros(3, dtype=np.int16))


def test_a_declared_string_length_is_a_buffer(lib: Any) -> None:
    assert lib.measure(b"hello\0world") == 5
    assert lib.measure(b"abc") == 3  # not NUL-terminated: the length stops it


def test_types_and_docs(lib: Any, builder: Builder) -> None:
    built = builder.build(LIBRARY, exports=list(DECLARED), functions=DECLARED)
    pyi = (built.package_dir / "kernels.pyi").read_text()
    assert "def divmod(num: int, den: int) -> tuple[bool, int, int]:" in pyi
    assert "def newton(x: float, a: float) -> float:" in pyi
    assert "@param" not in lib.adler.__doc__ and "zeros: how many bytes were zero" in lib.adler.__doc__


def test_undeclared_string_and_length_warns(builder: Builder, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        built = builder.build(LIBRARY, fresh=True, exports=["measure"])
    assert any('declare functions.measure.s = "in[srclen]"' in r.getMessage() for r in caplog.records)
    measure = built.import_stub().measure  # a string and an independent int, as warned
    assert (measure("hello", 99), measure("hello", 2)) == (5, 2)


def test_every_bad_declaration_at_once(builder: Builder) -> None:
    declared = {"adler": {"src": "in[zeros]"}, "divmod": {"quot": "in[num]"}, "newton": {"y": "in"}}
    with pytest.raises(SignatureError) as caught:
        builder.build(LIBRARY, exports=["adler", "divmod", "newton"], functions=declared)
    first, *lines = str(caught.value).splitlines()
    assert first.endswith("3 functions cannot be mapped:")
    origin = "(WasmExtension(functions=...))"
    assert lines[0].endswith(
        f"functions.adler.src = 'in[zeros]' {origin}: the length zeros is a 'size_t *', not an integer"
    )
    assert (
        lines[1].endswith(
            f"functions.divmod.quot = 'in[num]' {origin}: a buffer must be a pointer to numbers or void, not 'int64_t *'"
        )
        or "divmod" in lines[1]
    )
    assert lines[2].endswith(f"functions.newton.y = 'in' {origin}: newton() has no parameter y (it has: x, a)")


ENUMS = r"""
#include <wasm_ext.h>
typedef enum { MODE_GENERIC = 0, MODE_TEXT = 1, MODE_FONT = 2 } Mode;
enum level { LOW = -1, MID, HIGH = 1 << 4 };

/* the next mode, and how far it is */
WASM_EXPORT Mode next_mode(Mode mode, enum level level, int *steps) {
    *steps = (int)level;
    return (Mode)(mode + 1);
}
"""


@pytest.fixture(scope="module")
def enums(builder: Builder) -> Any:
    return builder.build(ENUMS, functions={"next_mode": {"steps": "out"}}).import_stub()


def test_enums_become_classes(enums: Any) -> None:
    assert [(m.name, int(m)) for m in enums.Mode] == [("MODE_GENERIC", 0), ("MODE_TEXT", 1), ("MODE_FONT", 2)]
    assert [(m.name, int(m)) for m in enums.level] == [("LOW", -1), ("MID", 0), ("HIGH", 16)]
    assert enums.next_mode(enums.Mode.MODE_GENERIC, enums.level.HIGH) == (enums.Mode.MODE_TEXT, 16)
    result, steps = enums.next_mode(1, -1)
    assert result is enums.Mode.MODE_FONT and steps == -1
    beyond, _ = enums.next_mode(enums.Mode.MODE_FONT, 0)  # no member: kept, without a name
    assert beyond == 3 and isinstance(beyond, enums.Mode) and beyond.name is None
    with pytest.raises(OverflowError, match=r"next_mode\(\): mode=4294967296 is out of range for i32"):
        enums.next_mode(2**32, 0)


STRINGS = r"""
#include <stdlib.h>
#include <string.h>
#include <wasm_ext.h>

static const char *const NAMES[] = {"ok", "bad input", "caf\xc3\xa9", "\xff raw"};

/* the name of an error code, or NULL */
WASM_EXPORT const char *error_name(int code) { return code >= 0 && code < 4 ? NAMES[code] : 0; }

/* s repeated n times, in a block the caller frees */
char *repeat(const char *s, int n) {
    size_t len = strlen(s);
    char *out = malloc(len * n + 1);
    for (int i = 0; i < n; i++) memcpy(out + i * len, s, len);
    out[len * n] = 0;
    return out;
}
"""


def test_returned_strings(builder: Builder) -> None:
    lib = builder.build(
        STRINGS,
        exports=["error_name", "repeat"],
        functions={"repeat": {"s": "string", "return": "string, free=free"}},  # n is a count, not s's length
    ).import_stub()
    assert [lib.error_name(i) for i in range(5)] == ["ok", "bad input", "café", "\udcff raw", None]
    assert lib.error_name(3).encode("utf-8", "surrogateescape") == b"\xff raw"
    assert lib.repeat("ab", 3) == "ababab"
    big = lib.repeat("x" * 1000, 300)  # past the first reads: 300,000 bytes
    assert big == "x" * 300_000
    assert lib.repeat("", 5) == ""


ERRORS = r"""
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct codec codec;
struct codec { int level; };

/* negative: an error; else the number of bytes */
int parse_count(const uint8_t *data, size_t n) { return n > 3 ? -(int)n : (int)n; }
/* 0 on success */
int set_level(codec *c, int level) { if (level < 0 || level > 9) return 2; c->level = level; return 0; }
int get_level(const codec *c) { return c->level; }
/* NULL when level is out of range */
codec *codec_new(int level) { if (level < 0) return NULL; codec *c = malloc(sizeof *c); c->level = level; return c; }
void codec_free(codec *c) { free(c); }
/* zstd's convention: huge values are errors */
size_t compress_bound(size_t n) { return n > 100 ? (size_t)-1 : 2 * n; }
unsigned is_error(size_t code) { return code > (size_t)-10; }
const char *error_name(int code) { return code == 2 ? "level out of range" : code < 0 ? "too long" : "error"; }
"""
ERROR_DECLARATIONS = {
    "parse_count": {"data": "in[n]", "return": "error if < 0, message=error_name"},
    "set_level": {"return": "error if != 0, message=error_name"},
    "codec_new": {"return": "error if NULL"},
    "compress_bound": {"return": "error if is_error"},
}


def test_error_conventions(builder: Builder) -> None:
    built = builder.build(
        ERRORS,
        exports=[
            "parse_count",
            "set_level",
            "get_level",
            "codec_new",
            "codec_free",
            "compress_bound",
            "is_error",
            "error_name",
        ],
        functions=ERROR_DECLARATIONS,
        handles={"codec": {"destroy": "codec_free"}},
    )
    lib = built.import_stub()
    assert lib.parse_count(b"abc") == 3
    with pytest.raises(lib.Error) as caught:
        lib.parse_count(b"abcdef")
    assert (caught.value.function, caught.value.code, caught.value.detail) == ("parse_count", -6, "too long")
    assert isinstance(caught.value, lib.KernelError)
    with lib.codec_new(3) as c:
        assert lib.set_level(c, 7) is None and lib.get_level(c) == 7
        with pytest.raises(lib.Error, match=r"^set_level\(\) failed: level out of range \(returned 2\)$"):
            lib.set_level(c, 12)
    with pytest.raises(lib.Error, match=r"^codec_new\(\) failed: error \(returned 0\)$"):
        lib.codec_new(-1)
    assert lib.compress_bound(10) == 20
    with pytest.raises(lib.Error, match=rf"^compress_bound\(\) failed: error \(returned {2**32 - 1}\)$"):
        lib.compress_bound(1000)
    pyi = (built.package_dir / "kernels.pyi").read_text()
    assert "def codec_new(level: int) -> codec:" in pyi and "def set_level(c: codec, level: int) -> None:" in pyi


OUTPUTS = r"""
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* the worst case of encode() */
size_t encode_bound(size_t n) { return 2 * n + 1; }
/* hex-encode src into dst (capacity dstCapacity); returns the length written, or 0 if it does not fit */
size_t encode(uint8_t *dst, size_t dstCapacity, const uint8_t *src, size_t srcSize) {
    static const char digits[] = "0123456789abcdef";
    if (dstCapacity < 2 * srcSize) return 0;
    for (size_t i = 0; i < srcSize; i++) { dst[2 * i] = digits[src[i] >> 4]; dst[2 * i + 1] = digits[src[i] & 15]; }
    return 2 * srcSize;
}
/* brotli's shape: lengths before pointers, the capacity in and the produced length out through one pointer */
int squeeze(size_t input_size, const uint8_t *input, size_t *out_size, uint8_t *out) {
    if (*out_size < input_size) return 0;
    size_t k = 0;
    for (size_t i = 0; i < input_size; i++) if (input[i] != ' ') out[k++] = input[i];
    *out_size = k;
    return 1;
}
/* a fixed-size result, its size a parameter */
void digest(const uint8_t *data, size_t n, uint8_t *out, size_t out_len) {
    for (size_t i = 0; i < out_len; i++) out[i] = (uint8_t)(n + i);
    (void)data;
}
/* 32-bit items, the capacity given by the caller */
void iota(int32_t *out, int count) { for (int i = 0; i < count; i++) out[i] = i * i; }
/* a liar: says it wrote more than it was given */
size_t liar(uint8_t *dst, size_t cap) { (void)dst; return cap + 1; }
"""
OUTPUT_DECLARATIONS = {
    "encode": {"src": "in[srcSize]", "dst": "out[dstCapacity = encode_bound(srcSize)] -> return"},
    "squeeze": {"input": "in[input_size]", "out": "out[*out_size = input_size]", "return": "error if false"},
    "digest": {"data": "in[n]", "out": "out[out_len = 16]"},
    "iota": {"out": "out[count]"},
    "liar": {"dst": "out[cap = 8] -> return"},
}


@pytest.fixture(scope="module")
def outputs(builder: Builder) -> Any:
    return builder.build(
        OUTPUTS, exports=["encode_bound", *OUTPUT_DECLARATIONS], functions=OUTPUT_DECLARATIONS
    ).import_stub()


def test_output_buffers(outputs: Any) -> None:
    data = bytes(range(200))
    assert outputs.encode(data) == data.hex().encode()
    assert outputs.encode(b"") == b""
    assert outputs.squeeze(b"a b  c ") == b"abc"
    assert outputs.digest(b"xyz") == bytes(range(3, 19))
    squares = outputs.iota(5)
    assert np.frombuffer(squares, dtype=np.int32).tolist() == [0, 1, 4, 9, 16]
    assert list(inspect.signature(outputs.encode).parameters) == ["src"]
    assert list(inspect.signature(outputs.iota).parameters) == ["count"]
    with pytest.raises(ValueError, match=r"iota\(\): the capacity of out is -1, not an int from 0 to"):
        outputs.iota(-1)
    with pytest.raises(
        outputs.KernelError, match=r"liar\(\): the library reported 9 items written to dst, which holds 8"
    ):
        outputs.liar()
    big = bytes(100_000)  # past the scratch area: allocated and freed
    assert outputs.encode(big) == b"00" * 100_000


def test_output_buffer_types(builder: Builder) -> None:
    built = builder.build(OUTPUTS, exports=["encode_bound", *OUTPUT_DECLARATIONS], functions=OUTPUT_DECLARATIONS)
    pyi = (built.package_dir / "kernels.pyi").read_text()
    assert "def encode(src: Buffer | WasmBuffer) -> bytes:" in pyi
    assert "def squeeze(input: Buffer | WasmBuffer) -> bytes:" in pyi
    assert "def iota(count: int) -> bytes:" in pyi


def test_static_functions_of_a_header_are_exported_through_wrappers(builder: Builder, tmp_path: Path) -> None:
    """A header-only library's `static inline` functions: wrapped in their source's unit, exported by name."""
    header = tmp_path / "tiny.h"
    header.write_text(
        "#include <stdint.h>\n#include <stddef.h>\n"
        "static inline int32_t tiny_twice(int32_t x) { return 2 * x; }\n"
        "static inline void tiny_fill(uint8_t *p, size_t n, uint8_t v) { for (size_t i = 0; i < n; i++) p[i] = v; }\n"
        "static int32_t tiny_hidden(void) { return 7; }\n"
    )
    source = f'#include "{header}"\nstatic int32_t in_the_c_file(void) {{ return 1; }}\nint32_t use(void) {{ return in_the_c_file() + tiny_hidden(); }}\n'
    lib = builder.build(
        source, exports=["tiny_twice", "tiny_fill", "tiny_hidden", "use"], include_dirs=[str(tmp_path)]
    ).import_stub()
    assert lib.tiny_twice(21) == 42 and lib.tiny_hidden() == 7 and lib.use() == 8
    buf = bytearray(4)
    lib.tiny_fill(buf, 9)
    assert buf == b"\t" * 4
    with pytest.raises(WasmCompileError, match=r"in_the_c_file\(\) \(.*\) is static: the linker cannot export"):
        builder.build(source, exports=["in_the_c_file"], include_dirs=[str(tmp_path)])
