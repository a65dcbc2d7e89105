"""Find the tools: a clang that targets wasm32-wasi, and Binaryen's ``wasm-opt``.

Probes run each tool once per process (cached), and every failure says how to get the
tool. Compiler precedence: ``WASM_EXT_CC`` (any clang-compatible command line), then
``WASI_SDK_PATH`` (clang + sysroot of a WASI SDK), then the ``ziglang`` package, which
is a dependency of the plugin so a fresh machine needs no SDK download.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ToolchainError
from ..log import get_logger
from ..runtime.paths import user_cache_dir
from .process import run

log = get_logger(__name__)

INSTALL_COMPILER_HINT = (
    "Install the 'ziglang' package (pip install ziglang; it is a dependency of "
    "setuptools-wasm), or point WASI_SDK_PATH at a WASI SDK, or set WASM_EXT_CC to a "
    "clang command that targets wasm32-wasi."
)
INSTALL_WASM_OPT_HINT = (
    "Install Binaryen (Debian/Ubuntu: apt-get install binaryen; any OS with Node.js: "
    "npm install binaryen, then put node_modules/.bin on PATH) or set WASM_OPT to the "
    "wasm-opt executable."
)


_ZIG_COMPLETE = ".setuptools-wasm-complete"


@dataclass(frozen=True)
class Compiler:
    """How to drive one C compiler for wasm32-wasi."""

    kind: str  # "ziglang", "wasi-sdk" or "WASM_EXT_CC"
    cc: tuple[str, ...]  # prefix of a compile-and-link command line
    ast: tuple[str, ...]  # prefix of a command line that prints clang's JSON AST
    version: str

    def describe(self) -> str:
        return f"{self.kind} ({self.version})"


@dataclass(frozen=True)
class WasmOpt:
    """A ``wasm-opt`` executable, its Binaryen version and the ``--enable-*`` flags it knows."""

    argv: tuple[str, ...]
    version: int
    features: frozenset[str]


def find_compiler() -> Compiler:
    """The compiler the environment asks for (see the module docstring)."""
    return _find_compiler(os.environ.get("WASM_EXT_CC", ""), os.environ.get("WASI_SDK_PATH", ""))


@functools.cache
def _find_compiler(cc_env: str, sdk_env: str) -> Compiler:
    if cc_env.strip():
        argv = tuple(shlex.split(cc_env))
        if shutil.which(argv[0]) is None:
            raise ToolchainError(f"WASM_EXT_CC={cc_env!r}: {argv[0]!r} was not found. {INSTALL_COMPILER_HINT}")
        return Compiler("WASM_EXT_CC", argv, argv, _clang_version(argv))
    if sdk_env.strip():
        sdk = Path(sdk_env)
        clang = sdk / "bin" / ("clang.exe" if sys.platform == "win32" else "clang")
        sysroot = sdk / "share" / "wasi-sysroot"
        if not clang.is_file() or not sysroot.is_dir():
            raise ToolchainError(
                f"WASI_SDK_PATH={sdk_env!r} holds no bin/clang and share/wasi-sysroot. {INSTALL_COMPILER_HINT}"
            )
        argv = (str(clang), "--target=wasm32-wasi", f"--sysroot={sysroot}")
        return Compiler("wasi-sdk", argv, argv, _clang_version(argv))
    return _ziglang()


def _ziglang() -> Compiler:
    try:
        import ziglang
    except ImportError:
        raise ToolchainError(f"No C compiler for wasm32-wasi was found. {INSTALL_COMPILER_HINT}") from None
    from importlib.metadata import version as dist_version

    version = dist_version("ziglang")
    home = stable_zig_home(Path(ziglang.__file__).resolve().parent, version)
    zig = str(home / ("zig.exe" if sys.platform == "win32" else "zig"))
    cc = (zig, "cc", "-target", "wasm32-wasi")
    # `zig cc` exits 1 after dumping an AST, so the AST comes from zig's bundled clang,
    # given the exact header search path zig cc uses (read from `-v`).
    probe = run(
        [*cc, "-E", "-v", "-x", "c", os.devnull, "-o", os.devnull],
        error=ToolchainError,
        what="zig cc header search path probe",
    )
    includes = _include_dirs_from_verbose(probe.stderr)
    ast: tuple[str, ...] = (zig, "clang", "--target=wasm32-wasip1", "-nostdinc")
    for include in includes:
        ast += ("-isystem", include)
    log.info("compiler: zig %s (%s)", version, zig)
    return Compiler("ziglang", cc, ast, f"zig {version}")


def stable_zig_home(package_dir: Path, version: str) -> Path:
    """A copy of the ziglang package at a path that depends only on its version.

    zig keys its cache (including the wasi-libc it builds on first use, ~20 s) on the
    paths of its own files. pip's build isolation installs ziglang at a new temporary
    path for every build, so zig run from there rebuilds wasi-libc every time. The copy
    is made of hard links where the file system allows (no extra disk), else of copies,
    once per zig version, and published with an atomic rename.
    """
    home = user_cache_dir() / "zig" / f"{version}-{sys.platform}-{platform.machine().lower()}"
    if (home / _ZIG_COMPLETE).is_file():
        return home
    home.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{home.name}-", dir=home.parent))
    try:
        log.info("making a stable copy of zig %s at %s (once per version)", version, home)
        shutil.copytree(
            package_dir,
            staging,
            copy_function=_link_or_copy,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        (staging / _ZIG_COMPLETE).write_text(version)
        try:
            os.rename(staging, home)
        except OSError:
            if not (home / _ZIG_COMPLETE).is_file():  # not a concurrent build's copy: stale
                shutil.rmtree(home, ignore_errors=True)
                os.rename(staging, home)
    except OSError as exc:
        log.warning("could not copy zig to %s (%s); using it in place, uncached", home, exc)
        return package_dir
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return home


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def _include_dirs_from_verbose(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    try:
        start = lines.index("#include <...> search starts here:") + 1
        end = lines.index("End of search list.", start)
    except ValueError:
        raise ToolchainError(f"could not read the header search path from zig cc -v:\n{stderr}") from None
    return [line.strip() for line in lines[start:end]]


def _clang_version(argv: tuple[str, ...]) -> str:
    out = run([*argv, "--version"], error=ToolchainError, what=f"{argv[0]} --version").stdout
    return out.splitlines()[0].strip() if out.strip() else "unknown version"


def find_wasm_opt(required: bool) -> WasmOpt | None:
    """``wasm-opt`` from ``WASM_OPT`` or ``PATH``; ``None`` (or an error if *required*) if absent."""
    configured = os.environ.get("WASM_OPT", "").strip()
    path = shutil.which(configured) if configured else shutil.which("wasm-opt")
    if path is None:
        where = f"WASM_OPT={configured!r} was not found" if configured else "wasm-opt was not found on PATH"
        if required:
            raise ToolchainError(f"{where}. {INSTALL_WASM_OPT_HINT}")
        return None
    return _probe_wasm_opt(path)


@functools.cache
def _probe_wasm_opt(path: str) -> WasmOpt:
    """Version and features of the wasm-opt at *path*; remembered on disk per (path, mtime, size).

    npm's wasm-opt starts node (~0.3 s a run): without the record, a no-op rebuild would
    spend most of its time asking a tool it never runs.
    """
    stat = os.stat(path)
    key = f"{os.path.realpath(path)}|{stat.st_mtime_ns}|{stat.st_size}"
    record_file = user_cache_dir() / "wasm-opt-probes.json"
    try:
        records = json.loads(record_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        records = {}
    if not isinstance(records, dict):
        records = {}
    found = records.get(key)
    if isinstance(found, dict):
        return WasmOpt((path,), int(found["version"]), frozenset(found["features"]))
    probed = _run_wasm_opt_probe(path)
    records[key] = {"version": probed.version, "features": sorted(probed.features)}
    try:
        record_file.parent.mkdir(parents=True, exist_ok=True)
        record_file.write_text(json.dumps(records, indent=1), encoding="utf-8")
    except OSError:
        pass
    return probed


def _run_wasm_opt_probe(path: str) -> WasmOpt:
    out = run([path, "--version"], error=ToolchainError, what="wasm-opt --version").stdout
    match = re.search(r"version[ _](\d+)", out)
    if not match:
        raise ToolchainError(f"{path} --version printed no Binaryen version: {out.strip()!r}")
    help_text = run([path, "--help"], error=ToolchainError, what="wasm-opt --help").stdout
    features = frozenset(re.findall(r"--enable-([a-z0-9-]+)", help_text))
    log.info("wasm-opt: Binaryen %s (%s)", match.group(1), path)
    return WasmOpt((path,), int(match.group(1)), features)
