"""Names and comments become Python code: every one gives an importable, correct stub or an error naming the function.

A property test (hypothesis) over export names, C parameter names and doc comments drawn
from everything a C file or an ``export_name`` can hold: the stub's own names, keywords,
builtins, ``self``, leading underscores, names Python normalizes (NFKC), non-ASCII,
invalid identifiers, quotes, backslashes and control characters.
"""

from __future__ import annotations

import keyword
import string
import tempfile
import unicodedata
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.fake import FakeKernels, GeneratedStub, imported_stub, write_stub

from wasm_ext.builder.c_ast import RawFunction, RawParam
from wasm_ext.builder.mapping import map_function
from wasm_ext.builder.model import Function
from wasm_ext.builder.stubgen import reserved_names
from wasm_ext.errors import SignatureError

TRICKY = sorted(reserved_names()) + keyword.kwlist + ["self", "_", "__init__", "\ufb01x", "fix", "x\u0301", "ℌ", "a-b"]


def names() -> st.SearchStrategy[str]:
    tail = st.text(string.ascii_letters + string.digits + "_", max_size=11)
    plain = st.builds(str.__add__, st.sampled_from(string.ascii_letters + "_"), tail)
    return st.one_of(plain, plain, plain, st.sampled_from(TRICKY), st.text(min_size=1, max_size=8))


# a comment: anything, control characters and quotes included, weighted towards the nasty ones
COMMENT = st.text(
    st.one_of(st.characters(), st.sampled_from(['"', "'", "\\", "\0", "\r", "\x1b", "\x0c", "\u2028"])), min_size=1
)


@st.composite
def kernels(draw: st.DrawFn) -> list[Function]:
    count = draw(st.integers(1, 3))
    fns = []
    for index in range(count):
        params = [RawParam(draw(names()), draw(st.sampled_from(["int", "double", "_Bool"]))) for _ in range(3)]
        raw = RawFunction(f"k{index}", params, "int", False, f"k.c:{index + 1}", draw(COMMENT))
        fns.append(replace(map_function(raw, {}, module="pkg.kernels"), export=draw(names())))
    return fns


def _named_in(message: str, fns: list[Function]) -> bool:
    return any(f"{fn.name}()" in message for fn in fns)


def test_any_names_and_comments_give_a_correct_stub_or_an_error_naming_the_function() -> None:
    outcomes: set[str] = set()

    @settings(
        max_examples=200, deadline=None, database=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(fns=kernels())
    def check(fns: list[Function]) -> None:
        with tempfile.TemporaryDirectory(prefix="hostile-") as directory:
            try:
                generated = write_stub(fns, Path(directory))
            except SignatureError as exc:
                assert _named_in(str(exc), fns), str(exc)
                outcomes.add("refused")
                return
            try:
                _check_stub(generated, fns)
            finally:
                generated.forget()
        outcomes.add("built")
        if any(p.name.endswith("_") for fn in fns for p in fn.params):
            outcomes.add("built with renamed parameters")

    check()
    assert outcomes == {"refused", "built", "built with renamed parameters"}


def _check_stub(generated: GeneratedStub, fns: list[Function]) -> None:
    compile(generated.pyi, "kernels.pyi", "exec")
    fake = FakeKernels(generated)
    module = fake.module
    for number, fn in enumerate(fns):
        assert getattr(module, fn.export).__name__ == fn.export  # the name is the kernel's, not a stub's
        fake.program(fn.export, result=number)
        args = [True if p.ctype == "bool" else 1.5 if p.ctype == "f64" else 7 for p in fn.params]
        assert fake[fn.export](*args) == number
        assert fake.calls[-1].export == fn.export  # the call reached its own export
        words = "".join(c if c.isprintable() and c not in "\\\"'" else " " for c in fn.doc).split()
        text = fake[fn.export].__doc__ or ""
        assert all(word in text for word in words[:5]), (fn.doc, text)
    assert set(module.__all__) >= {fn.export for fn in fns}


def test_parameter_names_python_would_change_are_made_distinct() -> None:
    raw = RawFunction(
        "f", [RawParam("\ufb01", "int"), RawParam("fi", "int"), RawParam("self", "int")], "int", False, ""
    )
    fn = map_function(raw, {}, module="pkg.kernels")
    assert [p.name for p in fn.params] == ["fi", "fi_", "self_"]
    assert all(unicodedata.normalize("NFKC", p.name) == p.name for p in fn.params)


def test_control_characters_in_comments_stay_in_the_docstring(tmp_path: Path) -> None:
    """Before: a NUL made the stub unimportable ("source code cannot contain null bytes")."""
    doc = "nul\0 esc\x1b[31m bell\x07 del\x7f c1\x9b end"
    raw = RawFunction("f", [RawParam("x", "int")], "int", False, "k.c:1", doc)
    fn = replace(map_function(raw, {}, module="pkg.kernels"), export="f")
    generated = write_stub([fn], tmp_path)
    try:
        assert not any(c in generated.py + generated.pyi for c in "\0\x1b\x07\x7f\x9b")  # escaped in the source
        compile(generated.pyi, "kernels.pyi", "exec")
        assert (FakeKernels(generated)["f"].__doc__ or "").startswith(doc)  # and intact in the docstring
    finally:
        generated.forget()


def test_a_source_file_name_cannot_end_the_header_comment(tmp_path: Path) -> None:
    fn = replace(map_function(RawFunction("f", [], "int", False, "k.c:1"), {}, module="pkg.kernels"), export="f")
    generated = write_stub([fn], tmp_path, sources=["k.c\nimport os; os.exit(3)\n#.c"])
    try:
        assert "\nimport os" not in generated.py
        assert FakeKernels(generated)["f"]() == 0
    finally:
        generated.forget()


def test_a_parameter_named_like_a_builtin_the_kernel_uses(tmp_path: Path) -> None:
    """Before: a parameter called AttributeError shadowed the builtin the kernel's binding lookup catches."""
    raw = RawFunction("f", [RawParam("AttributeError", "int")], "int", False, "k.c:1")
    fn = replace(map_function(raw, {}, module="kernels"), export="f")
    with imported_stub([fn], tmp_path) as generated:
        kernels = FakeKernels(generated)
        kernels.program("f", result=3)
        assert kernels["f"](AttributeError=5) == 3 and kernels.calls[0].value("i32", 0) == 5
