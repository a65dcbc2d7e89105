"""The loader's sha256: the built-in hash for small inputs, OpenSSL's for large ones, one digest."""

from __future__ import annotations

import hashlib
import os

import pytest

from wasm_ext.runtime import digest


@pytest.mark.parametrize("size", [0, 1, 64, digest.SMALL - 1, digest.SMALL, digest.SMALL + 1, 3 * digest.SMALL])
def test_the_digest_is_hashlib_s_whatever_the_size(size: int) -> None:
    data = os.urandom(size)
    assert digest.sha256_hex(data) == hashlib.sha256(data).hexdigest()


def test_cpython_uses_its_built_in_hash_for_small_inputs() -> None:
    if digest._BUILTIN is None:
        pytest.skip("this interpreter has no built-in sha256 module: OpenSSL's is used for every size")
    assert digest._BUILTIN.__module__ in ("_sha2", "_sha256")
    assert digest._BUILTIN(b"abc").hexdigest() == hashlib.sha256(b"abc").hexdigest()


def test_without_a_built_in_hash_every_size_goes_to_hashlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digest, "_BUILTIN", None)
    assert digest.sha256_hex(b"abc") == hashlib.sha256(b"abc").hexdigest()
