"""The real C libraries of the integration tests and benchmarks: which sdist, and the declarations that bind it.

Everything a user would write to bind each library's own public API (``exports``,
``handles``, ``functions``), and a build of it with the real pipeline into a directory.
No C of our own.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .sdists import sdist

BROTLI_VERSION = "1.2.1"  # the sdist and the native package compared against
BROTLI = {
    "exports": [
        "BrotliEncoderCompress",
        "BrotliEncoderMaxCompressedSize",
        "BrotliDecoderDecompress",
        "BrotliEncoderVersion",
        "BrotliDecoderVersion",
        "BrotliDecoderErrorString",
        # streaming: an encoder and a decoder instance, fed through the input cursor, emptied with TakeOutput
        "BrotliEncoderCreateInstance",
        "BrotliEncoderDestroyInstance",
        "BrotliEncoderSetParameter",
        "BrotliEncoderCompressStream",
        "BrotliEncoderHasMoreOutput",
        "BrotliEncoderIsFinished",
        "BrotliEncoderTakeOutput",
        "BrotliDecoderCreateInstance",
        "BrotliDecoderDestroyInstance",
        "BrotliDecoderDecompressStream",
        "BrotliDecoderTakeOutput",
        "BrotliDecoderGetErrorCode",
    ],
    "handles": {
        "BrotliEncoderState": {"destroy": "BrotliEncoderDestroyInstance"},
        "BrotliDecoderState": {"destroy": "BrotliDecoderDestroyInstance"},
    },
    "functions": {
        # the allocator callbacks and their opaque pointer: NULL, Brotli's own malloc and free
        "BrotliEncoderCreateInstance": {
            "alloc_func": "null",
            "free_func": "null",
            "opaque": "null",
            "return": "error if NULL",
        },
        "BrotliDecoderCreateInstance": {
            "alloc_func": "null",
            "free_func": "null",
            "opaque": "null",
            "return": "error if NULL",
        },
        "BrotliEncoderSetParameter": {"return": "error if false"},
        # no output buffer (available_out 0, next_out NULL): the output is taken with TakeOutput
        "BrotliEncoderCompressStream": {
            "next_in": "in[*available_in]",
            "available_out": "in = 0",
            "next_out": "null",
            "total_out": "null",
            "return": "error if false",
        },
        "BrotliDecoderDecompressStream": {
            "next_in": "in[*available_in]",
            "available_out": "in = 0",
            "next_out": "null",
            "total_out": "null",
        },
        "BrotliEncoderTakeOutput": {"size": "in = 0", "return": "bytes[*size]"},  # 0: as much as there is
        "BrotliDecoderTakeOutput": {"size": "in = 0", "return": "bytes[*size]"},
        "BrotliEncoderCompress": {
            "input_buffer": "in[input_size]",
            "encoded_buffer": "out[*encoded_size = BrotliEncoderMaxCompressedSize(input_size)]",
            "return": "error if false",
        },
        "BrotliDecoderDecompress": {"encoded_buffer": "in[encoded_size]", "decoded_buffer": "out[*decoded_size]"},
    },
}  # fmt: skip


PYCRYPTODOME_VERSION = "4.4.0"
STATUS = "error if != 0"  # pycryptodome's functions return 0 or an ERR_* code
SHA256 = {
    "exports": ["SHA256_init", "SHA256_update", "SHA256_digest", "SHA256_destroy", "SHA256_copy"],
    "handles": {"hash_state": {"destroy": "SHA256_destroy"}},
    "functions": {
        "SHA256_init": {"shaState": "out", "return": STATUS},  # hash_state **: a new handle
        "SHA256_update": {"return": STATUS},  # (hs, buf, len): buf and len pair by the rule
        "SHA256_digest": {"digest": "out[digest_size = 32]", "return": STATUS},
        "SHA256_copy": {"return": STATUS},
    },
}


AES = {  # AES through the ECB mode, as pycryptodome's own Python side drives raw_aes and raw_ecb
    "exports": ["AES_start_operation", "AES_stop_operation", "ECB_start_operation", "ECB_encrypt", "ECB_decrypt",
                "ECB_stop_operation"],
    "handles": {
        "BlockBase": {"destroy": "ECB_stop_operation"},  # EcbModeState is a typedef of it
        "AES_State": {"destroy": "AES_stop_operation", "base": "BlockBase"},  # a BlockBase is its first member
    },
    "functions": {
        "AES_start_operation": {"pResult": "out", "return": STATUS},  # (key, key_len, AES_State **)
        "ECB_start_operation": {"cipher": "own", "pResult": "out", "return": STATUS},  # it takes the cipher over
        "ECB_encrypt": {"in": "in[data_len]", "out": "out[data_len]", "return": STATUS},  # one length, two buffers
        "ECB_decrypt": {"in": "in[data_len]", "out": "out[data_len]", "return": STATUS},
        "AES_stop_operation": {"return": STATUS},
        "ECB_stop_operation": {"return": STATUS},
    },
}  # fmt: skip


XXHASH_VERSION = "4.1.0"
XXH3 = {
    "exports": ["XXH3_64bits", "XXH3_64bits_withSeed", "XXH3_createState", "XXH3_freeState", "XXH3_64bits_reset",
                "XXH3_64bits_update", "XXH3_64bits_digest", "XXH64", "XXH32", "XXH_versionNumber",
                "XXH3_128bits", "XXH128", "XXH3_128bits_reset", "XXH3_128bits_update", "XXH3_128bits_digest",
                "XXH128_canonicalFromHash"],
    "handles": {"XXH3_state_t": {"destroy": "XXH3_freeState"}},  # defined in xxhash.h: a handle only when declared
    "functions": {
        "XXH3_createState": {"return": "error if NULL"},
        "XXH3_64bits_reset": {"return": "error if != 0"},
        "XXH3_64bits_update": {"return": "error if != 0"},
        "XXH3_128bits_reset": {"return": "error if != 0"},
        "XXH3_128bits_update": {"return": "error if != 0"},
        "XXH128_canonicalFromHash": {"dst": "out"},  # fills an XXH128_canonical_t (a struct of 16 bytes)
    },
}  # fmt: skip


def build(tmp: Path, name: str, root: Path, sources: list[str], **options: Any) -> Any:
    from wasm_ext import WasmExtension
    from wasm_ext.builder.pipeline import build_extension

    package = tmp / "site" / f"lib_{name}"  # a package of its own: each build has a site of its own
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    ext = WasmExtension(f"lib_{name}.{name}", sources, **options)
    build_extension(ext, source_root=root, package_dir=package, temp_dir=tmp / "tmp" / name)
    sys.path.insert(0, str(tmp / "site"))
    try:
        return importlib.import_module(f"lib_{name}.{name}")
    finally:
        sys.path.remove(str(tmp / "site"))


def brotli(tmp: Path) -> Any:
    root = sdist("brotli", BROTLI_VERSION)
    sources = sorted(
        str(p.relative_to(root)) for part in ("common", "enc", "dec") for p in (root / "c" / part).glob("*.c")
    )
    return build(tmp, "brotli", root, sources, include_dirs=["c/include"], wasi=True, **BROTLI)


def brotli_compress_stream(b: Any, chunks: Iterable[bytes | memoryview], quality: int = 5) -> bytes:
    """Compress *chunks* with the bound streaming encoder, the way brotli's own Python module drives it."""
    process, finish = (
        b.BrotliEncoderOperation.BROTLI_OPERATION_PROCESS,
        b.BrotliEncoderOperation.BROTLI_OPERATION_FINISH,
    )
    out: list[bytes] = []
    with b.BrotliEncoderCreateInstance() as encoder:
        b.BrotliEncoderSetParameter(encoder, b.BrotliEncoderParameter.BROTLI_PARAM_QUALITY, quality)
        for chunk in chunks:
            view = memoryview(chunk)
            while True:  # the cursor says how much is left: feed it again after taking the output
                left = b.BrotliEncoderCompressStream(encoder, process, view)
                while b.BrotliEncoderHasMoreOutput(encoder):
                    out.append(b.BrotliEncoderTakeOutput(encoder))
                if not left:
                    break
                view = view[len(view) - left :]
        while not b.BrotliEncoderIsFinished(encoder):
            b.BrotliEncoderCompressStream(encoder, finish, b"")
            while b.BrotliEncoderHasMoreOutput(encoder):
                out.append(b.BrotliEncoderTakeOutput(encoder))
    return b"".join(out)


def brotli_decompress_stream(b: Any, data: bytes, chunk: int = 1 << 16) -> bytes:
    """Decompress *data*, fed *chunk* bytes at a time, with the bound streaming decoder."""
    results = b.BrotliDecoderResult
    out: list[bytes] = []
    with b.BrotliDecoderCreateInstance() as decoder:
        view, result = memoryview(data), results.BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT
        while result is not results.BROTLI_DECODER_RESULT_SUCCESS:
            piece = view[:chunk]
            result, left = b.BrotliDecoderDecompressStream(decoder, piece)
            out.append(b.BrotliDecoderTakeOutput(decoder))
            if result is results.BROTLI_DECODER_RESULT_ERROR:
                raise ValueError(f"brotli: {b.BrotliDecoderGetErrorCode(decoder)!r}")
            if result is results.BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT and not view:
                raise ValueError("brotli: the stream ends early")
            view = view[len(piece) - left :]
    return b"".join(out)


SHA256_OPTIONS = {"include_dirs": ["src"], "define_macros": ["HAVE_STDINT_H", "HAVE_POSIX_MEMALIGN"]}


def sha256(tmp: Path, **changes: Any) -> Any:
    """pycryptodome's SHA-256: names made by token pasting (FUNC_NAME(_init) in hash_SHA2_template.c),
    with the macros its setup.py defines."""
    root = sdist("pycryptodome", PYCRYPTODOME_VERSION)
    return build(
        tmp, "sha256" + "_changed" * bool(changes), root, ["src/SHA256.c"], **SHA256_OPTIONS, **{**SHA256, **changes}
    )


def aes(tmp: Path) -> Any:
    """pycryptodome's AES and ECB mode: raw_ecb.c's BlockBase takes an AES_State (its first member) over."""
    root = sdist("pycryptodome", PYCRYPTODOME_VERSION)
    return build(tmp, "aes", root, ["src/AES.c", "src/raw_ecb.c"], **SHA256_OPTIONS, **AES)


def xxh(tmp: Path) -> Any:
    """xxHash: xxhash.c is `#define XXH_IMPLEMENTATION` + `#include "xxhash.h"`, every function defined in the header."""
    root = sdist("xxhash", XXHASH_VERSION)
    return build(tmp, "xxh", root, ["deps/xxhash/xxhash.c"], **XXH3)
