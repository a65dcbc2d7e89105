"""Where setuptools-wasm keeps per-user files (a copy of zig for the build; caches)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def user_cache_dir() -> Path:
    """``$WASM_EXT_CACHE_DIR``, else the platform's per-user cache directory + ``setuptools-wasm``."""
    configured = os.environ.get("WASM_EXT_CACHE_DIR", "").strip()
    if configured:
        return Path(configured)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "setuptools-wasm"
