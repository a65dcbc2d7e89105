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
from .process import log


def precompile(wasm: bytes, directory: Path, stem: str, *, module: str) -> dict[str, Any] | None:
    """Write ``<stem>.<target>.cwasm`` and return its manifest entry (``None`` if no target)."""
    target = host_target()
    if target is None:
        log.warning("wasm-ext: %s: no known wasmtime target for this host; not precompiling", module)
        return None
    try:
        import wasmtime
    except ImportError:
        raise ToolchainError(f"{module}: precompiling needs the 'wasmtime' package (pip install wasmtime)") from None
    try:
        engine = wasmtime.Engine(make_config(target=target))
        artifact = wasmtime.Module(engine, wasm).serialize()
    except wasmtime.WasmtimeError as exc:
        raise ToolchainError(f"{module}: wasmtime could not precompile the module for {target}: {exc}") from exc
    path = directory / f"{stem}.{target}.cwasm"
    path.write_bytes(artifact)
    version = wasmtime_version()
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
