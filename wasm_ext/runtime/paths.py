"""Where setuptools-wasm keeps per-user files: build tools (zig) and compiled modules."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def user_cache_dir() -> Path:
    """The platform's per-user cache directory + ``setuptools-wasm``."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "setuptools-wasm"


def module_cache_dir() -> Path:
    """Where modules compiled at run time are cached: ``$WASM_EXT_CACHE_DIR`` overrides."""
    configured = os.environ.get("WASM_EXT_CACHE_DIR", "").strip()
    return Path(configured) if configured else user_cache_dir() / "modules"
