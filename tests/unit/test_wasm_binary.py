"""``wasm_ext.builder.wasm_binary`` on bytes: imports, exports and their types, custom sections,
function names, target features, stripping, function sizes, and ``WasmFormatError`` for bad input.

Modules come from ``wasmtime.wat2wasm`` or are assembled byte by byte below; wasmtime's own
reading of a module is the oracle where it has one.
"""

from __future__ import annotations

from typing import Callable

import pytest
import wasmtime
from support.wat import KERNELS_WAT

from wasm_ext.builder.wasm_binary import (
    MAGIC,
    Export,
    FuncType,
    Import,
    WasmFormatError,
    function_names,
    function_sizes,
    parse,
    strip_custom_sections,
)

# --- assembling modules --------------------------------------------------------------------------


def uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def name(text: str) -> bytes:
    data = text.encode()
    return uleb(len(data)) + data


def vec(*items: bytes) -> bytes:
    return uleb(len(items)) + b"".join(items)


def section(section_id: int, payload: bytes) -> bytes:
    return bytes([section_id]) + uleb(len(payload)) + payload


def custom(section_name: str, payload: bytes) -> bytes:
    return section(0, name(section_name) + payload)


def module(*sections: bytes) -> bytes:
    return MAGIC + b"".join(sections)


def wat(text: str) -> bytes:
    return bytes(wasmtime.wat2wasm(text))


IMPORTS_WAT = """
(module
  (import "env" "log" (func $log (param i32 i64) (result f32)))
  (import "env" "table" (table 1 funcref))
  (import "env" "mem" (memory 1 2))
  (import "env" "counter" (global (mut i32)))
  (func $first (export "first") (param f64) (result f64) (local.get 0))
  (func $pair (export "pair") (result i32 i64) (i32.const 1) (i64.const 2))
  (func $hidden)
  (export "log_again" (func $log))
  (export "t" (table 0))
  (export "m" (memory 0))
  (export "g" (global 0)))
"""


# --- imports and exports --------------------------------------------------------------------------


def test_imports_of_every_kind_with_function_types() -> None:
    parsed = parse(wat(IMPORTS_WAT))
    assert parsed.imports == [
        Import("env", "log", "func", FuncType(("i32", "i64"), ("f32",))),
        Import("env", "table", "table"),
        Import("env", "mem", "memory"),
        Import("env", "counter", "global"),
    ]


def test_exports_with_function_types_count_imported_functions_first() -> None:
    parsed = parse(wat(IMPORTS_WAT))
    assert parsed.exports == [
        Export("first", "func", 1, FuncType(("f64",), ("f64",))),
        Export("pair", "func", 2, FuncType((), ("i32", "i64"))),
        Export("log_again", "func", 0, FuncType(("i32", "i64"), ("f32",))),
        Export("t", "table", 0),
        Export("m", "memory", 0),
        Export("g", "global", 0),
    ]
    assert parsed.export("pair") == parsed.exports[1] and parsed.export("hidden") is None


@pytest.mark.parametrize(
    ("ftype", "text"),
    [
        (FuncType((), ()), "() -> ()"),
        (FuncType(("i32", "i64"), ("f32",)), "(i32, i64) -> (f32)"),
        (FuncType(("v128", "externref"), ("funcref", "f64")), "(v128, externref) -> (funcref, f64)"),
    ],
)
def test_function_type_text(ftype: FuncType, text: str) -> None:
    assert str(ftype) == text


def test_exports_agree_with_wasmtime() -> None:
    data = wat(KERNELS_WAT)
    engine = wasmtime.Engine()
    expected = {
        e.name: (tuple(str(t) for t in e.type.params), tuple(str(t) for t in e.type.results))
        for e in wasmtime.Module(engine, data).exports
        if isinstance(e.type, wasmtime.FuncType)
    }
    parsed = {e.name: e.type for e in parse(data).exports if e.kind == "func"}
    assert {n: (t.params, t.results) for n, t in parsed.items() if t is not None} == expected
    assert len(parsed) == len(expected) > 15


def test_tag_import_and_unknown_type_indices() -> None:
    imports = vec(name("env") + name("oops") + b"\x04\x00" + uleb(0), name("env") + name("f") + b"\x00" + uleb(7))
    exports = vec(name("f0") + b"\x00" + uleb(0), name("f1") + b"\x00" + uleb(1))
    parsed = parse(module(section(1, vec(b"\x60" + vec() + vec())), section(2, imports), section(7, exports)))
    assert parsed.imports == [Import("env", "oops", "tag"), Import("env", "f", "func", None)]  # there is no type 7
    assert parsed.exports == [Export("f0", "func", 0, None), Export("f1", "func", 1, None)]  # nor a function 1


def test_module_with_nothing_in_it() -> None:
    parsed = parse(MAGIC)
    assert (parsed.imports, parsed.exports, parsed.custom_sections) == ([], [], {})
    assert function_sizes(MAGIC) == {} and function_names(parsed) == {} and parsed.target_features == []


# --- custom sections, names, features --------------------------------------------------------------


def test_custom_sections_by_name() -> None:
    data = wat('(module (func $f (export "f")))') + custom("producers", b"\x01\x02") + custom("dylink.0", b"")
    sections = parse(data).custom_sections
    assert sections["producers"] == b"\x01\x02" and sections["dylink.0"] == b""
    assert list(sections) == ["name", "producers", "dylink.0"]


def test_function_names_from_the_name_section() -> None:
    parsed = parse(wat(IMPORTS_WAT))
    assert function_names(parsed) == {0: "log", 1: "first", 2: "pair", 3: "hidden"}


def test_function_names_read_only_their_subsection() -> None:
    module_name = b"\x00" + uleb(len(name("mod"))) + name("mod")
    functions = vec(uleb(0) + name("zero"), uleb(5) + name("five"))
    local_names = b"\x02" + uleb(3) + b"\x01\x00\x00"
    data = module(custom("name", module_name + b"\x01" + uleb(len(functions)) + functions + local_names))
    assert function_names(parse(data)) == {0: "zero", 5: "five"}


@pytest.mark.parametrize(
    ("payload", "features"),
    [
        (
            vec(b"+" + name("bulk-memory"), b"-" + name("simd128"), b"=" + name("atomics"), b"+" + name("sign-ext")),
            ["bulk-memory", "sign-ext"],
        ),
        (vec(), []),
        (None, []),
    ],
    ids=["used-disallowed-required", "empty", "absent"],
)
def test_target_features_lists_the_used_ones(payload: bytes | None, features: list[str]) -> None:
    sections = [] if payload is None else [custom("target_features", payload)]
    assert parse(module(*sections)).target_features == features


# --- stripping ---------------------------------------------------------------------------------


def test_strip_drops_every_custom_section() -> None:
    code = wat('(module (func $f (export "f") (result i32) (i32.const 7)))')
    data = (
        custom("before", b"x") + code[8:] + custom("target_features", vec(b"+" + name("a"))) + custom("producers", b"")
    )
    data = MAGIC + data
    stripped = strip_custom_sections(data)
    assert parse(stripped).custom_sections == {}
    assert stripped == strip_custom_sections(code)
    assert strip_custom_sections(stripped) == stripped  # idempotent
    assert parse(stripped).exports == parse(data).exports
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    f = wasmtime.Instance(store, wasmtime.Module(engine, stripped), []).exports(store)["f"]
    assert isinstance(f, wasmtime.Func) and f(store) == 7


def test_strip_keeps_what_it_is_told_to_in_place() -> None:
    features = custom("target_features", vec(b"+" + name("bulk-memory")))
    body = section(1, vec(b"\x60" + vec() + vec()))
    data = module(custom("producers", b"p"), body, features, custom("name", b""))
    assert strip_custom_sections(data, keep=("target_features",)) == module(body, features)
    assert strip_custom_sections(data, keep=("target_features", "producers")) == module(
        custom("producers", b"p"), body, features
    )


def test_strip_reencodes_padded_section_sizes() -> None:
    payload = vec(b"\x60" + vec() + vec())
    padded = MAGIC + b"\x01" + bytes([len(payload) | 0x80, 0x80, 0x80, 0x00]) + payload  # a 4-byte LEB128 size
    assert parse(padded).exports == []
    assert strip_custom_sections(padded) == module(section(1, payload))
    wasmtime.Module(wasmtime.Engine(), strip_custom_sections(padded))  # still a valid module


def test_large_sections_have_multi_byte_sizes() -> None:
    big = custom("blob", bytes(300))
    data = module(big, section(1, vec(b"\x60" + vec() + vec())))
    assert big[1:3] == uleb(len(big) - 3) and len(uleb(len(big) - 3)) == 2
    assert parse(data).custom_sections["blob"] == bytes(300)
    assert strip_custom_sections(data) == module(section(1, vec(b"\x60" + vec() + vec())))


# --- function sizes ------------------------------------------------------------------------------


def test_function_sizes_by_index_after_imports() -> None:
    data = wat(
        """
        (module
          (import "env" "a" (func))
          (import "env" "b" (func (param i32)))
          (func (export "empty"))
          (func (export "get") (param i32) (result i32) (local.get 0))
          (func (export "locals") (local i32 i64) (nop)))
        """
    )
    # bodies: [no locals, end] = 2; [no locals, local.get 0, end] = 4; [2 local groups (1 i32)(1 i64), nop, end] = 7
    assert function_sizes(data) == {2: 2, 3: 4, 4: 7}


def test_function_sizes_sum_to_the_code_section() -> None:
    data = wat(KERNELS_WAT)
    sizes = function_sizes(data)
    count = len(sizes)
    assert sorted(sizes) == list(range(count))  # no imports: indices from 0
    code = next(s for s in _raw_sections(data) if s[0] == 10)
    assert sum(len(uleb(n)) + n for n in sizes.values()) + len(uleb(count)) == len(code[1])


def _raw_sections(data: bytes) -> list[tuple[int, bytes]]:
    """(id, payload) of each section: an independent reading for the check above."""
    out, pos = [], 8
    while pos < len(data):
        section_id, pos = data[pos], pos + 1
        size = shift = 0
        while True:
            byte, pos = data[pos], pos + 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        out.append((section_id, data[pos : pos + size]))
        pos += size
    return out


# --- bad input -----------------------------------------------------------------------------------

TYPES = section(1, vec(b"\x60" + vec() + vec()))
BAD_HEADERS = [
    (b"", "not a WebAssembly module (bad magic number or version)"),
    (b"\0asm", "not a WebAssembly module (bad magic number or version)"),
    (b"\0asm\x02\0\0\0", "not a WebAssembly module (bad magic number or version)"),
    (b"\x7fELF\x02\x01\x01\x00", "not a WebAssembly module (bad magic number or version)"),
    (MAGIC + b"\x01\x05\x00", "section 1 runs past the end of the module"),
    (MAGIC + TYPES + b"\x0a\xff\x01", "section 10 runs past the end of the module"),
    (MAGIC + b"\x01", "unexpected end of data"),
    (MAGIC + b"\x01\x80", "unexpected end of data"),
    (MAGIC + b"\x01" + b"\x80" * 10 + b"\x00", "LEB128 integer too long"),
]
READERS: dict[str, Callable[[bytes], object]] = {
    "parse": parse,
    "strip": strip_custom_sections,
    "function_sizes": function_sizes,
}


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize(("data", "text"), BAD_HEADERS, ids=[f"header-{i}" for i in range(len(BAD_HEADERS))])
def test_bad_module_layout(reader: str, data: bytes, text: str) -> None:
    with pytest.raises(WasmFormatError) as info:
        READERS[reader](data)
    assert str(info.value) == text
    assert isinstance(info.value, ValueError)


BAD_SECTIONS = [
    (section(1, vec(b"\x61")), "unsupported type section entry"),
    (section(1, vec(b"\x60" + vec(b"\x40") + vec())), "unsupported value type 0x40"),
    (section(1, uleb(2) + b"\x60" + vec() + vec()), "unexpected end of data"),  # two entries promised, one given
    (section(2, vec(name("env") + name("x") + b"\x05")), "unknown import kind 5"),
    (section(7, vec(name("x") + b"\x09" + uleb(0))), "unknown export kind 9"),
    (section(7, vec(b"\x01\xff" + b"\x00" + uleb(0))), "invalid UTF-8 in a name"),
    (section(7, vec(uleb(10) + b"short")), "unexpected end of data"),  # the name runs past its section
    (section(0, uleb(5) + b"ab"), "unexpected end of data"),  # a custom section's name too
    (section(3, vec(b"\x80" * 11)), "LEB128 integer too long"),
]


@pytest.mark.parametrize(("bad", "text"), BAD_SECTIONS, ids=[f"section-{i}" for i in range(len(BAD_SECTIONS))])
def test_bad_section_contents(bad: bytes, text: str) -> None:
    with pytest.raises(WasmFormatError) as info:
        parse(module(bad))
    assert str(info.value) == text


def test_bad_name_section_and_features() -> None:
    truncated = parse(module(custom("name", b"\x01" + uleb(4) + vec(uleb(0) + uleb(9)))))
    with pytest.raises(WasmFormatError, match="^unexpected end of data$"):
        function_names(truncated)
    features = parse(module(custom("target_features", uleb(2) + b"+" + name("a"))))
    with pytest.raises(WasmFormatError, match="^unexpected end of data$"):
        _ = features.target_features


def test_a_function_body_longer_than_its_code_section() -> None:
    body_claims_100_bytes = section(10, vec(uleb(100) + b"\x00\x0b"))
    with pytest.raises(WasmFormatError, match="^function body 0 runs past the end of the code section$"):
        function_sizes(module(body_claims_100_bytes))
