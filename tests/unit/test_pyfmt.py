"""``pyfmt``: docstrings, the order of ``__all__`` and the layout of over-long lines, each checked against ruff.

``docstring`` must give a literal whose value is the text (normalized as ruff would) and
that ``ruff format`` leaves alone; ``export_order`` must agree with ruff's RUF022 fix on
random names; ``fit`` must lay out each statement shape the templates produce as ruff
does (the expected layouts below are also run through ``ruff format --check``), and
``layout`` must touch only over-long single-line statements and blank lines.
"""

from __future__ import annotations

import ast
import re
import string
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from ruff.__main__ import find_ruff_bin

from wasm_ext.builder.pyfmt import LINE_LENGTH, docstring, export_order, fit, layout

RUFF = find_ruff_bin()
FAST = settings(
    max_examples=5,
    phases=[Phase.explicit, Phase.generate],  # each example is one ruff run: no shrinking, ruff names the input
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def ruff(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [RUFF, *args[:1], "--isolated", "--no-cache", *args[1:]]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def unformatted(sources: dict[str, str]) -> str:
    """``ruff format --diff`` of the *sources* (file name -> text) it would change; empty if none."""
    with tempfile.TemporaryDirectory(prefix="pyfmt-") as directory:
        for name, source in sources.items():
            (Path(directory) / name).write_text(source)
        result = ruff("format", "--diff", *sources, cwd=Path(directory))
    return "" if result.returncode == 0 else result.stdout + result.stderr


# -- docstring -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "indent", "expected"),
    [
        ("One line.", "", '"""One line."""'),
        ("One line.", "    ", '    """One line."""'),
        ('Ends with "quote"', "    ", '    """Ends with "quote" """'),
        (
            "Title.\n\nBody line\n  indented more",
            "    ",
            '    """Title.\n\n    Body line\n      indented more\n    """',
        ),
        ("  padded  \n\n", "", '"""padded"""'),
        ("\n\nTitle.  \n  \n\t\nBody.   \n\n", "  ", '  """Title.\n\n\n  Body.\n  """'),
        ("a\tb\n\tc\n\t  d", "", '"""a       b\nc\n  d\n"""'),  # tabs: 8 columns, counted in the text
        ('say """hi"""', "", '"""say \\"\\"\\"hi\\"\\"\\""""'),  # an escaped quote needs no space
        ('say """hi""" twice', "", '"""say \\"\\"\\"hi\\"\\"\\" twice"""'),
        ("C:\\dir\\", "", '"""C:\\\\dir\\\\"""'),
        ("\\n is not a newline\nnor \\t", "", '"""\\\\n is not a newline\nnor \\\\t\n"""'),
        ("a\r\nb", "    ", '    """a\n    b\n    """'),
        ("", "", '""""""'),
    ],
    ids=[
        "one-line",
        "indented",
        "trailing-quote",
        "paragraphs",
        "padding",
        "blank-lines",
        "tabs",
        "triple-quote-end",
        "triple-quote",
        "backslash-end",
        "escapes",
        "crlf",
        "empty",
    ],
)
def test_docstring(text: str, indent: str, expected: str) -> None:
    assert docstring(text, indent) == expected


def _value(text: str, indent: str) -> str:
    """The value the docstring of *text* at *indent* must have, as ruff leaves it: tabs expanded, blank edges
    and line ends trimmed; after the first line, the common indentation (a tab is 8 columns) and any other leading
    whitespace (such as U+00A0) removed; a space between the text and a quote at either end."""
    lines = [line.rstrip() for line in text.expandtabs(8).strip().splitlines()] or [""]
    escaped = lines[0].replace('"""', "...")  # an escaped triple quote starts with a backslash, not a quote
    first = " " * escaped.startswith('"') + lines[0]
    if len(lines) == 1:
        return first + " " * escaped.endswith('"')  # a closing quote must not touch the text's own
    rest = []
    for line in lines[1:]:
        spaces = len(line) - len(line.lstrip(" \t"))
        rest.append((len(line[:spaces].expandtabs(8)), line[spaces:].lstrip()))
    common = min((n for n, content in rest if content), default=0)
    body = "".join(f"{indent}{' ' * (n - common)}{content}\n" if content else "\n" for n, content in rest)
    return first + "\n" + body + indent


DOC_TEXT = st.text(string.ascii_letters + " \t\n\"'\\`*é\u00a0", max_size=120)


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(text=DOC_TEXT, indent=st.sampled_from(["", "    ", "        "]))
def test_docstring_holds_the_text(text: str, indent: str) -> None:
    literal = docstring(text, indent)
    assert literal.startswith(indent + '"""')
    assert ast.literal_eval(literal.lstrip(" ")) == _value(text, indent)


def test_docstring_tab_after_escape() -> None:
    assert ast.literal_eval(docstring("a\\\tb", "")) == "a\\" + " " * 6 + "b"  # the tab counted in the text


def test_docstring_leading_quote_as_ruff_has_it() -> None:
    assert docstring('"quoted" first', "") == '""" "quoted" first"""'


@FAST
@given(texts=st.lists(DOC_TEXT, min_size=30, max_size=30))
def test_ruff_leaves_docstrings_alone(texts: list[str]) -> None:
    source = "".join(f"def f{i}():\n{docstring(t, '    ')}\n\n\n" for i, t in enumerate(texts)).rstrip() + "\n"
    diff = unformatted({"docs.py": source})
    assert not diff, diff


# -- export_order ----------------------------------------------------------------------------


def test_export_order_groups_constants_classes_then_the_rest() -> None:
    names = ["fib", "Sandbox", "KernelError", "alloc", "sandbox", "WasmBuffer", "MAX_N", "k10", "k2", "K2", "Ab", "AB"]
    names += ["aB", "ab", "a_b", "a1b", "a10b"]
    assert export_order(names) == [
        "AB",
        "K2",
        "MAX_N",
        "Ab",
        "KernelError",
        "Sandbox",
        "WasmBuffer",
        "a1b",
        "a10b",
        "aB",
        "a_b",
        "ab",
        "alloc",
        "fib",
        "k2",
        "k10",
        "sandbox",
    ]


def test_export_order_does_not_change_its_argument() -> None:
    names = ["b", "a"]
    assert export_order(names) == ["a", "b"] and names == ["b", "a"]


def ruff_all_order(lists: list[list[str]]) -> list[list[str]]:
    """Each list of names as ruff's RUF022 fix orders ``__all__`` (one ruff run for all of them)."""
    with tempfile.TemporaryDirectory(prefix="all-order-") as directory:
        root = Path(directory)
        for i, names in enumerate(lists):
            (root / f"all{i}.py").write_text(f"__all__ = {names!r}\n")
        ruff("check", "--select", "RUF022", "--fix", "--quiet", ".", cwd=root)
        return [
            ast.literal_eval((root / f"all{i}.py").read_text().partition("=")[2].strip()) for i in range(len(lists))
        ]


@pytest.mark.parametrize(
    "names",
    [
        pytest.param(["k2", "k10", "MAX", "Sandbox", "alloc"], id="agree"),
        pytest.param(
            ["Sandbox", "X", "B_C"],
            id="single-capital",  # ruff: a one-letter capital name is a class, not a CONSTANT
        ),
        pytest.param(
            ["k1", "k01", "a0", "a00"],
            id="leading-zero",  # ruff (natord) orders k01 before k1
        ),
    ],
)
def test_export_order_known_cases(names: list[str]) -> None:
    assert export_order(names) == ruff_all_order([names])[0]


IDENTIFIER = st.text(string.ascii_letters + string.digits + "_", min_size=1, max_size=12).filter(
    lambda name: (
        not name[0].isdigit()
        and not (len(name) == 1 and name.isupper())  # single-capital
        and not re.search(r"(?<!\d)0\d", name)
    )  # leading-zero
)


@FAST
@given(lists=st.lists(st.lists(IDENTIFIER, min_size=2, max_size=12, unique=True), min_size=40, max_size=40))
def test_export_order_agrees_with_ruff(lists: list[list[str]]) -> None:
    assert [export_order(names) for names in lists] == ruff_all_order(lists)


# -- fit and layout --------------------------------------------------------------------------

N = "n" * 30
HUGGED = "Callable[[int, float, bool, str | bytes, Buffer | WasmBuffer, WasmBuffer], bool]"
FIT_CASES = {
    "def": (
        f"    def {N}(alpha_value: int, beta_value: float, gamma_value: str | bytes) -> int:",
        f"""
        def {N}(
            alpha_value: int,
            beta_value: float,
            gamma_value: str | bytes,
        ) -> int:
        """,
    ),
    "def-hugged-return": (
        f"def _functions(_tls: Any, _bind: Callable[[str], _Binding]) -> tuple[{HUGGED}]:",
        f"""
        def _functions(
            _tls: Any,
            _bind: Callable[[str], _Binding],
        ) -> tuple[
            {HUGGED}
        ]:
        """,
    ),
    "def-exploded-return": (
        f"def _functions(_tls: Any) -> tuple[Callable[[int], int], Callable[[Buffer | WasmBuffer], None], {N}]:",
        f"""
        def _functions(
            _tls: Any,
        ) -> tuple[
            Callable[[int], int],
            Callable[[Buffer | WasmBuffer], None],
            {N},
        ]:
        """,
    ),
    "if-chained-comparison": (
        f"        if not -9223372036854775808 <= {N}_value_long <= 9223372036854775807:",
        f"""
        if (
            not -9223372036854775808
            <= {N}_value_long
            <= 9223372036854775807
        ):
        """,
    ),
    "if-is-not": (
        f"        if {N}_value_long_long_long_long.__class__ is not _int:",
        f"""
        if (
            {N}_value_long_long_long_long.__class__
            is not _int
        ):
        """,
    ),
    "raise-call": (
        f'            raise _overflow("{N}", "x", {N}, "i64", -9223372036854775808, 9223372036854775807)',
        f"""
        raise _overflow(
            "{N}",
            "x",
            {N},
            "i64",
            -9223372036854775808,
            9223372036854775807,
        )
        """,
    ),
    "expression-call": (
        f'            _fail("{N}{N}", _b, _e)',
        f"""
        _fail(
            "{N}{N}",
            _b,
            _e,
        )
        """,
    ),
    "assign-call": (
        f'        x = _check_int(x, "{N}{N}", "xxxxxxxxxxxxxxxxxx")',
        f"""
        x = _check_int(
            x,
            "{N}{N}",
            "xxxxxxxxxxxxxxxxxx",
        )
        """,
    ),
    "assign-tuple-call": (
        f"        (self.{N}{N[:10]},) = _functions(self._module.local, self._module.bind, self._module.fail)",
        f"""
        (self.{N}{N[:10]},) = _functions(
            self._module.local,
            self._module.bind,
            self._module.fail,
        )
        """,
    ),
    "call-with-list": (
        f"        x = call({N}, [{N}, {N}], {N})",
        f"""
        x = call(
            {N},
            [{N}, {N}],
            {N},
        )
        """,
    ),
    "call-with-long-list": (
        f"        x = call([{N}, {N}, {N}])",
        f"""
        x = call(
            [
                {N},
                {N},
                {N},
            ],
        )
        """,
    ),
    "assign-conditional": (
        f"        _b.u32[8] = 1 if {N}{N[:30]} else 0",
        f"""
        _b.u32[8] = (
            1 if {N}{N[:30]} else 0
        )
        """,
    ),
    "assign-split-conditional": (
        f"        _b.u32[8] = 1 if {N}{N}{N[:10]} else 0",
        f"""
        _b.u32[8] = (
            1
            if {N}{N}{N[:10]}
            else 0
        )
        """,
    ),
    "assign-name": (
        f"        _b.f64[2] = {N}{N}{N[:10]}",
        f"""
        _b.f64[2] = (
            {N}{N}{N[:10]}
        )
        """,
    ),
}
UNCHANGED = {
    "keywords": f"        x = call({N}, key={N}, other={N}{N})",
    "keyword-only-def": f"    def f(*, timeout: float | None = None, max_memory: int | str | None = None, {N}: int) -> S:",
    "comment": f"x = 1  # {N}{N}{N}",
    "class": f"class {N}{N}{N}(Base):",
    "not-a-statement": f"        raise _overflow('f', 'data', _n0 // 4, 'u8 length', 0, 255){N}",
    "open-bracket": f"x = ({N}{N}{N}",
    "attribute": f"        _b = _tls.{N}{N}{N}",  # ruff parenthesizes an attribute only where that makes it fit
}


def _in_blocks(text: str, indent: str) -> str:
    """*text* (at *indent*) as a module ruff can format: inside nested ``def``s, a header given a body."""
    opening = "".join(f"{'    ' * level}def w{level}():\n" for level in range(len(indent) // 4))
    body = f"\n{indent}    pass" if text.rstrip().endswith(":") else ""
    return f"{opening}{text}{body}\n"


@pytest.mark.parametrize("shape", list(FIT_CASES))
def test_fit(shape: str) -> None:
    line, expected = FIT_CASES[shape]
    assert len(line) > LINE_LENGTH
    indent = line[: len(line) - len(line.lstrip())]
    laid_out = fit(line)
    assert laid_out == textwrap.indent(textwrap.dedent(expected).strip("\n"), indent)
    assert all(len(row) <= LINE_LENGTH for row in laid_out.splitlines())


@pytest.mark.parametrize("shape", list(UNCHANGED))
def test_fit_leaves_other_shapes_alone(shape: str) -> None:
    assert fit(UNCHANGED[shape]) == UNCHANGED[shape]


def test_fit_results_are_what_ruff_makes() -> None:
    sources = {}
    for shape, (line, _) in FIT_CASES.items():
        indent = line[: len(line) - len(line.lstrip())]
        sources[f"{shape}.py"] = _in_blocks(fit(line), indent)
    diff = unformatted(sources)
    assert not diff, diff


E59, E67, E75, P61, P70 = "e" * 59, "e" * 67, "e" * 75, "p" * 61, "p" * 70
RUFF_SHAPES = {  # shapes where ruff's choice depends on lengths, one line each; fit() must make ruff's choice
    "assigned-call-in-parentheses": f"        (self.{E59},) = _functions(self._module.local, self._module.bind, self._module.fail)",
    "single-tuple-return": f"    return ({E75},)",
    "tls-attribute": f"            _b = _tls.{E67}",
    "check-assignment": f'            {P61} = _check_float({P61}, "f", "{P61}")',
    "check-assignment-too-long-for-parentheses": f'            {P70} = _check_float({P70}, "f", "{P70}")',
    "annotation-union": f"    def f({'p' * 59}: Buffer | WasmBuffer) -> None:",
    "import": f"from _{'s' * 30}_wasm_ext_runtime.stubapi import KernelTimeout as KernelTimeout",
    "name-to-name-fits-parenthesized": f"            _s0 = {E67}eeeee",
    "name-to-name-too-long-for-parentheses": f"            _s0 = {E75}",
    "name-to-subscript-too-long-for-parentheses": f"            _b.i32[0] = {E75}",
}


@pytest.mark.parametrize("shape", list(RUFF_SHAPES))
def test_fit_makes_ruffs_choice(shape: str) -> None:
    line = RUFF_SHAPES[shape]
    diff = unformatted({f"{shape}.py": _in_blocks(fit(line), line[: len(line) - len(line.lstrip())])})
    assert not diff, diff


def test_the_fit_cases_are_formatted_by_ruff_at_all() -> None:
    """The harness: ruff would change every over-long input line, so the check above can fail."""
    sources = {}
    for shape, (line, _) in FIT_CASES.items():
        sources[f"{shape}.py"] = _in_blocks(line, line[: len(line) - len(line.lstrip())])
    diff = unformatted(sources)
    assert sorted(re.findall(r"^--- (\S+)\.py$", diff, re.MULTILINE)) == sorted(FIT_CASES)


def test_layout_fits_only_over_long_single_line_statements() -> None:
    long_call = f'    _fail("{N}{N}{N}", _b, _e)'
    source = "\n".join(
        [
            "def f():",
            long_call,
            "    x = g(1)",
            f"    y = (  # {N}{N}{N}",
            f"        {N}, {N}, {N}, {N}",
            "    )",
            '    s = """',
            long_call,
            '    """',
            f"    # {N}{N}{N}",
        ]
    )
    expected = source.replace(long_call, fit(long_call), 1) + "\n"
    assert layout(source) == expected
    assert expected.count(long_call) == 1  # the copy inside the string is left as it is


def test_layout_blank_lines() -> None:
    source = "import os\n\n\n\ndef f():\n    a = 1\n\n\n    b = 2\n\n\n\nclass C:\n\n\n    x = 1\n\n\n\n"
    assert layout(source) == "import os\n\n\n\ndef f():\n    a = 1\n\n    b = 2\n\n\n\nclass C:\n\n    x = 1\n"


def test_layout_adds_the_final_newline() -> None:
    assert layout("x = 1") == "x = 1\n"
    assert layout("x = 1\n\n\n") == "x = 1\n"


def test_layout_leaves_docstrings_alone() -> None:
    source = 'def f():\n    """One.\n\n\n    Two.\n    """\n'
    assert layout(source) == source


def test_non_ascii_names_are_cut_at_characters_not_bytes() -> None:
    """ast counts columns in UTF-8 bytes: before, a line with a name like 'x\u0301' was cut mid-token."""
    name = "x\u0301" + "é" * 40
    line = f'        {name} = _check_int({name}, "{name}", "p")'
    laid = fit(line)
    assert laid != line
    compile(laid.strip() if "\n" not in laid else "if 1:\n" + laid, "<fit>", "exec")
    assert laid.count(name) == 3
