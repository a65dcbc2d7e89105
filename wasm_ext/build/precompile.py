"""Precompile a module with wasmtime for the build host (what ``wasmtime compile`` does).

The engine is configured with the host's target triple, so the artifact records no
host-specific CPU features and loads on any CPU of the same arch and OS. Only the host's
own triple is ever used: some cross targets abort the process in ``Engine()``.

Two artifacts are built, one per engine configuration the runtime uses: the default one
(module-level functions) and the sandbox one (epoch interruption, for ``sandbox(timeout=...)``).
An artifact loads only into an engine with the config it was compiled for, so each is
recorded in the manifest with its own fingerprint and the loader picks by fingerprint.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ..errors import ToolchainError
from ..runtime.engine import (
    ENGINE_SETTINGS,
    SANDBOX_SETTINGS,
    config_fingerprint,
    host_target,
    make_config,
    wasmtime_version,
)
from .cache import StageCache, digest, write_if_changed
from .process import log

# (file-name tag, engine settings): the default artifact first
CONFIGS: tuple[tuple[str, dict[str, Any]], ...] = (("", ENGINE_SETTINGS), (".sandbox", SANDBOX_SETTINGS))


def precompile(
    wasm: bytes, directory: Path, stem: str, *, module: str, cache: StageCache | None = None
) -> list[dict[str, Any]]:
    """Write ``<stem>.<target>.cwasm`` and ``<stem>.<target>.sandbox.cwasm``; return their manifest entries.

    Empty when this host has no known target.
    """
    target = host_target()
    if target is None:
        log.warning("wasm-ext: %s: no known wasmtime target for this host; not precompiling", module)
        return []
    try:
        import wasmtime
    except ImportError:
        raise ToolchainError(f"{module}: precompiling needs the 'wasmtime' package (pip install wasmtime)") from None
    version = wasmtime_version()
    entries = []
    for tag, settings in CONFIGS:
        fingerprint = config_fingerprint(settings)
        key = digest(hashlib.sha256(wasm).hexdigest(), version, target, fingerprint)
        stage = f"precompile{tag}"  # one cache slot per config
        hit = cache.get(stage, key) if cache is not None else None
        if hit is not None:
            artifact = hit[0]
        else:
            try:
                engine = wasmtime.Engine(make_config(target=target, settings=settings))
                artifact = bytes(wasmtime.Module(engine, wasm).serialize())
            except wasmtime.WasmtimeError as exc:
                raise ToolchainError(f"{module}: wasmtime could not precompile the module for {target}: {exc}") from exc
            if cache is not None:
                cache.put(stage, key, artifact)
        path = directory / f"{stem}.{target}{tag}.cwasm"
        write_if_changed(path, artifact)
        log.info(
            "wasm-ext: %s: precompiled for %s with wasmtime %s: %s (%d bytes)",
            module,
            target,
            version,
            path.name,
            len(artifact),
        )
        entries.append(
            {
                "file": path.name,
                "target": target,
                "wasmtime": version,
                "config": fingerprint,
                "sha256": hashlib.sha256(artifact).hexdigest(),
                "size": len(artifact),
            }
        )
    return entries
