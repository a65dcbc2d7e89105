"""``wasm-opt -g -O<level> --enable-<feature>... IN -o OUT`` over Binaryen's C library.

PyPI has no ``wasm-opt`` executable, but ``icpp-binaryen`` ships ``libbinaryen`` per
platform. This file is a stdlib-only stand-in for the CLI: the build runs it as a script
(``python -I libbinaryen.py --library LIB ...``) so Binaryen's process-wide settings and its
``Fatal()`` exits stay out of the build's process, and optimize.py drives both backends with
the same command line. It does what ``wasm-opt`` does for these flags: read with the given
features, validate, set the optimize/shrink levels and debug info (``-g`` keeps names), run
the default optimization passes, write.
"""

from __future__ import annotations

import ctypes
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

DISTRIBUTION = "icpp-binaryen"

# wasm-opt's --enable-* name -> the C API's feature function
FEATURES: dict[str, str] = {
    "bulk-memory": "BinaryenFeatureBulkMemory",
    "exception-handling": "BinaryenFeatureExceptionHandling",
    "extended-const": "BinaryenFeatureExtendedConst",
    "gc": "BinaryenFeatureGC",
    "memory64": "BinaryenFeatureMemory64",
    "multimemory": "BinaryenFeatureMultiMemory",
    "multivalue": "BinaryenFeatureMultivalue",
    "mutable-globals": "BinaryenFeatureMutableGlobals",
    "nontrapping-float-to-int": "BinaryenFeatureNontrappingFPToInt",
    "reference-types": "BinaryenFeatureReferenceTypes",
    "relaxed-simd": "BinaryenFeatureRelaxedSIMD",
    "sign-ext": "BinaryenFeatureSignExt",
    "simd": "BinaryenFeatureSIMD128",
    "strings": "BinaryenFeatureStrings",
    "tail-call": "BinaryenFeatureTailCall",
    "threads": "BinaryenFeatureAtomics",
}

# wasm-opt's -O flags -> (optimize level, shrink level), as wasm-opt sets them
LEVELS: dict[str, tuple[int, int]] = {
    "O0": (0, 0),
    "O1": (1, 0),
    "O2": (2, 0),
    "O3": (3, 0),
    "O4": (4, 0),
    "Os": (2, 1),
    "Oz": (2, 2),
}


@dataclass(frozen=True)
class Library:
    """An installed libbinaryen: its file, its Binaryen version and who shipped it."""

    path: Path
    version: int
    package_version: str


def find_library() -> Library | None:
    """The libbinaryen of an installed ``icpp-binaryen``, without importing it (it needs cffi)."""
    try:
        spec = importlib.util.find_spec("icpp_binaryen")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    lib_dir = Path(spec.origin).parent / "lib"
    name = {"darwin": "libbinaryen.dylib", "win32": "binaryen.dll"}.get(sys.platform, "libbinaryen.so")
    try:
        version = int((lib_dir / "version.txt").read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    if not (lib_dir / name).is_file():
        return None
    from importlib import metadata

    try:
        package_version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        package_version = "unknown"
    return Library(lib_dir / name, version, package_version)


def optimize(library: Path, data: bytes, level: str, features: list[str], debug_info: bool) -> bytes:
    """*data* optimized as ``wasm-opt [-g] -<level> --enable-<features>`` would."""
    lib = ctypes.CDLL(str(library))
    for name in ("BinaryenModuleRead", "BinaryenModuleAllocateAndWrite"):
        getattr(lib, name).restype = ctypes.c_void_p
    lib.BinaryenModuleRead.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    for name in ("BinaryenModuleSetFeatures", "BinaryenModuleValidate", "BinaryenModuleOptimize"):
        getattr(lib, name).argtypes = [ctypes.c_void_p] + ([ctypes.c_uint32] if "Set" in name else [])
    lib.BinaryenModuleDispose.argtypes = [ctypes.c_void_p]
    lib.BinaryenModuleValidate.restype = ctypes.c_bool

    class Written(ctypes.Structure):
        _fields_ = [("binary", ctypes.c_void_p), ("size", ctypes.c_size_t), ("source_map", ctypes.c_void_p)]

    lib.BinaryenModuleAllocateAndWrite.restype = Written
    lib.BinaryenModuleAllocateAndWrite.argtypes = [ctypes.c_void_p, ctypes.c_char_p]

    mask = 0
    for feature in features:
        getter = getattr(lib, FEATURES[feature])
        getter.restype = ctypes.c_uint32
        mask |= getter()
    opt, shrink = LEVELS[level]
    lib.BinaryenSetOptimizeLevel(opt)
    lib.BinaryenSetShrinkLevel(shrink)
    lib.BinaryenSetDebugInfo(ctypes.c_bool(debug_info))

    buffer = ctypes.create_string_buffer(data, len(data))
    module = lib.BinaryenModuleRead(buffer, len(data))
    if not module:
        raise RuntimeError("libbinaryen could not read the module")
    try:
        lib.BinaryenModuleSetFeatures(module, mask)
        if not lib.BinaryenModuleValidate(module):
            raise RuntimeError("the module does not validate with the given features (see the messages above)")
        lib.BinaryenModuleOptimize(module)
        written = lib.BinaryenModuleAllocateAndWrite(module, None)
        try:
            return ctypes.string_at(written.binary, written.size)
        finally:
            free = ctypes.CDLL(None).free
            free.argtypes = [ctypes.c_void_p]
            free(written.binary)
            if written.source_map:
                free(written.source_map)
    finally:
        lib.BinaryenModuleDispose(module)


def main(argv: list[str]) -> int:
    """``--library LIB [-g] -<level> [--enable-F]... IN -o OUT``; exit 2 on a command line it does not take."""
    library: Path | None = None
    level, debug_info, features, paths, out = "O0", False, [], [], None
    args = iter(argv)
    for arg in args:
        if arg == "--library":
            library = Path(next(args, ""))
        elif arg == "-o":
            out = next(args, None)
        elif arg == "-g":
            debug_info = True
        elif arg.startswith("-") and arg[1:] in LEVELS:
            level = arg[1:]
        elif arg.startswith("--enable-") and arg[len("--enable-") :] in FEATURES:
            features.append(arg[len("--enable-") :])
        elif arg.startswith("-"):
            print(f"libbinaryen.py: unknown option {arg!r}", file=sys.stderr)
            return 2
        else:
            paths.append(arg)
    if library is None or out is None or len(paths) != 1:
        print("usage: libbinaryen.py --library LIB [-g] -O3 [--enable-F]... IN -o OUT", file=sys.stderr)
        return 2
    try:
        result = optimize(library, Path(paths[0]).read_bytes(), level, features, debug_info)
    except (OSError, RuntimeError) as exc:
        print(f"libbinaryen.py: {exc}", file=sys.stderr)
        return 1
    Path(out).write_bytes(result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
