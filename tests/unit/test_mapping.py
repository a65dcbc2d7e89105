"""C declarations -> the typed model (``wasm_ext.builder.mapping``), without a compiler.

Every rule of README's "From C prototypes to Python functions" on the recorded ASTs of
``tests/unit/fixtures/c``: scalar kinds (wasm32 is ILP32), typedef chains, enums,
(pointer, length) pairing by length name and length type, const and writable buffers,
any-buffer element types, strings, Python parameter names, every SignatureError with
its function, parameter and hint, and the choice of exports (``select_exports``).
"""

from __future__ import annotations

import functools

import pytest
from support.asts import line_of, load_info

from wasm_ext.builder import mapping
from wasm_ext.builder.c_ast import RawFunction, RawParam, SourceInfo
from wasm_ext.builder.mapping import map_function, map_functions, select_exports
from wasm_ext.builder.model import Function, Param
from wasm_ext.builder.structs import StructLayouts
from wasm_ext.errors import SignatureError, WasmCompileError

MODULE = "kernels"
HINT = "wrap it in a small C function that takes scalars or (pointer, length) pairs, or leave it out of `exports`"


@functools.cache
def _info(fixture: str) -> SourceInfo:
    return load_info(fixture)


def _raw(fixture: str, name: str) -> RawFunction:
    return _info(fixture).functions[name]


def _map(fixture: str, name: str) -> Function:
    info = _info(fixture)
    return map_function(
        _raw(fixture, name), info.typedefs, module=MODULE, enums=info.enums, structs=StructLayouts(info)
    )


def _error(fixture: str, name: str) -> str:
    with pytest.raises(SignatureError) as caught:
        _map(fixture, name)
    return str(caught.value)


def _where(fixture: str, name: str) -> str:
    return f"{MODULE}: function {name}() at {fixture}.c:{line_of(fixture, name)}"


# --- scalars ---------------------------------------------------------------------------

# the C type of scalars.c's echo_<type>(v) -> its scalar kind (wasm32: long, size_t and pointers are 32-bit)
SCALAR_KINDS = {
    "int8_t": "i8", "uint8_t": "u8", "int16_t": "i16", "uint16_t": "u16",
    "int32_t": "i32", "uint32_t": "u32", "int64_t": "i64", "uint64_t": "u64",
    "char": "i8", "signed_char": "i8", "unsigned_char": "u8",
    "short": "i16", "short_int": "i16", "unsigned_short": "u16",
    "int": "i32", "signed": "i32", "unsigned": "u32", "unsigned_int": "u32",
    "long": "i32", "long_int": "i32", "unsigned_long": "u32", "long_unsigned_int": "u32",
    "long_long": "i64", "unsigned_long_long": "u64",
    "size_t": "u32", "ssize_t": "i32", "intptr_t": "i32", "uintptr_t": "u32", "ptrdiff_t": "i32",
    "float": "f32", "double": "f64", "bool": "bool", "_Bool": "bool",
    "enum_level": "i32", "color_t": "i32", "const_int": "i32", "volatile_int": "i32",
}  # fmt: skip


@pytest.mark.parametrize(("ctype", "kind"), SCALAR_KINDS.items(), ids=list(SCALAR_KINDS))
def test_scalar_kind(ctype: str, kind: str) -> None:
    raw = _raw("scalars", f"echo_{ctype}")
    fn = _map("scalars", f"echo_{ctype}")
    enum = {"enum_level": "level", "color_t": "color_t"}.get(ctype, "")  # the stub's enum class
    assert fn.params == (Param("v", "scalar", kind, raw.params[0].spelling, enum=enum),)
    assert (fn.result, fn.result_spelling) == (kind, raw.result)


@pytest.mark.parametrize(
    ("name", "wasm_params", "wasm_results"),
    [
        ("echo_int64_t", ("i64",), ("i64",)),
        ("echo_unsigned_long", ("i32",), ("i32",)),
        ("echo_float", ("f32",), ("f32",)),
        ("echo_bool", ("i32",), ("i32",)),
        ("mixed", ("i32", "i64", "f32", "i32"), ("f64",)),
        ("do_nothing", (), ()),
    ],
)
def test_scalar_wasm_types(name: str, wasm_params: tuple[str, ...], wasm_results: tuple[str, ...]) -> None:
    fn = _map("scalars", name)
    assert (fn.wasm_params, fn.wasm_results, fn.uses_memory) == (wasm_params, wasm_results, False)


def test_void_function() -> None:
    fn = _map("scalars", "do_nothing")
    assert (fn.name, fn.params, fn.result, fn.result_spelling) == ("do_nothing", (), "void", "void")
    assert fn.location == f"scalars.c:{line_of('scalars', 'do_nothing')}"


def test_function_round_trips_through_json() -> None:
    fn = _map("buffers", "axpy")
    assert Function.from_json(fn.to_json()) == fn


# --- typedefs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "result"),
    [
        ("chain", (Param("v", "scalar", "u8", "octet_t"),), "u8"),
        (
            "total",
            (Param("data", "buffer", "u8", "bytes_in", False, 1), Param("len", "length", "u32", "count_t")),
            "i64",
        ),
        (
            "fill",
            (
                Param("out", "buffer", "f64", "dvec", True, 1),
                Param("n", "length", "u32", "size_t"),
                Param("value", "scalar", "f64", "double"),
            ),
            "void",
        ),
        ("text_length", (Param("text", "string", "i8", "cstr"),), "u32"),
        # const dvec is double *const: the pointer is const, the doubles are written
        (
            "const_pointer",
            (Param("xs", "buffer", "f64", "const dvec", True, 1), Param("n", "length", "u32", "size_t")),
            "i32",
        ),
    ],
    ids=["chain-of-three", "const-pointer-typedef", "writable-pointer-typedef", "string-typedef", "const-pointer"],
)
def test_typedef_resolution(name: str, params: tuple[Param, ...], result: str) -> None:
    fn = _map("typedefs", name)
    assert (fn.params, fn.result) == (params, result)


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="c_types.canonical: const on a typedef'd pointee (typedef const int cint_t; cint_t *xs) is dropped",
)
def test_const_from_the_pointee_typedef_makes_a_read_only_buffer() -> None:
    (xs, _) = _map("typedefs", "const_typedef_pointee").params
    assert (xs.kind, xs.ctype, xs.writable) == ("buffer", "i32", False)


def test_cyclic_typedefs_are_an_error_not_a_recursion() -> None:
    raw = RawFunction("f", [RawParam("x", "a_t")], "int", False, "k.c:1")
    with pytest.raises(SignatureError) as caught:
        map_function(raw, {"a_t": "b_t", "b_t": "a_t"}, module=MODULE)
    assert str(caught.value) == (
        f"{MODULE}: function f() at k.c:1: parameter x has type 'a_t', which has no Python mapping; {HINT}"
    )


# --- buffers ---------------------------------------------------------------------------

# function in buffers.c -> (Python name, element kind, writable, C length name)
BUFFERS = {
    "sum_f64": ("xs", "f64", False, "n"),
    "scale_f32": ("xs", "f32", True, "n"),
    "sum_i32": ("xs", "i32", False, "n"),
    "negate_i16": ("xs", "i16", True, "n"),
    "sum_u64": ("xs", "u64", False, "n"),
    "zero_u16": ("xs", "u16", True, "n"),
    "first_i8": ("xs", "i8", False, "n"),
    "sum_long_long": ("xs", "i64", False, "n"),
    "nbytes": ("blob", "u8", False, "blob_size"),  # const void *: any buffer, in bytes
    "wipe": ("blob", "u8", True, "size"),  # void *
    "count_chars": ("text", "i8", False, "len"),  # const char * with a length: a buffer, not a string
    "upper": ("text", "i8", True, "len"),
    "checksum": ("p", "u8", False, "n"),
    "clear": ("p", "u8", True, "n"),
    "last_u8": ("data", "u8", False, "n"),
    "count_true": ("flags", "u8", False, "n"),  # bool buffers are bytes
    "set_all": ("flags", "u8", True, "n"),
    "array_param": ("xs", "i32", False, "n"),  # const int xs[] is const int *
}


@pytest.mark.parametrize("name", BUFFERS)
def test_buffer_element_and_writability(name: str) -> None:
    pname, element, writable, length = BUFFERS[name]
    raw = _raw("buffers", name)
    fn = _map("buffers", name)
    assert fn.params[:2] == (
        Param(pname, "buffer", element, raw.params[0].spelling, writable, 1),
        Param(length, "length", "u32", raw.params[1].spelling),
    )
    assert fn.uses_memory
    assert fn.wasm_params[:2] == ("i32", "i32")


@pytest.mark.parametrize(
    "length", ["n", "len", "length", "size", "count", "data_len", "data_length", "data_size", "data_count", "data_n"]
)
def test_length_name_pairs(length: str) -> None:
    fn = _map("buffers", f"len_{length}")
    assert fn.params == (
        Param("data", "buffer", "i32", "const int *", False, 1),
        Param(length, "length", "u32", "size_t"),
    )


@pytest.mark.parametrize(
    ("name", "length"),
    [("len_total", "total"), ("len_other_prefix", "values_len"), ("len_capitalized", "N")],
    ids=["unknown-name", "another-pointers-suffix", "case-matters"],
)
def test_other_names_do_not_pair(name: str, length: str) -> None:
    assert _error("buffers", name) == f"{_where('buffers', name)}: {_no_length(name, 'data', 'const int *', length)}"


# function in buffers.c -> (length kind, wasm type of the length)
LENGTH_KINDS = {
    "lt_int": ("i32", "i32"),
    "lt_unsigned": ("u32", "i32"),
    "lt_int64": ("i64", "i64"),
    "lt_uint64": ("u64", "i64"),
    "lt_uint8": ("u8", "i32"),
    "lt_short": ("i16", "i32"),
    "lt_long": ("i32", "i32"),
    "lt_char": ("i8", "i32"),
    "lt_ssize": ("i32", "i32"),
    "lt_const": ("u32", "i32"),
}


@pytest.mark.parametrize("name", LENGTH_KINDS)
def test_length_of_every_integer_kind(name: str) -> None:
    kind, wasm = LENGTH_KINDS[name]
    fn = _map("buffers", name)
    (xs, n) = fn.params
    assert (xs.kind, xs.ctype, xs.length, n.kind, n.ctype) == ("buffer", "f64", 1, "length", kind)
    assert (n.name, n.spelling) == ("n", _raw("buffers", name).params[1].spelling)
    assert fn.wasm_params == ("i32", wasm)


@pytest.mark.parametrize("name", ["lt_float", "lt_double", "lt_bool", "lt_pointer"])
def test_length_must_be_an_integer(name: str) -> None:
    assert _error("buffers", name) == f"{_where('buffers', name)}: {_no_length(name, 'xs', 'const double *')}"


def test_buffers_between_scalars() -> None:
    assert _map("buffers", "axpy").params == (
        Param("a", "scalar", "f64", "double"),
        Param("x", "buffer", "f64", "const double *restrict", False, 2),
        Param("x_len", "length", "u32", "size_t"),
        Param("y", "buffer", "f64", "double *restrict", True, 4),
        Param("y_len", "length", "u32", "size_t"),
    )
    assert _map("buffers", "axpy").wasm_params == ("f64", "i32", "i32", "i32", "i32")


# --- strings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "name", "params"),
    [
        ("buffers", "length_of", (Param("text", "string", "i8", "const char *"),)),
        ("buffers", "const_after", (Param("text", "string", "i8", "const char *const"),)),
        (
            "buffers",
            "two_strings",
            (
                Param("a", "string", "i8", "const char *"),
                Param("b", "string", "i8", "const char *"),
                Param("k", "scalar", "i32", "int"),
            ),
        ),
        ("typedefs", "text_length", (Param("text", "string", "i8", "cstr"),)),
    ],
    ids=["const-char", "char-const-const", "two-strings", "typedef"],
)
def test_const_char_pointer_is_a_string(fixture: str, name: str, params: tuple[Param, ...]) -> None:
    fn = _map(fixture, name)
    assert fn.params == params
    assert fn.uses_memory and fn.wasm_params[: len(params)] == ("i32",) * len(params)


# --- Python parameter names ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "python_names"),
    [
        ("keywords", ["from_", "lambda_", "class_", "None_", "match"]),  # soft keywords stay
        ("underscores", ["x", "y", "z_", "arg3"]),
        ("duplicates", ["b", "b_", "b__", "from_", "from__"]),
        ("shadow_arg", ["arg0", "arg0_"]),
        ("keyword_buffer", ["in_", "def_"]),
        ("unnamed", ["arg0", "arg1", "arg2"]),  # declared without names; the buffer is param 2
        ("named_later", ["first", "second"]),  # the definition's names win over the declaration's
    ],
)
def test_python_parameter_names(name: str, python_names: list[str]) -> None:
    assert [p.name for p in _map("names", name).arguments] == python_names


def test_unnamed_buffer_keeps_its_c_length_name() -> None:
    (_, _, buffer, length) = _map("names", "unnamed").params
    assert (buffer.kind, buffer.length, buffer.spelling, length.c_name) == ("buffer", 3, "const int *", "n")


def test_unnamed_pointer_error_names_the_parameter_index() -> None:
    where = f"{MODULE}: function unnamed_pointer() at names.c:{line_of('names', 'unnamed_pointer', definition=False)}"
    assert _error("names", "unnamed_pointer") == (
        f"{where}: parameter 0 (int *) is an unnamed pointer: name it in the function's definition, then declare "
        "what it is (`functions`)"
    )


# --- what has no mapping ---------------------------------------------------------------


def _no_length(fn: str, param: str, spelling: str, count: str = "N", *, value: bool = True) -> str:
    """The error for a pointer the rules cannot place: how to declare it (a buffer, or one value)."""
    message = (
        f"parameter {param} ({spelling}) is a pointer with no length: if it is a buffer, declare the parameter that "
        f'holds its count, functions.{fn}.{param} = "in[{count}]" ("inout[{count}]" if the function writes it), or '
        f"put its length right after it, named n, len, length, size, count or {param}_len"
    )
    if value:
        message += (
            f'; if it points to one value, declare functions.{fn}.{param} = "out" (written by the function, then '
            'returned), "inout" or "in"'
        )
    return message + "; or leave it out of `exports`"


def _no_mapping(param: str, spelling: str) -> str:
    return f"parameter {param} has type {spelling!r}, which has no Python mapping; {HINT}"


def _callback(param: str, spelling: str) -> str:
    return (
        f"parameter {param} ({spelling}) is a function pointer: callbacks into Python cannot be bound yet; "
        "leave it out of `exports`"
    )


def _bad_result(spelling: str) -> str:
    return f"return type {spelling!r} has no Python mapping; {HINT}"


# (fixture, function) -> what the error says after "<module>: function f() at <file>:<line>: "
UNMAPPABLE = {
    ("unmappable", "variadic"): f"variadic functions (...) cannot be called from Python; {HINT}",
    ("unmappable", "function_pointer"): _callback("cb", "int (*)(int)"),
    ("unmappable", "long_double_param"): _no_mapping("x", "long double"),
    ("unmappable", "long_double_result"): _bad_result("long double"),
    ("unmappable", "pointer_to_pointer"): _no_mapping("pp", "int **"),
    ("unmappable", "returns_pointer"): _bad_result("int *"),
    ("unmappable", "returns_void_pointer"): _bad_result("void *"),
    ("unmappable", "union_by_value"): (
        "parameter u (union number) is a union number, which cannot be passed as a value: union number is a union: "
        "only structs can be passed by value"
    ),
    ("unmappable", "struct_with_pointer"): (
        "parameter h (struct holder) is a struct holder, which cannot be passed as a value: struct holder holds a "
        "pointer, field text (const char *): a struct with pointers is no plain data; if the library hands it out "
        "as an object, declare it a handle"
    ),
    ("unmappable", "struct_pointer"): (
        f"parameter p (const struct point *): arrays of structs cannot be bound yet; {mapping._UNMAPPABLE_HINT}"
    ),
    ("unmappable", "array_pointer"): _no_mapping("rows", "int (*)[4]"),
    ("unmappable", "array_param"): _no_length("array_param", "xs", "int *"),  # int xs[4] is int *
    ("unmappable", "complex_param"): _no_mapping("z", "_Complex double"),
    ("unmappable", "int128_param"): _no_mapping("x", "__int128"),
    ("unmappable", "pointer_without_length"): _no_length("pointer_without_length", "p", "int *"),
    ("unmappable", "const_pointer_without_length"): _no_length("const_pointer_without_length", "xs", "const double *"),
    ("unmappable", "char_pointer_without_length"): _no_length("char_pointer_without_length", "s", "char *"),
    ("unmappable", "unsigned_string"): _no_length("unsigned_string", "s", "const unsigned char *"),
    ("unmappable", "signed_string"): _no_length("signed_string", "s", "const signed char *"),
    ("unmappable", "void_pointer_without_length"): _no_length(
        "void_pointer_without_length", "p", "const void *", value=False
    ),
    ("unmappable", "bool_pointer_without_length"): _no_length("bool_pointer_without_length", "flags", "bool *"),
    ("unmappable", "bad_second_param"): _no_length("bad_second_param", "p", "int *", "ok"),
    ("typedefs", "bad_pointer_typedef"): _no_mapping("rows", "dvec_ptr"),
    ("typedefs", "bad_callback"): _callback("cb", "callback_t"),
}


def test_a_typedef_of_a_struct_is_passed_and_returned_by_value() -> None:
    by_value, result = _map("typedefs", "struct_typedef"), _map("typedefs", "struct_typedef_result")
    assert [(p.kind, p.struct) for p in by_value.params] == [("struct", "point_t")]
    assert (result.result_struct, result.returns_indirect) == ("point_t", True)


@pytest.mark.parametrize(("fixture", "name"), UNMAPPABLE, ids=[f"{f}-{n}" for f, n in UNMAPPABLE])
def test_unmappable_prototype(fixture: str, name: str) -> None:
    assert _error(fixture, name) == f"{_where(fixture, name)}: {UNMAPPABLE[fixture, name]}"


@pytest.mark.xfail(
    strict=True,
    raises=pytest.fail.Exception,
    reason="c_ast._add_function: the result of int (*f(void))(int) is read as 'int' (qualType split at the first '(')",
)
def test_returned_function_pointer_is_unmappable() -> None:
    with pytest.raises(SignatureError, match="return type"):
        _map("unmappable", "returns_function_pointer")


def test_a_const_char_result_is_a_string() -> None:
    fn = _map("unmappable", "returns_string")
    assert (fn.result, fn.result_string, fn.wasm_results) == ("u32", "static", ("i32",))


def test_every_unmappable_fixture_function_is_covered() -> None:
    marked = set(_info("unmappable").marked) - {"returns_function_pointer"}  # see the xfail above
    marked -= {"returns_string"}  # a const char * result is a static string: see test_a_const_char_result_is_a_string
    assert marked == {name for fixture, name in UNMAPPABLE if fixture == "unmappable"}


def test_map_functions_in_the_order_asked() -> None:
    info = _info("scalars")
    names = ["mixed", "echo_int", "do_nothing"]
    assert [fn.name for fn in map_functions(info, names, module=MODULE)] == names


def test_map_functions_raises_at_the_first_unmappable() -> None:
    info = _info("unmappable")
    with pytest.raises(SignatureError, match=r"function variadic\(\)"):
        list(map_functions(info, ["variadic", "returns_pointer"], module=MODULE))


# --- which functions are exported ------------------------------------------------------


def test_marked_functions_are_exported() -> None:
    # WASM_EXPORT or export_name(...), on the definition or on an earlier declaration;
    # not visibility("default") alone, not an unmarked definition, not a marked declaration
    assert select_exports(_info("exports"), None, module=MODULE) == [
        "c_checksum",
        "marked",
        "marked_declaration",
        "renamed_declaration",
    ]


@pytest.mark.parametrize(
    ("requested", "exported"),
    [
        (["helper"], ["helper"]),
        (["marked", "uses_internal", "helper"], ["marked", "uses_internal", "helper"]),  # in the order asked
        (["visible", "marked", "visible"], ["visible", "marked"]),
        ([], []),
    ],
    ids=["unmarked", "order-kept", "duplicates-dropped", "none"],
)
def test_explicit_exports(requested: list[str], exported: list[str]) -> None:
    assert select_exports(_info("exports"), requested, module=MODULE) == exported


def test_explicit_exports_across_sources() -> None:
    info = load_info("exports", "unmarked")
    assert select_exports(info, ["alpha", "marked"], module=MODULE) == ["alpha", "marked"]
    assert select_exports(info, None, module=MODULE) == [
        "c_checksum",
        "marked",
        "marked_declaration",
        "renamed_declaration",
    ]


@pytest.mark.parametrize(
    ("requested", "unknown"),
    [(["nope"], "nope"), (["marked", "nope", "declared_only"], "nope, declared_only"), (["Marked"], "Marked")],
    ids=["missing", "missing-and-declared-only", "case-matters"],
)
def test_unknown_exports(requested: list[str], unknown: str) -> None:
    with pytest.raises(WasmCompileError) as caught:
        select_exports(_info("exports"), requested, module=MODULE)
    assert str(caught.value) == (
        f"{MODULE}: unknown export(s) {unknown}: no such function is defined in the sources or the project's headers. Functions defined: "
        "c_checksum, helper, internal, marked, marked_declaration, renamed_declaration, uses_internal, visible"
    )


def test_nothing_marked() -> None:
    with pytest.raises(WasmCompileError) as caught:
        select_exports(_info("unmarked"), None, module=MODULE)
    assert str(caught.value) == (
        f"{MODULE}: no function is marked for export. Mark kernels with WASM_EXPORT "
        '(#include <wasm_ext.h>) or __attribute__((export_name("..."))), or list '
        "them in `exports`. Functions defined: alpha, beta"
    )


def test_nothing_defined() -> None:
    with pytest.raises(WasmCompileError, match=r"no function is marked for export\..*Functions defined: none$"):
        select_exports(SourceInfo(), None, module=MODULE)
    with pytest.raises(WasmCompileError, match=r"unknown export\(s\) f: .* Functions defined: none$"):
        select_exports(SourceInfo(), ["f"], module=MODULE)


def test_a_static_function_cannot_be_exported() -> None:
    info = SourceInfo()
    info.functions["helper"] = RawFunction("helper", [], "int", False, "k.c:3", defined=True, static=True)
    info.functions["ok"] = RawFunction("ok", [], "int", False, "k.c:9", defined=True)
    with pytest.raises(WasmCompileError) as caught:
        select_exports(info, ["ok", "helper"], module=MODULE)
    assert str(caught.value) == (
        f"{MODULE}: helper() (k.c:3) is static: the linker cannot export a function with internal linkage; "
        "export a non-static function that calls it (a static function defined in a header is exported through "
        "a wrapper the build generates)"
    )


@pytest.mark.parametrize("name", ["out_len", "size", "count", "p_result", "outValue"])
def test_a_lone_pointer_named_like_a_result_is_called_an_out_parameter(name: str) -> None:
    """Before: for size_t *out_len the hint said to name a length after it out_len_len."""
    raw = RawFunction("f", [RawParam(name, "size_t *")], "int", False, "k.c:1")
    with pytest.raises(SignatureError) as caught:
        map_function(raw, {"size_t": "unsigned long"}, module=MODULE)
    message = str(caught.value)
    assert f"parameter {name} (size_t *) is a pointer to one value (an out-parameter?): declare " in message
    assert f'functions.f.{name} = "out"' in message and "@param[out]" in message and "_len_len" not in message


def test_every_unmappable_function_is_reported_at_once() -> None:
    info = SourceInfo()
    for name, spelling in (("ok", "int"), ("bad_one", "int *"), ("bad_two", "struct s")):
        info.functions[name] = RawFunction(name, [RawParam("x", spelling)], "int", False, f"k.c:{len(name)}")
    with pytest.raises(SignatureError) as caught:
        map_functions(info, ["ok", "bad_one", "bad_two"], module=MODULE)
    first, *rest = str(caught.value).splitlines()
    assert first == f"{MODULE}: 2 functions cannot be mapped:"
    assert [line.split(":")[0].strip() for line in rest] == ["function bad_one() at k.c", "function bad_two() at k.c"]
    assert [f.name for f in map_functions(info, ["ok"], module=MODULE)] == ["ok"]


def test_a_static_function_of_a_header_is_wrapped_not_refused() -> None:
    info = SourceInfo()
    info.functions["twice"] = RawFunction(
        "twice", [RawParam("x", "int")], "int", False, "/p/tiny.h:2", defined=True, static=True, unit="/p/k.c"
    )
    info.functions["local"] = RawFunction(
        "local", [], "int", False, "/p/k.c:9", defined=True, static=True, unit="/p/k.c"
    )
    assert select_exports(info, ["twice"], module=MODULE) == ["twice"]
    with pytest.raises(WasmCompileError, match=r"local\(\) \(/p/k.c:9\) is static"):
        select_exports(info, ["twice", "local"], module=MODULE)


def test_the_wrapper_unit_includes_its_source_and_exports_each_static_function() -> None:
    from pathlib import Path

    from wasm_ext.builder.compile import wrapper_source

    fns = [
        RawFunction("twice", [RawParam("x", "int")], "int", False, "h:1"),
        RawFunction("fill", [RawParam("p", "uint8_t *"), RawParam("n", "size_t")], "void", False, "h:2"),
        RawFunction("seven", [], "int", False, "h:3"),
    ]
    assert wrapper_source(Path("/p/k.c"), fns).splitlines()[1:] == [
        '#include "/p/k.c"',
        '__attribute__((export_name("twice"))) int __wasm_ext_export_twice(int a0) { return twice(a0); }',
        '__attribute__((export_name("fill"))) void __wasm_ext_export_fill(uint8_t *a0, size_t a1) { fill(a0, a1); }',
        '__attribute__((export_name("seven"))) int __wasm_ext_export_seven(void) { return seven(); }',
    ]
