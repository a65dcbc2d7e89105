"""Precompile a module with wasmtime for the build host (what ``wasmtime compile`` does).

The engine is configured with the host's target triple, so the artifact records no
host-specific CPU features and loads on any CPU of the same arch and OS. Only the host's
own triple is ever used: some cross targets abort the process in ``Engine()``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ..errors import ToolchainError
from ..runtime.engine import config_fingerprint, host_target, make_config, wasmtime_version
from .cache import StageCache, digest, write_if_changed
from .process import log


def precompile(
    wasm: bytes, directory: Path, stem: str, *, module: str, cache: StageCache | None = None
) -> dict[str, Any] | None:
    """Write ``<stem>.<target>.cwasm`` and return its manifest entry (``None`` if no target)."""
    target = host_target()
    if target is None:
        log.warning("wasm-ext: %s: no known wasmtime target for this host; not precompiling", module)
        return None
    try:
        import wasmtime
    except ImportError:
        raise ToolchainError(f"{module}: precompiling needs the 'wasmtime' package (pip install wasmtime)") from None
    version = wasmtime_version()
    key = digest(hashlib.sha256(wasm).hexdigest(), version, target, config_fingerprint())
    hit = cache.get("precompile", key) if cache is not None else None
    if hit is not None:
        artifact = hit[0]
    else:
        try:
            engine = wasmtime.Engine(make_config(target=target))
            artifact = bytes(wasmtime.Module(engine, wasm).serialize())
        except wasmtime.WasmtimeError as exc:
            raise ToolchainError(f"{module}: wasmtime could not precompile the module for {target}: {exc}") from exc
        if cache is not None:
            cache.put("precompile", key, artifact)
    path = directory / f"{stem}.{target}.cwasm"
    write_if_changed(path, artifact)
    log.info(
        "wasm-ext: %s: precompiled for %s with wasmtime %s: %s (%d bytes)",
        module,
        target,
        version,
        path.name,
        len(artifact),
    )
    return {
        "file": path.name,
        "target": target,
        "wasmtime": version,
        "config": config_fingerprint(),
        "sha256": hashlib.sha256(artifact).hexdigest(),
        "size": len(artifact),
    }
