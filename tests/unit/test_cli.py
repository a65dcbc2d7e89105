"""``wasm-ext size | check | inspect`` on packages made from WebAssembly text, and wheels zipped from them.

The size table in text, JSON and Markdown; ``check``'s size gate (one message with the
build's gate), baselines and growth; ``inspect``'s imports, exports, features and Python
signatures; and every input error (exit 2, the message on stderr).
"""

from __future__ import annotations

import gzip
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from support.wat import Package, buffer, kernel, make_package, scalar, unique_package

from wasm_ext import __version__
from wasm_ext.builder import gate, wasm_binary
from wasm_ext.cli import main
from wasm_ext.errors import SizeLimitError
from wasm_ext.runtime import wasmtime_engine

# A host import, a function nothing exports, and kernels of each kind.
CLI_WAT = """
(module
  (import "env" "log" (func $log (param i32)))
  (memory (export "memory") 1)
  (global $top (mut i32) (i32.const 1024))
  (func $helper (param $x i32) (result i32) (i32.mul (local.get $x) (i32.add (local.get $x) (i32.const 1))))
  (func $square (export "square") (param $x i32) (result i32) (i32.mul (local.get $x) (local.get $x)))
  (func $half (export "half") (param $x f64) (result f64) (f64.div (local.get $x) (f64.const 2)))
  (func $total (export "total") (param $p i32) (param $n i32) (result i64)
    (call $log (local.get $n))
    (i64.extend_i32_u (call $helper (local.get $n))))
  (func $malloc (export "malloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $top))
    (global.set $top (i32.add (global.get $top) (local.get $n)))
    (local.get $p))
  (func $free (export "free") (param i32)))
"""
CLI_KERNELS = [
    kernel("square", "i32", scalar("x", "i32")),
    kernel("half", "f64", scalar("x", "f64")),
    kernel("total", "i64", buffer("xs", "i32")),
]


def optimized(made: Package) -> Package:
    """*made* as a build with wasm-opt leaves it (the manifest names Binaryen's version)."""
    manifest = made.manifest()
    manifest["toolchain"]["wasm_opt"] = 123
    made.write_manifest(manifest)
    return made


@pytest.fixture
def package(tmp_path: Path) -> Package:
    return optimized(make_package(tmp_path / "one", unique_package("cli"), CLI_WAT, CLI_KERNELS, max_size=4096))


def _wheel_of(tmp_path: Path, *packages: Package) -> Path:
    """Zip packages the way a wheel holds them (the e2e tests cover real pip wheels)."""
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for package in packages:
            for path in sorted(package.directory.rglob("*")):
                if path.is_file():
                    zf.write(path, f"{package.name}/{path.relative_to(package.directory)}")
    return wheel


def _facts(package: Package) -> dict[str, Any]:
    """What the tables should say about *package*, from its files."""
    data = package.files.wasm.read_bytes()
    manifest = package.manifest()
    names = {int(i): n for i, n in manifest["function_names"].items()}
    sizes = wasm_binary.function_sizes(data)
    largest = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))
    artifacts = sorted(manifest["precompiled"], key=lambda a: a["file"])
    return {
        "size": len(data),
        "gzip": len(gzip.compress(data, compresslevel=9, mtime=0)),
        "before": manifest["wasm"]["size_before_opt"],
        "largest": [(names[i], size) for i, size in largest],
        "artifacts": [(a["target"], a["file"], (package.directory / a["file"]).stat().st_size) for a in artifacts],
    }


def _precompiled_cell(facts: dict[str, Any]) -> str:
    ((target, _, default), (_, _, sandbox)) = facts["artifacts"]  # "kernels.T.cwasm" sorts before ".sandbox"
    return f"{target} {default}+{sandbox}"


def _cells(line: str) -> list[str]:
    return re.split(r" {2,}", line.rstrip())


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# --- size --------------------------------------------------------------------------------------


def test_size_text_table(package: Package, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["size", str(package.directory)], capsys)
    facts = _facts(package)
    header, row = out.splitlines()
    assert (code, err) == (0, "")
    assert _cells(header) == [
        "module",
        "shipped B",
        "gzip B",
        "before wasm-opt B",
        "max_size B",
        "precompiled B",
        "largest functions (B)",
    ]
    change = 100.0 * (facts["size"] - facts["before"]) / facts["before"]
    top = ", ".join(f"{name} {size}" for name, size in facts["largest"][:3])
    assert _cells(row) == [
        package.module_name,
        str(facts["size"]),
        str(facts["gzip"]),
        f"{facts['before']} ({change:+.1f}%)",
        "4096",
        _precompiled_cell(facts),
        top,
    ]
    for title, cell in zip(_cells(header), _cells(row)):  # columns line up
        assert header.index(title) == row.index(cell, header.index(title))


@pytest.mark.parametrize("top", [0, 1, 10])
def test_size_top_functions(package: Package, capsys: pytest.CaptureFixture[str], top: int) -> None:
    code, out, _ = run(["size", "--top", str(top), str(package.files.wasm)], capsys)
    largest = _facts(package)["largest"][:top]
    assert code == 0
    assert _cells(out.splitlines()[1])[-1] == (", ".join(f"{n} {s}" for n, s in largest) or "-")
    if top == 10:
        assert {name for name, _ in largest} == {"helper", "square", "half", "total", "malloc", "free"}


def test_size_json(package: Package, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    wheel = _wheel_of(tmp_path, package)
    code, out, _ = run(["size", "--json", "--top", "2", str(wheel)], capsys)
    facts = _facts(package)
    assert code == 0
    assert json.loads(out) == {
        "modules": [
            {
                "module": package.module_name,
                "location": f"{wheel}!{package.name}/kernels.wasm",
                "size": facts["size"],
                "gzip_size": facts["gzip"],
                "size_before_opt": facts["before"],
                "max_size": 4096,
                "largest_functions": [{"name": n, "size": s} for n, s in facts["largest"][:2]],
                "imports": ["env.log (func (i32) -> ())"],
                "exports": [
                    {"name": "memory", "type": "memory"},
                    {"name": "square", "type": "func (i32) -> (i32)"},
                    {"name": "half", "type": "func (f64) -> (f64)"},
                    {"name": "total", "type": "func (i32, i32) -> (i64)"},
                    {"name": "malloc", "type": "func (i32) -> (i32)"},
                    {"name": "free", "type": "func (i32) -> ()"},
                ],
                "features": [],
                "artifacts": [
                    {"target": t, "file": f, "wasmtime": wasmtime_engine.wasmtime_version(), "size": n}
                    for t, f, n in facts["artifacts"]
                ],
                "optimized": True,
                "optimizer": "wasm-opt (Binaryen 123)",
            }
        ]
    }


def test_size_markdown(package: Package, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["size", "--markdown", "--top", "1", str(package.files.wasm)], capsys)
    facts = _facts(package)
    change = 100.0 * (facts["size"] - facts["before"]) / facts["before"]
    name, size = facts["largest"][0]
    assert code == 0
    assert out.splitlines() == [
        "| module | shipped B | gzip B | before wasm-opt B | max_size B | precompiled B | largest functions (B) |",
        "|---|---:|---:|---:|---:|---|---|",
        (
            f"| {package.module_name} | {facts['size']} | {facts['gzip']} | {facts['before']} ({change:+.1f}%) "
            f"| 4096 | {_precompiled_cell(facts)} | {name} {size} |"
        ),
    ]


def test_size_of_a_module_without_manifest(package: Package, capsys: pytest.CaptureFixture[str]) -> None:
    package.files.manifest.unlink()
    code, out, _ = run(["size", "--top", "10", str(package.files.wasm)], capsys)
    cells = _cells(out.splitlines()[1])
    assert code == 0
    assert cells[0] == "kernels" and cells[3:6] == ["-", "-", "-"]  # no manifest: the file's stem, nothing recorded
    names = [part.rsplit(" ", 1)[0] for part in cells[6].split(", ")]
    assert sorted(names) == ["free", "func[1]", "half", "malloc", "square", "total"]  # the helper has no name


def test_size_of_wheels_and_directories_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = make_package(tmp_path / "a", unique_package("cli"), CLI_WAT, CLI_KERNELS)
    second = make_package(tmp_path / "b", unique_package("cli"), CLI_WAT, CLI_KERNELS, max_size=2048)
    wheel = _wheel_of(tmp_path, second, first)
    code, out, _ = run(["size", "--json", str(wheel), str(first.site)], capsys)
    modules = json.loads(out)["modules"]
    assert code == 0
    assert [(m["module"], m["max_size"]) for m in modules] == [
        (first.module_name, None),  # wheel members in name order
        (second.module_name, 2048),
        (first.module_name, None),
    ]
    assert modules[0]["size"] == modules[2]["size"] and modules[2]["location"] == str(first.files.wasm)


def test_size_of_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["size", str(tmp_path)], capsys) == (0, "no wasm modules found\n", "")
    code, out, _ = run(["size", "--markdown", str(tmp_path)], capsys)
    assert (code, len(out.splitlines())) == (0, 2)  # the header alone


# --- check -----------------------------------------------------------------------------------


def test_check_within_limits(package: Package, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    size = _facts(package)["size"]
    assert run(["check", str(package.directory)], capsys) == (
        0,
        f"ok   {package.module_name}: {size} bytes (limit 4096 bytes)\n",
        "",
    )
    unlimited = optimized(make_package(tmp_path / "two", unique_package("cli"), CLI_WAT, CLI_KERNELS))
    code, out, _ = run(["check", str(unlimited.files.wasm)], capsys)
    assert (code, out) == (0, f"ok   {unlimited.module_name}: {size} bytes (limit none)\n")


def test_check_over_max_size_says_what_the_build_says(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    package = optimized(make_package(tmp_path, unique_package("cli"), CLI_WAT, CLI_KERNELS, max_size=100))
    size = _facts(package)["size"]
    problem = (
        f"the wasm module is {size} bytes ({size} B), over its max_size of 100 bytes (100 B) by {size - 100} bytes"
    )
    assert gate.over_limit(size, 100) == problem
    code, out, _ = run(["check", str(package.directory)], capsys)
    assert (code, out) == (1, f"FAIL {package.module_name}: {problem} (size {size} bytes, limit 100 bytes)\n")
    with pytest.raises(SizeLimitError) as info:
        gate.check_size(package.module_name, size, 100)
    assert str(info.value) == f"{package.module_name}: {problem}. {gate.SHRINK_HINT}"


def test_check_writes_and_reads_a_baseline(
    package: Package, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = tmp_path / "sizes.json"
    size, name = _facts(package)["size"], package.module_name
    code, out, _ = run(["check", str(package.directory), "--baseline", str(baseline), "--write-baseline"], capsys)
    assert (code, out) == (0, f"ok   {name}: {size} bytes (limit 4096 bytes)\nwrote {baseline}\n")
    assert baseline.read_text() == json.dumps({"format": 1, "modules": {name: {"size": size}}}, indent=2) + "\n"
    code, out, _ = run(["check", str(package.directory), "--baseline", str(baseline)], capsys)
    assert (code, out) == (0, f"ok   {name}: {size} bytes (limit 4096 bytes, baseline {size} bytes (+0.0%))\n")


@pytest.mark.parametrize(
    ("factor", "max_growth", "fails"),
    [(1.1, "5%", True), (1.1, "15", False), (1.1, "0", True), (0.5, "0%", False), (1.0, "0", False)],
    ids=["grew-10%-allowed-5%", "grew-10%-allowed-15", "grew-allowed-0", "shrank", "unchanged"],
)
def test_check_growth_over_the_baseline(
    package: Package, tmp_path: Path, capsys: pytest.CaptureFixture[str], factor: float, max_growth: str, fails: bool
) -> None:
    size, name = _facts(package)["size"], package.module_name
    old = round(size / factor)
    baseline = tmp_path / "sizes.json"
    baseline.write_text(json.dumps({"format": 1, "modules": {name: {"size": old}}}))
    code, out, _ = run(
        ["check", str(package.directory), "--baseline", str(baseline), "--max-growth", max_growth], capsys
    )
    percent = 100.0 * (size - old) / old
    tail = f"limit 4096 bytes, baseline {old} bytes ({percent:+.1f}%)"
    allowed = float(max_growth.rstrip("%"))
    if fails:
        grew = f"grew from {old} to {size} bytes ({percent:+.1f}%), more than the allowed {allowed:g}%"
        assert (code, out) == (1, f"FAIL {name}: {grew} (size {size} bytes, {tail})\n")
    else:
        assert (code, out) == (0, f"ok   {name}: {size} bytes ({tail})\n")


def test_check_reports_every_problem_of_every_module(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = optimized(make_package(tmp_path / "a", unique_package("cli"), CLI_WAT, CLI_KERNELS, max_size=100))
    fine = optimized(make_package(tmp_path / "b", unique_package("cli"), CLI_WAT, CLI_KERNELS))
    size = _facts(big)["size"]
    baseline = tmp_path / "sizes.json"
    baseline.write_text(json.dumps({"format": 1, "modules": {big.module_name: {"size": size // 2}}}))
    code, out, _ = run(["check", str(big.files.wasm), str(fine.files.wasm), "--baseline", str(baseline)], capsys)
    first, second = out.splitlines()
    assert code == 1
    assert first.startswith(f"FAIL {big.module_name}: {gate.over_limit(size, 100)}; grew from {size // 2} to {size}")
    assert second == f"ok   {fine.module_name}: {size} bytes (limit none, not in the baseline (new module))"


@pytest.mark.parametrize(
    "entry", [{}, {"size": 0}, {"size": "big"}, "not an object"], ids=["empty", "zero", "str", "str-entry"]
)
def test_check_treats_an_unusable_baseline_entry_as_new(
    package: Package, tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: object
) -> None:
    baseline = tmp_path / "sizes.json"
    baseline.write_text(json.dumps({"format": 1, "modules": {package.module_name: entry}}))
    code, out, _ = run(["check", str(package.directory), "--baseline", str(baseline)], capsys)
    assert (code, out.endswith("(limit 4096 bytes, not in the baseline (new module))\n")) == (0, True)


# --- inspect ---------------------------------------------------------------------------------


def test_inspect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    package = make_package(tmp_path, unique_package("cli"), CLI_WAT, CLI_KERNELS, features=("bulk-memory", "sign-ext"))
    wasm = package.files.wasm
    code, out, err = run(["inspect", str(wasm)], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"module:   {package.module_name}  ({wasm}, {wasm.stat().st_size} bytes)",
        "features: bulk-memory, sign-ext",
        "imports:",
        "  env.log (func (i32) -> ())",
        "exports:",
        "  memory  memory",
        "  square  func (i32) -> (i32)   python: square(x: int) -> int",
        "  half    func (f64) -> (f64)   python: half(x: float) -> float",
        "  total   func (i32, i32) -> (i64)   python: total(xs: Buffer | WasmBuffer) -> int",
        "  malloc  func (i32) -> (i32)",
        "  free    func (i32) -> ()",
        "optimized: no (built without wasm-opt)",
        "precompiled:",
        *(
            f"  {t}  {f}  {n} bytes  (wasmtime {wasmtime_engine.wasmtime_version()})"
            for t, f, n in _facts(package)["artifacts"]
        ),
    ]


def _custom_section(name: str, payload: bytes) -> bytes:
    body = bytes([len(name)]) + name.encode() + payload
    return b"\x00" + bytes([len(body)]) + body


@pytest.mark.parametrize(
    ("target_features", "expected"),
    [
        (None, "unknown (stripped, no manifest)"),
        (b"\x02+\x0bbulk-memory-\x07simd128", "bulk-memory"),
        (b"\x00", "none"),
    ],
    ids=["stripped", "from-the-module", "none-used"],
)
def test_inspect_without_manifest_or_stub_types(
    package: Package, capsys: pytest.CaptureFixture[str], target_features: bytes | None, expected: str
) -> None:
    package.files.manifest.unlink()
    package.files.stub_types.unlink()
    wasm = package.files.wasm
    if target_features is not None:
        wasm.write_bytes(wasm.read_bytes() + _custom_section("target_features", target_features))
    code, out, _ = run(["inspect", str(wasm)], capsys)
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == f"module:   kernels  ({wasm}, {wasm.stat().st_size} bytes)"
    assert lines[1] == f"features: {expected}"
    assert lines[6] == "  square  func (i32) -> (i32)"  # no .pyi: no Python signature


def test_inspect_module_without_imports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    package = make_package(tmp_path, unique_package("cli"), '(module (func (export "f")))', [kernel("f", "void")])
    code, out, _ = run(["inspect", str(package.files.wasm)], capsys)
    assert code == 0
    assert out.splitlines()[2:5] == ["imports: none", "exports:", "  f  func () -> ()   python: f() -> None"]


def test_unoptimized_modules_are_reported_and_can_fail_the_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = make_package(tmp_path, unique_package("cli"), CLI_WAT, CLI_KERNELS, precompile=False)
    size = package.files.wasm.stat().st_size
    code, out, _ = run(["size", str(package.directory)], capsys)
    cells = _cells(out.splitlines()[1])
    assert cells[3] == f"{package.manifest()['wasm']['size_before_opt']} (not optimized)" and cells[5] == "-"
    code, out, _ = run(["check", str(package.directory)], capsys)
    assert (code, out) == (
        0,
        f"ok   {package.module_name}: {size} bytes (limit none, not optimized: built without wasm-opt)\n",
    )
    code, out, _ = run(["check", "--require-optimized", str(package.directory)], capsys)
    assert code == 1
    assert out.startswith(f"FAIL {package.module_name}: built without wasm-opt; install Binaryen's wasm-opt")
    code, out, _ = run(["inspect", str(package.files.wasm)], capsys)
    assert out.splitlines()[-2:] == [
        "optimized: no (built without wasm-opt)",
        "precompiled: none (compiled on first use, then cached per user)",
    ]
    data = json.loads(run(["size", "--json", str(package.directory)], capsys)[1])["modules"][0]
    assert (data["optimized"], data["optimizer"], data["artifacts"]) == (False, "", [])


# --- input errors ------------------------------------------------------------------------------


@pytest.fixture
def inputs(package: Package, tmp_path: Path) -> dict[str, Path]:
    """Files each of which is wrong in its own way."""
    bad = tmp_path / "bad"
    bad.mkdir()
    paths = {
        "text": bad / "notes.txt",
        "missing": bad / "missing.whl",
        "not-a-zip": bad / "broken-1.0-py3-none-any.whl",
        "bad-wasm": bad / "broken.wasm",
        "bad-baseline": bad / "sizes.json",
        "baseline-list": bad / "list.json",
        "empty": bad / "empty",
        "dir-wasm": bad / "dir.wasm",
        "package": package.directory,
        "wasm": package.files.wasm,
    }
    paths["text"].write_text("hello")
    paths["not-a-zip"].write_bytes(b"not a zip")
    paths["bad-wasm"].write_bytes(b"\0asm\x01\0\0\0\x01\xff")
    paths["bad-baseline"].write_text("{not json")
    paths["baseline-list"].write_text("[]")
    paths["empty"].mkdir()
    paths["dir-wasm"].mkdir()
    return paths


ERRORS = [
    (["size", "{text}"], "{text}: not a wheel (.whl), a directory or a WebAssembly module (.wasm)"),
    (["size", "{missing}"], "{missing}: no such file or directory"),
    (["size", "{not-a-zip}"], "{not-a-zip}: not a readable wheel: File is not a zip file"),
    (["size", "{bad-wasm}"], "{bad-wasm}: not a valid WebAssembly module: unexpected end of data"),
    (["check", "{package}", "--baseline", "{bad-baseline}"], "baseline {bad-baseline}: not valid JSON: "),
    (
        ["check", "{package}", "--baseline", "{baseline-list}"],
        'baseline {baseline-list}: expected {{"format": 1, "modules": {{name: {{"size": N}}}}}}',
    ),
    (
        ["check", "{package}", "--baseline", "{missing}"],
        "baseline {missing}: cannot read: [Errno 2] No such file or directory: '{missing}'",
    ),
    (["check", "{package}", "--max-growth", "lots"], "--max-growth must be a percentage like 5% (got 'lots')"),
    (["check", "{package}", "--max-growth=-1%"], "--max-growth must not be negative (got '-1%')"),
    (["check", "{package}", "--max-growth", "nan"], "--max-growth must be a finite percentage like 5% (got 'nan')"),
    (["check", "{package}", "--max-growth", "inf%"], "--max-growth must be a finite percentage like 5% (got 'inf%')"),
    (["check", "{package}", "--write-baseline"], "--write-baseline needs --baseline FILE"),
    (["check", "{empty}"], "no wasm modules found in {empty}"),
    (["inspect", "{text}"], "{text}: inspect takes a .wasm file"),
    (["inspect", "{dir-wasm}"], "{dir-wasm}: inspect takes a .wasm file"),
    (["inspect", "{missing}.wasm"], "{missing}.wasm: no such file or directory"),
]


@pytest.mark.parametrize(("argv", "text"), ERRORS, ids=[f"{e[0][0]}-{i}" for i, e in enumerate(ERRORS)])
def test_input_errors(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str], argv: list[str], text: str) -> None:
    names = {key: str(path) for key, path in inputs.items()}
    code, out, err = run([arg.format(**names) for arg in argv], capsys)
    expected = "wasm-ext: error: " + text.format(**names)
    assert (code, out) == (2, "")
    if text.endswith(": "):  # the JSON parser's own words follow
        assert err.startswith(expected)
    else:
        assert err == expected + "\n"


@pytest.mark.parametrize("where", ["directory", "wheel"])
def test_invalid_manifest_is_an_input_error(
    package: Package, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    package.write_manifest({**package.manifest(), "format": 7})
    manifest = f"{package.files.manifest}"
    if where == "wheel":
        wheel = _wheel_of(tmp_path, package)
        target, manifest = str(wheel), f"{wheel}!{package.name}/kernels.wasm-manifest.json"
    else:
        target = str(package.directory)
    code, _, err = run(["size", target], capsys)
    assert (code, err) == (
        2,
        (
            f"wasm-ext: error: {manifest}: manifest format 7, this runtime reads format 1 "
            "(rebuild the package with a matching setuptools-wasm)\n"
        ),
    )


def test_invalid_module_in_a_wheel(package: Package, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    package.files.wasm.write_bytes(b"\0asm\x02\0\0\0")
    wheel = _wheel_of(tmp_path, package)
    code, _, err = run(["check", str(wheel)], capsys)
    assert (code, err) == (
        2,
        (
            f"wasm-ext: error: {wheel}!{package.name}/kernels.wasm: not a valid WebAssembly module: "
            "not a WebAssembly module (bad magic number or version)\n"
        ),
    )


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["size", "--json", "--markdown", "x.wasm"], "argument --markdown: not allowed with argument --json"),
        (["size"], "the following arguments are required: PATH"),
        ([], "the following arguments are required: command"),
        (["size", "--top", "many", "x.wasm"], "argument --top: invalid int value: 'many'"),
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], text: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(f"error: {text}")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert (info.value.code, capsys.readouterr().out) == (0, f"wasm-ext {__version__}\n")


def test_a_baseline_that_cannot_be_written(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    target = inputs["missing"] / "s.json"
    code, out, err = run(["check", str(inputs["package"]), "--baseline", str(target), "--write-baseline"], capsys)
    assert (code, out.startswith("ok   ")) == (2, True)  # the sizes were checked; only the writing failed
    assert err == f"wasm-ext: error: baseline {target}: cannot write: [Errno 2] No such file or directory: '{target}'\n"
