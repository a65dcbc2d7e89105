"""Precompile a module with wasmtime for the build host (what ``wasmtime compile`` does).

The engine is configured with the host's target triple, so the artifact records no
host-specific CPU features and loads on any CPU of the same arch and OS. Only the host's
own triple is ever used: some cross targets abort the process in ``Engine()``.

The pipeline precompiles once per engine configuration the runtime uses
(``wasmtime_engine.CONFIGS``: module-level calls, and sandboxes with a timeout); each
artifact loads only into an engine of its config, and the manifest records the config's
fingerprint beside it.
"""

from __future__ import annotations

from ..errors import ToolchainError
from ..runtime.wasmtime_engine import EngineConfig, make_config


def serialize(wasm: bytes, config: EngineConfig, target: str, *, module: str) -> bytes:
    """The module *wasm* compiled by wasmtime for *target* and *config*, serialized."""
    try:
        import wasmtime
    except ImportError:
        raise ToolchainError(f"{module}: precompiling needs the 'wasmtime' package (pip install wasmtime)") from None
    try:
        engine = wasmtime.Engine(make_config(config, target=target))
        return bytes(wasmtime.Module(engine, wasm).serialize())
    except wasmtime.WasmtimeError as exc:
        raise ToolchainError(f"{module}: wasmtime could not precompile the module for {target}: {exc}") from exc
