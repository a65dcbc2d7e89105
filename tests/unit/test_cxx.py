"""C++ sources without a compiler: discovery from a recorded C++ AST, the per-function errors,
the options and their validation, the cache key, the command lines and the error hints.

The recorded AST is ``tests/unit/fixtures/cxx/shapes.json``, made from ``shapes.cpp`` by
``tests/unit/fixtures/record_cxx_asts.py`` (re-run it when the source changes).
"""

from __future__ import annotations

import functools
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from support.asts import source_sha256

from wasm_ext import WasmExtension
from wasm_ext.builder import c_ast, compile, cxx, mapping, toolchain
from wasm_ext.builder.c_ast import SourceInfo, check_cxx_types, collect
from wasm_ext.builder.plan import BuildPlan, make_plan
from wasm_ext.config import extensions_from_pyproject
from wasm_ext.errors import ConfigError, SignatureError, WasmCompileError

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "cxx" / "shapes.cpp"
BINDABLE = ["one", "two", "marked", "five", "three", "mode_value", "one_or_more", "make_state", "free_state"]


@functools.cache
def _tree() -> dict[str, Any]:
    tree: dict[str, Any] = json.loads(FIXTURE.with_suffix(".json").read_text(encoding="utf-8"))
    return tree


def _info() -> SourceInfo:
    info = SourceInfo()
    collect(_tree(), FIXTURE.name, info)
    check_cxx_types(info)
    return info


def _line(text: str) -> int:
    """The line of shapes.cpp holding *text*."""
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if text in line)


def test_the_recording_is_of_the_current_source() -> None:
    assert _tree()["source_sha256"] == source_sha256(FIXTURE), (
        "re-record with .venv/bin/python tests/unit/fixtures/record_cxx_asts.py"
    )


# --- discovery --------------------------------------------------------------------------


def test_extern_c_functions_are_discovered_like_c_ones() -> None:
    info = _info()
    for name in ("one", "two", "marked", "five", "three", "mode_value", "byref", "one_or_more"):
        fn = info.functions[name]
        assert fn.defined and not fn.static, name
    assert info.functions["one"].location == f"shapes.cpp:{_line('int one(')}"
    assert info.functions["two"].location == f"shapes.cpp:{_line('int two(')}"
    assert info.functions["five"].location == f"shapes.cpp:{_line('int five(')}"  # extern "C" inside a namespace
    assert info.functions["one"].doc == "One, with C linkage." and info.functions["two"].doc == "Two: a buffer."
    assert [(p.name, p.spelling) for p in info.functions["two"].params] == [("xs", "const int32_t *"), ("n", "size_t")]
    assert not info.functions["make_state"].defined  # declared in an extern "C" block, defined nowhere
    assert info.marked == ["marked"]  # WASM_EXPORT in C++ is extern "C"
    assert info.records["struct state"] is False and info.records["struct Owner"] is True
    assert info.typedefs["Counter"] == "struct Counter" and info.typedefs["std::size_t"] == "size_t"
    assert info.cxx_classes == {"struct Owner": "it has a copy constructor, move constructor or destructor of its own"}


def test_extern_c_functions_map_like_c_ones() -> None:
    info = _info()
    functions = {f.name: f for f in mapping.map_functions(info, BINDABLE, module="m")}
    assert [(p.name, p.kind) for p in functions["two"].params] == [("xs", "buffer"), ("n", "length")]
    assert [(p.name, p.ctype) for p in functions["marked"].params] == [("n", "u32")]  # std::size_t
    assert functions["mode_value"].params[0].enum == "Mode"  # enum class Mode : uint8_t
    assert functions["make_state"].result_handle == "state"  # a class declared, never defined: a handle
    assert functions["one_or_more"].params[0].ctype == "i32"  # the extern "C" one, not the C++ overload


CXX_ONLY = {
    "twice": "names 2 C++ functions (_Z5twicei at shapes.cpp:{twice}, _Z5twiced at shapes.cpp:{twiced}), overloads "
    'or members; C has one function per name: export an extern "C" function for each one you need',
    "solo": 'has C++ linkage (its symbol is _Z4soloi, not solo): declare it extern "C"',
    "tmpl": "is a C++ function template (tmpl): templates cannot be exported",
    "bump": 'is a C++ member function of Counter (Counter::bump): methods cannot be exported; export an extern "C" '
    "function that takes the object as a pointer (a handle, Counter *) and calls it",
    "zero": "is a C++ member function of Counter (Counter::zero)",
    "four": "is ns::four, a function in namespace ns with C++ linkage (symbol _ZN2ns4fourEi)",
    "byref": "parameter r (int &) is a C++ reference: take a pointer (int *) instead",
    "byowner": "parameter o (Owner) is a C++ class passed by value (it has a copy constructor, move constructor or "
    "destructor of its own): take plain data",
}


def test_what_cannot_be_bound_gets_one_error_each_with_the_fix() -> None:
    info = _info()
    with pytest.raises(SignatureError) as caught:
        mapping.map_functions(info, ["one", *CXX_ONLY], module="m")
    first, *lines = str(caught.value).splitlines()
    assert first == f"m: {len(CXX_ONLY)} functions cannot be mapped:"
    lines_of = {"twice": _line("int twice("), "twiced": _line("double twice(")}
    for line, (name, expected) in zip(lines, CXX_ONLY.items()):
        assert line.startswith(f"  function {name}() at shapes.cpp:"), line
        assert expected.format(**lines_of) in line, line
    assert "WASM_EXPORT gives a function C linkage" in lines[1]


def test_cxx_functions_count_as_defined_so_exports_reach_their_error() -> None:
    info = _info()
    assert mapping.select_exports(info, ["solo", "bump", "one"], module="m") == ["solo", "bump", "one"]


def test_a_c_function_wins_over_a_cxx_one_of_its_name_in_either_order() -> None:
    cxx_first = {"kind": "FunctionDecl", "name": "f", "mangledName": "_Z1fd", "loc": {"file": "k.cpp", "line": 1}}
    c_later = {
        "kind": "LinkageSpecDecl",
        "language": "C",
        "loc": {"file": "k.cpp", "line": 2},
        "inner": [
            {
                "kind": "FunctionDecl",
                "name": "f",
                "mangledName": "f",
                "loc": {"line": 2},
                "type": {"qualType": "int (int)"},
                "inner": [{"kind": "ParmVarDecl", "name": "x", "type": {"qualType": "int"}}, {"kind": "CompoundStmt"}],
            }
        ],
    }
    for order in ([cxx_first, c_later], [c_later, cxx_first]):
        info = SourceInfo()
        collect({"kind": "TranslationUnitDecl", "inner": order}, "k.cpp", info)
        assert info.functions["f"].cxx == "" and info.functions["f"].location == "k.cpp:2", order


# --- the AST stream: the standard library's namespaces are skipped whole ---------------------------


def _pretty(tree: dict[str, Any]) -> io.BytesIO:
    return io.BytesIO(json.dumps(tree, indent=2).encode() + b"\n")


def _function(name: str, loc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"0x{name}",
        "kind": "FunctionDecl",
        "loc": loc,
        "name": name,
        "mangledName": name,
        "type": {"qualType": "int (void)"},
        "inner": [{"id": "0xb", "kind": "CompoundStmt", "inner": [{"id": "0xc", "kind": "ReturnStmt"}]}],
    }


STD = {
    "id": "0x1",
    "kind": "NamespaceDecl",
    "loc": {"file": "/lib/libcxx/include/vector", "line": 10},
    "name": "std",
    "inner": [
        {
            "id": "0x2",
            "kind": "NamespaceDecl",
            "loc": {"line": 11},
            "name": "__1",
            "isInline": True,
            "inner": [_function("size", {"file": "/lib/libcxx/include/__vector/vector.h", "line": 99})],
        }
    ],
}


def test_std_namespaces_are_skipped_and_locations_kept() -> None:
    user = {**STD, "id": "0x7", "name": "mine", "loc": {"file": "k.cpp", "line": 3}, "inner": [_function("g", {})]}
    tree = {"kind": "TranslationUnitDecl", "inner": [STD, _function("f", {"line": 120}), user]}
    nodes = list(c_ast.top_level_nodes(_pretty(tree)))
    assert [(n["kind"], n.get("name")) for n in nodes] == [
        ("NamespaceDecl", "std"),
        ("FunctionDecl", "f"),
        ("NamespaceDecl", "mine"),
    ]
    assert nodes[0]["inner"] == [] and nodes[0]["lastLoc"]["file"].endswith("vector.h")
    assert nodes[2]["inner"][0]["name"] == "g"  # the project's own namespaces are read
    info = SourceInfo()
    collect({"kind": "TranslationUnitDecl", "inner": nodes}, "k.cpp", info, project=lambda f: f == "k.cpp")
    assert info.functions["f"].location == "/lib/libcxx/include/__vector/vector.h:120"  # its file: the last one written
    assert "size" not in info.functions


@pytest.mark.parametrize("name", ["std", "__cxxabiv1", "_Reserved"])
def test_reserved_namespaces_are_the_ones_skipped(name: str) -> None:
    tree = {"kind": "TranslationUnitDecl", "inner": [{**STD, "name": name}]}
    (node,) = c_ast.top_level_nodes(_pretty(tree))
    assert node["inner"] == []
    (kept,) = c_ast.top_level_nodes(_pretty({"kind": "TranslationUnitDecl", "inner": [{**STD, "name": "stdx"}]}))
    assert kept["inner"]


# --- options ------------------------------------------------------------------------------


def test_defaults_and_options() -> None:
    ext = WasmExtension("m.k", sources=["a.c", "b.cpp"])
    assert (ext.cxx_std, ext.cxx_exceptions, ext.cxx_rtti, ext.language) == (17, False, False, "c++")
    assert WasmExtension("m.k", sources=["a.c"]).language == "c"
    ext = WasmExtension("m.k", sources=["b.cc"], cxx_std=20, cxx_rtti=True)
    assert (ext.cxx_std, ext.cxx_rtti) == (20, True)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"cxx_std": "c++17"},
            "cxx_std must be the C++ standard as a number, one of 11, 14, 17, 20, 23, 26 (17 means -std=c++17), got 'c++17'",
        ),
        ({"cxx_std": 18}, "cxx_std must be the C++ standard as a number"),
        ({"cxx_std": 17.0}, "got 17.0"),
        ({"cxx_std": True}, "got True"),
        ({"cxx_exceptions": "yes"}, "cxx_exceptions must be True or False, got 'yes'"),
        ({"cxx_rtti": 1}, "cxx_rtti must be True or False, got 1"),
        (
            {"extra_compile_args": ["-fexceptions"]},
            "extra_compile_args has '-fexceptions'; for C++ sources say it with the option cxx_exceptions=True",
        ),
        ({"extra_compile_args": ["-fno-rtti"]}, "with the option cxx_rtti=False (the default)"),
        (
            {"extra_compile_args": ["-O2", "-std=c++20"]},
            "extra_compile_args has '-std=c++20'; for C++ sources say it with the option cxx_std=20",
        ),
        ({"extra_compile_args": ["-std=gnu++2a"]}, "cxx_std (a number: 11, 14, 17, 20, 23 or 26)"),
        ({"exports": ["ns::f"]}, "export 'ns::f' is a C++ name: only functions with C linkage can be exported"),
    ],
)
def test_invalid_cxx_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        WasmExtension("m.k", sources=["k.cpp"], **options)


def test_cxx_flags_in_extra_compile_args_are_fine_without_cxx_sources() -> None:
    assert WasmExtension("m.k", sources=["k.c"], extra_compile_args=["-std=c11", "-fno-rtti"]).extra_compile_args


@pytest.mark.parametrize("suffix", [".cpp", ".cc", ".cxx", ".c++", ".cp", ".CPP", ".C"])
def test_cxx_suffixes(suffix: str) -> None:
    assert cxx.is_cxx(f"a{suffix}") and cxx.language(f"a{suffix}") == "c++"


@pytest.mark.parametrize("name", ["a.c", "a.h", "a.cppx", "a"])
def test_not_cxx(name: str) -> None:
    assert not cxx.is_cxx(name) and cxx.language(name) == "c"


def test_pyproject_keys(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    body = '[[tool.wasm-ext.modules]]\nname = "m.k"\nsources = ["k.cpp"]\ncxx-std = 20\ncxx-exceptions = false\ncxx-rtti = true\n'
    path.write_text(body)
    (ext,) = extensions_from_pyproject(path)
    assert (ext.cxx_std, ext.cxx_exceptions, ext.cxx_rtti) == (20, False, True)
    path.write_text(body.replace("cxx-std = 20", 'cxx-std = "c++20"'))
    with pytest.raises(ConfigError, match=r"'cxx-std' must be the C\+\+ standard as a number, e.g. 17"):
        extensions_from_pyproject(path)


# --- the plan and the cache key -------------------------------------------------------------

ZIG = toolchain.Compiler("ziglang", ("zig", "cc", "-target", "wasm32-wasi"), ("zig", "clang"), "zig 0.0")
ZIG_CXX = toolchain.CxxCommands(("zig", "c++", "-target", "wasm32-wasi"), ("zig", "clang", "-DCXX"))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "src").mkdir()
    for name in ("k.c", "k.cpp"):
        (tmp_path / "src" / name).write_text("int f(int x) { return x; }\n")
    monkeypatch.setattr(toolchain, "find_compiler", lambda: ZIG)
    monkeypatch.setattr(toolchain, "cxx_commands", lambda compiler: ZIG_CXX)
    return tmp_path


def _plan(project: Path, sources: list[str], **options: Any) -> BuildPlan:
    ext = WasmExtension("pkg.kernels", sources=sources, wasm_opt=False, **options)
    return make_plan(ext, source_root=project, package_dir=project / "out", temp_dir=project / "tmp")


def test_the_plan_of_a_cxx_module(project: Path) -> None:
    plan = _plan(project, ["src/k.c", "src/k.cpp"])
    assert plan.cxx_commands == ZIG_CXX and plan.has_cxx
    assert plan.cxx_flags == ("-std=c++17", "-fno-exceptions", "-fno-rtti")
    assert _plan(project, ["src/k.cpp"], cxx_std=20, cxx_rtti=True).cxx_flags == (
        "-std=c++20",
        "-fno-exceptions",
        "-frtti",
    )
    c_only = _plan(project, ["src/k.c"])
    assert c_only.cxx_commands is None and not c_only.has_cxx


def test_the_cache_key_has_the_languages_and_the_cxx_options(project: Path) -> None:
    base = _plan(project, ["src/k.cpp"]).declared()
    assert base["languages"] == ["c++"] and base["cxx"]["std"] == 17 and base["cxx"]["helper"]
    for options in ({"cxx_std": 20}, {"cxx_rtti": True}):
        assert _plan(project, ["src/k.cpp"], **options).declared() != base, options
    assert _plan(project, ["src/k.c", "src/k.cpp"]).declared()["languages"] == ["c", "c++"]
    c_only = _plan(project, ["src/k.c"]).declared()
    assert c_only["languages"] == ["c"] and c_only["cxx"] is None
    assert _plan(project, ["src/k.c"], cxx_std=20).declared() == c_only  # no C++: the options change nothing


def test_exceptions_with_zig_is_an_error_saying_why(project: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _plan(project, ["src/k.cpp"], cxx_exceptions=True)
    message = str(caught.value)
    assert message.startswith("pkg.kernels: cxx_exceptions=True cannot be built with zig (zig 0.0): zig's libc++")
    assert "no __cxa_throw" in message and "Leave cxx_exceptions off" in message
    _plan(project, ["src/k.c"], cxx_exceptions=True)  # no C++ sources: nothing to say


# --- command lines ---------------------------------------------------------------------------

EMPTY_MODULE = b"\0asm\x01\0\0\0"


def _commands(monkeypatch: pytest.MonkeyPatch, plan: BuildPlan) -> list[list[str]]:
    calls: list[list[str]] = []

    def fake_run(argv: list[str], **kwargs: Any) -> None:
        calls.append(list(argv))
        Path(argv[argv.index("-o") + 1]).write_bytes(EMPTY_MODULE)

    monkeypatch.setattr(compile, "run", fake_run)
    compile.compile_module(plan, [])
    return calls


def test_a_c_module_is_one_command_as_before(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (argv,) = _commands(monkeypatch, _plan(project, ["src/k.c"]))
    assert argv[:5] == ["zig", "cc", "-target", "wasm32-wasi", "-O3"]
    assert not [a for a in argv if a.startswith(("-std", "-fno-", "-x"))]


def test_a_mixed_module_compiles_c_apart_and_links_with_the_cxx_driver(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _plan(project, ["src/k.c", "src/k.cpp"])
    c_source, *helpers, link = _commands(monkeypatch, plan)
    assert c_source[:4] == ["zig", "cc", "-target", "wasm32-wasi"] and "-c" in c_source
    assert c_source[c_source.index("-c") + 1] == str(project / "src" / "k.c")
    assert [h[h.index("-c") + 1].rpartition("/")[2] for h in helpers] == ["wasm_ext_string.c", "wasm_ext_malloc.c"]
    c_commands = c_source + [a for h in helpers for a in h]
    assert not [a for a in c_commands if a.startswith("-std") or "rtti" in a or "exceptions" in a]
    assert link[:4] == ["zig", "c++", "-target", "wasm32-wasi"]
    assert ["-std=c++17", "-fno-exceptions", "-fno-rtti"] == link[6:9]
    cxx_part = link[link.index("c++", 2) + 1 : link.index("none")]
    assert cxx_part[-1] == "-x" and cxx_part[0] == str(project / "src" / "k.cpp")
    assert cxx_part[1].endswith("wasm_ext_cxx.cpp")  # libc++'s abort message without stderr: no WASI imports
    objects = link[link.index("none") + 1 : link.index("-o")]
    assert objects == [c[c.index("-o") + 1] for c in (c_source, *helpers)]


def test_a_wasi_module_keeps_libcxx_abort_messages(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    *_, link = _commands(monkeypatch, _plan(project, ["src/k.cpp"], wasi=True))
    assert not [a for a in link if a.endswith("wasm_ext_cxx.cpp")]


def test_a_static_function_of_a_cxx_unit_gets_an_extern_c_wrapper() -> None:
    fn = c_ast.RawFunction("f", [c_ast.RawParam("x", "std::size_t")], "int", False, "k.h:1")
    text = compile.wrapper_source(Path("/p/k.cpp"), [fn], cplusplus=True)
    assert text.splitlines()[2] == (
        'extern "C" __attribute__((export_name("f"))) int __wasm_ext_export_f(std::size_t a0) { return f(a0); }'
    )


def test_compile_errors_get_the_cxx_hint(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(argv: list[str], **kwargs: Any) -> None:
        raise WasmCompileError("k.cpp:3:5: error: cannot use 'throw' with exceptions disabled")

    monkeypatch.setattr(compile, "run", failing)
    with pytest.raises(WasmCompileError) as caught:
        compile.compile_module(_plan(project, ["src/k.cpp"]), [])
    assert "hint: C++ exceptions are off (cxx_exceptions=False, the default)" in str(caught.value)
    assert "cxx_exceptions=True cannot help with zig" in str(caught.value)


@pytest.mark.parametrize(
    ("message", "hint"),
    [
        ("error: use of dynamic_cast requires -frtti", "pass cxx_rtti=True to use typeid and dynamic_cast"),
        ("wasm-ld: error: k.o: undefined symbol: __cxa_throw", "libc++abi has no exception support"),
    ],
)
def test_hints(message: str, hint: str) -> None:
    assert hint in cxx.explain(message, exceptions=False, rtti=False, toolchain="ziglang")
    assert cxx.explain("k.cpp:1: error: x", exceptions=False, rtti=False, toolchain="ziglang") == "k.cpp:1: error: x"


# --- the toolchain ------------------------------------------------------------------------

VERBOSE = """clang version 22.1.8
 "/z/zig" -cc1 -triple wasm32-unknown-wasip1 -isystem /z/lib/libcxx/include -D _LIBCPP_ABI_VERSION=1 -D _LIBCPP_HAS_THREADS=0 -DOTHER -D_LIBCXXABI_DISABLE_VISIBILITY_ANNOTATIONS -x c++ /dev/null
#include <...> search starts here:
 /z/lib/libcxx/include
 /z/lib/include
End of search list.
"""


def test_libcxx_configuration_from_zig_cxx_verbose() -> None:
    assert toolchain._libcxx_macros_from_verbose(VERBOSE) == [
        "_LIBCPP_ABI_VERSION=1",
        "_LIBCPP_HAS_THREADS=0",
        "_LIBCXXABI_DISABLE_VISIBILITY_ANNOTATIONS",
    ]


def test_cxx_commands_of_zig(monkeypatch: pytest.MonkeyPatch) -> None:
    class Probe:
        stderr = VERBOSE

    monkeypatch.setattr(toolchain, "run", lambda argv, **kwargs: Probe())
    commands = toolchain._cxx_commands.__wrapped__(ZIG, "")
    assert commands.cxx == ("zig", "c++", "-target", "wasm32-wasi")
    assert commands.ast == (
        "zig",
        "clang",
        "--target=wasm32-wasip1",
        "-nostdinc",
        "-nostdinc++",
        "-isystem",
        "/z/lib/libcxx/include",
        "-isystem",
        "/z/lib/include",
        "-D_LIBCPP_ABI_VERSION=1",
        "-D_LIBCPP_HAS_THREADS=0",
        "-D_LIBCXXABI_DISABLE_VISIBILITY_ANNOTATIONS",
    )


def test_cxx_commands_of_other_compilers(tmp_path: Path) -> None:
    clang = toolchain.Compiler("WASM_EXT_CC", ("clang", "--target=wasm32-wasi"), ("clang",), "clang 19")
    assert toolchain._cxx_commands.__wrapped__(clang, "").cxx == ("clang", "--driver-mode=g++", "--target=wasm32-wasi")
    zig_cc = toolchain.Compiler("WASM_EXT_CC", ("zig", "cc", "-target", "wasm32-wasi"), ("zig",), "zig")
    assert toolchain._cxx_commands.__wrapped__(zig_cc, "").cxx == ("zig", "c++", "-target", "wasm32-wasi")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "clang++").write_text("")
    sdk = toolchain.Compiler("wasi-sdk", (str(tmp_path / "bin" / "clang"), "--target=wasm32-wasi"), (), "clang 20")
    assert toolchain._cxx_commands.__wrapped__(sdk, "").cxx == (
        str(tmp_path / "bin" / "clang++"),
        "--target=wasm32-wasi",
    )


@pytest.mark.parametrize("sources", [["src/k.c"], ["src/k.c", "src/k.cpp"]])
def test_simd_reaches_every_command_and_only_with_simd(
    project: Path, monkeypatch: pytest.MonkeyPatch, sources: list[str]
) -> None:
    with_simd = _commands(monkeypatch, _plan(project, sources, simd=True))
    assert with_simd and all(argv.count("-msimd128") == 1 for argv in with_simd), with_simd
    assert not [argv for argv in _commands(monkeypatch, _plan(project, sources)) if "-msimd128" in argv]
