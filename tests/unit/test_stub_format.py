"""Generated stubs are clean under ruff's defaults and ``mypy --strict``, over fixed and generated corpora.

The ``.py`` must pass ``ruff check --isolated`` and ``ruff format --check --isolated`` (ruff's
defaults, line length 88: what ``pyfmt`` formats for), the ``.pyi`` ``ruff check --isolated``.
Stubs are written in the layout a build gives them (a top-level stub has its runtime copy
beside it, which is what makes ruff sort its import as first-party) and checked in one ruff
run per corpus. The generated corpus varies names (long, CAPS, digits), parameter kinds and
doc texts (quotes, backslashes, tabs, blank lines, no-break spaces), with names up to 100
characters; the shapes whose layout ruff decides by length each have a case of their own.
"""

from __future__ import annotations

import keyword
import re
import string
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from ruff.__main__ import find_ruff_bin
from support.asts import load_info
from support.fake import buffer, function, scalar, write_stub
from support.fake import string as string_param
from support.models import C_TYPES, Params

from wasm_ext.builder.mapping import map_functions
from wasm_ext.builder.model import SCALARS, VOID, EnumType, Function, Param
from wasm_ext.builder.stubgen import render, reserved_names
from wasm_ext.declarations import parse_functions

# -- running ruff ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One stub to check: a module name (dotted: inside a package) and its functions."""

    module: str
    functions: tuple[Function, ...]
    wasi: bool = False


RUFF = find_ruff_bin()  # the ruff of this environment: the version stubs are formatted for


def ruff(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``ruff <command> --isolated --no-cache <args>``: ruff's defaults, no configuration files, no cache written."""
    command = [RUFF, *args[:1], "--isolated", "--no-cache", *args[1:]]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def write_corpus(directory: Path, cases: Sequence[Case]) -> list[tuple[Path, Path]]:
    """Each case's ``.py`` and ``.pyi`` under *directory*, laid out as a build writes them."""
    paths = []
    for number, case in enumerate(cases):
        py, pyi = render(case.module, case.functions, sources=["kernels.c"], wasi=case.wasi)
        package, _, stem = case.module.rpartition(".")
        if package:
            folder = directory / f"case{number}" / package.replace(".", "/")
        else:  # the runtime copy beside it, as ruff must find it (only its stubapi is imported)
            folder = directory
            runtime = directory / f"_{stem}_wasm_ext_runtime"
            runtime.mkdir()
            (runtime / "stubapi.py").write_text("")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{stem}.py").write_text(py)
        (folder / f"{stem}.pyi").write_text(pyi)
        paths.append((folder / f"{stem}.py", folder / f"{stem}.pyi"))
    return paths


def ruff_problems(directory: Path, cases: Sequence[Case]) -> str:
    """What ruff says about the stubs of *cases* (empty if nothing): check findings, then format diffs."""
    paths = write_corpus(directory, cases)
    files = [str(p.relative_to(directory)) for pair in paths for p in pair]
    checked = ruff("check", "--output-format", "concise", *files, cwd=directory)
    problems = [] if checked.returncode == 0 else [checked.stdout + checked.stderr]
    stubs = [f for f in files if f.endswith(".py")]
    formatted = ruff("format", "--check", "--output-format", "concise", *stubs, cwd=directory)
    if formatted.returncode != 0:
        unformatted = sorted(set(re.findall(r"^(\S+\.py):\d+:\d+: unformatted", formatted.stdout, re.MULTILINE)))
        diff = ruff("format", "--diff", *(unformatted or stubs), cwd=directory)
        problems.append(formatted.stderr + diff.stdout + diff.stderr)
    if problems:
        problems.insert(0, f"ruff {ruff('--version', cwd=directory).stdout.strip()} over {len(cases)} stubs:")
    return "\n".join(problems)


# -- the fixed corpus ------------------------------------------------------------------------

EVERY_PARAMETER = function(
    "every_parameter",
    *(scalar(f"s_{kind}", kind) for kind in SCALARS),
    buffer("data"),
    buffer("values", "f64", writable=True, length="values_len", length_kind="i32"),
    buffer("narrow", "u16", length="count", length_kind="u8"),
    buffer("wide", "i64", length="size", length_kind="u64"),
    string_param("name"),
    result="f64",
    doc="Every kind of parameter at once.\n\nWith a second paragraph.",
)
ONE_OF_EACH = tuple(function(f"echo_{kind}", scalar("value", kind), result=kind) for kind in SCALARS)
MEMORY = (
    function("checksum", buffer("data"), result="u32", doc='Adler-32 of "data" (like zlib\'s).'),
    function("scale", buffer("samples", "f32", writable=True), scalar("factor", "f32")),
    function("parse", string_param("text"), result="bool", doc="Parse ``text``; a\\b is a backslash."),
)
LONGEST = "x" * 100  # C allows longer, but past this every line is too long for any layout
LONG_ENUM = EnumType("E" * 60, tuple((f"{'M' * 70}_{i}", -i) for i in range(3)), "k.c:1")
ENUMS = (
    replace(
        function(
            "classify",
            replace(scalar("mode", "i32"), enum=LONG_ENUM.name),
            Param("m" * 50, "out", "i32", "int *", enum=LONG_ENUM.name),
            result="i32",
        ),
        result_enum=LONG_ENUM.name,
        enums=(LONG_ENUM, EnumType("color", (("RED", 0),), "k.c:2")),
    ),
)
STRUCTS = tuple(
    replace(f, export=f.name)
    for f in map_functions(
        load_info("structs"),
        ["hash", "twice", "dot", "fill", "grow", "echo"],
        module="pkg.kernels",
        declared=parse_functions({"fill": {"out": "out"}, "grow": {"p": "inout"}}, where="setup.py"),
    )
)
FIXED_CORPUS = [
    Case("pkg.kernels", ENUMS),
    Case("pkg.kernels", STRUCTS),
    Case("pkg.kernels", (EVERY_PARAMETER,)),
    Case("pkg.kernels", ONE_OF_EACH),
    Case("pkg.kernels", MEMORY),
    Case("pkg.kernels", (function("nothing"),)),
    Case("pkg.kernels", (function("is_ready", result="bool"), function("reset"))),
    Case("deeply.nested.package.kernels", (*MEMORY, *ONE_OF_EACH)),
    Case("pkg.kernels", (function("flag", scalar("on", "bool"), result="bool"),), wasi=True),
    Case("kernels", (EVERY_PARAMETER,)),
    Case("fast_image_kernels", (*MEMORY, function("nothing")), wasi=True),
    Case("tiny", (function("nothing"),)),
    Case("pkg.kernels", (function(LONGEST, buffer(LONGEST, "f64", writable=True), string_param("s"), result="u64"),)),
    Case(
        "pkg.kernels",
        (
            function(LONGEST, *(scalar(f"{LONGEST[:-2]}{i:02}", k) for i, k in enumerate(SCALARS)), result="i64"),
            function(LONGEST.upper(), buffer("b", length=LONGEST, length_kind="i16"), result="bool"),
        ),
    ),
]


def test_fixed_corpus_passes_ruff(tmp_path: Path) -> None:
    problems = ruff_problems(tmp_path, FIXED_CORPUS)
    assert not problems, problems


def test_a_stub_ruff_dislikes_is_reported(tmp_path: Path) -> None:
    """The harness itself: a stub with a bad line and a badly formatted one are both caught."""
    write_corpus(tmp_path, FIXED_CORPUS[:1])
    stub = tmp_path / "case0" / "pkg" / "kernels.py"
    stub.write_text(stub.read_text().replace("_int = int\n", "_int = int\nimport os\nx  =  1\n"))
    checked = ruff("check", "--output-format", "concise", str(stub), cwd=tmp_path)
    formatted = ruff("format", "--check", str(stub), cwd=tmp_path)
    assert checked.returncode == 1 and "F401 [*] `os` imported but unused" in checked.stdout
    assert formatted.returncode == 1


def test_generated_stub_and_runtime_pass_mypy_strict(tmp_path: Path) -> None:
    generated = write_stub([EVERY_PARAMETER, *MEMORY, *ONE_OF_EACH, *STRUCTS], tmp_path)
    (generated.files.directory / "py.typed").write_text("")
    command = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "mypy-cache")]
    command += ["--python-version", f"{sys.version_info[0]}.{sys.version_info[1]}"]
    runtime = generated.files.runtime_dir.relative_to(generated.site)
    stub = generated.files.stub.relative_to(generated.site)
    # the .py with the runtime, then the package as users see it (the .pyi wins); the second run reuses the cache
    for targets in ([str(stub), str(runtime)], ["-p", generated.top_package]):
        proc = subprocess.run([*command, *targets], cwd=generated.site, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr


# -- shapes whose layout depends on length ------------------------------------------------------


def _names(*names: str) -> tuple[Function, ...]:
    return tuple(function(name, buffer("data")) for name in names)


LENGTH_SHAPES = {  # where ruff's layout changes with a name's length (pyfmt must make ruff's choice)
    # ruff format: `(self.E,) = (\n    _functions(...)\n)` in Sandbox.__init__ for one kernel whose export
    # name has 59+ characters (pyfmt explodes the call's arguments; ruff parenthesizes the right-hand side)
    "sandbox-tuple": Case("pkg.kernels", (function("e" * 59, scalar("x", "i32")),)),
    # ruff format, 75+: also `return (\n    E,\n)`, `(\n    E,\n) = _functions(` and `for _f in (\n    E,\n):`
    "module-tuple": Case("pkg.kernels", (function("e" * 75, scalar("x", "i32")),)),
    # ruff format: `_b = (\n    _tls.E\n)` in every kernel whose export name has exactly 67 characters (the
    # line is 89 long; parenthesized it fits, which is when ruff parenthesizes; pyfmt leaves attributes alone)
    "tls-attribute": Case("pkg.kernels", (function("e" * 67, string_param("s")), function("other"))),
    # ruff format: `x = (\n    _check_float(...)\n)` where `x = _check_float(` does not fit but the parenthesized
    # call does: float parameters named with 61..65 characters, int ones (_check_int) 63..65
    "check-assignment": Case("pkg.kernels", (function("f", scalar("p" * 61, "f32")),)),
    # ruff format: `name: Buffer\n        | WasmBuffer,` for a buffer parameter name of 59+ (str | bytes: 67+)
    "annotation-union": Case("pkg.kernels", (function("f", buffer("p" * 59)),)),
    # ruff format: a docstring starting with a quote gets a space: `""" "quoted"`
    "doc-leading-quote": Case("pkg.kernels", (function("f", doc='"Quoted" first word.'),)),
    # ruff format: a docstring line (after the first) starting with non-ASCII whitespace (U+00A0) loses it
    "doc-unicode-indent": Case("pkg.kernels", (function("f", doc="Summary.\n\u00a0indented by a no-break space"),)),
    # ruff check I001 in the .pyi: `from _STEM_wasm_ext_runtime.stubapi import KernelTimeout as KernelTimeout`
    # is 89 characters for a top-level module with a stem of 20, and isort wraps it in parentheses
    "top-level-imports-pyi": Case("a" * 20, (function("f", scalar("x", "f64")),)),
    # the same in the .py for a stem of 21+ (`... import KernelModule as _KernelModule`): I001, and ruff format
    # wraps it: `from _STEM_wasm_ext_runtime.stubapi import (\n    KernelModule as _KernelModule,\n)`
    "top-level-imports-py": Case("a" * 21, (function("f", scalar("x", "f64")),)),
    # ruff format: `def E() -> tuple[\n    int, float\n]:` for a kernel with no arguments whose tuple result
    # does not fit (it splits the subscript; a plain annotation it parenthesizes instead)
    "return-subscript": Case("pkg.kernels", (function("e" * 68, Param("v", "out", "f32", "float *"), result="u16"),)),
    # ...and parenthesizes it where `def E() -> tuple[` itself does not fit (a name of 75+ characters)
    "return-parenthesized": Case("pkg.kernels", (function("e" * 80, Param("v", "out", "i32", "int *"), result="f64"),)),
    # ruff check RUF022: ruff sorts a one-letter capital name with the classes, pyfmt with the CONSTANTS
    "all-single-capital": Case("pkg.kernels", _names("X")),
    # ruff check RUF022: ruff sorts k01 before k1 (natord); pyfmt's key ties them and keeps their order
    "all-leading-zero": Case("pkg.kernels", _names("k1", "k01")),
}


@pytest.mark.parametrize("shape", list(LENGTH_SHAPES))
def test_length_dependent_shapes(tmp_path: Path, shape: str) -> None:
    problems = ruff_problems(tmp_path, [LENGTH_SHAPES[shape]])
    assert not problems, problems


# -- the generated corpus --------------------------------------------------------------------

MAX_NAME = len(LONGEST)
TAKEN = reserved_names()


def identifiers(max_size: int = MAX_NAME) -> st.SearchStrategy[str]:
    """C identifiers as Python sees them: snake_case, CAPS, CamelCase, digits; up to *max_size* characters.

    Never a keyword or starting with ``_`` (mapping renames those parameters; such exports are a bug, see
    test_codegen).
    """
    styles = st.sampled_from([str.lower, str.upper, str.title, lambda s: s])
    alphabet = string.ascii_letters + string.digits + "_"
    raw = st.integers(0, max_size - 1).flatmap(lambda n: st.text(alphabet, min_size=n, max_size=n))  # long ones too
    names = st.builds(lambda head, tail, style: style(head + tail)[:max_size], st.sampled_from("abcxyzKQ"), raw, styles)
    return names.filter(lambda name: not keyword.iskeyword(name) and not name.startswith("_"))


def _export_ok(name: str) -> bool:
    """Not a name the stub reserves (those are a SignatureError, see test_codegen)."""
    return name not in TAKEN


# text a C comment may hold: quotes, backslashes, tabs, blank lines, trailing blanks, non-ASCII
DOC_CHARS = string.ascii_letters + string.digits + " \t\"'\\*`#{}()-.,:é\u00a0"


@st.composite
def docs(draw: st.DrawFn) -> str:
    lines = draw(st.lists(st.text(DOC_CHARS, max_size=70), max_size=5))
    breaks = draw(st.lists(st.sampled_from(["\n", "\n", "\n\n", "\n \n", "\r\n", "\n\t\n"]), min_size=len(lines)))
    doc = "".join(line + brk for line, brk in zip(lines, breaks)).rstrip("\n") if lines else ""
    return doc


@st.composite
def params(draw: st.DrawFn) -> Params:
    name = draw(identifiers().filter(lambda n: n != "self"))
    kind = draw(st.sampled_from(["scalar"] * 3 + ["buffer"] * 3 + ["string", "in", "inout", "out"]))
    if kind == "scalar":
        return scalar(name, draw(st.sampled_from(list(SCALARS))))
    if kind == "string":
        return string_param(name)
    if kind in ("in", "inout", "out"):  # a value by pointer
        ctype = draw(st.sampled_from(list(SCALARS)))
        return Param(name, kind, ctype, f"{C_TYPES[ctype]} *")
    element = draw(st.sampled_from([k for k in SCALARS if k != "bool"]))
    length_kind = draw(st.sampled_from([k for k in SCALARS if k not in ("bool", "f32", "f64")]))
    return buffer(name, element, writable=draw(st.booleans()), length=draw(identifiers()), length_kind=length_kind)


def _name(p: Params) -> str:
    return (p[0] if isinstance(p, tuple) else p).name


@st.composite
def functions(draw: st.DrawFn, name: str) -> Function:
    parameters = draw(st.lists(params(), max_size=6, unique_by=_name))
    result = draw(st.sampled_from([VOID, *SCALARS]))
    fn = function(name, *parameters, result=result, doc=draw(docs()))
    if draw(st.booleans()):  # two buffers share the first one's length
        buffers = [i for i, p in enumerate(fn.params) if p.kind == "buffer"]
        if len(buffers) >= 2:
            first, second = buffers[:2]
            orphan = fn.params[second].length  # the second's own length goes; later indexes move down by one
            kept = [replace(p, length=fn.params[first].length) if i == second else p for i, p in enumerate(fn.params)]
            del kept[orphan]
            moved = [replace(p, length=p.length - (p.length > orphan)) if p.kind == "buffer" else p for p in kept]
            fn = replace(fn, params=tuple(moved))
    return fn


@st.composite
def cases(draw: st.DrawFn, number: int) -> Case:
    names = draw(st.lists(identifiers().filter(_export_ok), min_size=1, max_size=4, unique=True))
    fns = tuple(draw(functions(name)) for name in names)
    if draw(st.booleans()):
        package = ".".join(draw(st.lists(identifiers(30), min_size=1, max_size=3)))
        module = f"{package}.{draw(identifiers(30))}"
    else:  # a top-level module: its stem is unique in the batch
        module = f"{draw(identifiers(40))}_{number}"
    return Case(module, fns, wasi=draw(st.booleans()))


batches = st.integers(6, 10).flatmap(lambda n: st.tuples(*(cases(i) for i in range(n))))


def shapes(case: Case) -> set[str]:
    """What *case* exercises, to check the strategies reach everything they should."""
    seen = {"top-level" if "." not in case.module else "package"}
    for fn in case.functions:
        seen.update(p.kind for p in fn.params)
        seen.update(p.ctype for p in fn.params if p.kind == "scalar")
        seen.update(f"length {p.ctype}" for p in fn.params if p.kind == "length")
        seen.update(
            "shared length" for p in fn.params if p.kind == "length" and len(fn.lengths_of(fn.params.index(p))) > 1
        )
        seen.add(f"result {fn.result}")
        names = [fn.export, *(p.name for p in fn.params)]
        seen.update(
            shape for shape, found in (("long", max(map(len, names)) > 40), ("CAPS", fn.export.isupper())) if found
        )
        seen.update(shape for shape, char in (("quote", '"'), ("backslash", "\\"), ("tab", "\t")) if char in fn.doc)
        seen.update(["paragraphs"] * ("\n\n" in fn.doc.strip()) + ["digits"] * any(c.isdigit() for c in fn.export))
    return seen


EXPECTED_SHAPES = {"top-level", "package", "scalar", "buffer", "string", *SCALARS, "long", "CAPS", "digits"}
EXPECTED_SHAPES |= {"length", "in", "inout", "out", "shared length"}
EXPECTED_SHAPES |= {"quote", "backslash", "tab", "paragraphs", "result void", "result bool", "length u8", "length i64"}


def test_generated_corpus_passes_ruff() -> None:
    seen: set[str] = set()

    # one ruff run per batch of stubs; no shrinking (each step is a ruff run): ruff's output names the stub
    @settings(
        max_examples=6,
        phases=[Phase.explicit, Phase.generate],
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(batch=batches)
    def check(batch: tuple[Case, ...]) -> None:
        for case in batch:
            seen.update(shapes(case))
        with tempfile.TemporaryDirectory(prefix="stub-corpus-") as directory:
            problems = ruff_problems(Path(directory), batch)
        assert not problems, problems

    check()
    assert EXPECTED_SHAPES - seen == set(), "the generated corpus no longer reaches these shapes"
