"""The per-user cache of modules compiled at run time, when no shipped artifact fits.

Entries are named by everything that decides compatibility (sha256 of the ``.wasm``,
target, wasmtime version, engine-config fingerprint) and each records the sha256 of its
serialized bytes: the loader deserializes only bytes whose hash matches that record.
The directory is created with mode 0700, and it is used only while ``trust`` finds it,
and every directory above it, writable by nobody but the user (entries are native code:
another local user must not be able to plant one); otherwise nothing is cached, and the
reason is logged once. Any OS error just means "not cached".
"""

from __future__ import annotations

import json
from pathlib import Path

from . import trust
from .digest import sha256_hex
from .paths import module_cache_dir

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    import logging

LOGGER = "wasm_ext.runtime"  # one name for every package's runtime copy
_warned: set[str] = set()


def _log() -> logging.Logger:
    """The runtime's logger; logging is imported only when there is something to say."""
    import logging

    return logging.getLogger(LOGGER)


def _refuse(reason: str) -> None:
    if reason not in _warned:
        _warned.add(reason)
        _log().warning("not using the module cache: %s", reason)


def entry_path(wasm_sha256: str, target: str | None, wasmtime_version: str, fingerprint: str) -> Path:
    key = sha256_hex(f"{wasm_sha256}|{target}|{wasmtime_version}|{fingerprint}".encode())[:32]
    return module_cache_dir() / f"{key}.cwasm"


def load(path: Path) -> bytes | None:
    """The cached bytes at *path* if its directory is trusted and their hash is the one recorded beside them."""
    if not path.parent.is_dir():
        return None
    reason = trust.untrusted(path.parent)
    if reason is not None:
        _refuse(reason)
        return None
    try:
        record = json.loads(trust.read(path.with_suffix(".json")).decode("utf-8"))
        data = trust.read(path)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or sha256_hex(data) != record.get("sha256"):
        return None
    return data


def store(path: Path, data: bytes) -> None:
    """Write *data* and its hash record atomically; failures are logged, never raised."""
    try:
        reason = trust.make_private(path.parent)
        if reason is not None:
            _refuse(reason)
            return
        trust.write(path, data)
        trust.write(path.with_suffix(".json"), json.dumps({"sha256": sha256_hex(data)}).encode())
    except OSError as exc:
        _log().debug("not caching the compiled module at %s: %s", path, exc)
