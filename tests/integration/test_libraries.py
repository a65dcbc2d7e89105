"""Real C libraries from their PyPI sdists, bound through declarations only (no C of our own).

Each is built as a user would (``WasmExtension`` over the library's own sources and
headers), and checked against the library's native PyPI package.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from support import libraries
from support.building import Builder
from support.libraries import STATUS


@pytest.fixture(scope="module")
def brotli_wasm(tmp_path_factory: pytest.TempPathFactory, builder: Builder) -> Any:  # builder: needs the toolchain
    return libraries.brotli(tmp_path_factory.mktemp("brotli"))


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


@pytest.mark.parametrize("data", DATA, ids=["empty", "one", "mixed", "bytes"])
def test_brotli_streaming_matches_the_native_package(brotli_wasm: Any, data: bytes) -> None:
    """Encoder and decoder instances (handles), NULL allocator callbacks, the input cursor
    (next_in with *available_in), and the output the library keeps (TakeOutput: pointer + *size)."""
    native = pytest.importorskip("brotli")
    chunks = [data[i : i + 7000] for i in range(0, len(data), 7000)]
    ours = libraries.brotli_compress_stream(brotli_wasm, chunks, quality=5)
    assert native.decompress(ours) == data
    theirs = native.compress(data, quality=5)
    for chunk in (1, 1000, 1 << 20):
        assert libraries.brotli_decompress_stream(brotli_wasm, theirs, chunk) == data
    with pytest.raises(ValueError, match="brotli: <BrotliDecoderErrorCode"):
        libraries.brotli_decompress_stream(brotli_wasm, b"not brotli at all")


@pytest.fixture(scope="module")
def sha256_wasm(tmp_path_factory: pytest.TempPathFactory, builder: Builder) -> Any:
    return libraries.sha256(tmp_path_factory.mktemp("sha256"))


def test_pycryptodome_sha256_matches_hashlib(sha256_wasm: Any) -> None:
    s = sha256_wasm
    data = os.urandom(100_000)
    with s.SHA256_init() as h:
        for start in range(0, len(data), 7_777):
            s.SHA256_update(h, data[start : start + 7_777])
        assert s.SHA256_digest(h) == hashlib.sha256(data).digest()
        copy = s.SHA256_init()
        s.SHA256_copy(h, copy)
        s.SHA256_update(copy, b"more")
        assert s.SHA256_digest(copy) == hashlib.sha256(data + b"more").digest()
        assert s.SHA256_digest(h) == hashlib.sha256(data).digest()  # the original is unchanged
        copy.close()
    native = pytest.importorskip("Crypto.Hash.SHA256")
    assert native.new(data).digest() == hashlib.sha256(data).digest()


def test_pycryptodome_error_codes_raise(tmp_path: Path, builder: Builder) -> None:
    functions = {**libraries.SHA256["functions"], "SHA256_digest": {"digest": "out[digest_size]", "return": STATUS}}
    s = libraries.sha256(tmp_path, functions=functions)
    with s.SHA256_init() as h:
        assert s.SHA256_digest(h, 32) == hashlib.sha256(b"").digest()
        with pytest.raises(s.Error, match=r"^SHA256_digest\(\) failed: error \(returned 9\)$") as caught:
            s.SHA256_digest(h, 16)  # ERR_DIGEST_SIZE
    assert caught.value.function == "SHA256_digest" and isinstance(caught.value, s.KernelError)


@pytest.fixture(scope="module")
def aes_wasm(tmp_path_factory: pytest.TempPathFactory, builder: Builder) -> Any:
    return libraries.aes(tmp_path_factory.mktemp("aes"))


@pytest.mark.parametrize("key_size", [16, 24, 32])
def test_pycryptodome_aes_ecb_matches_the_native_package(aes_wasm: Any, key_size: int) -> None:
    """A handle that is a kind of another (AES_State, whose first member is a BlockBase), one the
    ECB mode takes over ("own"), and one length shared by the input and the output buffer."""
    native = pytest.importorskip("Crypto.Cipher.AES")
    a = aes_wasm
    key, data = os.urandom(key_size), os.urandom(4096)
    cipher = a.AES_start_operation(key)
    assert isinstance(cipher, a.BlockBase) and type(cipher).__name__ == "AES_State"
    ecb = a.ECB_start_operation(cipher)
    assert cipher.closed and not ecb.closed  # ECB owns it now: freeing it is ECB_stop_operation's
    with pytest.raises(ValueError, match=r"^ECB_encrypt\(\): the BlockBase handle ecbState is closed$"):
        a.ECB_encrypt(cipher, data)
    encrypted = a.ECB_encrypt(ecb, data)
    assert encrypted == native.new(key, native.MODE_ECB).encrypt(data)
    assert a.ECB_decrypt(ecb, encrypted) == data
    with pytest.raises(a.Error, match=r"^ECB_encrypt\(\) failed: error \(returned 3\)$"):
        a.ECB_encrypt(ecb, data[:17])  # ERR_NOT_ENOUGH_DATA: not a whole number of blocks
    a.ECB_stop_operation(ecb)
    assert ecb.closed


def test_pycryptodome_aes_errors_and_a_cipher_freed_by_its_own_destroy(aes_wasm: Any) -> None:
    a = aes_wasm
    with pytest.raises(a.Error, match=r"^AES_start_operation\(\) failed: error \(returned 8\)$"):
        a.AES_start_operation(b"short")  # ERR_NR_ROUNDS: what raw_aes says of a bad key size
    with a.AES_start_operation(bytes(16)) as cipher:  # never given to a mode: AES_stop_operation frees it
        assert not cipher.closed
    assert cipher.closed
    a.AES_stop_operation(a.AES_start_operation(bytes(16)))  # the destroy function, called directly: closes it


@pytest.fixture(scope="module")
def xxh_wasm(tmp_path_factory: pytest.TempPathFactory, builder: Builder) -> Any:
    return libraries.xxh(tmp_path_factory.mktemp("xxhash"))


def test_xxhash_matches_the_native_package(xxh_wasm: Any) -> None:
    native = pytest.importorskip("xxhash")
    x = xxh_wasm
    data = os.urandom(50_000)
    assert x.XXH3_64bits(data) == native.xxh3_64_intdigest(data)
    assert x.XXH3_64bits_withSeed(data, 42) == native.xxh3_64_intdigest(data, seed=42)
    assert x.XXH64(data, 7) == native.xxh64_intdigest(data, seed=7)
    assert x.XXH32(data, 7) == native.xxh32_intdigest(data, seed=7)
    with x.XXH3_createState() as state:
        assert x.XXH3_64bits_reset(state) is None
        for start in range(0, len(data), 4096):
            x.XXH3_64bits_update(state, data[start : start + 4096])
        assert x.XXH3_64bits_digest(state) == native.xxh3_64_intdigest(data)


def test_xxh128_structs_by_value_match_the_native_package(xxh_wasm: Any) -> None:
    """XXH128_hash_t comes back by value (wasm32: through the hidden result pointer), is passed by
    value to XXH128_canonicalFromHash, whose XXH128_canonical_t out-struct holds the digest's bytes."""
    native = pytest.importorskip("xxhash")
    x = xxh_wasm
    data = os.urandom(30_000)
    h = x.XXH3_128bits(data)
    assert isinstance(h, x.XXH128_hash_t)
    assert (h.high64 << 64) | h.low64 == native.xxh3_128_intdigest(data)
    seeded = x.XXH128(data, 9)
    assert (seeded.high64 << 64) | seeded.low64 == native.xxh3_128_intdigest(data, seed=9)
    assert x.XXH128_canonicalFromHash(h).digest == native.xxh3_128_digest(data)  # big-endian, as canonical is
    with x.XXH3_createState() as state:
        x.XXH3_128bits_reset(state)
        for start in range(0, len(data), 1000):
            x.XXH3_128bits_update(state, data[start : start + 1000])
        assert x.XXH3_128bits_digest(state) == h
