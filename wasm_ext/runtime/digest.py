"""sha256 of what the loader checks, without importing ``hashlib`` for a small file.

``hashlib`` loads OpenSSL (~6 ms on a first call here, after wasmtime's own imports);
CPython's built-in sha256 (``_sha2``, ``_sha256`` before 3.12) imports in ~0.4 ms but hashes
~5x slower. Below :data:`SMALL` bytes the import is the larger cost, above it the hashing:
so small inputs go to the built-in one and large ones to OpenSSL. Both give the same digest.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any, Callable

SMALL = 1 << 20  # where the built-in hash's slower speed outweighs hashlib's import (~1.8 MB here)


def _builtin() -> Callable[[bytes], Any] | None:
    if sys.implementation.name != "cpython":  # elsewhere these modules may be slow pure Python
        return None
    for name in ("_sha2", "_sha256"):
        try:
            return getattr(__import__(name), "sha256", None)
        except ImportError:  # a CPython built without its own hashes: OpenSSL only
            continue
    return None


_BUILTIN = _builtin()


def sha256_hex(data: bytes) -> str:
    """The hex sha256 of *data*."""
    if _BUILTIN is not None and len(data) < SMALL:
        return str(_BUILTIN(data).hexdigest())
    import hashlib

    return hashlib.sha256(data).hexdigest()
