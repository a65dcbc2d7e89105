"""C enums -> ``IntEnum`` classes of the stub: read from the AST, mapped, generated, called.

Named and typedef'd anonymous enums, implicit and negative values, the layout kind
(values past ``int`` make it unsigned), parameters that take a member or an int, results
and out-values outside the members (kept, without a name), and names the stub cannot use.
"""

from __future__ import annotations

import pickle
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from support.fake import FakeCall, FakeInstance, FakeKernels, GeneratedStub, imported_stub

from wasm_ext.builder.c_ast import RawEnum, RawFunction, RawParam, SourceInfo, collect
from wasm_ext.builder.mapping import map_function
from wasm_ext.builder.model import EnumType, Function, Param
from wasm_ext.builder.stubgen import render
from wasm_ext.declarations import parse_functions
from wasm_ext.errors import SignatureError


def _constant(name: str, value: int | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"kind": "EnumConstantDecl", "name": name, "type": {"qualType": "int"}}
    if value is not None:
        node["inner"] = [{"kind": "ConstantExpr", "value": str(value)}]
    return node


def test_enums_are_read_with_their_values() -> None:
    tree = {
        "inner": [
            {
                "kind": "EnumDecl",
                "id": "0x1",
                "loc": {"file": "k.c", "line": 2},
                "name": "color",
                "inner": [_constant("RED"), _constant("GREEN", 5), _constant("BLUE")],
            },
            {"kind": "EnumDecl", "id": "0x2", "loc": {"line": 3}, "inner": [_constant("A", -1), _constant("B")]},
            {
                "kind": "TypedefDecl",
                "name": "letters",
                "type": {"qualType": "letters"},
                "inner": [{"kind": "ElaboratedType", "inner": [{"kind": "EnumType", "decl": {"id": "0x2"}}]}],
            },
            {
                "kind": "TypedefDecl",
                "name": "letters2",
                "type": {"qualType": "enum letters"},
                "inner": [{"kind": "EnumType", "decl": {"id": "0x2"}}],
            },
            {"kind": "EnumDecl", "id": "0x3", "name": "forward"},  # declared, never defined
        ]
    }
    info = SourceInfo()
    collect(tree, "k.c", info)
    assert info.enums["enum color"] == RawEnum("color", [("RED", 0), ("GREEN", 5), ("BLUE", 6)], "k.c:2")
    assert info.enums["enum letters"] == RawEnum(
        "letters", [("A", -1), ("B", 0)], "k.c:3"
    )  # the first typedef names it
    assert "enum letters2" not in info.enums
    assert "enum forward" not in info.enums


ENUMS = {
    "enum color": RawEnum("color", [("RED", 0), ("GREEN", 5)], "k.c:2"),
    "enum big": RawEnum("big", [("LOW", 0), ("HIGH", 0xFFFF_FFFF)], "k.c:3"),
    "enum huge": RawEnum("huge", [("NEG", -1), ("HIGH", 1 << 40)], "k.c:4"),
}
TYPEDEFS = {"color_t": "enum color"}


def _map(*params: tuple[str, str], result: str = "int", **specs: str) -> Function:
    raw = RawFunction("f", [RawParam(n, s) for n, s in params], result, False, "k.c:9")
    (decl,) = parse_functions({"f": specs}, where="t") if specs else (None,)
    return map_function(raw, TYPEDEFS, module="kernels", declared=decl, enums=ENUMS)


def test_enum_parameters_results_and_out_values() -> None:
    fn = _map(("c", "color_t"), ("b", "enum big"), ("o", "enum color *"), result="enum huge", o="out")
    assert fn.params == (
        Param("c", "scalar", "i32", "color_t", enum="color"),
        Param("b", "scalar", "u32", "enum big", enum="big"),  # a value past int: unsigned int, as clang lays it out
        Param("o", "out", "i32", "enum color *", enum="color"),
    )
    assert (fn.result, fn.result_enum) == ("i64", "huge")
    assert [e.name for e in fn.enums] == ["color", "big", "huge"]
    assert Function.from_json(fn.to_json()) == fn


def test_an_enum_the_sources_do_not_define_is_an_int() -> None:
    (p,) = _map(("x", "enum elsewhere")).params
    assert (p.kind, p.ctype, p.enum) == ("scalar", "i32", "")


COLOR = EnumType("color", (("RED", 0), ("GREEN", 5)), "k.c:2")


def _fn(name: str, *params: Param, result: str = "i32", result_enum: str = "") -> Function:
    return Function(name, params, result, "int", "", "k.c:1", name, result_enum=result_enum, enums=(COLOR,))


FUNCTIONS = [
    _fn("paint", Param("c", "scalar", "i32", "enum color", enum="color"), result_enum="color"),
    _fn("pick", Param("o", "out", "i32", "enum color *", enum="color"), result="void"),
]


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GeneratedStub]:
    with imported_stub(FUNCTIONS, tmp_path_factory.mktemp("enums")) as generated:
        yield generated


def test_the_class(stub: GeneratedStub) -> None:
    color = stub.import_module().color
    assert [(m.name, m.value) for m in color] == [("RED", 0), ("GREEN", 5)]
    assert color(5) is color.GREEN and str(color.GREEN) == "5" and repr(color.GREEN) == "<color.GREEN: 5>"
    assert "color" in stub.import_module().__all__
    unknown = color(7)
    assert unknown == 7 and isinstance(unknown, color) and unknown.name is None and repr(unknown) == "<color: 7>"
    assert pickle.loads(pickle.dumps(color.GREEN)) is color.GREEN and pickle.loads(pickle.dumps(unknown)) == 7
    with pytest.raises(ValueError):
        color("GREEN")
    assert "class color(_CEnum):" in stub.pyi and "GREEN = ..." in stub.pyi and "GREEN = 5" in stub.pyi


def test_parameters_take_a_member_or_an_int_and_results_are_members(stub: GeneratedStub) -> None:
    kernels = FakeKernels(stub)
    color = stub.import_module().color
    kernels.program("paint", result=5)
    assert kernels["paint"](color.GREEN) is color.GREEN
    assert kernels["paint"](0) is color.GREEN
    assert [call.value("i32", 0) for call in kernels.calls] == [5, 0]
    kernels.program("paint", result=-3)
    assert kernels["paint"](1) == -3 and kernels["paint"](1).name is None
    with pytest.raises(TypeError, match=r"^paint\(\): c must be an int, not str$"):
        kernels["paint"]("GREEN")
    assert "def paint(c: color | int) -> color:" in stub.pyi


def test_out_values(stub: GeneratedStub) -> None:
    kernels = FakeKernels(stub)
    color = stub.import_module().color

    def write(call: FakeCall, instance: FakeInstance) -> None:
        instance.memory[int(call.value("u32", 0))][:4] = struct.pack("<i", 5)

    kernels.program("pick", effect=write)
    assert kernels["pick"]() is color.GREEN


@pytest.mark.parametrize(
    ("enum", "message"),
    [
        (EnumType("paint", (("A", 0),), "k.c:2"), "would become the class 'paint', already the name of a kernel"),
        (EnumType("Sandbox", (("A", 0),), "k.c:2"), "would become the class 'Sandbox'"),
        (EnumType("_e", (("A", 0),), "k.c:2"), "would become the class '_e', a name starting with '_'"),
        (EnumType("e", (("_A", 0),), "k.c:2"), "its enumerator '_A' cannot be a member of a Python enum"),
        (EnumType("e", (("None", 0),), "k.c:2"), "its enumerator 'None' cannot be a member"),
    ],
)
def test_names_the_stub_cannot_use(enum: EnumType, message: str) -> None:
    fn = Function(
        "paint",
        (Param("c", "scalar", "i32", "int", enum=enum.name),),
        "i32",
        "int",
        "",
        "k.c:1",
        "paint",
        enums=(enum,),
    )
    with pytest.raises(SignatureError, match=f"^kernels: the C enum {enum.name} \\(k.c:2\\).*{message}"):
        render("kernels", [fn], sources=["k.c"], wasi=False)
