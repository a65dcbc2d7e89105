"""Find the tools: a clang that targets wasm32-wasi, and Binaryen's ``wasm-opt``.

Probes run each tool once per process (cached), and every failure says how to get the
tool. Compiler precedence: ``WASM_EXT_CC`` (any clang-compatible command line), then
``WASI_SDK_PATH`` (clang + sysroot of a WASI SDK), then the ``ziglang`` package, which
is a dependency of the plugin so a fresh machine needs no SDK download.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import platform
import re
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ToolchainError
from ..log import get_logger
from ..runtime import trust
from ..runtime.paths import user_cache_dir
from . import libbinaryen
from .process import run

log = get_logger(__name__)

INSTALL_COMPILER_HINT = (
    "Install the 'ziglang' package (pip install ziglang; it is a dependency of "
    "setuptools-wasm), or point WASI_SDK_PATH at a WASI SDK, or set WASM_EXT_CC to a "
    "clang command that targets wasm32-wasi."
)
INSTALL_WASM_OPT_HINT = (
    "Require 'setuptools-wasm[opt]' in [build-system] requires (Binaryen's library from "
    "icpp-binaryen: Python 3.11+ on macOS and x86_64 Linux with glibc 2.35+), or install "
    "Binaryen's wasm-opt (Debian/Ubuntu: apt-get install binaryen; with Node.js: npm install "
    "binaryen, then put node_modules/.bin on PATH) or set WASM_OPT to the wasm-opt executable."
)


_ZIG_COMPLETE = ".setuptools-wasm-complete"


@dataclass(frozen=True)
class Compiler:
    """How to drive one C compiler for wasm32-wasi."""

    kind: str  # "ziglang", "wasi-sdk" or "WASM_EXT_CC"
    cc: tuple[str, ...]  # prefix of a compile-and-link command line
    ast: tuple[str, ...]  # prefix of a command line that prints clang's JSON AST
    version: str
    env: tuple[tuple[str, str], ...] = ()  # variables the compiler needs beyond the build's own

    def describe(self) -> str:
        return f"{self.kind} ({self.version})"

    def environment(self) -> dict[str, str] | None:
        """The environment to run the compiler in (``None``: the build's own)."""
        return self.environment_with(self.env)

    @staticmethod
    def environment_with(env: tuple[tuple[str, str], ...]) -> dict[str, str] | None:
        """The build's environment plus *env* (``None`` when *env* adds nothing)."""
        return {**os.environ, **dict(env)} if env else None


@dataclass(frozen=True)
class CxxCommands:
    """How to drive the C++ side of a compiler: a driver that links libc++, and its AST dump."""

    cxx: tuple[str, ...]  # prefix of a compile-and-link command line for C++ (links libc++ and libc++abi)
    ast: tuple[str, ...]  # prefix of a command line that prints clang's JSON AST of C++ sources


@dataclass(frozen=True)
class WasmOpt:
    """A ``wasm-opt`` command line, its Binaryen version and the ``--enable-*`` flags it knows.

    *kind* says which optimizer it is ("wasm-opt": the executable; "libbinaryen (icpp-binaryen
    X)": the PyPI library driven by :mod:`.libbinaryen`); the manifest records it.
    """

    argv: tuple[str, ...]
    version: int
    features: frozenset[str]
    kind: str = "wasm-opt"


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
    env = _zig_cache_env()
    # `zig cc` exits 1 after dumping an AST, so the AST comes from zig's bundled clang,
    # given the exact header search path zig cc uses (read from `-v`).
    probe = run(
        [*cc, "-E", "-v", "-x", "c", os.devnull, "-o", os.devnull],
        error=ToolchainError,
        what="zig cc header search path probe",
        env=Compiler.environment_with(env),
    )
    includes = _include_dirs_from_verbose(probe.stderr)
    ast: tuple[str, ...] = (zig, "clang", "--target=wasm32-wasip1", "-nostdinc")
    for include in includes:
        ast += ("-isystem", include)
    log.info("compiler: zig %s (%s)", version, zig)
    return Compiler("ziglang", cc, ast, f"zig {version}", env)


def cxx_commands(compiler: Compiler) -> CxxCommands:
    """The C++ driver of *compiler*, probed once per process (only builds with C++ sources ask).

    zig: ``zig c++`` links zig's own libc++/libc++abi for wasm32-wasi (built into zig's cache
    on first use, like wasi-libc); its AST comes from zig's clang given the header search path
    and the libc++ configuration macros ``zig c++`` passes (read from ``-v``). A WASI SDK:
    its ``clang++``. ``WASM_EXT_CC``: ``WASM_EXT_CXX`` if set, else the same command in C++
    driver mode.
    """
    return _cxx_commands(compiler, os.environ.get("WASM_EXT_CXX", ""))


@functools.cache
def _cxx_commands(compiler: Compiler, cxx_env: str) -> CxxCommands:
    if compiler.kind == "ziglang":
        zig = compiler.cc[0]
        cxx = (zig, "c++", *compiler.cc[2:])
        probe = run(
            [*cxx, "-E", "-v", "-x", "c++", os.devnull, "-o", os.devnull],
            error=ToolchainError,
            what="zig c++ header search path probe",
            env=compiler.environment(),
        )
        ast: tuple[str, ...] = (zig, "clang", "--target=wasm32-wasip1", "-nostdinc", "-nostdinc++")
        for include in _include_dirs_from_verbose(probe.stderr):
            ast += ("-isystem", include)
        ast += tuple(f"-D{macro}" for macro in _libcxx_macros_from_verbose(probe.stderr))
        return CxxCommands(cxx, ast)
    if compiler.kind == "WASM_EXT_CC" and cxx_env.strip():
        argv = tuple(shlex.split(cxx_env))
        if shutil.which(argv[0]) is None:
            raise ToolchainError(f"WASM_EXT_CXX={cxx_env!r}: {argv[0]!r} was not found. {INSTALL_COMPILER_HINT}")
        return CxxCommands(argv, argv)
    first = compiler.cc[0]
    if compiler.kind == "wasi-sdk":
        clangxx = Path(first).with_name("clang++.exe" if sys.platform == "win32" else "clang++")
        argv = (str(clangxx), *compiler.cc[1:]) if clangxx.is_file() else (first, "--driver-mode=g++", *compiler.cc[1:])
    elif Path(first).name.startswith("zig") and compiler.cc[1:2] == ("cc",):
        argv = (first, "c++", *compiler.cc[2:])
    else:
        argv = (first, "--driver-mode=g++", *compiler.cc[1:])
    return CxxCommands(argv, argv)


def _libcxx_macros_from_verbose(stderr: str) -> list[str]:
    """The ``-D`` macros of the ``-cc1`` line ``zig c++ -v`` prints: libc++'s configuration
    (``_LIBCPP_ABI_VERSION``, ``_LIBCPP_HAS_THREADS=0``, ...), which zig passes instead of a
    ``__config_site`` header; without them the headers do not parse."""
    for line in stderr.splitlines():
        if " -cc1 " not in line:
            continue
        words = shlex.split(line)
        macros = [b for a, b in zip(words, words[1:]) if a == "-D"]
        macros += [w[2:] for w in words if w.startswith("-D") and len(w) > 2]
        return [m for m in macros if m.startswith(("_LIBCPP", "_LIBCXXABI"))]
    raise ToolchainError(f"could not read libc++'s configuration from zig c++ -v:\n{stderr}")


def _zig_cache_env() -> tuple[tuple[str, str], ...]:
    """``ZIG_GLOBAL_CACHE_DIR`` for zig when its own default cannot be made (no writable home).

    zig keeps the wasi-libc it builds, which is linked into every module, in that cache,
    so the fallback is a directory below TMPDIR that only this user can write.
    """
    if os.environ.get("ZIG_GLOBAL_CACHE_DIR", "").strip() or sys.platform == "win32":
        return ()
    try:
        default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "zig"
        default.mkdir(parents=True, exist_ok=True)
        if os.access(default, os.W_OK):
            return ()
        problem = f"{default} is not writable"
    except (OSError, RuntimeError) as exc:  # RuntimeError: no home directory at all
        problem = f"{getattr(exc, 'filename', None) or 'the home directory'} cannot be used ({_why(exc)})"
    fallback = Path(tempfile.gettempdir()) / f"setuptools-wasm-zig-cache-{os.getuid()}"
    try:
        reason = trust.make_private(fallback)
    except OSError as exc:
        reason = f"{fallback}: cannot be created ({_why(exc)})"
    if reason is not None:
        raise ToolchainError(
            f"zig needs a cache directory: {problem}, and {reason}. Set ZIG_GLOBAL_CACHE_DIR "
            "(or XDG_CACHE_HOME) to a directory you can write."
        )
    log.warning("zig's cache directory: %s; using %s (set ZIG_GLOBAL_CACHE_DIR to choose one)", problem, fallback)
    return (("ZIG_GLOBAL_CACHE_DIR", str(fallback)),)


def stable_zig_home(package_dir: Path, version: str) -> Path:
    """A copy of the ziglang package at a path that depends only on its version.

    zig keys its cache (including the wasi-libc it builds on first use, ~20 s) on the
    paths of its own files. pip's build isolation installs ziglang at a new temporary
    path for every build, so zig run from there rebuilds wasi-libc every time. The copy
    is made of hard links where the file system allows (no extra disk), else of copies,
    once per zig version, and published with an atomic rename.

    The build runs the compiler it finds there, so the copy is used only in a directory
    that ``trust`` finds writable by nobody but the user. When it cannot be made or
    trusted (no writable home, a shared cache directory), zig runs in place: slower, not
    wrong. Staging directories left by a build killed while copying are removed once
    they are an hour old.
    """
    try:
        home = user_cache_dir() / "zig" / f"{version}-{sys.platform}-{platform.machine().lower()}"
        reason = trust.make_private(home.parent)
    except (OSError, RuntimeError) as exc:  # RuntimeError: Path.home() without HOME or a passwd entry
        reason = f"{getattr(exc, 'filename', None) or 'the cache directory'}: cannot be created ({_why(exc)})"
    if reason is None:
        _remove_stale_staging(home.parent)
        zig = home / ("zig.exe" if sys.platform == "win32" else "zig")
        if (home / _ZIG_COMPLETE).is_file():
            reason = trust.untrusted(home) or trust.untrusted_file(zig)
            if reason is None:
                return home
        else:
            reason = _publish_copy(package_dir, home, version)
    if reason is not None:
        log.warning(
            "not using a stable copy of zig: %s; running zig in place, where it rebuilds wasi-libc for each "
            "isolated build (set XDG_CACHE_HOME to a private, writable directory to avoid that)",
            reason,
        )
        return package_dir
    return home


def _why(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


def _publish_copy(package_dir: Path, home: Path, version: str) -> str | None:
    """Copy *package_dir* to *home* through a staging directory; why not, if it fails."""
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{home.name}-", dir=home.parent))
    except OSError as exc:
        return f"{home.parent}: no room for a staging directory ({_why(exc)})"
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
        return f"{home}: cannot be made ({_why(exc)})"
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return None


STALE_STAGING_SECONDS = 3600  # a copy takes seconds; one this old belongs to a killed build


def _remove_stale_staging(directory: Path) -> None:
    """Remove the staging directories (``.VERSION-*``) in *directory* not touched for an hour."""
    now = time.time()
    for staging in directory.glob(".*-*"):
        try:
            if staging.is_dir() and not staging.is_symlink() and now - staging.stat().st_mtime > STALE_STAGING_SECONDS:
                log.info("removing %s, left by a build stopped while copying zig", staging)
                shutil.rmtree(staging, ignore_errors=True)
        except OSError:
            pass


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
    """The optimizer: ``WASM_OPT``, else ``wasm-opt`` on ``PATH``, else icpp-binaryen's library.

    ``None`` (or an error if *required*) if there is none. A ``WASM_OPT`` that is not found
    is not replaced by the library: the user asked for that one.
    """
    configured = os.environ.get("WASM_OPT", "").strip()
    path = shutil.which(configured) if configured else shutil.which("wasm-opt")
    if path is None and not configured:
        library = find_libbinaryen()
        if library is not None:
            return library
    if path is None:
        where = (
            f"WASM_OPT={configured!r} was not found"
            if configured
            else f"wasm-opt was not found on PATH and {libbinaryen.DISTRIBUTION} is not installed"
        )
        if required:
            raise ToolchainError(f"{where}. {INSTALL_WASM_OPT_HINT}")
        return None
    return _probe_wasm_opt(path)


def find_libbinaryen() -> WasmOpt | None:
    """icpp-binaryen's libbinaryen behind a wasm-opt-like command line, if it is installed."""
    library = libbinaryen.find_library()
    return None if library is None else _probe_libbinaryen(library)


@functools.cache
def _probe_libbinaryen(library: libbinaryen.Library) -> WasmOpt:
    """The flags whose C API functions this libbinaryen has (a library of another version may lack some)."""
    try:
        lib = ctypes.CDLL(str(library.path))
    except OSError as exc:
        raise ToolchainError(
            f"{library.path} (from {libbinaryen.DISTRIBUTION} {library.package_version}) could not be loaded: "
            f"{exc}. Reinstall {libbinaryen.DISTRIBUTION}, or uninstall it and use wasm-opt (WASM_OPT)."
        ) from None
    features = frozenset(flag for flag, function in libbinaryen.FEATURES.items() if hasattr(lib, function))
    script = Path(libbinaryen.__file__).resolve()
    # -I: the script needs only the stdlib, and the build's PYTHONPATH has no say in it
    argv = (sys.executable, "-I", str(script), "--library", str(library.path))
    kind = f"libbinaryen ({libbinaryen.DISTRIBUTION} {library.package_version})"
    log.info("wasm-opt: Binaryen %s from %s (%s)", library.version, libbinaryen.DISTRIBUTION, library.path)
    return WasmOpt(argv, library.version, features, kind)


@functools.cache
def _probe_wasm_opt(path: str) -> WasmOpt:
    """Version and features of the wasm-opt at *path*; remembered on disk per (path, mtime, size).

    npm's wasm-opt starts node (~0.3 s a run): without the record, a no-op rebuild would
    spend most of its time asking a tool it never runs.
    """
    stat = os.stat(path)
    key = f"{os.path.realpath(path)}|{stat.st_mtime_ns}|{stat.st_size}"
    try:
        record_file: Path | None = user_cache_dir() / "wasm-opt-probes.json"
    except RuntimeError:  # no home directory
        record_file = None
    records: Any = {}
    # The flags it records become the build's: read it only from a directory nobody else can write.
    if record_file is not None and record_file.parent.is_dir() and trust.untrusted(record_file.parent) is None:
        try:
            records = json.loads(trust.read(record_file).decode("utf-8"))
        except (OSError, ValueError):
            pass
    if not isinstance(records, dict):
        records = {}
    found = records.get(key)
    if isinstance(found, dict):
        return WasmOpt((path,), int(found["version"]), frozenset(found["features"]))
    probed = _run_wasm_opt_probe(path)
    records[key] = {"version": probed.version, "features": sorted(probed.features)}
    try:
        if record_file is not None and trust.make_private(record_file.parent) is None:
            trust.write(record_file, json.dumps(records, indent=1).encode())
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
