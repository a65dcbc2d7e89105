"""``wasm-ext``: sizes, size checks for CI, and a look inside built modules.

    wasm-ext size PATH... [--json | --markdown] [--top N]
    wasm-ext check PATH... [--baseline sizes.json] [--max-growth 5%] [--write-baseline]
    wasm-ext inspect MODULE.wasm
    wasm-ext precompile WHEEL... [-o DIR]
    wasm-ext merge A.whl B.whl... -o DIR

PATH is a wheel, a directory (searched for ``.wasm`` files) or a ``.wasm`` file. Exit
codes: 0 fine, 1 a check failed, 2 bad input (the message says which).
``precompile`` and ``merge`` put several hosts' precompiled artifacts into one wheel
(see ``wheel_targets.py``).
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .builder.gate import over_limit
from .sizes import InputError, ModuleReport, collect
from .wheel_file import WheelError

BASELINE_FORMAT = 1
NOT_OPTIMIZED_FIX = "install Binaryen's wasm-opt (or set WASM_OPT) where the wheel is built, and build it again"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
        return result
    except (InputError, WheelError) as exc:
        print(f"wasm-ext: error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wasm-ext", description="Sizes and checks of setuptools-wasm modules.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    size = sub.add_parser("size", help="a table of module sizes")
    size.add_argument("paths", nargs="+", metavar="PATH")
    form = size.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="machine-readable output")
    form.add_argument("--markdown", action="store_true", help="a Markdown table (for a CI job summary)")
    size.add_argument("--top", type=int, default=3, help="how many of the largest functions to list (default 3)")
    size.set_defaults(handler=_size)

    check = sub.add_parser("check", help="fail when a module is over its max_size or grew too much")
    check.add_argument("paths", nargs="+", metavar="PATH")
    check.add_argument("--baseline", type=Path, help="JSON file of sizes to compare with")
    check.add_argument("--max-growth", default="5%", help="allowed growth over the baseline (default 5%%)")
    check.add_argument("--write-baseline", action="store_true", help="write the current sizes to --baseline")
    check.add_argument(
        "--require-optimized", action="store_true", help="fail for a module that was built without wasm-opt"
    )
    check.set_defaults(handler=_check)

    inspect = sub.add_parser("inspect", help="imports, exports and features of one module")
    inspect.add_argument("module", type=Path, metavar="MODULE.wasm")
    inspect.set_defaults(handler=_inspect)

    pre = sub.add_parser("precompile", help="add this host's precompiled artifacts to built wheels")
    pre.add_argument("wheels", nargs="+", type=Path, metavar="WHEEL")
    pre.add_argument("-o", "--out-dir", type=Path, help="write the wheels here (default: replace each input)")
    pre.set_defaults(handler=_precompile)

    merge = sub.add_parser("merge", help="join wheels of one build precompiled on different hosts")
    merge.add_argument("wheels", nargs="+", type=Path, metavar="WHEEL")
    merge.add_argument("-o", "--out-dir", type=Path, required=True, help="directory for the merged wheel")
    merge.set_defaults(handler=_merge)
    return parser


# --- size -------------------------------------------------------------------------------


def _size(args: argparse.Namespace) -> int:
    reports = collect(args.paths, top=args.top)
    if args.json:
        print(json.dumps({"modules": [r.as_json() for r in reports]}, indent=2))
    elif args.markdown:
        print(_markdown(reports))
    else:
        print(_text_table(reports))
    return 0


def _before(r: ModuleReport) -> str:
    if r.size_before_opt is None:
        return "-"
    if r.optimized is False:
        return f"{r.size_before_opt} (not optimized)"
    change = 100.0 * (r.size - r.size_before_opt) / max(r.size_before_opt, 1)
    return f"{r.size_before_opt} ({change:+.1f}%)"


def _precompiled(r: ModuleReport) -> str:
    """Artifact sizes per target: ``x86_64-unknown-linux-gnu 14656+18800`` (one per engine config)."""
    by_target: dict[str, list[str]] = {}
    for a in r.artifacts:
        by_target.setdefault(a.target, []).append("missing" if a.size is None else str(a.size))
    return ", ".join(f"{target} {'+'.join(sizes)}" for target, sizes in sorted(by_target.items())) or "-"


def _functions(r: ModuleReport) -> str:
    return ", ".join(f"{name} {size}" for name, size in r.largest_functions) or "-"


def _rows(reports: list[ModuleReport]) -> list[list[str]]:
    return [
        [
            r.module,
            str(r.size),
            str(r.gzip_size),
            _before(r),
            "-" if r.max_size is None else str(r.max_size),
            _precompiled(r),
            _functions(r),
        ]
        for r in reports
    ]


_HEADER = [
    "module",
    "shipped B",
    "gzip B",
    "before wasm-opt B",
    "max_size B",
    "precompiled B",
    "largest functions (B)",
]


def _text_table(reports: list[ModuleReport]) -> str:
    rows = [_HEADER, *_rows(reports)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1] for row in rows]
    return "\n".join(line.rstrip() for line in lines) if reports else "no wasm modules found"


def _markdown(reports: list[ModuleReport]) -> str:
    lines = ["| " + " | ".join(_HEADER) + " |", "|---|---:|---:|---:|---:|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(reports)]
    return "\n".join(lines)


# --- check ------------------------------------------------------------------------------


def _parse_growth(text: str) -> float:
    try:
        value = float(text.strip().rstrip("%"))
    except ValueError:
        raise InputError(f"--max-growth must be a percentage like 5% (got {text!r})") from None
    if not math.isfinite(value):
        raise InputError(f"--max-growth must be a finite percentage like 5% (got {text!r})")
    if value < 0:
        raise InputError(f"--max-growth must not be negative (got {text!r})")
    return value


def _read_baseline(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"baseline {path}: cannot read: {exc}") from exc
    except ValueError as exc:
        raise InputError(f"baseline {path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("modules"), dict):
        raise InputError(f'baseline {path}: expected {{"format": 1, "modules": {{name: {{"size": N}}}}}}')
    return data


def _check(args: argparse.Namespace) -> int:
    growth = _parse_growth(args.max_growth)
    reports = collect(args.paths)
    if not reports:
        raise InputError("no wasm modules found in " + ", ".join(args.paths))
    if args.write_baseline and args.baseline is None:
        raise InputError("--write-baseline needs --baseline FILE")
    baseline: dict[str, Any] = {}
    if args.baseline is not None and not args.write_baseline:
        baseline = _read_baseline(args.baseline)["modules"]
    failures = 0
    for r in reports:
        problems = []
        limit = "none" if r.max_size is None else f"{r.max_size} bytes"
        too_big = over_limit(r.size, r.max_size)
        if too_big is not None:
            problems.append(too_big)
        old = baseline.get(r.module, {}).get("size") if isinstance(baseline.get(r.module), dict) else None
        change = ""
        if isinstance(old, int) and old > 0:
            percent = 100.0 * (r.size - old) / old
            change = f", baseline {old} bytes ({percent:+.1f}%)"
            if percent > growth:
                problems.append(
                    f"grew from {old} to {r.size} bytes ({percent:+.1f}%), more than the allowed {growth:g}%"
                )
        elif args.baseline is not None and not args.write_baseline:
            change = ", not in the baseline (new module)"
        if r.optimized is False:
            if args.require_optimized:
                problems.append(f"built without wasm-opt; {NOT_OPTIMIZED_FIX}")
            else:
                change += ", not optimized: built without wasm-opt"
        if problems:
            failures += 1
            print(f"FAIL {r.module}: " + "; ".join(problems) + f" (size {r.size} bytes, limit {limit}{change})")
        else:
            print(f"ok   {r.module}: {r.size} bytes (limit {limit}{change})")
    if args.write_baseline:
        data = {
            "format": BASELINE_FORMAT,
            "modules": {r.module: {"size": r.size} for r in sorted(reports, key=lambda r: r.module)},
        }
        try:
            args.baseline.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"baseline {args.baseline}: cannot write: {exc}") from exc
        print(f"wrote {args.baseline}")
    return 1 if failures else 0


# --- inspect ----------------------------------------------------------------------------


def _python_signatures(stub: Path) -> dict[str, str]:
    """``name -> "name(a: int) -> int"`` from a generated ``.pyi`` beside the module."""
    try:
        tree = ast.parse(stub.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return {}
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
            out[node.name] = f"{node.name}({ast.unparse(node.args)}){returns}"
    return out


def _inspect(args: argparse.Namespace) -> int:
    path: Path = args.module
    if path.suffix != ".wasm" or path.is_dir():
        raise InputError(f"{path}: inspect takes a .wasm file")
    (report,) = collect([str(path)], top=0)
    signatures = _python_signatures(path.with_suffix(".pyi"))
    print(f"module:   {report.module}  ({path}, {report.size} bytes)")
    features = "unknown (stripped, no manifest)" if report.features is None else ", ".join(report.features) or "none"
    print(f"features: {features}")
    print("imports:" + ("" if report.imports else " none"))
    for line in report.imports:
        print(f"  {line}")
    print("exports:")
    width = max((len(name) for name, _ in report.exports), default=0)
    for name, kind in report.exports:
        python = f"   python: {signatures[name]}" if name in signatures else ""
        print(f"  {name.ljust(width)}  {kind}{python}")
    if report.optimized is not None:
        print(f"optimized: {report.optimizer if report.optimized else 'no (built without wasm-opt)'}")
    print("precompiled:" + ("" if report.artifacts else " none (compiled on first use, then cached per user)"))
    for a in report.artifacts:
        size = "missing" if a.size is None else f"{a.size} bytes"
        print(f"  {a.target}  {a.file}  {size}  (wasmtime {a.wasmtime})")
    return 0


# --- precompile and merge ----------------------------------------------------------------


def _precompile(args: argparse.Namespace) -> int:
    from .wheel_targets import precompile

    for wheel in args.wheels:
        written, done = precompile(wheel, args.out_dir)
        for added in done:
            state = "kept " if added.kept else "added"
            print(f"{state} {added.module}: {added.target} {added.file} ({added.size} bytes)")
        print(f"{'wrote' if any(not a.kept for a in done) else 'unchanged'} {written}")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from .wheel_targets import merge

    written, artifacts = merge(args.wheels, args.out_dir)
    for target in sorted({a.target for a in artifacts}):
        files = [a for a in artifacts if a.target == target]
        print(f"{target}: " + ", ".join(f"{a.file} ({a.size} bytes)" for a in files))
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
