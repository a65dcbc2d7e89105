"""The one wasmtime engine configuration, shared by the build (precompile) and run time.

A precompiled artifact loads only into an engine whose settings match the ones it was
compiled with; the manifest records :func:`config_fingerprint` so the loader can tell
before it trusts a file.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import wasmtime

# Every non-default wasmtime.Config setting the runtime uses. Change it and the
# fingerprint changes, so old artifacts are ignored rather than misloaded.
# memory_may_move=False: linear memory never moves, so the runtime can keep its base
# address per instance instead of asking wasmtime before every copy.
ENGINE_SETTINGS: dict[str, Any] = {"memory_may_move": False}
# A sandbox with a timeout runs on a second engine whose code checks an epoch counter at
# loop heads and calls (a timer thread advances it): a different config, so precompiled
# artifacts for it are separate files with their own fingerprint.
SANDBOX_SETTINGS: dict[str, Any] = {**ENGINE_SETTINGS, "epoch_interruption": True}

_ARCHES = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "aarch64",
    "arm64": "aarch64",
    "riscv64": "riscv64",
    "s390x": "s390x",
}


def host_target() -> str | None:
    """The wasmtime target triple of this host, or ``None`` where we do not know it."""
    arch = _ARCHES.get(platform.machine().lower())
    if arch is None:
        return None
    if sys.platform.startswith("linux"):
        libc = platform.libc_ver()[0]
        return f"{arch}-unknown-linux-{'gnu' if libc == 'glibc' else 'musl'}"
    if sys.platform == "darwin":
        return f"{arch}-apple-darwin"
    if sys.platform == "win32":
        return f"{arch}-pc-windows-msvc"
    return None


def config_fingerprint(settings: dict[str, Any] = ENGINE_SETTINGS) -> str:
    """A short hash of *settings*: equal fingerprints mean compatible configs."""
    blob = json.dumps(settings, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def make_config(target: str | None = None, settings: dict[str, Any] = ENGINE_SETTINGS) -> wasmtime.Config:
    """A ``wasmtime.Config`` with *settings*; *target* only for precompiling.

    Setting the target to the host triple makes the artifact record no host-specific CPU
    features, so it loads on any CPU of that arch and OS.
    """
    import wasmtime

    config = wasmtime.Config()
    for key, value in settings.items():
        setattr(config, key, value)
    if target is not None:
        config.target = target
    return config


def wasmtime_version() -> str:
    from importlib.metadata import version

    return version("wasmtime")
