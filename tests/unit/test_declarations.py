"""What C cannot say, declared: the ``functions`` table, its checks, the mapping it steers, the stub it makes.

Parsing and validation (``wasm_ext.declarations``, ``WasmExtension``, pyproject), the
mapping of declared parameters (values by pointer, buffers with any length, shared
lengths, byte counts, Doxygen directions, the ``const char *`` + length warning), and
the generated code over the fake engine: values staged, read back and returned.
"""

from __future__ import annotations

import pickle
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.fake import FakeCall, FakeInstance, FakeKernels, GeneratedStub, imported_stub

from wasm_ext import WasmExtension
from wasm_ext.builder.c_ast import RawFunction, RawParam, SourceInfo, collect
from wasm_ext.builder.mapping import map_function, map_functions
from wasm_ext.builder.model import Function, Param
from wasm_ext.config import extensions_from_pyproject
from wasm_ext.declarations import FunctionDecl, ParamSpec, parse_functions, parse_spec
from wasm_ext.errors import ConfigError, SignatureError

MODULE = "kernels"
TYPEDEFS = {"size_t": "unsigned long", "uint8_t": "unsigned char", "int32_t": "int"}

# --- the syntax --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("in", ParamSpec("in", "in")),
        ("out", ParamSpec("out", "out")),
        ("inout", ParamSpec("inout", "inout")),
        ("in[n]", ParamSpec("in[n]", "in", "n")),
        ("inout[ len ]", ParamSpec("inout[ len ]", "inout", "len")),
        ("in[nbytes bytes]", ParamSpec("in[nbytes bytes]", "in", "nbytes", True)),
        ("string", ParamSpec("string", "string")),
        (" out ", ParamSpec(" out ", "out")),
    ],
)
def test_specs(text: str, spec: ParamSpec) -> None:
    assert parse_spec(text) == spec


@pytest.mark.parametrize("text", ["", "output", "in[]", "in[1n]", "in[n", "in[n] bytes", "in[n words]", "IN", "out[n]"])
def test_not_specs(text: str) -> None:
    assert parse_spec(text) is None


def test_a_bad_spec_names_the_key_and_the_syntax() -> None:
    with pytest.raises(ConfigError) as caught:
        WasmExtension("pkg.k", ["k.c"], functions={"f": {"x": "output"}})
    assert str(caught.value).startswith("pkg.k: functions.f.x = 'output' is not a parameter spec; use 'in', 'out'")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("out[x.y]", "Attribute is not allowed"),
        ("out[n = 1.5]", "1.5 is not an integer"),
        ("out[n = f(x=1)]", "calls must be to a bound function by name"),
        ("out[*n] -> return", "the produced length is what *n holds after the call: drop '-> return'"),
        ("out[]", "an output buffer is out[N]"),
        ("out[n = (]", "not an expression"),
    ],
)
def test_bad_output_buffers(text: str, why: str) -> None:
    with pytest.raises(
        ConfigError, match=rf"functions.f.dst = {re.escape(repr(text))} is not a parameter spec; .*{re.escape(why)}"
    ):
        WasmExtension("pkg.k", ["k.c"], functions={"f": {"dst": text}})


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (["f"], "functions must be a table"),
        ({"f x": {"a": "in"}}, "functions.f x: not a C function name"),
        ({"f": {}}, "functions.f must be a non-empty table"),
        ({"f": "in"}, "functions.f must be a non-empty table"),
        ({"f": {"1a": "in"}}, "functions.f.1a: not a C parameter name"),
        ({"f": {"a": 3}}, "functions.f.a = 3 is not a parameter spec"),
        ({"f": {"n": "in[n]"}}, "functions.f.n = 'in[n]': a buffer cannot be its own length"),
    ],
)
def test_table_shape_errors(table: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^pkg.k: {message}".replace("[", r"\[").replace("]", r"\]")):
        WasmExtension("pkg.k", ["k.c"], functions=table)


def test_the_table_keeps_its_order() -> None:
    ext = WasmExtension("pkg.k", ["k.c"], functions={"g": {"b": "out", "a": "in[n]"}, "f": {"x": "inout"}})
    assert ext.functions == (
        FunctionDecl("g", (("b", ParamSpec("out", "out")), ("a", ParamSpec("in[n]", "in", "n")))),
        FunctionDecl("f", (("x", ParamSpec("inout", "inout")),)),
    )
    assert ext.declared_in == "WasmExtension(functions=...)"


def test_pyproject_tables(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        "[[tool.wasm-ext.modules]]\n"
        'name = "pkg.k"\nsources = ["k.c"]\n'
        "[tool.wasm-ext.modules.functions]\n"
        'parse = { text = "in[len]", used = "out" }\n'
        "[tool.wasm-ext.modules.functions.xor_into]\n"
        'src = "in[n]"\ndst = "inout[n]"\n'
    )
    (ext,) = extensions_from_pyproject(pyproject)
    assert (
        parse_functions(
            {"parse": {"text": "in[len]", "used": "out"}, "xor_into": {"src": "in[n]", "dst": "inout[n]"}}, where=""
        )
        == ext.functions
    )
    assert ext.declared_in == f"{pyproject} [[tool.wasm-ext.modules]]"
    pyproject.write_text('[[tool.wasm-ext.modules]]\nname = "pkg.k"\nsources = ["k.c"]\nfunctions = ["parse"]\n')
    with pytest.raises(ConfigError, match=r"'functions' must be a table of C function name"):
        extensions_from_pyproject(pyproject)
    pyproject.write_text(
        '[[tool.wasm-ext.modules]]\nname = "pkg.k"\nsources = ["k.c"]\n'
        '[tool.wasm-ext.modules.functions.parse]\ntext = "in[len"\n'
    )
    with pytest.raises(
        ConfigError, match=rf"^{pyproject}: pkg.k: functions.parse.text = 'in\[len' is not a parameter spec"
    ):
        extensions_from_pyproject(pyproject)


# --- the mapping -------------------------------------------------------------------------


def _raw(*params: tuple[str, str], result: str = "int", directions: dict[str, str] | None = None) -> RawFunction:
    return RawFunction("f", [RawParam(n, s) for n, s in params], result, False, "k.c:7", directions=directions or {})


def _mapped(raw: RawFunction, **specs: str) -> Function:
    (decl,) = parse_functions({"f": specs}, where="t") if specs else (None,)
    return map_function(raw, TYPEDEFS, module=MODULE, declared=decl, origin="setup.py")


def _refused(raw: RawFunction, **specs: str) -> str:
    with pytest.raises(SignatureError) as caught:
        _mapped(raw, **specs)
    return str(caught.value)


def test_values_by_pointer() -> None:
    fn = _mapped(
        _raw(("x", "double *"), ("used", "size_t *"), ("state", "int *"), ("k", "int")),
        x="in",
        used="out",
        state="inout",
    )
    assert fn.params == (
        Param("x", "in", "f64", "double *"),
        Param("used", "out", "u32", "size_t *"),
        Param("state", "inout", "i32", "int *"),
        Param("k", "scalar", "i32", "int"),
    )
    assert [p.name for p in fn.arguments] == ["x", "state", "k"]
    assert [p.name for p in fn.returned] == ["used", "state"]
    assert fn.wasm_params == ("i32", "i32", "i32", "i32") and fn.uses_memory


def test_a_const_pointer_can_be_an_in_value() -> None:
    assert _mapped(_raw(("x", "const double *")), x="in").params == (Param("x", "in", "f64", "const double *"),)


def test_buffers_with_any_length_anywhere() -> None:
    """Lengths before their pointer, of any name, shared by two buffers, counting bytes."""
    raw = _raw(
        ("n", "size_t"), ("src", "const uint8_t *"), ("dst", "uint8_t *"), ("words", "const int *"), ("nbytes", "int")
    )
    fn = _mapped(raw, src="in[n]", dst="inout[n]", words="in[nbytes bytes]")
    assert fn.params == (
        Param("n", "length", "u32", "size_t"),
        Param("src", "buffer", "u8", "const uint8_t *", False, 0),
        Param("dst", "buffer", "u8", "uint8_t *", True, 0),
        Param("words", "buffer", "i32", "const int *", False, 4, True),
        Param("nbytes", "length", "i32", "int"),
    )
    assert [p.name for p in fn.arguments] == ["src", "dst", "words"]
    assert [p.name for p in fn.lengths_of(0)] == ["src", "dst"]


def test_a_writable_pointer_declared_in_is_read_only() -> None:
    (buf, _) = _mapped(_raw(("p", "uint8_t *"), ("len", "int")), p="in[len]").params
    assert not buf.writable


def test_a_declaration_wins_over_the_name_rule() -> None:
    """``p, n`` pairs by the rule; declared, ``n`` is a value and ``p`` one int by pointer."""
    fn = _mapped(_raw(("p", "int *"), ("n", "int")), p="out")
    assert [p.kind for p in fn.params] == ["out", "scalar"]


def test_doxygen_directions_count_where_nothing_is_declared() -> None:
    raw = _raw(("a", "int *"), ("b", "double *"), ("c", "int *"), directions={"a": "out", "b": "in,out", "c": "in"})
    with pytest.raises(SignatureError, match="parameter c"):  # @param[in] alone says nothing about a length
        _mapped(raw)
    fn = _mapped(raw, c="in", a="inout")
    assert [p.kind for p in fn.params] == ["inout", "inout", "in"]


def test_doc_comment_directions_are_read(tmp_path: Path) -> None:
    comment = {
        "kind": "FullComment",
        "inner": [
            {"kind": "ParagraphComment", "inner": [{"kind": "TextComment", "text": " Parse."}]},
            {"kind": "ParamCommandComment", "direction": "out", "explicit": True, "param": "used"},
            {"kind": "ParamCommandComment", "direction": "in,out", "explicit": True, "param": "state"},
            {"kind": "ParamCommandComment", "direction": "in", "explicit": False, "param": "text"},
        ],
    }
    params = [
        {"kind": "ParmVarDecl", "name": n, "type": {"qualType": t}}
        for n, t in (("text", "const char *"), ("used", "int *"), ("state", "int *"))
    ]
    node = {
        "kind": "FunctionDecl",
        "loc": {"file": "k.c", "line": 3},
        "name": "parse",
        "type": {"qualType": "int (const char *, int *, int *)"},
        "inner": [*params, {"kind": "CompoundStmt"}, comment],
    }
    info = SourceInfo()
    collect({"inner": [node]}, "k.c", info)
    assert info.functions["parse"].directions == {"used": "out", "state": "in,out"}
    fn = map_function(info.functions["parse"], {}, module=MODULE)
    assert [p.kind for p in fn.params] == ["string", "out", "inout"]


# every way a declaration can be wrong -> what the error says after "<where>: functions.f.<key> = '...' (setup.py): "
BAD = [
    ({"nope": "out"}, "nope", "f() has no parameter nope (it has: p, n)"),
    ({"p": "in[len]"}, "p", "f() has no parameter len to hold the length"),
    ({"p": "in[p2]"}, "p", "f() has no parameter p2 to hold the length"),
    ({"p": "in[n]", "n": "in"}, "n", "it is the length of p, so it cannot be declared itself"),
    ({"p": "string"}, "p", "a string must be a 'const char *', not 'const int *'"),
    ({"p": "inout[n]"}, "p", "'const int *' is const, so the function cannot write it: declare it \"in[...]\""),
    ({"p": "out"}, "p", "'const int *' is const, so the function cannot write it: declare it \"in\""),
]


@pytest.mark.parametrize(("specs", "key", "why"), BAD)
def test_bad_declarations_name_the_key(specs: dict[str, str], key: str, why: str) -> None:
    message = _refused(_raw(("p", "const int *"), ("n", "int")), **specs)
    assert message == f"{MODULE}: function f() at k.c:7: functions.f.{key} = {specs[key]!r} (setup.py): {why}"


def test_a_value_by_pointer_must_be_a_pointer_to_a_number() -> None:
    for spelling in ("int", "void *", "int **"):
        message = _refused(_raw(("x", spelling)), x="out")
        assert message.endswith(
            f"functions.f.x = 'out' (setup.py): 'out' is for a pointer to one number, not {spelling!r}"
        )


def test_a_length_must_be_an_integer() -> None:
    message = _refused(_raw(("p", "const int *"), ("x", "double")), p="in[x]")
    assert message.endswith("functions.f.p = 'in[x]' (setup.py): the length x is a 'double', not an integer")


def test_a_buffer_must_point_to_numbers() -> None:
    message = _refused(_raw(("p", "const char **"), ("n", "int")), p="in[n]")
    assert message.endswith("a buffer must be a pointer to numbers or void, not 'const char **'")


def test_declarations_of_functions_not_exported_are_errors() -> None:
    info = SourceInfo()
    info.functions["f"] = _raw(("x", "int"))
    info.functions["hidden"] = _raw(("x", "int"))
    decls = parse_functions({"hidden": {"x": "out"}, "ghost": {"x": "out"}}, where="t")
    with pytest.raises(SignatureError) as caught:
        map_functions(info, ["f"], module=MODULE, declared=decls, origin="pyproject.toml")
    assert str(caught.value).splitlines() == [
        f"{MODULE}: 2 functions cannot be mapped:",
        "  functions.hidden (pyproject.toml): hidden() is not exported (exports: f)",
        "  functions.ghost (pyproject.toml): ghost() is not defined in the sources (exports: f)",
    ]


@pytest.mark.parametrize("length", ["srclen", "srcSize", "cap"])
def test_a_string_followed_by_an_integer_warns(length: str) -> None:
    raw = _raw(("src", "const char *"), (length, "size_t"))
    warnings: list[str] = []
    fn = map_function(raw, TYPEDEFS, module=MODULE, warnings=warnings)
    assert [p.kind for p in fn.params] == ["string", "scalar"]
    (warning,) = warnings
    assert warning == (
        f"{MODULE}: function f() at k.c:7: src (const char *) is followed by {length} (size_t): src is passed as a "
        f"NUL-terminated string and {length} as a separate integer. If {length} is the length of src, declare "
        f'functions.f.src = "in[{length}]"; if src is a string, declare functions.f.src = "string" to say so'
    )
    for declared in ("string", f"in[{length}]"):
        warnings.clear()
        (decl,) = parse_functions({"f": {"src": declared}}, where="t")
        map_function(raw, TYPEDEFS, module=MODULE, declared=decl, warnings=warnings)
        assert warnings == []


def test_no_warning_for_a_string_and_a_length_name_or_a_non_integer() -> None:
    warnings: list[str] = []
    map_function(_raw(("s", "const char *"), ("len", "size_t")), TYPEDEFS, module=MODULE, warnings=warnings)
    map_function(_raw(("s", "const char *"), ("x", "double")), TYPEDEFS, module=MODULE, warnings=warnings)
    assert warnings == []


# --- the stub over the fake engine -----------------------------------------------------

U8 = "const uint8_t *"
FUNCTIONS = [
    _mapped(_raw(("x", "double *"), ("k", "int")), x="inout"),
    _mapped(
        _raw(("text", U8), ("len", "size_t"), ("used", "size_t *"), ("ok", "bool *")),
        text="in[len]",
        used="out",
        ok="out",
    ),
    _mapped(_raw(("n", "size_t"), ("src", U8), ("dst", "uint8_t *"), result="void"), src="in[n]", dst="inout[n]"),
    _mapped(
        _raw(("words", "const int *"), ("nbytes", "int"), ("scale", "const float *")),
        words="in[nbytes bytes]",
        scale="in",
    ),
    _mapped(_raw(("v", "long long *"), result="void"), v="out"),
]
EXPORTS = ["step", "parse", "xor_into", "weigh", "get"]
FUNCTIONS = [Function(**{**f.__dict__, "name": e, "export": e}) for f, e in zip(FUNCTIONS, EXPORTS)]


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GeneratedStub]:
    with imported_stub(FUNCTIONS, tmp_path_factory.mktemp("declarations")) as generated:
        yield generated


@pytest.fixture
def kernels(stub: GeneratedStub) -> FakeKernels:
    return FakeKernels(stub)


def _write(call: FakeCall, instance: FakeInstance, position: int, data: bytes) -> None:
    instance.poke(int(call.value("u32", position)), data)


def test_inout_value_goes_in_and_comes_back(kernels: FakeKernels) -> None:
    seen: list[float] = []

    def halve(call: FakeCall, instance: FakeInstance) -> None:
        (x,) = struct.unpack("<d", call.memory[int(call.value("u32", 0))])
        seen.append(x)
        _write(call, instance, 0, struct.pack("<d", x / 2))

    kernels.program("step", effect=halve, result=7)
    assert kernels["step"](3.0, 1) == (7, 1.5)
    assert seen == [3.0]
    assert kernels["step"](x=1, k=2) == (7, 0.5)  # keywords; an int for a double
    with pytest.raises(TypeError, match=r"^step\(\): x must be a float, not str$"):
        kernels["step"]("1", 2)


def test_out_values_come_back_as_a_tuple_after_the_result(kernels: FakeKernels) -> None:
    def parse(call: FakeCall, instance: FakeInstance) -> None:
        assert call.value("u32", 1) == 5  # the length, filled in
        _write(call, instance, 2, struct.pack("<I", 3))
        _write(call, instance, 3, b"\x01")

    kernels.program("parse", effect=parse, result=-1)
    assert kernels["parse"](b"hello") == (-1, 3, True)
    events = [e[0] for e in kernels.instance.events]
    assert events == ["stage", "stage", "call", "read", "release", "release"]  # the text, then one block of values


def test_a_void_function_returns_its_one_out_value(kernels: FakeKernels) -> None:
    kernels.program("get", effect=lambda call, instance: _write(call, instance, 0, struct.pack("<q", -(2**40))))
    assert kernels["get"]() == -(2**40)


def test_shared_length(kernels: FakeKernels) -> None:
    def xor(call: FakeCall, instance: FakeInstance) -> None:
        n = int(call.value("u32", 0))
        src, dst = (instance.memory[int(call.value("u32", p))] for p in (1, 2))
        dst[:n] = bytes(a ^ b for a, b in zip(src[:n], dst[:n]))

    kernels.program("xor_into", effect=xor)
    dst = bytearray(b"\x0f\x0f\x0f")
    assert kernels["xor_into"](b"\xff\x00\x01", dst) is None
    assert dst == bytearray(b"\xf0\x0f\x0e")
    with pytest.raises(
        ValueError, match=r"^xor_into\(\): src and dst share the length n and must be as long: 3 != 2 items$"
    ):
        kernels["xor_into"](b"abc", bytearray(2))
    assert len(kernels.calls) == 1


def test_byte_count_and_in_value(kernels: FakeKernels) -> None:
    kernels.program("weigh", result=0)
    kernels["weigh"](np.arange(3, dtype=np.int32), 0.5)
    (call,) = kernels.calls
    assert call.value("i32", 1) == 12  # bytes, not elements
    assert struct.unpack("<f", call.memory[int(call.value("u32", 2))][:4]) == (0.5,)


def test_signatures_and_types(stub: GeneratedStub) -> None:
    pyi = stub.pyi
    assert "def step(x: float, k: int) -> tuple[int, float]:" in pyi
    assert "def parse(text: Buffer | WasmBuffer) -> tuple[int, int, bool]:" in pyi
    assert "def xor_into(src: Buffer | WasmBuffer, dst: Buffer | WasmBuffer) -> None:" in pyi
    assert "def get() -> int:" in pyi
    doc = stub.import_module().xor_into.__doc__
    assert "C: ``void xor_into(size_t n, const uint8_t *src, uint8_t *dst)``" in doc
    assert (
        "``src``: buffer of u8 (read-only); ``n`` is its length, filled in (shared with dst: they must be as long)."
        in doc
    )


def test_a_doc_comment_direction_that_cannot_hold_says_so() -> None:
    message = _refused(_raw(("x", "const int *"), directions={"x": "out"}))
    assert message == (
        f"{MODULE}: function f() at k.c:7: @param[out] x (its doc comment): 'const int *' is const, so the "
        'function cannot write it: declare it "in"'
    )


# --- returned strings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "specs", "kind"),
    [
        ("const char *", {}, "static"),
        ("char *", {"return": "string"}, "static"),
        ("char *", {"return": "string, free=free"}, "free"),
    ],
)
def test_string_results(result: str, specs: dict[str, str], kind: str) -> None:
    fn = _mapped(_raw(("x", "int"), result=result), **specs)
    assert (fn.result, fn.result_string) == ("u32", kind)


def test_string_result_declarations_are_checked() -> None:
    with pytest.raises(
        SignatureError,
        match=r"functions.f.return = 'string' \(setup.py\): a string result must be a 'char \*', not 'int'",
    ):
        _mapped(_raw(("x", "int")), **{"return": "string"})
    with pytest.raises(
        ConfigError,
        match=r"functions.f.return = 'str' is not a result spec; use 'string', 'string, free=free', 'bytes\[\*N\]', or 'error if < 0'",
    ):
        parse_functions({"f": {"return": "str"}}, where="k")
    with pytest.raises(ConfigError, match=r"only the C library's free\(\) can free a result for now"):
        parse_functions({"f": {"return": "string, free=lib_free"}}, where="k")
    with pytest.raises(SignatureError, match="char \\*"):  # a char * result is not guessed to be a string
        _mapped(_raw(("x", "int"), result="char *"))


STRINGS = [
    _mapped(_raw(("code", "int"), result="const char *")),
    _mapped(_raw(("n", "int"), result="char *"), **{"return": "string, free=free"}),
]
STRINGS = [Function(**{**f.__dict__, "name": e, "export": e}) for f, e in zip(STRINGS, ["error_name", "make_text"])]


class _Memory(FakeInstance):
    """A fake instance with a flat memory, as read_string sees it."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.flat = bytearray(data)
        self.freed: list[int] = []

    def read_string(self, address: int, function: str) -> bytes:
        return bytes(self.flat[address : self.flat.index(0, address)])

    def free(self, address: int) -> None:
        self.freed.append(address)


def test_string_results_over_the_fake_engine(tmp_path: Path) -> None:
    with imported_stub(STRINGS, tmp_path) as generated:
        kernels = FakeKernels(generated, instance=_Memory(b"\0ok\0caf\xc3\xa9 \xff\0"))
        kernels.program("error_name", result=1)
        assert kernels["error_name"](3) == "ok"
        kernels.program("error_name", result=0)
        assert kernels["error_name"](3) is None  # NULL
        kernels.program("make_text", result=4)
        text = kernels["make_text"](1)
        assert text == "café \udcff" and text.encode("utf-8", "surrogateescape") == b"caf\xc3\xa9 \xff"
        assert kernels.instance.freed == [4]
        assert "def error_name(code: int) -> str | None:" in generated.pyi


# --- error conventions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("error if < 0", "< 0", None),
        ("error if != 0, message=err_name", "!= 0", "err_name"),
        ("error if ==0", "== 0", None),
        ("error if NULL", "== 0", None),
        ("error if false", "== 0", None),
        ("error if is_error , message = err_name", "is_error", "err_name"),
    ],
)
def test_error_conventions_parse(text: str, error: str, message: str | None) -> None:
    (decl,) = parse_functions({"f": {"return": text}}, where="t")
    spec = decl.spec("return")
    assert spec is not None and (spec.direction, spec.error, spec.message) == ("error", error, message)


@pytest.mark.parametrize(
    ("result", "text", "why"),
    [
        ("void", "error if != 0", "the function returns nothing"),
        ("unsigned int", "error if < 0", "'< 0' needs a signed integer result, not 'unsigned int'"),
        ("const char *", "error if < 0", "a pointer result ('const char *') can only be 'error if NULL'"),
        ("double", "error if != 0", "a 'double' result cannot be an error code"),
    ],
)
def test_impossible_error_conventions(result: str, text: str, why: str) -> None:
    message = _refused(_raw(("x", "int"), result=result), **{"return": text})
    assert message.endswith(f"functions.f.return = {text!r} (setup.py): {why}")


def _info(*raws: RawFunction) -> SourceInfo:
    info = SourceInfo()
    for raw in raws:
        info.functions[raw.name] = raw
    return info


def test_error_helpers_must_be_exported_and_fit() -> None:
    f = _raw(("x", "int"))
    name = RawFunction("err_name", [RawParam("code", "int")], "const char *", False, "k.c:2")
    bad_name = RawFunction("bad_name", [RawParam("code", "int")], "int", False, "k.c:3")
    decls = parse_functions({"f": {"return": "error if < 0, message=err_name"}}, where="t")
    with pytest.raises(
        SignatureError, match=r"functions.f.return \(o\): err_name\(\) is not exported; add it to `exports`"
    ):
        map_functions(_info(f, name), ["f"], module=MODULE, declared=decls, origin="o")
    assert [
        fn.error_message for fn in map_functions(_info(f, name), ["f", "err_name"], module=MODULE, declared=decls)
    ] == ["err_name", ""]
    decls = parse_functions({"f": {"return": "error if < 0, message=bad_name"}}, where="t")
    with pytest.raises(
        SignatureError, match=r"bad_name\(\) cannot be its error message: it must take one integer and return a string"
    ):
        map_functions(_info(f, bad_name), ["f", "bad_name"], module=MODULE, declared=decls)


ERRORS = [
    Function(
        "decode",
        (Param("x", "scalar", "i32", "int"),),
        "i32",
        "int",
        "",
        "k.c:1",
        "decode",
        error="< 0",
        error_message="err_name",
    ),
    Function("reset", (Param("x", "scalar", "i32", "int"),), "i32", "int", "", "k.c:2", "reset", error="!= 0"),
    Function(
        "err_name",
        (Param("code", "scalar", "i32", "int"),),
        "u32",
        "const char *",
        "",
        "k.c:3",
        "err_name",
        result_string="static",
    ),
]


def test_errors_over_the_fake_engine(tmp_path: Path) -> None:
    with imported_stub(ERRORS, tmp_path) as generated:
        module = generated.import_module()
        kernels = FakeKernels(generated, instance=_Memory(b"\0bad input\0"))
        kernels.program("decode", result=5)
        assert kernels["decode"](1) == 5  # not an error: the result is kept
        kernels.program("decode", result=-2)
        kernels.program("err_name", result=1)
        with pytest.raises(module.Error) as caught:
            kernels["decode"](1)
        error = caught.value
        assert isinstance(error, module.KernelError) and (error.function, error.code, error.detail) == (
            "decode",
            -2,
            "bad input",
        )
        assert str(error) == "decode() failed: bad input (returned -2)"
        assert pickle.loads(pickle.dumps(error)).detail == "bad input"
        assert [c.export for c in kernels.calls] == ["decode", "decode", "err_name"]
        kernels.program("reset", result=0)
        assert kernels["reset"](1) is None  # a status code drops out
        kernels.program("reset", result=3)
        with pytest.raises(module.Error, match=r"^reset\(\) failed: error \(returned 3\)$"):
            kernels["reset"](1)
        assert "def reset(x: int) -> None:" in generated.pyi and "class Error(_LibraryError):" in generated.pyi
        assert "Error" in module.__all__


def test_an_out_value_after_an_in_value_reads_its_own_place(tmp_path: Path) -> None:
    """Before: the out value was read from the block's first place (the in value's)."""
    fn = _mapped(_raw(("a", "const int *"), ("b", "int *"), result="void"), a="in", b="out")
    with imported_stub([Function(**{**fn.__dict__, "name": "g", "export": "g"})], tmp_path) as generated:
        kernels = FakeKernels(generated)
        kernels.program(
            "g", effect=lambda call, instance: instance.poke(int(call.value("u32", 1)), struct.pack("<i", 9))
        )
        assert kernels["g"](4) == 9


# --- output buffers ---------------------------------------------------------------------


def test_output_buffer_mapping() -> None:
    raw = _raw(("dst", "uint8_t *"), ("cap", "size_t"), ("src", U8), ("srcSize", "size_t"), result="size_t")
    fn = _mapped(raw, src="in[srcSize]", dst="out[cap = bound(srcSize)] -> return")
    assert fn.params[:2] == (
        Param("dst", "output", "u8", "uint8_t *", True, 1, capacity="bound(srcSize)", produced="return"),
        Param("cap", "capacity", "u32", "size_t"),
    )
    assert [p.name for p in fn.arguments] == ["src"]
    raw = _raw(("n", "size_t"), ("out_size", "size_t *"), ("out", "uint8_t *"))
    fn = _mapped(raw, out="out[*out_size]")
    assert [p.kind for p in fn.params] == ["scalar", "capacity_ptr_arg", "output"]
    assert [p.name for p in fn.arguments] == ["n", "out_size"]


@pytest.mark.parametrize(
    ("specs", "why"),
    [
        ({"dst": "out[nope = 4]"}, "f() has no parameter nope to hold the capacity"),
        ({"dst": "out[cap = 4]", "cap": "in"}, "it carries the capacity of dst, so it cannot be declared itself"),
        ({"dst": "out[*cap = 4]"}, "its capacity cap must be a pointer to an integer, not 'size_t'"),
        ({"dst": "out[cap = zz + 1]"}, "its capacity refers to zz, which is not another parameter of f()"),
        ({"dst": "out[cap = cap]"}, "its capacity refers to cap, which is not another parameter of f()"),
        (
            {"src": "out[cap = 4]", "dst": "in"},
            "an output buffer must be a writable pointer to numbers or void, not 'const uint8_t *'",
        ),
        (
            {"dst": "out[cap = 4] -> return"},
            "'-> return' needs an integer result holding the produced length, not 'double'",
        ),
    ],
)
def test_bad_output_declarations(specs: dict[str, str], why: str) -> None:
    raw = _raw(("dst", "uint8_t *"), ("cap", "size_t"), ("src", U8), result="double")
    specs.setdefault("src", "in")  # one value: keeps the rules from stopping at src first
    assert _refused(raw, **specs).endswith(why)


OUTPUT_FUNCTIONS = [
    _mapped(_raw(("dst", "uint8_t *"), ("cap", "size_t"), result="size_t"), dst="out[cap = 16] -> return"),
    _mapped(_raw(("size", "size_t *"), ("out", "int32_t *"), result="void"), out="out[*size = 3]"),
]
OUTPUT_FUNCTIONS = [
    Function(**{**f.__dict__, "name": e, "export": e}) for f, e in zip(OUTPUT_FUNCTIONS, ["fill", "fill_ints"])
]


def test_output_buffers_over_the_fake_engine(tmp_path: Path) -> None:
    with imported_stub(OUTPUT_FUNCTIONS, tmp_path) as generated:
        kernels = FakeKernels(generated)

        def fill(call: FakeCall, instance: FakeInstance) -> None:
            assert call.value("u32", 1) == 16  # the capacity, filled in
            instance.memory[int(call.value("u32", 0))] = bytearray(b"abcdef" + bytes(10))

        kernels.program("fill", effect=fill, result=6)
        assert kernels["fill"]() == b"abcdef"
        assert [e[0] for e in kernels.instance.events] == ["call", "read", "release"]  # nothing copied in

        def fill_ints(call: FakeCall, instance: FakeInstance) -> None:
            size_at, out_at = int(call.value("u32", 0)), int(call.value("u32", 1))
            assert struct.unpack("<I", call.memory[size_at][:4]) == (3,)
            instance.poke(size_at, struct.pack("<I", 2))
            instance.memory[out_at] = bytearray(struct.pack("<3i", 7, 8, 9))

        kernels.program("fill_ints", effect=fill_ints)
        assert kernels["fill_ints"]() == struct.pack("<2i", 7, 8)


# --- cursors, NULLs, constants by pointer, bytes the library keeps ----------------------------

STREAM = _raw(
    ("s", "int"),
    ("available_in", "size_t *"),
    ("next_in", "const uint8_t **"),
    ("available_out", "size_t *"),
    ("next_out", "uint8_t **"),
    ("alloc", "void *(*)(void *, size_t)"),
)
STREAM_SPECS = {"next_in": "in[*available_in]", "available_out": "in = 7", "next_out": "null", "alloc": "null"}
TAKE = _raw(("size", "size_t *"), result="const uint8_t *")


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("null", ParamSpec("null", "null")),
        ("in = 0", ParamSpec("in = 0", "fixed", value=0)),
        ("in=-3", ParamSpec("in=-3", "fixed", value=-3)),
        ("in[*avail]", ParamSpec("in[*avail]", "in", "avail", length_pointer=True)),
        ("own", ParamSpec("own", "own")),
    ],
)
def test_cursor_and_constant_specs(text: str, spec: ParamSpec) -> None:
    assert parse_spec(text) == spec


@pytest.mark.parametrize("text", ["inout[*n]", "in[*n bytes]", "in = x", "in = 1.5", "nul"])
def test_not_cursor_or_constant_specs(text: str) -> None:
    assert parse_spec(text) is None


def test_a_cursor_its_length_and_hidden_constants_map() -> None:
    fn = _mapped(STREAM, **STREAM_SPECS)
    kinds = [(p.name, p.kind) for p in fn.params]
    assert kinds == [
        ("s", "scalar"),
        ("available_in", "cursor_length"),
        ("next_in", "buffer"),
        ("available_out", "fixed"),
        ("next_out", "null"),
        ("alloc", "null"),
    ]
    assert fn.params[2].cursor and fn.params[2].length == 1 and fn.params[3].fixed == 7
    assert [p.name for p in fn.arguments] == ["s", "next_in"]
    assert fn.wasm_params == ("i32",) * 6
    take = _mapped(TAKE, size="in = 0", **{"return": "bytes[*size]"})
    assert (take.result, take.result_length) == ("u32", 0)


@pytest.mark.parametrize(
    ("raw", "specs", "message"),
    [
        (_raw(("n", "int")), {"n": "null"}, """functions.f.n = 'null' .*"null" is for a pointer, not 'int'"""),
        (_raw(("n", "uint8_t *")), {"n": "in = 256"}, "256 does not fit its 'uint8_t \\*'"),
        (_raw(("n", "double *")), {"n": "in = 1"}, '"in = VALUE" is for a pointer to one integer'),
        (
            _raw(("len", "size_t *"), ("p", "const uint8_t *")),
            {"p": "in[*len]"},
            "a cursor must be a 'const T \\*\\*' to numbers, not 'const uint8_t \\*'",
        ),
        (
            _raw(("len", "size_t"), ("p", "const uint8_t **")),
            {"p": "in[*len]"},
            "the cursor's length \\*len needs a pointer to an integer, not 'size_t'",
        ),
        (
            TAKE,
            {"size": "in", "return": "bytes[*size]"},
            'bytes\\[\\*size\\] needs size, a pointer to an integer declared "out"',
        ),
        (_raw(("size", "size_t *"), result="int"), {"size": "out", "return": "bytes[*size]"}, "must point to bytes"),
    ],
)
def test_bad_cursors_and_constants(raw: RawFunction, specs: dict[str, str], message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        _mapped(raw, **specs)


STREAMING = [
    Function(**{**f.__dict__, "name": e, "export": e})
    for f, e in (
        (_mapped(STREAM, **STREAM_SPECS), "feed"),
        (_mapped(TAKE, size="in = 0", **{"return": "bytes[*size]"}), "take"),
    )
]


class _Kept(_Memory):
    """Bytes the library keeps, in its flat memory: what a bytes[*N] result reads."""

    def read_returned(self, address: int, nbytes: int, function: str) -> bytes:
        self.events.append(("read_returned", address, nbytes, function))
        return bytes(self.flat[address : address + nbytes])


def test_a_cursor_and_bytes_the_library_keeps_over_the_fake_engine(tmp_path: Path) -> None:
    with imported_stub(STREAMING, tmp_path) as generated:
        kernels = FakeKernels(generated, instance=_Kept(b"\0" * 64 + b"kept bytes"))
        seen: dict[str, Any] = {}

        def feed(call: FakeCall, instance: FakeInstance) -> None:
            block = int(call.value("u32", 1))  # available_in's address: the block of values
            left, data_at, out = struct.unpack("<III", call.memory[block][:12])
            seen.update(left=left, data=call.memory[data_at], out=out, pointer=int(call.value("u32", 2)) - block)
            seen.update(nulls=(call.value("u32", 4), call.value("u32", 5)))
            instance.poke(block, struct.pack("<I", 2))  # two bytes not consumed

        kernels.program("feed", effect=feed, result=1)
        assert kernels["feed"](5, b"hello") == (1, 2)  # the result, then what *available_in holds after the call
        assert seen == {"left": 5, "data": b"hello", "out": 7, "pointer": 4, "nulls": (0, 0)}

        def take(call: FakeCall, instance: FakeInstance) -> None:
            instance.poke(int(call.value("u32", 0)), struct.pack("<I", 10))

        kernels.program("take", effect=take, result=64)
        assert kernels["take"]() == b"kept bytes"
        assert ("read_returned", 64, 10, "take") in kernels.instance.events
        assert "def feed(s: int, next_in: Buffer | WasmBuffer) -> tuple[int, int]:" in generated.pyi
        assert "def take() -> bytes:" in generated.pyi
