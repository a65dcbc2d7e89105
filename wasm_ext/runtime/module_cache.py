"""The per-user cache of modules compiled at run time, when no shipped artifact fits.

Entries are named by everything that decides compatibility (sha256 of the ``.wasm``,
target, wasmtime version, engine-config fingerprint) and each records the sha256 of its
serialized bytes: the loader deserializes only bytes whose hash matches that record.
The directory is created with mode 0700; any OS error just means "not cached".
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

from .paths import module_cache_dir

log = logging.getLogger("wasm_ext.runtime")  # one name for every package's runtime copy


def entry_path(wasm_sha256: str, target: str | None, wasmtime_version: str, fingerprint: str) -> Path:
    key = hashlib.sha256(f"{wasm_sha256}|{target}|{wasmtime_version}|{fingerprint}".encode()).hexdigest()[:32]
    return module_cache_dir() / f"{key}.cwasm"


def load(path: Path) -> bytes | None:
    """The cached bytes at *path* if their hash is the one recorded beside them."""
    try:
        record = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        data = path.read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or hashlib.sha256(data).hexdigest() != record.get("sha256"):
        return None
    return data


def store(path: Path, data: bytes) -> None:
    """Write *data* and its hash record atomically; failures are logged, never raised."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        for part in (path, path.with_suffix(".json")):
            content = data if part == path else json.dumps({"sha256": hashlib.sha256(data).hexdigest()}).encode()
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(content)
                os.replace(tmp, part)
            except BaseException:
                os.unlink(tmp)
                raise
    except OSError as exc:
        log.debug("not caching the compiled module at %s: %s", path, exc)
