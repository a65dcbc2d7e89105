"""Real C libraries from their PyPI sdists, bound through declarations only (no C of our own).

Each is built as a user would (``WasmExtension`` over the library's own sources and
headers), and checked against the library's native PyPI package.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from support.building import Builder
from support.sdists import sdist

BROTLI_VERSION = "1.2.1"  # the sdist and the native package compared against
BROTLI = {
    "exports": [
        "BrotliEncoderCompress",
        "BrotliEncoderMaxCompressedSize",
        "BrotliDecoderDecompress",
        "BrotliEncoderVersion",
        "BrotliDecoderVersion",
        "BrotliDecoderErrorString",
    ],
    "functions": {
        "BrotliEncoderCompress": {
            "input_buffer": "in[input_size]",
            "encoded_buffer": "out[*encoded_size = BrotliEncoderMaxCompressedSize(input_size)]",
            "return": "error if false",
        },
        "BrotliDecoderDecompress": {"encoded_buffer": "in[encoded_size]", "decoded_buffer": "out[*decoded_size]"},
    },
}


def _build(tmp: Path, name: str, root: Path, sources: list[str], **options: Any) -> Any:
    from wasm_ext import WasmExtension
    from wasm_ext.builder.pipeline import build_extension

    package = tmp / "site" / "libs"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    ext = WasmExtension(f"libs.{name}", sources, **options)
    build_extension(ext, source_root=root, package_dir=package, temp_dir=tmp / "tmp" / name)
    sys.path.insert(0, str(tmp / "site"))
    try:
        return importlib.import_module(f"libs.{name}")
    finally:
        sys.path.remove(str(tmp / "site"))


@pytest.fixture(scope="module")
def brotli_wasm(tmp_path_factory: pytest.TempPathFactory, builder: Builder) -> Any:  # builder: needs the toolchain
    root = sdist("brotli", BROTLI_VERSION)
    sources = sorted(
        str(p.relative_to(root)) for part in ("common", "enc", "dec") for p in (root / "c" / part).glob("*.c")
    )
    return _build(
        tmp_path_factory.mktemp("brotli"), "brotli", root, sources, include_dirs=["c/include"], wasi=True, **BROTLI
    )


DATA = [b"", b"a", os.urandom(3000) + b"the quick brown fox " * 4000, bytes(range(256)) * 300]


@pytest.mark.parametrize("data", DATA, ids=["empty", "one", "mixed", "bytes"])
def test_brotli_one_shot_matches_the_native_package(brotli_wasm: Any, data: bytes) -> None:
    native = pytest.importorskip("brotli")
    mode = brotli_wasm.BrotliEncoderMode.BROTLI_MODE_GENERIC
    for quality in (1, 11):
        ours = brotli_wasm.BrotliEncoderCompress(quality, 22, mode, data)
        if data:  # the same C, so the same bytes (for b"" the package's streaming encoder writes another valid stream)
            assert ours == native.compress(data, quality=quality, lgwin=22)
        result, decoded = brotli_wasm.BrotliDecoderDecompress(ours, len(data))
        assert result is brotli_wasm.BrotliDecoderResult.BROTLI_DECODER_RESULT_SUCCESS and decoded == data
        assert native.decompress(ours) == data


def test_brotli_what_the_declarations_leave_to_python(brotli_wasm: Any) -> None:
    b = brotli_wasm
    data = b"abc" * 1000
    result, partial = b.BrotliDecoderDecompress(b.BrotliEncoderCompress(5, 22, 0, data), 10)  # too small an output
    assert result is b.BrotliDecoderResult.BROTLI_DECODER_RESULT_ERROR  # the one-shot decoder cannot resume
    assert partial == data[: len(partial)]  # what it says it wrote before giving up
    result, _ = b.BrotliDecoderDecompress(b"not brotli at all", 100)
    assert result is b.BrotliDecoderResult.BROTLI_DECODER_RESULT_ERROR
    assert b.BrotliDecoderErrorString(b.BrotliDecoderErrorCode.BROTLI_DECODER_ERROR_FORMAT_EXUBERANT_NIBBLE) == (
        "_ERROR_FORMAT_EXUBERANT_NIBBLE"
    )
    assert isinstance(
        b.BrotliEncoderCompress(99, 22, 0, data), bytes
    )  # Brotli clamps the quality; BROTLI_TRUE drops out
    assert b.BrotliEncoderVersion() == b.BrotliDecoderVersion() == 0x1002001
